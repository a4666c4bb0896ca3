"""The harness in the server's place: scripted exchanges against a client library.

The scripts are mirrored scenarios of the conformance engine (gearcheck.engine.mirrored
runs their steps); what is here is what only a library's driver needs.

Modules, each with one job:
  script    the driver's keys of the format (order, outcome, features) and loading the scripts
  player    plays one script against one library's driver and judges the exchange
  suite     every script against every library, one RunReport per library
"""

from .player import play
from .script import load_scripts
from .suite import run_suite

__all__ = ["load_scripts", "play", "run_suite"]
