"""The harness in the server's place: scripted exchanges against a client library.

Modules, each with one job:
  script    the mirrored scenario format (fixtures/interop/as-server/*.yaml): load and check
  listener  a loopback socket that accepts the library's connections and queues its packets
  player    plays one script against one library's driver and judges the exchange
  suite     every script against every library, one RunReport per library
"""

from .player import play
from .script import ServerScript, load_scripts
from .suite import run_suite

__all__ = ["ServerScript", "load_scripts", "play", "run_suite"]
