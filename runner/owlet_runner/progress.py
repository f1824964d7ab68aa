"""Progress of a calculation: completed over total tasks of its Spark jobs (Livy's progressOfStatement)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from py4j.java_gateway import JavaClass

if TYPE_CHECKING:
    from pyspark import SparkContext

log = logging.getLogger(__name__)

# The protocol promises progress events at most every 200 ms.
POLL_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class TaskProgress:
    done: int = 0
    total: int = 0

    def as_json(self) -> dict[str, int]:
        return {"done": self.done, "total": self.total}


# Built at setup from runtimes/driver-helpers/ and on every driver's class path (src/engine/runtimes.ts); named
# here for the error that says it is missing.
PROGRESS_CLASS = "owlet.runner.JobGroupProgress"


class JobGroupReader:
    """Reads a job group's task counts from the JVM's status tracker in one py4j round trip.

    The counting runs on the driver (runtimes/driver-helpers/owlet/runner/JobGroupProgress.java): read from
    Python through PySpark's StatusTracker, the same numbers took a round trip for every job, stage and field,
    about 18 for ``spark.range(1000).count()`` and a few milliseconds at the end of every calculation
    (docs/performance.md). Every stage of a job that succeeded counts as done, since a stage it skipped never
    completes a task; a stage shared by several jobs counts once.
    """

    def __init__(self, spark_context: SparkContext) -> None:
        helper = spark_context._jvm.owlet.runner.JobGroupProgress  # type: ignore[union-attr]
        # py4j answers a class it cannot load with a package, which fails only when called: say so at once.
        if not isinstance(helper, JavaClass):
            raise RuntimeError(f"{PROGRESS_CLASS} is not on the driver's class path (owlet-driver-helpers-*.jar)")
        self._measure = helper.measure
        self._measure_settled = helper.measureSettled
        self._jsc = spark_context._jsc  # type: ignore[union-attr]

    def measure(self, job_group: str, settled: bool = False) -> TaskProgress:
        """``settled``: once Spark's listeners have caught up with the jobs that ended, for the final numbers of
        a calculation whose code has returned (JobGroupProgress.measureSettled)."""
        read = self._measure_settled if settled else self._measure
        done, total = str(read(self._jsc, job_group)).split()
        return TaskProgress(done=int(done), total=int(total))


class ProgressPoller:
    """A daemon thread that polls the status tracker while a calculation runs and reports changes."""

    def __init__(
        self,
        reader: JobGroupReader,
        on_change: Callable[[str, TaskProgress], None],
        interval: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        self._reader = reader
        self._on_change = on_change
        self._interval = interval
        self._condition = threading.Condition()
        # Held while one poll measures and reports, so that stop_tracking() can wait for it: no progress
        # event may follow the calculation's finished event.
        self._poll_lock = threading.Lock()
        self._job_group: str | None = None
        self._last = TaskProgress()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="progress-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def track(self, job_group: str) -> None:
        with self._condition:
            self._job_group = job_group
            self._last = TaskProgress()
            self._condition.notify_all()

    def stop_tracking(self) -> TaskProgress:
        """Stops reporting and returns the group's final numbers."""
        with self._condition:
            job_group = self._job_group
            self._job_group = None
            last = self._last
        with self._poll_lock:
            pass
        if job_group is None:
            return last
        try:
            return self._reader.measure(job_group, settled=True)
        except Exception:
            log.warning("final progress of %s unavailable", job_group, exc_info=True)
            return last

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._job_group = None
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._job_group is None and not self._stopped:
                    self._condition.wait()
                # Each poll comes an interval after the calculation started or after the last poll: a calculation
                # that ends sooner is never polled (stop_tracking() reads its final numbers), so its py4j round
                # trips do not compete with the calculation's own for the GIL and the gateway.
                job_group = self._job_group
                deadline = time.monotonic() + self._interval
                while not self._stopped and self._job_group == job_group:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                if self._stopped:
                    return
                if self._job_group != job_group:
                    continue
            self._poll_once()

    def _poll_once(self) -> None:
        with self._poll_lock:
            with self._condition:
                job_group = self._job_group
            if job_group is None:
                return
            try:
                progress = self._reader.measure(job_group)
            except Exception:
                log.warning("progress of %s unavailable", job_group, exc_info=True)
                return
            with self._condition:
                if self._job_group != job_group or progress == self._last:
                    return
                self._last = progress
            try:
                self._on_change(job_group, progress)
            except Exception:  # noqa: BLE001 - reporting progress must not end the poller
                log.warning("cannot report progress of %s", job_group, exc_info=True)
