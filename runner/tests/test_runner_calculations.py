"""One runner with Spark up: authentication, calculations, output capture, cancellation, progress, shutdown.

The tests share the runner and run in file order; the last one shuts it down.
"""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from runner_harness import READY_TIMEOUT, SPARK_VERSION, ConnectionClosed, RunnerClient, RunnerProcess, cancel_promptly, wait_until


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    process = start_runner(config_factory())
    status = process.attach()
    assert status["state"] in ("starting", "idle"), status
    assert status["pid"] == process.pid
    if status["state"] == "starting":
        assert process.client is not None
        ready, skipped = process.client.wait_for(lambda event: event["event"] in ("ready", "failed"), READY_TIMEOUT)
        assert ready["event"] == "ready", (ready, process.log())
        assert skipped == []
    return process


def test_the_runner_writes_its_pid_and_listens_on_a_private_socket(runner: RunnerProcess) -> None:
    assert (runner.session_dir / "runner.pid").read_text().strip() == str(runner.pid)
    assert runner.socket_path.stat().st_mode & 0o777 == 0o600


def test_a_wrong_secret_is_refused(runner: RunnerProcess) -> None:
    intruder = runner.connect(secret="0" * 64)
    try:
        assert intruder.wait_closed(timeout=15) == []
    finally:
        intruder.close()


def test_a_first_message_other_than_hello_is_refused(runner: RunnerProcess) -> None:
    stranger = RunnerClient(runner.socket_path)
    try:
        stranger.send({"op": "status"})
        assert stranger.wait_closed(timeout=15) == []
    finally:
        stranger.close()


def test_status_reports_idle_with_the_spark_version_and_a_local_ui(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.client.send({"op": "status"})
    status = runner.client.next_event(30)
    assert status["event"] == "status"
    assert status["state"] == "idle"
    assert status["pid"] == runner.pid
    assert status["sparkVersion"] == SPARK_VERSION
    assert status["sparkUi"].startswith("http://127.0.0.1:")
    assert "calculation" not in status


def test_a_dataframe_defined_in_one_calculation_is_shown_by_the_next(runner: RunnerProcess) -> None:
    defined = runner.execute("df = spark.range(3)")
    assert defined.state == "COMPLETED", defined.stderr
    assert [event["event"] for event in defined.events] == ["started"]

    shown = runner.execute("df.show()")
    assert shown.state == "COMPLETED", shown.stderr
    assert shown.stdout == "+---+\n| id|\n+---+\n|  0|\n|  1|\n|  2|\n+---+\n\n"
    assert shown.stderr == ""
    assert shown.result == {"version": 1, "outputs": []}
    assert shown.status == shown.finished
    assert set(shown.finished) == {"event", "id", "state", "durationMs", "progress"}
    assert shown.finished["progress"]["done"] == shown.finished["progress"]["total"] > 0


def test_the_last_expression_becomes_the_result(runner: RunnerProcess) -> None:
    calculation = runner.execute("1+1")
    assert calculation.state == "COMPLETED"
    assert calculation.result == {"version": 1, "outputs": [{"data": {"text/plain": "2"}, "lastExpression": True}]}
    assert calculation.stdout == ""
    assert calculation.finished["progress"] == {"done": 0, "total": 0}


def test_a_last_expression_of_none_or_a_statement_gives_no_output(runner: RunnerProcess) -> None:
    assert runner.execute("None").result == {"version": 1, "outputs": []}
    assert runner.execute("value = 'x'").result == {"version": 1, "outputs": []}
    assert runner.execute("value").result == {"version": 1, "outputs": [{"data": {"text/plain": "'x'"}, "lastExpression": True}]}


def test_display_calls_and_the_last_value_become_mime_bundles_in_order(runner: RunnerProcess) -> None:
    code = (
        "class Rich:\n"
        "    def __repr__(self): return 'Rich()'\n"
        "    def _repr_html_(self): return '<b>rich</b>'\n"
        "    def _repr_json_(self): return {'rich': True}\n"
        "display('first', Rich())\n"
        "3 * 7"
    )
    assert runner.execute(code).result == {
        "version": 1,
        "outputs": [
            {"data": {"text/plain": "'first'"}},
            {"data": {"text/plain": "Rich()", "text/html": "<b>rich</b>", "application/json": {"rich": True}}},
            {"data": {"text/plain": "21"}, "lastExpression": True},
        ],
    }
    # The next calculation starts with no outputs of its own.
    assert runner.execute("None").result == {"version": 1, "outputs": []}


def test_a_name_error_fails_with_only_the_users_frames(runner: RunnerProcess) -> None:
    calculation = runner.execute("\nfoobar\n")
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"] == "NameError: name 'foobar' is not defined"
    assert calculation.stderr == '  File "<stdin>", line 2, in <module>\nNameError: name \'foobar\' is not defined\n'
    # The result document names the error as Jupyter does, with the traceback that ends stderr.txt.
    assert calculation.result == {
        "version": 1,
        "outputs": [],
        "error": {"ename": "NameError", "evalue": "name 'foobar' is not defined", "traceback": calculation.stderr},
    }
    assert calculation.status == calculation.finished


def test_a_syntax_error_fails_with_the_standard_lines(runner: RunnerProcess) -> None:
    calculation = runner.execute("x = 1\nfoo bar\n")
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"] == "SyntaxError: invalid syntax"
    assert calculation.stderr == '  File "<stdin>", line 2\n    foo bar\n        ^^^\nSyntaxError: invalid syntax\n'


def test_an_error_in_a_function_shows_each_user_frame(runner: RunnerProcess) -> None:
    calculation = runner.execute("def f():\n    return 1 / 0\n\nf()\n")
    assert calculation.state == "FAILED"
    assert calculation.stderr == (
        '  File "<stdin>", line 4, in <module>\n'
        '  File "<stdin>", line 2, in f\n'
        "ZeroDivisionError: division by zero\n"
    )


def test_a_spark_error_shows_the_traceback_without_sparks_own_log_lines(runner: RunnerProcess) -> None:
    calculation = runner.execute("spark.range(3).select('nope').show()")
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"].startswith(
        "pyspark.errors.exceptions.captured.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION]"
    )
    assert calculation.stderr.startswith('  File "<stdin>", line 1, in <module>\n')
    assert calculation.finished["reason"] in calculation.stderr
    # PySpark 4 logs such errors as JSON with the JVM stack trace; that belongs in the session log.
    spark_log_line = '"logger": "DataFrameQueryContextLogger"'
    assert spark_log_line not in calculation.stderr
    if not SPARK_VERSION.startswith("3."):  # PySpark 3.5 has no such logger
        assert spark_log_line in runner.log_path.read_text(encoding="utf-8", errors="replace")


