"""The job server of the npm package ``abraxas`` (iarna/abraxas), run with Node.

scripts/install-implementations.sh installs abraxas at the version pinned in
fixtures/servers/abraxas/package-lock.json (``npm ci``); this target runs the
small launcher beside it (``server.js``: ``Gearman.Server.listen`` on the given
loopback host and port; a crash exits 70 with the stack in the log). It
answers ECHO; it has no text admin protocol and no TLS.
"""

from __future__ import annotations

import json
import shutil

from .. import paths
from ._base import ProcessTarget
from ._errors import TargetError
from ._installed import INSTALL_SCRIPT

ABRAXAS_DIR = paths.SERVER_BUILDS_DIR / "abraxas"


def abraxas_launcher() -> str:
    launcher = ABRAXAS_DIR / "server.js"
    if not (ABRAXAS_DIR / "node_modules" / ".gearcheck-stamp").exists():
        raise TargetError(f"the abraxas server is not installed in {ABRAXAS_DIR}/node_modules; "
                          f"run {INSTALL_SCRIPT}")
    return str(launcher)


def node_binary() -> str:
    found = shutil.which("node")
    if not found:
        raise TargetError("node is not installed (the abraxas server needs Node.js)")
    return found


class AbraxasServerTarget(ProcessTarget):
    name = "abraxas"

    def command(self, port: int) -> list[str]:
        return [node_binary(), abraxas_launcher(), "--host", self.host, "--port", str(port)]

    @staticmethod
    def version() -> str:
        package = ABRAXAS_DIR / "node_modules" / "abraxas" / "package.json"
        try:
            return str(json.loads(package.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError) as exc:
            raise TargetError(f"cannot read the abraxas version from {package}: {exc}") from exc
