"""gearcheck's reference Gearman job server.

Correct by construction and gearmand-compatible where gearmand is right:
the default target of ``make conformance``, the oracle the suite is checked
against, and a server that runs on its own (``gearcheck serve``).

Modules, each with one job:
  config       settings and the command-line options that set them
  jobs         functions, priority queues, the table of live jobs (pure state), and
               SessionState: the broker's view of a connection (a typing.Protocol)
  broker       what each request does to the jobs; wake-ups, requeues, epoch timers
  connection   one TCP connection: decoding, bad-input reactions, packet handlers
  admin        the text admin commands
  outbox       one write per connection per loop turn, after the queue commit
  persistence  background jobs in SQLite (WAL, group commit)
  frames       response bytes through the codec
  server       lifecycle: start, restore, listen, signals, stop
  version      the version the admin `version` command reports
"""

from __future__ import annotations

from .config import RefServerOptions, add_arguments, config_from_args
from .server import ReferenceServer, run, serve
from .version import __version__

__all__ = [
           "RefServerOptions",
           "ReferenceServer",
           "__version__",
           "add_arguments",
           "config_from_args",
           "run",
           "serve",
]
