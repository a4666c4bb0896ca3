"""Running the conformance suite: ``run_suite(SuiteSettings(...)) -> SuiteOutcome``.

The one way gearcheck runs the suite (conformance, matrix, mutants, bench and
the tests all come through ``run_suite``), and the pytest plugin it runs
(``gearcheck.runs.plugin``, also what ``pytest conformance/ --server ...`` loads).
"""

from .suite import SuiteOutcome, SuiteSettings, resolve_baseline, run_suite

__all__ = ["SuiteOutcome", "SuiteSettings", "resolve_baseline", "run_suite"]
