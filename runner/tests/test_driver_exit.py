"""How the runner words the end of a driver JVM (owlet_runner.driver_exit), without Spark: a stand-in for
PySpark's gateway process, and a session log that is a temporary file on file descriptor 2, as the server's
runners have it."""

from __future__ import annotations

import os
import tempfile
import time
from types import SimpleNamespace
from typing import Callable, Iterator

import pytest
from py4j.protocol import Py4JNetworkError

from owlet_runner import driver_exit


class Gateway:
    """Exits `after` seconds after it is made (never, for None), with `code`."""

    def __init__(self, code: int, after: float | None = 0.0) -> None:
        self.code = code
        self.exits_at = None if after is None else time.monotonic() + after

    def poll(self) -> int | None:
        return self.code if self.exits_at is not None and time.monotonic() >= self.exits_at else None


def spark_with(gateway: Gateway) -> SimpleNamespace:
    return SimpleNamespace(sparkContext=SimpleNamespace(_gateway=SimpleNamespace(proc=gateway)))


@pytest.fixture
def session_log() -> Iterator[Callable[[str], int]]:
    """write(text) appends to the session log, which fd 2 points at for the length of the test."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield lambda text: os.write(2, text.encode())
        finally:
            os.dup2(saved, 2)
            os.close(saved)


JVM_OOM_LINE = 'Terminating due to java.lang.OutOfMemoryError: Java heap space\n'


def test_a_jvm_that_ran_out_of_memory_is_named_so(session_log) -> None:
    session_log('26/11/21 08:35:14 WARN something else\n' + JVM_OOM_LINE)
    assert driver_exit.session_reason(3) == (
        "Spark's driver JVM ran out of memory (java.lang.OutOfMemoryError: Java heap space) and exited (exit code 3); "
        'see the session log'
    )
    reason = driver_exit.calculation_reason(spark_with(Gateway(3)), Py4JNetworkError('Error while sending or receiving'))
    assert reason == (
        "java.lang.OutOfMemoryError: Java heap space (Spark's driver JVM ran out of memory and exited; the session has ended)"
    )


def test_other_exits_keep_their_plain_reason(session_log) -> None:
    session_log('nothing about memory\n')
    assert driver_exit.session_reason(-9) == "Spark's driver JVM exited (signal 9); see the session log"
    # Exit code 3 alone is any program's exit(3).
    assert driver_exit.session_reason(3) == "Spark's driver JVM exited (exit code 3); see the session log"
    # 52 is Spark's own code for an OutOfMemoryError, whatever the log still holds.
    assert driver_exit.session_reason(52).startswith("Spark's driver JVM ran out of memory (java.lang.OutOfMemoryError)")
    assert driver_exit.calculation_reason(spark_with(Gateway(-9)), ConnectionRefusedError()) == (
        "Spark's driver JVM exited (signal 9) while the calculation ran; see the session log"
    )


def test_a_lost_connection_waits_for_the_jvm_to_be_seen_exiting(session_log) -> None:
    session_log(JVM_OOM_LINE)
    started = time.monotonic()
    reason = driver_exit.calculation_reason(spark_with(Gateway(3, after=0.3)), ConnectionRefusedError())
    assert reason is not None and reason.startswith('java.lang.OutOfMemoryError: Java heap space')
    assert 0.3 <= time.monotonic() - started < driver_exit.EXIT_WAIT_SECONDS


def test_an_ordinary_failure_with_the_jvm_alive_is_left_as_it_is() -> None:
    started = time.monotonic()
    assert driver_exit.calculation_reason(spark_with(Gateway(0, after=None)), NameError('foobar')) is None
    assert time.monotonic() - started < 0.1
