"""Progress of a calculation: completed over total tasks of its Spark jobs (Livy's progressOfStatement)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pyspark import StatusTracker

log = logging.getLogger(__name__)

# The protocol promises progress events at most every 200 ms.
POLL_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class TaskProgress:
    done: int = 0
    total: int = 0

    def as_json(self) -> dict[str, int]:
        return {"done": self.done, "total": self.total}


def measure_job_group(tracker: StatusTracker, job_group: str) -> TaskProgress:
    """Sums the tasks of every stage of the group's jobs.

    A stage a job skipped (its shuffle output already existed) never completes a task, so once a job has
    succeeded all its stages count as done; otherwise a finished calculation could stay at, say, 2/3 forever.
    A stage shared by several jobs counts once.
    """
    stages: dict[int, TaskProgress] = {}
    for job_id in tracker.getJobIdsForGroup(job_group):
        job = tracker.getJobInfo(job_id)
        if job is None:
            continue
        succeeded = job.status == "SUCCEEDED"
        for stage_id in job.stageIds:
            stage = tracker.getStageInfo(stage_id)
            if stage is None:
                continue
            done = stage.numTasks if succeeded else min(stage.numCompletedTasks, stage.numTasks)
            known = stages.get(stage_id)
            if known is not None:
                done = max(done, known.done)
            stages[stage_id] = TaskProgress(done=done, total=stage.numTasks)
    return TaskProgress(
        done=sum(stage.done for stage in stages.values()),
        total=sum(stage.total for stage in stages.values()),
    )


class ProgressPoller:
    """A daemon thread that polls the status tracker while a calculation runs and reports changes."""

    def __init__(
        self,
        tracker: StatusTracker,
        on_change: Callable[[str, TaskProgress], None],
        interval: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        self._tracker = tracker
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
            return measure_job_group(self._tracker, job_group)
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
                if self._stopped:
                    return
            self._poll_once()
            with self._condition:
                if not self._stopped:
                    self._condition.wait(self._interval)

    def _poll_once(self) -> None:
        with self._poll_lock:
            with self._condition:
                job_group = self._job_group
            if job_group is None:
                return
            try:
                progress = measure_job_group(self._tracker, job_group)
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
