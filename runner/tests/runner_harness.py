"""Starts the real runner as a subprocess and talks to it over its socket, as the server does.

Every wait is bounded, and RunnerProcess.stop() kills the runner's whole process group (it holds Spark's JVM
and Python workers) if the runner did not exit by itself.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

RUNNER_PACKAGE_PARENT = Path(__file__).resolve().parents[1]
# The runner runs in a Spark runtime's virtualenv (scripts/install-runtimes.sh): the default one, Spark 3.5,
# unless OWLET_TEST_RUNTIME names another; the interpreter running pytest is the fallback.
RUNTIME = os.environ.get("OWLET_TEST_RUNTIME", "spark-3.5")
_RUNTIMES = RUNNER_PACKAGE_PARENT.parent / ".runtimes"
_PROJECT_PYTHON = _RUNTIMES / RUNTIME / "venv" / "bin" / "python"
RUNNER_PYTHON = str(_PROJECT_PYTHON) if _PROJECT_PYTHON.exists() else sys.executable
# The Spark each runtime runs (src/engine/runtimes.ts).
SPARK_VERSION = {"spark-3.5": "3.5.7", "spark-4.1": "4.1.4"}[RUNTIME]


def runtime_config() -> dict[str, Any]:
    """config.json's ``runtime`` as the server writes it for a session without table formats
    (src/engine/runtimes.ts): every driver gets Owlet's driver helpers; Spark 3.5's also gets the Connect server
    jar and Owlet's token check."""
    jars = _RUNTIMES / "jars"
    helpers = str(jars / f"owlet-driver-helpers-{RUNTIME.removeprefix('spark-')}.jar")
    if RUNTIME != "spark-3.5":
        return {"id": RUNTIME, "driverClassPath": [helpers]}
    return {
        "id": RUNTIME,
        "driverClassPath": [str(p) for p in sorted(jars.glob("spark-connect_2.12-3.5.*.jar"))]
        + [str(jars / "owlet-connect-token-3.5.jar"), helpers],
        "connectInterceptor": "owlet.connect.TokenInterceptor",
    }


# A cold SparkSession start takes 10-30 s here when the machine is quiet, and minutes while other suites load it:
# deadlines for polling, never measures of speed.
READY_TIMEOUT = 600.0
CALCULATION_TIMEOUT = 300.0
EXIT_TIMEOUT = 120.0
# The server kills a runner whose calculation is still running 5 s after a cancel.
CANCEL_DEADLINE = 5.0
# How long a test waits for a cancelled calculation to end: a deadline for polling, generous for a loaded machine.
CANCEL_WAIT = 120

Event = dict[str, Any]


class ConnectionClosed(Exception):
    pass


class RunnerClient:
    """One connection to a runner's socket; events are read by a thread into a queue."""

    def __init__(self, socket_path: Path, connect_timeout: float = 30.0) -> None:
        # The socket file may be a stale one from a previous run until the runner replaces it: retry refusals.
        deadline = time.monotonic() + connect_timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            try:
                self.sock.connect(str(socket_path))
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(None)
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            with self.sock.makefile("rb") as lines:
                for line in lines:
                    self._events.put(json.loads(line))
        except (OSError, ValueError):
            pass
        self._events.put(None)

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall((json.dumps(message) + "\n").encode("utf-8"))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_event(self, timeout: float) -> Event:
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        if event is None:
            self._events.put(None)
            raise ConnectionClosed("the runner closed the connection")
        return event

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float) -> tuple[Event, list[Event]]:
        """Returns the first event matching ``predicate`` and the events received before it."""
        deadline = time.monotonic() + timeout
        skipped: list[Event] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event within {timeout} s; got {skipped}")
            event = self.next_event(remaining)
            if predicate(event):
                return event, skipped
            skipped.append(event)

    def wait_closed(self, timeout: float) -> list[Event]:
        """Waits until the runner closes the connection; returns the events received until then."""
        deadline = time.monotonic() + timeout
        received: list[Event] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"connection still open after {timeout} s; got {received}")
            try:
                received.append(self.next_event(remaining))
            except ConnectionClosed:
                return received

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Calculation:
    """What a finished calculation left behind."""

    def __init__(self, finished: Event, events: list[Event], directory: Path) -> None:
        self.finished = finished
        self.events = events
        self.directory = directory

    @property
    def state(self) -> str:
        return self.finished["state"]

    @property
    def stdout(self) -> str:
        return (self.directory / "stdout.txt").read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return (self.directory / "stderr.txt").read_text(encoding="utf-8")

    @property
    def result(self) -> Any:
        return json.loads((self.directory / "result.json").read_text(encoding="utf-8"))

    @property
    def status(self) -> Any:
        return json.loads((self.directory / "status.json").read_text(encoding="utf-8"))


