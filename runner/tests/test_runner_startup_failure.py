"""A runner whose Spark cannot start: it stays up to say why, refuses work, and stops on SIGTERM. A runner whose
output limit setting is no number fails the same way, before starting Spark.

Its session directory starts with a stale socket file from a previous run, which the runner replaces.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
from pathlib import Path
from typing import Any, Callable

import pytest

from runner_harness import READY_TIMEOUT, SPARK_VERSION, RunnerProcess

# Spark 3.5 still names Mesos, which Spark 4 dropped.
MASTER_ERROR = (
    "org.apache.spark.SparkException: Master must either be yarn or start with spark, "
    + ("mesos, " if SPARK_VERSION.startswith("3.") else "")
    + "k8s, or local"
)


def leave_a_stale_socket(session_dir: Path) -> None:
    """What a dead runner leaves: a socket file nobody listens on."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(session_dir / "runner.sock"))
    listener.close()


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    return start_runner(config_factory(master="no-such-master"), prepare=leave_a_stale_socket)


def test_the_stale_socket_is_replaced(runner: RunnerProcess) -> None:
    status = runner.attach()
    assert status["pid"] == runner.pid
    assert stat.S_ISSOCK(runner.socket_path.stat().st_mode)


def test_spark_failing_to_start_is_reported_with_the_launchers_reason(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.client.send({"op": "status"})
    status = runner.client.next_event(30)
    assert status["state"] in ("starting", "failed"), status
    if status["state"] == "starting":
        failed, skipped = runner.client.wait_for(lambda event: event["event"] in ("ready", "failed"), READY_TIMEOUT)
        assert skipped == []
        assert failed == {"event": "failed", "reason": MASTER_ERROR}
    runner.client.send({"op": "status"})
    status = runner.client.next_event(30)
    assert status == {
        "event": "status",
        "state": "failed",
        "pid": runner.pid,
        "sessionId": runner.config["sessionId"],
        "reason": MASTER_ERROR,
    }


def test_a_failed_runner_refuses_calculations(runner: RunnerProcess) -> None:
    assert runner.client is not None
    calculation_id = runner.submit("1+1")
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert error["id"] == calculation_id
    assert "failed" in error["message"]
    assert not (runner.calculation_dir(calculation_id) / "status.json").exists()


def test_sigterm_shuts_the_runner_down(runner: RunnerProcess) -> None:
    assert runner.client is not None
    os.kill(runner.pid, signal.SIGTERM)
    assert runner.client.wait_closed(timeout=60) == []
    assert runner.process.wait(timeout=60) == 0
    assert not runner.socket_path.exists()


def test_an_output_limit_that_is_no_number_fails_the_session_before_spark_starts(
    start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]
) -> None:
    runner = start_runner(config_factory(), env={"OWLET_CALCULATION_OUTPUT_LIMIT_BYTES": "64m"})
    status = runner.attach()
    assert runner.client is not None
    if status["state"] == "starting":
        runner.client.wait_for(lambda event: event["event"] == "failed", 30)
        runner.client.send({"op": "status"})
        status = runner.client.next_event(30)
    assert status["state"] == "failed"
    assert status["reason"] == (
        "OWLET_CALCULATION_OUTPUT_LIMIT_BYTES must be a whole number of bytes, at least 1024: got '64m'"
    )
    assert runner.children() == [], "Spark's JVM should not have started"
    runner.stop()
    assert runner.process.returncode == 0
