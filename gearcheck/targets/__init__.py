"""Starting and stopping the systems under test.

Every command names a server the same way: ``open_target("gearmand")`` (a name
or alias from fixtures/servers.yaml) or ``open_target("127.0.0.1:4730")``.
Each target is a context manager: ``with open_target(name, log_dir=d) as t: t.address``.
Managed targets run as child processes on free loopback ports and are always
stopped; an ``ExternalTarget`` is someone else's server, only reached.
"""

from ._base import ExternalTarget, ProcessTarget, Target, wait_until_answers
from ._database import DatabaseServer
from ._errors import ConfigUnsupported, TargetError
from ._ports import free_port
from .configs import ServerConfig, parse_config
from .gear_server import GearServerTarget
from .gearmand import GearmandTarget, gearmand_binary
from .perl_server import PerlServerTarget
from .refserver import RefServerTarget
from .registry import (
    DEFAULT_TARGET,
    RegistryError,
    ServerSpec,
    find,
    is_address,
    load_registry,
    open_managed,
    open_target,
)

__all__ = [
    "DEFAULT_TARGET",
    "ConfigUnsupported",
    "DatabaseServer",
    "ExternalTarget",
    "GearServerTarget",
    "GearmandTarget",
    "PerlServerTarget",
    "ProcessTarget",
    "RefServerTarget",
    "RegistryError",
    "ServerConfig",
    "ServerSpec",
    "Target",
    "TargetError",
    "find",
    "free_port",
    "gearmand_binary",
    "is_address",
    "load_registry",
    "open_managed",
    "open_target",
    "parse_config",
    "wait_until_answers",
]
