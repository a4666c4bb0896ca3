"""memcached (Debian's memcached) for gearmand's libmemcached queue.

Debian's defaults otherwise (64 MiB, 1 MiB item limit, the "modern" options
of 1.6), loopback TCP only, no UDP, run as the ``memcache`` account when the
harness is root (memcached refuses root without ``-u``). memcached keeps
nothing on disk: a restart of memcached itself empties it by design, which a
user of this queue has to know.
"""

from __future__ import annotations

import shutil
import subprocess

from ._database import DatabaseServer, exchange
from ._errors import TargetError


def memcached_binary() -> str:
    found = shutil.which("memcached")
    if not found:
        raise TargetError("memcached is not installed; run scripts/install-system-deps.sh "
                          "(Debian package memcached)")
    return found


class MemcachedServer(DatabaseServer):
    kind = "memcached"
    title = "memcached (Debian memcached), Debian's defaults"
    account = "memcache"

    def command(self) -> list[str]:
        return [memcached_binary(), "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                "-m", "64", "-c", "256"]

    def initialise(self) -> None:
        self.data_dir.mkdir()
        user = self.user()
        if user:
            shutil.chown(self.data_dir, user)

    def answers(self) -> bool:
        return exchange(self.host, self.port, b"version\r\n", timeout=0.5).startswith(b"VERSION")

    def version(self) -> str:
        out = subprocess.run([memcached_binary(), "-V"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.split()[-1] if out.stdout.split() else ""
