"""Stopping a running calculation: its Spark jobs, then the Python code in the main thread.

Spark jobs stop through the calculation's job group and job tag. Python code stops by a KeyboardInterrupt in
the main thread. ``_thread.interrupt_main()`` alone is not enough for that: it only sets the flag the
interpreter checks between bytecodes, so a main thread blocked in a system call (``time.sleep``, a socket read)
would not notice until the call returns. A real SIGINT delivered to the main thread (``signal.pthread_kill``)
interrupts the call, the interpreter runs the handler, and the handler raises.

The handler is the :class:`InterruptGate`: it raises only while a calculation is open and code compiled from
a calculation (filename ``<stdin>``) is on the main thread's stack, so an interrupt that arrives just after
the code returned, or while the runner records the outcome, cannot hit the runner's own code.

It never raises inside a py4j call. py4j handles a KeyboardInterrupt there by shutting down the connection,
and (py4j 0.10.9.9, ``GatewayClient.send_command``) every pooled connection to the same gateway address with
it, i.e. those of the runner's other threads; measured here, the next py4j call of the main thread then fails
or hangs and the session is lost. The cancelled Spark job makes the call return instead, and the signal that
follows it raises in Python code. A call that does not return is the server's deadline's business.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# The filename calculation code is compiled with; Athena's tracebacks show it (`File "<stdin>", line 2`).
CALCULATION_FILENAME = "<stdin>"

# Pause between interrupts of the same calculation: user code that swallows one KeyboardInterrupt gets
# another this much later.
INTERRUPT_INTERVAL_SECONDS = 0.5
# After this long the canceller gives up; the server has killed the runner by then (5 s after the cancel).
CANCEL_GIVE_UP_SECONDS = 30.0
JOB_CANCEL_INTERVAL_SECONDS = 1.0


def _py4j_directory() -> str | None:
    try:
        import py4j
    except ImportError:
        return None
    return os.path.dirname(os.path.abspath(py4j.__file__)) + os.sep


class InterruptGate:
    """The runner's SIGINT handler: a KeyboardInterrupt for calculation code, nothing for the runner's own."""

    def __init__(self) -> None:
        self._open_for: str | None = None
        self._last_raised_at = float("-inf")
        self._py4j_directory = _py4j_directory()

    def install(self) -> None:
        """Must be called on the main thread, and again after SparkContext installed its own handler."""
        signal.signal(signal.SIGINT, self._on_sigint)

    def open(self, calculation_id: str) -> None:
        self._last_raised_at = float("-inf")
        self._open_for = calculation_id

    def close(self) -> None:
        # A single attribute store: once it has run, no handler call raises.
        self._open_for = None

    def is_open_for(self, calculation_id: str) -> bool:
        return self._open_for == calculation_id

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._open_for is None or not _runs_calculation_code(frame):
            return
        now = time.monotonic()
        if now - self._last_raised_at < INTERRUPT_INTERVAL_SECONDS or self._inside_py4j(frame):
            return
        self._last_raised_at = now
        raise KeyboardInterrupt

    def _inside_py4j(self, frame: FrameType | None) -> bool:
        if self._py4j_directory is None:
            return False
        while frame is not None:
            if frame.f_code.co_filename.startswith(self._py4j_directory):
                return True
            frame = frame.f_back
        return False


def _runs_calculation_code(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename == CALCULATION_FILENAME:
            return True
        frame = frame.f_back
    return False


class CalculationCanceller:
    """Cancels one calculation from a thread of its own, so the connection thread stays responsive."""

    def __init__(
        self,
        gate: InterruptGate,
        spark: SparkSession | None,
        main_thread_id: int,
    ) -> None:
        self._gate = gate
        self._spark = spark
        self._main_thread_id = main_thread_id

    def start(self, calculation_id: str, job_tag: str, finished: threading.Event) -> None:
        thread = threading.Thread(
            target=self._cancel,
            args=(calculation_id, job_tag, finished),
            name=f"cancel-{calculation_id}",
            daemon=True,
        )
        thread.start()

    def _cancel(self, calculation_id: str, job_tag: str, finished: threading.Event) -> None:
        give_up_at = time.monotonic() + CANCEL_GIVE_UP_SECONDS
        future_jobs_cancelled = self._cancel_spark_jobs(calculation_id, job_tag)
        next_job_cancel_at = time.monotonic() + JOB_CANCEL_INTERVAL_SECONDS
        while not finished.is_set() and time.monotonic() < give_up_at:
            if self._gate.is_open_for(calculation_id):
                signal.pthread_kill(self._main_thread_id, signal.SIGINT)
            finished.wait(INTERRUPT_INTERVAL_SECONDS / 2)
            if not future_jobs_cancelled and time.monotonic() >= next_job_cancel_at:
                # Without the scheduler's memory of cancelled groups, repeat the cancel like Livy does: code
                # that catches the cancelled job's error may start another job.
                self._cancel_spark_jobs(calculation_id, job_tag)
                next_job_cancel_at = time.monotonic() + JOB_CANCEL_INTERVAL_SECONDS
        if not finished.is_set():
            log.warning("calculation %s still running %.0f s after its cancel", calculation_id, CANCEL_GIVE_UP_SECONDS)

    def _cancel_spark_jobs(self, calculation_id: str, job_tag: str) -> bool:
        """Cancels the calculation's jobs; True when jobs it submits later are cancelled too."""
        spark = self._spark
        if spark is None:
            return True
        reason = f"calculation {calculation_id} was canceled"
        future_jobs_cancelled = False
        try:
            # SparkContext.cancelJobGroupAndFutureJobs (Spark 4, not exposed by PySpark): the scheduler also
            # refuses jobs of this group submitted later. A SQL query's job only exists once the query is
            # planned, which takes seconds on a busy machine, and the JVM keeps planning after the Python
            # side was interrupted.
            spark.sparkContext._jsc.sc().cancelJobGroupAndFutureJobs(calculation_id, reason)
            future_jobs_cancelled = True
        except Exception:  # noqa: BLE001 - fall back to the public API
            log.info("cancelJobGroupAndFutureJobs unavailable, using cancelJobGroup", exc_info=True)
            try:
                spark.sparkContext.cancelJobGroup(calculation_id)
            except Exception:  # noqa: BLE001
                log.warning("cancelJobGroup for calculation %s failed", calculation_id, exc_info=True)
        try:
            if _spark_3(spark):
                spark.sparkContext.cancelJobsWithTag(job_tag)
            else:
                spark.interruptTag(job_tag)
        except Exception:  # noqa: BLE001
            log.warning("cancelling the jobs tagged for calculation %s failed", calculation_id, exc_info=True)
        return future_jobs_cancelled


# SparkSession.version asks the JVM each time (a py4j round trip); tag_jobs runs for every calculation.
_SPARK_3: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _spark_3(spark: Any) -> bool:
    known = _SPARK_3.get(spark)
    if known is None:
        known = _SPARK_3[spark] = str(spark.version).startswith("3.")
    return known


def tag_jobs(spark: Any, job_tag: str) -> None:
    """Tags the jobs the calculation starts. PySpark 3.5's classic SparkSession has tags only for Spark Connect
    (its addTag is Connect's); its SparkContext has job tags of its own (addJobTag, since 3.5)."""
    if _spark_3(spark):
        spark.sparkContext.addJobTag(job_tag)
    else:
        spark.addTag(job_tag)


def untag_jobs(spark: Any, job_tag: str) -> None:
    """Takes the calculation's tag off the thread again: tags stay on it until removed, so without this every
    job of a session would carry the tags of all its earlier calculations."""
    if _spark_3(spark):
        spark.sparkContext.removeJobTag(job_tag)
    else:
        spark.removeTag(job_tag)
