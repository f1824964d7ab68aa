"""A runner whose Spark JVM dies while the session is idle: the session fails with a reason, refuses work, and
still shuts down cleanly."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Callable

import pytest

from runner_harness import READY_TIMEOUT, RunnerProcess


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    process = start_runner(config_factory())
    process.attach()
    assert process.client is not None
    ready, _ = process.client.wait_for(lambda event: event["event"] in ("ready", "failed"), READY_TIMEOUT)
    assert ready["event"] == "ready", (ready, process.log())
    return process


def test_the_death_of_the_jvm_fails_the_session(runner: RunnerProcess) -> None:
    assert runner.client is not None
    assert runner.execute("x = 1").state == "COMPLETED"
    jvms = [pid for pid in runner.children() if Path(f"/proc/{pid}/comm").read_text().strip() == "java"]
    assert len(jvms) == 1, jvms
    os.kill(jvms[0], signal.SIGKILL)

    failed, _ = runner.client.wait_for(lambda event: event["event"] == "failed", 60)
    assert failed["reason"] == "Spark's driver JVM exited (signal 9); see the session log"
    runner.client.send({"op": "status"})
    status, _ = runner.client.wait_for(lambda event: event["event"] == "status", 30)
    assert status["state"] == "failed"
    assert status["reason"] == failed["reason"]

    calculation_id = runner.submit("x")
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert error["id"] == calculation_id


def test_a_failed_session_still_shuts_down(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.client.send({"op": "shutdown"})
    assert runner.client.wait_closed(timeout=60) == []
    assert runner.process.wait(timeout=60) == 0
    assert not runner.socket_path.exists()
