"""What the runner tells of its driver besides calculations: the executors Spark knows of (`executors`), and the
Spark Connect server it runs, reached with a real Spark Connect client in a process of its own.

The tests share one runner and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from runner_harness import RUNNER_PYTHON, RunnerProcess

CLIENT_TIMEOUT = 120

# A Spark Connect client: reads the global temp view the calculation made, prints its ids.
CLIENT = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
print(sorted(row.id for row in spark.sql("SELECT id FROM global_temp.driver_facts").collect()))
"""


def token_url(runner: RunnerProcess, port: int, token: str) -> str:
    """A Connect URL presenting ``token`` to the driver without TLS. Spark 4's client sends its ``token``
    parameter in the clear to `localhost` (gRPC's local channel credentials); Spark 3.5's client always wants
    TLS with a token, so there the header is sent as a plain parameter, which that client passes as metadata."""
    if status(runner)["sparkVersion"].startswith("3."):
        return f"sc://127.0.0.1:{port}/;authorization=Bearer%20{token}"
    return f"sc://localhost:{port}/;token={token}"


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    process = start_runner(config_factory())
    process.wait_ready()
    return process


def status(runner: RunnerProcess) -> dict[str, Any]:
    assert runner.client is not None
    runner.client.send({"op": "status"})
    event, _ = runner.client.wait_for(lambda event: event["event"] == "status", 30)
    return event


def executors(runner: RunnerProcess, request_id: str = "r1", timeout: float = 30) -> dict[str, Any]:
    assert runner.client is not None
    runner.client.send({"op": "executors", "requestId": request_id})
    event, _ = runner.client.wait_for(
        lambda event: event["event"] in ("executors", "error") and event.get("requestId") == request_id, timeout
    )
    return event


def run_client(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "connect_client.py"
    script.write_text(CLIENT, encoding="utf-8")
    return subprocess.run(
        [RUNNER_PYTHON, str(script), url],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def test_status_tells_the_driver_start_and_its_spark_connect_server(runner: RunnerProcess) -> None:
    event = status(runner)
    assert isinstance(event["startedAt"], int) and abs(event["startedAt"] / 1000 - time.time()) < 3600
    connect = event["connect"]
    assert isinstance(connect["port"], int) and connect["port"] > 0
    assert len(connect["token"]) >= 32
    assert "connectError" not in event


def test_executors_lists_the_driver(runner: RunnerProcess) -> None:
    answer = executors(runner)
    assert answer["event"] == "executors", answer
    [driver] = answer["executors"]
    assert driver["id"] == "driver"
    assert driver["isDriver"] is True
    assert driver["active"] is True
    assert driver["hostPort"].startswith("127.0.0.1:")
    assert driver["addTime"] >= status(runner)["startedAt"]
    assert "removeTime" not in driver
    assert driver["totalCores"] == 2  # local[2]


def test_executors_is_answered_while_a_calculation_runs(runner: RunnerProcess) -> None:
    calculation_id = runner.submit("import time\ntime.sleep(60)")
    assert runner.client is not None
    runner.client.wait_for(lambda event: event["event"] == "started" and event["id"] == calculation_id, 30)
    asked = time.monotonic()
    answer = executors(runner, "while-busy", timeout=10)
    assert answer["event"] == "executors"
    assert time.monotonic() - asked < 5
    runner.client.send({"op": "cancel", "id": calculation_id})
    assert runner.wait_finished(calculation_id, 30).state == "CANCELED"


def test_a_spark_connect_client_with_the_token_reads_a_global_temp_view(runner: RunnerProcess, tmp_path: Path) -> None:
    made = runner.execute("spark.range(4).createOrReplaceGlobalTempView('driver_facts')")
    assert made.state == "COMPLETED", made.stderr
    connect = status(runner)["connect"]
    completed = run_client(token_url(runner, connect["port"], connect["token"]), tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == "[0, 1, 2, 3]"


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_the_driver_refuses_a_client_without_its_token(runner: RunnerProcess, tmp_path: Path, token: str | None) -> None:
    port = status(runner)["connect"]["port"]
    url = token_url(runner, port, token) if token else f"sc://127.0.0.1:{port}"
    completed = run_client(url, tmp_path)
    assert completed.returncode != 0
    assert "UNAUTHENTICATED" in completed.stderr or "authentication" in completed.stderr.lower(), completed.stderr[-3000:]


def test_the_token_is_neither_on_the_command_line_nor_in_what_calculations_see(runner: RunnerProcess) -> None:
    token = status(runner)["connect"]["token"]
    for pid in [runner.pid, *runner.children()]:
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        assert token not in command_line, pid
    seen = runner.execute(
        "import os\n"
        "(os.environ.get('SPARK_CONNECT_AUTHENTICATE_TOKEN'), spark.conf.get('spark.connect.authenticate.token', None))"
    )
    assert seen.result["outputs"] == [{"data": {"text/plain": "(None, None)"}, "lastExpression": True}]


TEMPORARY_PLACES = """
import glob, json, os, tempfile
scratch = os.environ["TMPDIR"]
jvm = spark.sparkContext._jvm
print(json.dumps({
    "python": tempfile.gettempdir(),
    "local_dir": spark.conf.get("spark.local.dir"),
    "java": jvm.java.lang.System.getProperty("java.io.tmpdir"),
    "block_managers": len(glob.glob(os.path.join(scratch, "blockmgr-*"))),
}))
"""


def test_temporary_files_stay_in_the_runners_scratch_directory_and_go_with_it(runner: RunnerProcess) -> None:
    # Last in the file: it stops the module's runner. A runner that is killed cannot clean up; the server
    # removes the directory then (src/engine/local-runner-engine.ts).
    scratch = runner.session_dir / "tmp"
    calculation = runner.execute("spark.range(100).repartition(3).count()\n" + TEMPORARY_PLACES)
    assert calculation.state == "COMPLETED", calculation.stderr
    places = json.loads(calculation.stdout.strip().splitlines()[-1])
    assert places["python"] == str(scratch)
    assert places["local_dir"] == str(scratch)
    assert places["java"] == str(scratch)
    assert places["block_managers"] >= 1, places
    runner.stop()
    assert runner.process.returncode == 0, runner.log()
    assert not scratch.exists(), sorted(p.name for p in scratch.iterdir())
