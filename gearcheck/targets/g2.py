"""appscode/g2, a Go job server (a fork of ngaut/gearmand), as a child process.

scripts/install-implementations.sh builds ``github.com/appscode/g2/cmd/gearmand``
from fixtures/servers/go (its go.mod and go.sum pin g2 and every dependency)
into gearcheck's cache. This target runs ``gearmand run`` on a free loopback
port with its LevelDB folder in the target's log folder and its HTTP API on a
second free loopback port (it would take :3000 on every interface otherwise),
logging to stderr. It answers ECHO; it has no text admin protocol and no TLS.
"""

from __future__ import annotations

from ._base import ProcessTarget
from ._installed import installed_file
from ._ports import free_port

VERSION = "v0.0.0-20190123131438-388ba74fd273"
BUILD = f"g2-{VERSION}"


def g2_binary() -> str:
    return str(installed_file(BUILD, "bin/g2-gearmand"))


class G2Target(ProcessTarget):
    name = "g2"

    def command(self, port: int) -> list[str]:
        storage = self.log_dir / f"g2-leveldb-{port}"
        return [g2_binary(), "run", "--addr", f"{self.host}:{port}",
                "--storage-dir", str(storage),
                "--web.addr", f"{self.host}:{free_port(self.host)}", "--logtostderr", "-v", "0"]

    @staticmethod
    def version() -> str:
        return VERSION
