"""Starting and stopping the systems under test.

Each target is a context manager: ``with GearmandTarget() as t: t.address``.
Managed targets run as child processes on free loopback ports and are always
stopped; an ``ExternalTarget`` is someone else's server, only reached.
"""

from ._base import ExternalTarget, ProcessTarget, Target, TargetError, wait_until_answers
from ._ports import free_port
from .configs import ConfigUnsupported, ServerConfig, parse_config
from .gear_server import GearServerTarget
from .gearmand import GearmandTarget, gearmand_binary
from .perl_server import PerlServerTarget
from .refserver import RefServerTarget

__all__ = [
    "ConfigUnsupported",
    "ExternalTarget",
    "GearServerTarget",
    "GearmandTarget",
    "PerlServerTarget",
    "ProcessTarget",
    "RefServerTarget",
    "ServerConfig",
    "Target",
    "TargetError",
    "free_port",
    "gearmand_binary",
    "parse_config",
    "wait_until_answers",
]
