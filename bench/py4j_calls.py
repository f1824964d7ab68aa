"""py4j round trips of what the runner does around each calculation, counted.

    .runtimes/spark-3.5/venv/bin/python bench/py4j_calls.py

Starts ``local[2]`` Spark in this process, wraps py4j's ``send_command`` (both connection classes) with a
counter, and for ``1+1`` and ``spark.range(1000).count()`` (twice each: the first of each pays one-time lookups)
runs the runner's steps one by one: the job group, the job tag, the code, the progress reading (the runner's
JobGroupReader, as the poller reads it and as the final reading does, beside PySpark's own StatusTracker, which
the runner used before), and removing the tag. Prints the round trips and the wall-clock time of each step.
Needs `make setup` first: the runner's reader calls Owlet's driver helpers (.runtimes/jars/owlet-driver-helpers-*).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runner"))

import py4j.clientserver
import py4j.java_gateway
from pyspark.sql import SparkSession

from owlet_runner.cancellation import tag_jobs, untag_jobs
from owlet_runner.progress import JobGroupReader

calls = 0


def counting(send: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        global calls
        calls += 1
        return send(self, command, *args, **kwargs)

    return wrapped


for connection in (py4j.clientserver.ClientServerConnection, py4j.java_gateway.GatewayConnection):
    connection.send_command = counting(connection.send_command)  # type: ignore[method-assign]


def pyspark_status_tracker_progress(spark: SparkSession, group: str) -> tuple[int, int]:
    """The same numbers through PySpark's StatusTracker, as the runner read them before."""
    tracker = spark.sparkContext.statusTracker()
    stages: dict[int, tuple[int, int]] = {}
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        if job is None:
            continue
        for stage_id in job.stageIds:
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                done = stage.numTasks if job.status == "SUCCEEDED" else stage.numCompletedTasks
                stages[stage_id] = (done, stage.numTasks)
    return sum(d for d, _ in stages.values()), sum(t for _, t in stages.values())


def pyspark_minor() -> str:
    import pyspark

    return ".".join(pyspark.__version__.split(".")[:2])


def step(name: str, action: Callable[[], Any]) -> None:
    before = calls
    started = time.perf_counter()
    result = action()
    print(f"  {name}: {calls - before} round trips, {(time.perf_counter() - started) * 1000:.1f} ms -> {result}", flush=True)


def main() -> None:
    helpers = Path(__file__).resolve().parent.parent / ".runtimes" / "jars" / f"owlet-driver-helpers-{pyspark_minor()}.jar"
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraClassPath", str(helpers))
        .getOrCreate()
    )
    spark.range(1).count()
    reader = JobGroupReader(spark.sparkContext)
    for code in ["1+1", "spark.range(1000).count()"]:
        for attempt in range(2):
            group = f"calculation-{attempt}-{code}"
            print(f"{code} (#{attempt + 1})")
            step("setJobGroup", lambda: spark.sparkContext.setJobGroup(group, "calculation", interruptOnCancel=True))
            step("tag_jobs", lambda: tag_jobs(spark, "owlet-calculation"))
            step("the code", lambda: eval(code, {"spark": spark}))  # noqa: S307 - the benchmark's own code
            step("progress, PySpark's StatusTracker", lambda: pyspark_status_tracker_progress(spark, group))
            step("progress, JobGroupReader", lambda: reader.measure(group))
            step("final progress, JobGroupReader (settled)", lambda: reader.measure(group, settled=True))
            step("untag_jobs", lambda: untag_jobs(spark, "owlet-calculation"))
    spark.stop()


if __name__ == "__main__":
    main()
