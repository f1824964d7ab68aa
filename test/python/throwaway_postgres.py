# A throwaway PostgreSQL server for a Python test, as test/support/postgres.ts makes one for the Node tests:
# a new cluster (initdb) in a temporary directory, on a free loopback port, trusting local connections, tuned
# for speed over durability. As root (CI), the programs run as Debian's `postgres` user through setpriv.
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROLE = 'owlet'
READY_TIMEOUT_S = 60


def _binaries() -> Path:
    root = Path('/usr/lib/postgresql')
    majors = sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name), reverse=True) if root.is_dir() else []
    for major in majors:
        if (major / 'bin' / 'initdb').exists() and (major / 'bin' / 'postgres').exists():
            return major / 'bin'
    raise RuntimeError('PostgreSQL is not installed: run `bash scripts/install-postgres.sh` as root (`make test` does)')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    def __init__(self):
        self.bin = _binaries()
        self.dir = Path(tempfile.mkdtemp(prefix='owlet-pg-'))
        self.prefix = ['setpriv', '--pdeathsig=SIGINT', '--']
        if os.getuid() == 0:
            self.prefix = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--pdeathsig=SIGINT', '--']
            shutil.chown(self.dir, 'postgres', 'postgres')
        data = self.dir / 'data'
        subprocess.run(
            [*self.prefix, str(self.bin / 'initdb'), '-D', str(data), '--auth=trust', f'--username={ROLE}', '--encoding=UTF8', '--locale=C', '--no-sync'],
            cwd=self.dir, check=True, capture_output=True,
        )
        self.port = _free_port()
        settings = {'listen_addresses': '127.0.0.1', 'unix_socket_directories': str(self.dir), 'fsync': 'off', 'synchronous_commit': 'off'}
        args = [a for k, v in settings.items() for a in ('-c', f'{k}={v}')]
        self.log = open(self.dir / 'server.log', 'wb')
        self.process = subprocess.Popen(
            [*self.prefix, str(self.bin / 'postgres'), '-D', str(data), '-p', str(self.port), *args],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b'ready to accept connections' not in (self.dir / 'server.log').read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('PostgreSQL did not start')
            time.sleep(0.1)

    def url(self, database: str = 'postgres') -> str:
        return f'postgres://{ROLE}@127.0.0.1:{self.port}/{database}'

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT is PostgreSQL's fast shutdown: open connections end rather than being waited for.
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