class RunnerProcess:
    """A runner started the way the server starts it: own process group, output on DIR/session.log."""

    def __init__(self, session_dir: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.session_dir = session_dir
        self.config = config
        self.secret = secrets.token_hex(32)
        session_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (session_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        secret_path = session_dir / "secret"
        secret_path.write_text(self.secret, encoding="ascii")
        secret_path.chmod(0o600)
        self.socket_path = session_dir / "runner.sock"
        self.log_path = session_dir / "session.log"
        self.client: RunnerClient | None = None
        self.started_at = time.monotonic()
        # PYTHONPATH entries of the test run stay, after the runner's package: a run can lend the runner optional
        # packages (matplotlib, pandas) that the project's virtualenv lacks.
        python_path = os.pathsep.join(filter(None, [str(RUNNER_PACKAGE_PARENT), os.environ.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [RUNNER_PYTHON, "-m", "owlet_runner", "--session-dir", str(session_dir)],
                cwd=RUNNER_PACKAGE_PARENT,
                env={**os.environ, **(env or {}), "PYTHONPATH": python_path},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for_socket(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.socket_path.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"runner exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no socket after {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def connect(self, secret: str | None = None) -> RunnerClient:
        """A new connection after hello; its first event (the hello's status) is returned by next_event."""
        self.wait_for_socket()
        client = RunnerClient(self.socket_path)
        client.send({"op": "hello", "secret": self.secret if secret is None else secret})
        return client

    def attach(self) -> Event:
        """Connects as the current client and returns the status answering the hello."""
        self.client = self.connect()
        status = self.client.next_event(30)
        assert status["event"] == "status", status
        return status

    def execute(self, code: str, timeout: float = CALCULATION_TIMEOUT) -> Calculation:
        calculation_id = self.submit(code)
        return self.wait_finished(calculation_id, timeout)

    def wait_ready(self) -> None:
        """Attaches and waits until Spark is up."""
        status = self.attach()
        assert status["state"] in ("starting", "idle"), status
        if status["state"] == "starting":
            assert self.client is not None
            ready, _ = self.client.wait_for(lambda event: event["event"] in ("ready", "failed"), READY_TIMEOUT)
            assert ready["event"] == "ready", (ready, self.log())

    def submit(self, code: str, calculation_id: str | None = None) -> str:
        assert self.client is not None
        calculation_id = calculation_id or str(uuid.uuid4())
        directory = self.calculation_dir(calculation_id)
        directory.mkdir(parents=True)
        self.client.send({"op": "execute", "id": calculation_id, "code": code, "dir": str(directory)})
        return calculation_id

    def wait_finished(self, calculation_id: str, timeout: float = CALCULATION_TIMEOUT) -> Calculation:
        assert self.client is not None
        finished, events = self.client.wait_for(
            lambda event: event["event"] == "finished" and event.get("id") == calculation_id, timeout
        )
        return Calculation(finished, events, self.calculation_dir(calculation_id))

    def calculation_dir(self, calculation_id: str) -> Path:
        return self.session_dir / "calculations" / calculation_id

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-8000:]
        except OSError:
            return ""

    def children(self) -> list[int]:
        """Processes in the runner's process group other than the runner (Spark's JVM, Python workers)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.pid:
                continue
            try:
                if os.getpgid(int(entry)) == self.pid:
                    found.append(int(entry))
            except OSError:
                continue
        return found

    def stop(self) -> None:
        """Teardown: SIGTERM to the runner (a clean shutdown), then SIGKILL to whatever is left of its process
        group."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(timeout=EXIT_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        # The output writer leaves the group on purpose and exits once the runner is gone; one that does not is
        # killed, so that no test leaves it behind.
        deadline = time.monotonic() + EXIT_TIMEOUT / 3
        while (remaining := self.processes_naming_session()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in remaining:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def processes_naming_session(self) -> list[int]:
        """Processes other than the runner whose command line names the session directory (the output writer)."""
        marker = str(self.session_dir).encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.pid:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if marker in cmdline.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found


def cancel_promptly(runner: RunnerProcess, calculation_id: str) -> Calculation:
    """Cancels a running calculation, checks it ends CANCELED, and returns it. The time it took is printed, not
    checked against CANCEL_DEADLINE: a loaded machine may take longer, and what matters here is the outcome."""
    assert runner.client is not None
    cancelled_at = time.monotonic()
    runner.client.send({"op": "cancel", "id": calculation_id})
    calculation = runner.wait_finished(calculation_id, timeout=CANCEL_WAIT)
    print(f"cancel of {calculation_id}: {calculation.state} after {time.monotonic() - cancelled_at:.2f} s")
    assert calculation.state == "CANCELED"
    return calculation


def wait_until(condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    """Polls `condition` until it is true; fails after `timeout` seconds (a deadline for a stuck runner)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def session_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "sessionId": f"test-{uuid.uuid4()}",
        "sparkProperties": {"spark.sql.shuffle.partitions": "2"},
        "master": "local[2]",
        "driverMemory": "1g",
        "appName": "owlet-runner-tests",
        "logLevel": "WARN",
        "runtime": runtime_config(),
    }
    config.update(overrides)
    return config