def test_system_exit_fails_the_calculation_but_not_the_session(runner: RunnerProcess) -> None:
    calculation = runner.execute("import sys\nsys.exit(3)")
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"] == "SystemExit: 3"
    assert calculation.stderr.endswith("SystemExit: 3\n")
    assert runner.execute("exit()").state == "FAILED"
    assert runner.execute("1+1").result["outputs"] == [{"data": {"text/plain": "2"}, "lastExpression": True}]


def test_output_is_captured_at_the_file_descriptor_level(runner: RunnerProcess) -> None:
    code = (
        "import os, subprocess, sys\n"
        "print('from print')\n"
        "os.write(1, b'raw\\n')\n"
        "subprocess.run(['echo', 'from a subprocess'], check=True)\n"
        "print('to stderr', file=sys.stderr)\n"
        "os.write(2, b'raw stderr\\n')\n"
    )
    calculation = runner.execute(code)
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.stdout == "from print\nraw\nfrom a subprocess\n"
    assert calculation.stderr == "to stderr\nraw stderr\n"
    # Nothing leaks into the next calculation, and the runner's own stdout is back on the session log.
    after = runner.execute("print('next')")
    assert after.stdout == "next\n"
    assert "from print" not in runner.log_path.read_text(encoding="utf-8", errors="replace")


def test_execute_while_busy_is_refused_and_cancel_of_a_sleep_is_prompt(runner: RunnerProcess, tmp_path: Path) -> None:
    assert runner.client is not None
    runner.execute("before_sleep = 'kept'")
    # The code marks a file once `in_sleep` is set: the cancel waits for it, not for a guessed delay.
    asleep = tmp_path / "asleep"
    sleeping = runner.submit(f"import time\nin_sleep = 1\nopen({str(asleep)!r}, 'w').close()\ntime.sleep(3600)\nafter_sleep = 1\n")
    runner.client.wait_for(lambda event: event["event"] == "started" and event["id"] == sleeping, 30)

    other = runner.submit("1+1")
    refusal, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert refusal["id"] == other
    assert "busy" in refusal["message"]
    runner.client.send({"op": "status"})
    status, _ = runner.client.wait_for(lambda event: event["event"] == "status", 30)
    assert status["state"] == "busy"
    assert status["calculation"] == sleeping

    wait_until(asleep.exists, "the calculation to be asleep")
    calculation = cancel_promptly(runner, sleeping)
    assert calculation.status == calculation.finished
    assert "Traceback" not in calculation.stderr

    survivors = runner.execute("print(before_sleep, in_sleep, 'after_sleep' in globals())")
    assert survivors.stdout == "kept 1 False\n"


