"""Reports of conformance runs: one module per output format, plus the baseline and the gate.

Every writer starts from a ``gearcheck.results.RunReport`` (in memory or read back
from report.json), never from the engine's internals.
"""
