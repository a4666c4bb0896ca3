"""MariaDB (Debian's mariadb-server) for gearmand's MySQL queue.

A fresh data directory made by ``mariadb-install-db`` (no test database, root
without a password, reachable over TCP from 127.0.0.1 only), ``mariadbd``
with ``--no-defaults`` so no /etc/mysql setting applies, small InnoDB
buffers, no binary log; its socket and pid file stay in the data root.
InnoDB keeps its default durability (a commit is flushed to the redo log),
so kill -9 must lose no committed row. After the first start the
``gearman`` database the queue writes into is created.
"""

from __future__ import annotations

import shutil
import subprocess

from ._database import DatabaseServer, exchange
from ._errors import TargetError

MARIADBD = "/usr/sbin/mariadbd"
DATABASE = "gearman"


class MariaDBServer(DatabaseServer):
    kind = "mariadb"
    title = "MariaDB (Debian mariadb-server)"
    account = "mysql"

    def _tool(self, name: str) -> str:
        found = shutil.which(name)
        if not found:
            raise TargetError(f"{name} is not installed; run scripts/install-system-deps.sh "
                              "(Debian package mariadb-server)")
        return found

    def initialise(self) -> None:
        argv = [self._tool("mariadb-install-db"), "--no-defaults", f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=normal", "--skip-test-db",
                "--innodb-log-file-size=16M"]
        if self.user():
            argv.append(f"--user={self.user()}")
        self.run_as_user(argv, timeout=120)

    def command(self) -> list[str]:
        assert self.data_root is not None
        return [MARIADBD, "--no-defaults", f"--datadir={self.data_dir}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={self.data_root / 'mariadb.sock'}",
                f"--pid-file={self.data_root / 'mariadb.pid'}", "--skip-log-bin",
                "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M",
                "--performance-schema=OFF", "--skip-name-resolve", "--max-connections=64"]

    def answers(self) -> bool:
        # the server greets first; a protocol-10 handshake means it accepts clients
        greeting = exchange(self.host, self.port, b"", timeout=0.5, want=5)
        return len(greeting) == 5 and greeting[4] == 10

    def sql(self, statement: str, *, database: str = "") -> str:
        """Run SQL through the mariadb client over TCP as root; its tab-separated output."""
        argv = [self._tool("mariadb"), "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port),
                "-u", "root", "--batch", "--skip-column-names", "-e", statement]
        if database:
            argv.append(database)
        return self.run_as_user(argv, timeout=30)

    def after_first_start(self) -> None:
        self.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")

    def version(self) -> str:
        out = subprocess.run([MARIADBD, "--version"], capture_output=True, text=True, timeout=10)
        words = out.stdout.split()
        return words[2] if len(words) > 2 else out.stdout.strip()