def test_cancel_of_a_pure_python_loop(runner: RunnerProcess, tmp_path: Path) -> None:
    assert runner.client is not None
    looped = tmp_path / "looped"
    looping = runner.submit(f"loops = 0\nwhile True:\n    loops += 1\n    if loops == 1:\n        open({str(looped)!r}, 'w').close()\n")
    runner.client.wait_for(lambda event: event["event"] == "started" and event["id"] == looping, 30)
    wait_until(looped.exists, "the loop to have run once")
    cancel_promptly(runner, looping)
    assert runner.execute("loops > 0").result["outputs"] == [{"data": {"text/plain": "True"}, "lastExpression": True}]


def test_cancel_of_code_that_swallows_the_interrupt(runner: RunnerProcess) -> None:
    assert runner.client is not None
    stubborn = runner.submit(
        "import time\n"
        "for attempt in range(3):\n"
        "    try:\n"
        "        time.sleep(3600)\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    )
    runner.client.wait_for(lambda event: event["event"] == "started" and event["id"] == stubborn, 30)
    time.sleep(0.3)
    cancel_promptly(runner, stubborn)


def test_cancel_of_a_long_spark_job(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.execute("rows_before = spark.range(5).count()")
    job = runner.submit("spark.range(0, 10**12, 1, 2).selectExpr('max(id)').collect()")
    # Cancel once the job runs: progress shows its tasks.
    runner.client.wait_for(
        lambda event: event["event"] == "progress" and event["id"] == job and event["total"] > 0, 120
    )
    calculation = cancel_promptly(runner, job)
    assert calculation.finished["progress"]["total"] > calculation.finished["progress"]["done"]

    after = runner.execute("print(rows_before, spark.range(7).count())")
    assert after.state == "COMPLETED", after.stderr
    assert after.stdout == "5 7\n"


def test_cancel_of_a_spark_job_running_a_python_udf(runner: RunnerProcess) -> None:
    assert runner.client is not None
    job = runner.submit(
        "import time\n"
        "from pyspark.sql.functions import udf\n"
        "@udf('long')\n"
        "def slow(value):\n"
        "    time.sleep(3600)\n"
        "    return value\n"
        "spark.range(0, 4, 1, 2).select(slow('id')).collect()\n"
    )
    runner.client.wait_for(
        lambda event: event["event"] == "progress" and event["id"] == job and event["total"] > 0, 120
    )
    cancel_promptly(runner, job)
    assert runner.execute("spark.range(3).count()").result["outputs"] == [{"data": {"text/plain": "3"}, "lastExpression": True}]


def test_cancels_racing_the_end_of_a_calculation_never_hit_the_runner(runner: RunnerProcess) -> None:
    assert runner.client is not None
    for attempt in range(20):
        calculation_id = runner.submit(f"short_{attempt} = {attempt}\nimport time\ntime.sleep({attempt % 4} / 1000)")
        runner.client.send({"op": "cancel", "id": calculation_id})
        finished = runner.wait_finished(calculation_id, timeout=30)
        if finished.state != "CANCELED":
            # The calculation ended before the cancel was read: the cancel is refused instead.
            assert finished.state == "COMPLETED"
            refused = [event for event in finished.events if event["event"] == "error"]
            if not refused:
                refused = [runner.client.wait_for(lambda event: event["event"] == "error", 30)[0]]
            assert refused[0]["id"] == calculation_id
    # Interrupts still in flight land nowhere: the session keeps working.
    time.sleep(1.5)
    assert runner.execute("1+1").result["outputs"] == [{"data": {"text/plain": "2"}, "lastExpression": True}]
    runner.client.send({"op": "status"})
    status, _ = runner.client.wait_for(lambda event: event["event"] == "status", 30)
    assert status["state"] == "idle"


def test_a_cancel_for_a_calculation_that_is_not_running_is_an_error(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.client.send({"op": "cancel", "id": "not-running"})
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert error["id"] == "not-running"


def test_progress_events_follow_a_spark_job(runner: RunnerProcess) -> None:
    calculation = runner.execute(
        "import time\nspark.sparkContext.parallelize(range(8), 4).map(lambda x: (time.sleep(0.5), x)[1]).count()"
    )
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.result["outputs"] == [{"data": {"text/plain": "8"}, "lastExpression": True}]
    progress = [event for event in calculation.events if event["event"] == "progress"]
    assert progress, calculation.events
    for event in progress:
        assert event["id"] == calculation.finished["id"]
        assert 0 <= event["done"] <= event["total"] == 4
    assert [(event["done"], event["total"]) for event in progress] == sorted(
        {(event["done"], event["total"]) for event in progress}
    )
    assert calculation.finished["progress"] == {"done": 4, "total": 4}


def test_the_final_progress_counts_skipped_stages_as_done(runner: RunnerProcess) -> None:
    # Three jobs over one shuffle, each listing a map stage (4 tasks) and a result stage (2). The first runs its
    # map stage; the next two skip theirs, since the shuffle's output exists, and those never complete a task.
    # The status tracker also learns that the last job ended only after the action has returned: the final
    # numbers must still read as whole.
    calculation = runner.execute(
        "pairs = spark.sparkContext.parallelize(range(8), 4).map(lambda x: (x % 2, x)).reduceByKey(lambda a, b: a + b, 2)\n"
        "pairs.count(), pairs.count(), sorted(pairs.collect())"
    )
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.result["outputs"] == [{"data": {"text/plain": "(2, 2, [(0, 12), (1, 16)])"}, "lastExpression": True}]
    assert calculation.finished["progress"] == {"done": 18, "total": 18}


def test_each_calculation_tags_its_jobs_with_its_own_tag_only(runner: RunnerProcess) -> None:
    # Tags stay on the thread until removed: each calculation must find only its own.
    read_tags = "sorted(spark.sparkContext.getJobTags())" if SPARK_VERSION.startswith("3.") else "sorted(spark.getTags())"
    seen = []
    for _ in range(2):
        calculation = runner.execute(read_tags)
        assert calculation.state == "COMPLETED", calculation.stderr
        tags = ast.literal_eval(calculation.result["outputs"][0]["data"]["text/plain"])
        assert len(tags) == 1, tags
        seen.extend(tags)
    assert seen[0] != seen[1]


def test_bad_messages_get_error_events(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.client.send_raw(b"this is not json\n")
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert "JSON" in error["message"]
    runner.client.send({"op": "frobnicate"})
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert "frobnicate" in error["message"]
    runner.client.send({"op": "execute", "id": "no-code"})
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert error["id"] == "no-code"


def test_a_new_client_replaces_the_old_one_and_status_json_keeps_missed_outcomes(runner: RunnerProcess) -> None:
    old_client = runner.client
    assert old_client is not None
    calculation_id = runner.submit("import time\ntime.sleep(1)\n6 * 7")
    old_client.wait_for(lambda event: event["event"] == "started", 30)

    status = runner.attach()
    assert status["state"] == "busy"
    assert status["calculation"] == calculation_id
    with pytest.raises(ConnectionClosed):
        old_client.wait_for(lambda event: False, 15)
    old_client.close()

    finished = runner.wait_finished(calculation_id)
    assert finished.state == "COMPLETED"
    assert finished.result["outputs"] == [{"data": {"text/plain": "42"}, "lastExpression": True}]

    # With no client connected, the finished event is dropped; status.json has it.
    unseen = runner.submit("import time\ntime.sleep(1)\n'unseen'")
    assert runner.client is not None
    runner.client.close()
    runner.client = None
    status_path = runner.calculation_dir(unseen) / "status.json"
    deadline = time.monotonic() + 60
    while not status_path.exists():
        assert time.monotonic() < deadline, "no status.json"
        time.sleep(0.1)
    assert json.loads(status_path.read_text())["state"] == "COMPLETED"
    status = runner.attach()
    assert status["state"] == "idle"


def test_shutdown_stops_spark_and_exits(runner: RunnerProcess) -> None:
    assert runner.client is not None
    jvm_and_workers = runner.children()
    assert jvm_and_workers, "Spark's JVM should run in the runner's process group"
    runner.client.send({"op": "shutdown"})
    assert runner.client.wait_closed(timeout=60) == []
    assert runner.process.wait(timeout=60) == 0
    assert not runner.socket_path.exists()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in jvm_and_workers):
        assert time.monotonic() < deadline, f"still running: {[pid for pid in jvm_and_workers if _alive(pid)]}"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(") ", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
