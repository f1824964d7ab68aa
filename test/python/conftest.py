# Fixtures of the Python client tests: a real `owlet server` process on a free port, and the two clients
# users reach it with, boto3 and the AWS CLI (v1).
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from child_processes import die_with_parent
from owlet_clients import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    REGION,
    ROOT,
    SECRET_ACCESS_KEY,
    AthenaCaller,
    Boto3Caller,
    CliCaller,
    make_boto3_client,
    run_aws_cli,
)

OWLET = ROOT / 'bin' / 'owlet'
READY_LINE_PREFIX = 'Owlet is serving the Athena API at '
# A deadline for the ready line, not a measure of speed: Node's start (and a restarted server taking back its
# sessions) has taken tens of seconds on a machine loaded by other suites.
STARTUP_TIMEOUT_S = 180
# Longer than the server's own grace for stopping a session runner (10 s), so that SIGKILL does not cut that short.
STOP_GRACE_S = 20


def pytest_configure(config):
    # A run stopped with SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so that fixtures stop their servers.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:

        def interrupt(signum, frame):
            raise KeyboardInterrupt(f'signal {signum}')

        signal.signal(signal.SIGTERM, interrupt)


class OwletProcess:
    """One `owlet server` child process and the temporary directory it keeps its data and stderr in."""

    def __init__(self, process: subprocess.Popen, root: Path):
        self.process = process
        self.root = root
        self.endpoint = ''
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        # The pipe is drained for the server's whole life (it logs to stdout), so the server never blocks on it.
        self._reader = threading.Thread(target=self._read_stdout, name=f'owlet-{process.pid}-stdout', daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        for raw in self.process.stdout:
            line = raw.decode('utf-8', errors='replace').rstrip('\n')
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    @property
    def stderr_text(self) -> str:
        path = self.root / 'stderr.log'
        return path.read_text(errors='replace') if path.exists() else ''

    def error_logs(self) -> list[dict]:
        """The server's log records at level error or fatal (pino: 50, 60), such as a request that failed inside."""
        records = []
        for line in self.stdout_lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get('level', 0) >= 50:
                records.append(record)
        return records

    def wait_ready(self) -> None:
        """Takes the endpoint from the ready line, or fails when the server exits or stays silent first."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                first = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f'owlet printed nothing within {STARTUP_TIMEOUT_S} s; stderr: {self.stderr_text!r}') from None
            # Log records may come first (a restarted server says what it took back).
            if first is None or not first.startswith('{'):
                break
        if first is None or not first.startswith(READY_LINE_PREFIX):
            if first is None:
                self.process.wait(timeout=STOP_GRACE_S)
            raise RuntimeError(
                f'owlet did not start (exit code {self.process.poll()}); stdout: {self.stdout_lines!r}; stderr: {self.stderr_text!r}'
            )
        self.endpoint = first[len(READY_LINE_PREFIX):].strip()

    def kill(self, timeout: float = 60) -> None:
        """SIGKILL to this process, as a crash: its sessions' runners live on (they are in groups of their own)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=timeout)
        self.stop()

    def stop(self) -> int:
        """SIGTERM to this process, SIGKILL if it is still there after the grace period. Returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=STOP_GRACE_S)
        self.process.stdout.close()
        return self.process.returncode


def start_owlet(extra_env: dict[str, str] | None = None, root: Path | None = None, port: int = 0) -> OwletProcess:
    """A server in a new temporary directory, or in `root` again (a restart on the same data directory); on a
    free port, or on `port` (a restart that sessions' S3 settings still name)."""
    root = root or Path(tempfile.mkdtemp(prefix='owlet-pytest-'))
    env = {
        **os.environ,
        'OWLET_ACCESS_KEY_ID': ACCESS_KEY_ID,
        'OWLET_SECRET_ACCESS_KEY': SECRET_ACCESS_KEY,
        'OWLET_ACCOUNT_ID': ACCOUNT_ID,
        'OWLET_REGION': REGION,
        # No runner is started ahead of time unless a test asks for the warm pool.
        'OWLET_WARM_POOL_SIZE': '0',
        # A test's sessions end with its server, unless the test is about what outlives a stop.
        'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'true',
        **(extra_env or {}),
    }
    command = [str(OWLET), 'server', '--host', '127.0.0.1', '--port', str(port), '--data-dir', str(root / 'data')]
    try:
        with open(root / 'stderr.log', 'ab') as stderr:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=env, preexec_fn=die_with_parent
            )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    owlet = OwletProcess(process, root)
    try:
        owlet.wait_ready()
    except BaseException:
        stop_owlet(owlet)
        raise
    return owlet


def processes_under(root: Path) -> list[int]:
    """Processes whose command line names a path inside `root`, such as session runners of a server there."""
    if not Path('/proc').is_dir():
        return []
    marker = str(root).encode() + b'/'
    pids = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / 'cmdline').read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def stop_owlet(owlet: OwletProcess) -> int:
    """Stops the server and removes its directory. Anything it left running there is killed and reported."""
    try:
        code = owlet.stop()
        leftovers = processes_under(owlet.root)
        for pid in leftovers:
            try:
                # A session runner leads a process group with its Spark JVM in it.
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert not leftovers, f'owlet (exit code {code}) left processes running: {leftovers}'
        return code
    finally:
        shutil.rmtree(owlet.root, ignore_errors=True)


