"""A throwaway PostgreSQL server for tests (Debian's packages; see ../shared/SERVICES_TESTS.md).

``pg_server`` (session fixture) starts one on 127.0.0.1 at a free port, in a
``mkdtemp()`` folder owned by the ``postgres`` user when running as root, and
stops it at the end. Tests skip with the reason when the server binaries or the
psycopg driver are missing. ``PgServer.stop()`` / ``start()`` simulate an outage.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="fcpg_"))
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._run([str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])

    def _run(self, cmd):
        if self.root:
            cmd = ["/usr/sbin/runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=60)
        if out.returncode:
            raise RuntimeError(f"{cmd} failed: {out.stdout}\n{out.stderr}")

    def start(self):
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "-o",
                   f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off", "start"])

    def stop(self):
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])

    def cleanup(self):
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server not installed (/usr/lib/postgresql/*/bin/initdb missing); "
                    "apt-get install -y postgresql")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is missing: pip install 'psycopg[binary]'")
    srv = PgServer(bin_dir)
    srv.start()
    yield srv
    srv.cleanup()
