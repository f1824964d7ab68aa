"""How Spark's driver JVM ended, in words for the session's reason and for the calculation it ended.

The driver JVM runs with ``-XX:+ExitOnOutOfMemoryError`` (spark_session.RUNNER_JAVA_OPTIONS), so an
OutOfMemoryError ends it whatever thread it hits. HotSpot then writes ``Terminating due to
java.lang.OutOfMemoryError: Java heap space`` to the JVM's stdout, which is the session log, and exits with 3.
Without the option (a session that turns it off) an OutOfMemoryError in one of Spark's task threads still ends
the JVM, through Spark's own handler, with SparkExitCode.OOM (52); the JVM's stack trace is in the log too.
"""

from __future__ import annotations

import os
import re
import stat
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# HotSpot's exit status after -XX:+ExitOnOutOfMemoryError.
HOTSPOT_OUT_OF_MEMORY_EXIT = 3
# org.apache.spark.util.SparkExitCode.OOM, what Spark's uncaught exception handler exits with.
SPARK_OUT_OF_MEMORY_EXIT = 52
# How much of the end of the session log is searched for the JVM's OutOfMemoryError line.
LOG_TAIL_BYTES = 256 * 1024
# A calculation that lost its connection to the JVM waits this long for the JVM's exit to be seen, so that
# its reason can say why (the JVM closes its sockets a moment before it is reaped).
EXIT_WAIT_SECONDS = 5.0

_OUT_OF_MEMORY_LINE = re.compile(r"java\.lang\.OutOfMemoryError(?::[^\r\n]*)?")


def gateway_exit_code(spark: SparkSession | None) -> int | None:
    """The exit status of the driver JVM PySpark started (negative for a signal), or None while it runs."""
    if spark is None:
        return None
    process = getattr(getattr(spark.sparkContext, "_gateway", None), "proc", None)
    return None if process is None else process.poll()


def session_reason(exit_code: int) -> str:
    """The session's reason once its driver JVM has exited."""
    how = f"signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
    error = out_of_memory_error(exit_code)
    if error is not None:
        return f"Spark's driver JVM ran out of memory ({error}) and exited ({how}); see the session log"
    return f"Spark's driver JVM exited ({how}); see the session log"


def calculation_reason(spark: SparkSession | None, error: BaseException | None) -> str | None:
    """The reason of a failed calculation whose driver JVM died under it, or None when the JVM is alive.

    A calculation whose JVM died fails with whatever py4j made of the lost connection
    (``Py4JNetworkError: Error while sending or receiving``, ``ConnectionRefusedError``, or a Py4JJavaError
    whose message can no longer be fetched from the JVM); the user is better served by the JVM's own
    reason. Only such errors wait for the JVM's exit: any other failure is reported at once as it is."""
    exit_code = gateway_exit_code(spark)
    if exit_code is None and error is not None and _lost_the_jvm(error):
        deadline = time.monotonic() + EXIT_WAIT_SECONDS
        while exit_code is None and time.monotonic() < deadline:
            time.sleep(0.05)
            exit_code = gateway_exit_code(spark)
    if exit_code is None:
        return None
    out_of_memory = out_of_memory_error(exit_code)
    if out_of_memory is not None:
        return f"{out_of_memory} (Spark's driver JVM ran out of memory and exited; the session has ended)"
    how = f"signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
    return f"Spark's driver JVM exited ({how}) while the calculation ran; see the session log"


def out_of_memory_error(exit_code: int) -> str | None:
    """``java.lang.OutOfMemoryError: <what ran out>`` when that is how the JVM ended, else None."""
    if exit_code not in (HOTSPOT_OUT_OF_MEMORY_EXIT, SPARK_OUT_OF_MEMORY_EXIT):
        return None
    found = _OUT_OF_MEMORY_LINE.findall(_session_log_tail())
    if found:
        return found[-1].strip()
    # Exit code 3 is also any program's "exit(3)"; 52 is Spark's own code for an OutOfMemoryError.
    return "java.lang.OutOfMemoryError" if exit_code == SPARK_OUT_OF_MEMORY_EXIT else None


def _lost_the_jvm(error: BaseException) -> bool:
    from py4j.protocol import Py4JJavaError, Py4JNetworkError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (Py4JNetworkError, ConnectionError)):
            return True
        if isinstance(current, Py4JJavaError):
            # Its message is fetched from the JVM; when that fails, the JVM is gone.
            try:
                str(current)
            except Exception:  # noqa: BLE001 - exactly what is being asked
                return True
        current = current.__cause__ or current.__context__
    return False


# A descriptor of the session log, kept before the runner's fd 2 becomes the pipe of calculation output.
_session_log_fd: int | None = None


def keep_session_log() -> None:
    """Call while fd 2 is still the session log (the JVM's stdout and stderr go there for good)."""
    global _session_log_fd
    if _session_log_fd is None:
        _session_log_fd = os.dup(2)


def _session_log_tail() -> str:
    """The end of the session log, the JVM's stdout and stderr."""
    fd = 2 if _session_log_fd is None else _session_log_fd
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        with open(f"/proc/self/fd/{fd}", "rb") as session_log:
            size = session_log.seek(0, os.SEEK_END)
            session_log.seek(max(0, size - LOG_TAIL_BYTES))
            return session_log.read().decode("utf-8", "replace")
    except OSError:
        return ""
