"""JobGroupReader: the progress numbers from the JVM's status tracker, and how many calls it takes to read them.

The tracker here stands in for Spark's JavaSparkStatusTracker as py4j presents it (Java int[] values are
opaque objects read through ``java.util.Arrays.toString``); every call the reader makes is counted, since each
is a py4j round trip in the runner. The real tracker is exercised end to end by test_runner_calculations.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from owlet_runner.progress import JobGroupReader, TaskProgress


@dataclass
class JavaArray:
    values: list[int]


@dataclass
class Calls:
    count: int = 0


@dataclass
class Stage:
    calls: Calls
    tasks: int
    completed: int

    def numTasks(self) -> int:  # noqa: N802 - Spark's Java name
        self.calls.count += 1
        return self.tasks

    def numCompletedTasks(self) -> int:  # noqa: N802
        self.calls.count += 1
        return self.completed


@dataclass
class JobStatus:
    """A Java enum constant: its text is one more call (toString)."""

    calls: Calls
    name: str

    def __str__(self) -> str:
        self.calls.count += 1
        return self.name


@dataclass
class Job:
    calls: Calls
    state: str
    stages: list[int]

    def status(self) -> JobStatus:
        self.calls.count += 1
        return JobStatus(self.calls, self.state)

    def stageIds(self) -> JavaArray:  # noqa: N802
        self.calls.count += 1
        return JavaArray(self.stages)


@dataclass
class Tracker:
    calls: Calls
    groups: dict[str, list[int]] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    stages: dict[int, Stage] = field(default_factory=dict)

    def getJobIdsForGroup(self, group: str) -> JavaArray:  # noqa: N802
        self.calls.count += 1
        return JavaArray(self.groups.get(group, []))

    def getJobInfo(self, job_id: int) -> Job | None:  # noqa: N802
        self.calls.count += 1
        return self.jobs.get(job_id)

    def getStageInfo(self, stage_id: int) -> Stage | None:  # noqa: N802
        self.calls.count += 1
        return self.stages.get(stage_id)


def reader_over(tracker: Tracker) -> JobGroupReader:
    def to_string(array: JavaArray) -> str:
        tracker.calls.count += 1
        return "[" + ", ".join(str(v) for v in array.values) + "]"

    context: Any = SimpleNamespace(
        _jsc=SimpleNamespace(statusTracker=lambda: tracker),
        _jvm=SimpleNamespace(java=SimpleNamespace(util=SimpleNamespace(Arrays=SimpleNamespace(toString=to_string)))),
    )
    return JobGroupReader(context)


def test_a_group_without_jobs_reads_as_nothing_in_two_calls() -> None:
    calls = Calls()
    reader = reader_over(Tracker(calls))
    assert reader.measure("calc-1") == TaskProgress(0, 0)
    assert calls.count == 2


def test_running_and_finished_jobs_count_their_stages_once() -> None:
    calls = Calls()
    tracker = Tracker(calls)
    # Job 1 succeeded; its stage 2 was skipped (never completes a task) but counts as done. Job 2 runs and
    # shares stage 2 with job 1: the stage counts once, as done.
    tracker.groups["calc-1"] = [1, 2]
    tracker.jobs[1] = Job(calls, "SUCCEEDED", [1, 2])
    tracker.jobs[2] = Job(calls, "RUNNING", [2, 3])
    tracker.stages[1] = Stage(calls, tasks=4, completed=4)
    tracker.stages[2] = Stage(calls, tasks=2, completed=0)
    tracker.stages[3] = Stage(calls, tasks=8, completed=3)
    assert reader_over(tracker).measure("calc-1") == TaskProgress(done=4 + 2 + 3, total=4 + 2 + 8)


def test_a_job_spark_no_longer_knows_is_left_out() -> None:
    calls = Calls()
    tracker = Tracker(calls)
    tracker.groups["calc-1"] = [7]
    assert reader_over(tracker).measure("calc-1") == TaskProgress(0, 0)


def test_the_calls_grow_with_jobs_and_stages_not_with_array_elements_read_one_by_one() -> None:
    calls = Calls()
    tracker = Tracker(calls)
    # As spark.range(1000).count() leaves it with adaptive execution: two succeeded jobs, three stages.
    tracker.groups["calc-1"] = [1, 2]
    tracker.jobs[1] = Job(calls, "SUCCEEDED", [1])
    tracker.jobs[2] = Job(calls, "SUCCEEDED", [2, 3])
    for stage in (1, 2, 3):
        tracker.stages[stage] = Stage(calls, tasks=2, completed=2)
    assert reader_over(tracker).measure("calc-1") == TaskProgress(done=6, total=6)
    # 2 for the job ids; 5 per job (info, status and its text, stage ids and their text); 2 per stage (info,
    # numTasks). PySpark's StatusTracker took 44 for the same (measured, docs/performance.md).
    assert calls.count == 2 + 2 * 5 + 3 * 2