class OwletServers:
    """Starts and stops servers of a test's own, with extra environment: `start({'OWLET_X': '1'})`."""

    start = staticmethod(start_owlet)
    stop = staticmethod(stop_owlet)

    @staticmethod
    @contextlib.contextmanager
    def serving(server: OwletProcess):
        """`with owlet_servers.serving(owlet_servers.start(env)) as server:` stops it when the block ends, and
        fails the test when it logged errors."""
        try:
            yield server
        finally:
            stop_owlet(server)
        assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='session')
def owlet_servers() -> type[OwletServers]:
    return OwletServers


@pytest.fixture(scope='session')
def owlet():
    """The server most tests share. Tests keep out of each other's way with unique workgroup names."""
    server = start_owlet()
    yield server
    stop_owlet(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture
def fresh_owlet():
    """A server of the test's own, in a data directory nothing else has touched."""
    server = start_owlet()
    yield server
    stop_owlet(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture
def athena_client(owlet):
    """A boto3 Athena client of the shared server."""
    return make_boto3_client(owlet.endpoint)


@pytest.fixture
def unvalidated_client(owlet):
    """A boto3 client that sends whatever it is given, so that the server's own validation answers."""
    return make_boto3_client(owlet.endpoint, parameter_validation=False)


@pytest.fixture
def aws_cli(owlet):
    """aws_cli('athena', 'list-work-groups', env={...}) → (exit code, stdout JSON or None, stderr), shared server."""

    def run(*args: str, env: dict | None = None) -> tuple[int, object, str]:
        return run_aws_cli(owlet.endpoint, *args, env=env)

    return run


@pytest.fixture(params=['boto3', 'cli'])
def athena(request, owlet) -> AthenaCaller:
    """The shared server through boto3 and, in a second run of the test, through the AWS CLI."""
    if request.param == 'boto3':
        return Boto3Caller(make_boto3_client(owlet.endpoint))
    return CliCaller(lambda *args: run_aws_cli(owlet.endpoint, *args))


@pytest.fixture(params=['boto3', 'cli'])
def fresh_athena(request, fresh_owlet) -> AthenaCaller:
    """Like `athena`, on a server of the test's own."""
    if request.param == 'boto3':
        return Boto3Caller(make_boto3_client(fresh_owlet.endpoint))
    return CliCaller(lambda *args: run_aws_cli(fresh_owlet.endpoint, *args))


@pytest.fixture
def new_name():
    """new_name() → a workgroup name no other test uses, such as 'pytest-3f2a9c1b7e'."""

    def make(prefix: str = 'pytest') -> str:
        return f'{prefix}-{uuid.uuid4().hex[:10]}'

    return make
