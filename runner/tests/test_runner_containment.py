"""Calculation code that prints too much, never ends, forks, or exits the interpreter, on a real runner with a
small output limit (docs/limits.md).

The tests of the first runner run in file order; the last one shuts it down with processes left running. Two
more runners end in ways a session does not come back from: `spark.stop()` and `os._exit`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from runner_harness import READY_TIMEOUT, RunnerProcess, cancel_promptly, wait_until

LIMIT = 1024 * 1024
LIMIT_ENVIRONMENT = {"OWLET_CALCULATION_OUTPUT_LIMIT_BYTES": str(LIMIT)}
LINE = "x" * 999 + "\n"
# What a file holds once 1,000-byte lines went past the limit: 1,048 whole lines, the start of the next, and the
# marker on a line of its own.
CUT_LINES = LINE * (LIMIT // len(LINE)) + "x" * (LIMIT % len(LINE)) + "\n"


def marker(stream: str) -> str:
    return (
        f"[Owlet: {stream} truncated at {LIMIT} bytes; the calculation went on and the rest of its {stream} "
        "was discarded]\n"
    )


def start_ready(start_runner: Callable[..., RunnerProcess], config: dict[str, Any]) -> RunnerProcess:
    process = start_runner(config, env=LIMIT_ENVIRONMENT)
    process.attach()
    assert process.client is not None
    ready, _ = process.client.wait_for(lambda event: event["event"] in ("ready", "failed"), READY_TIMEOUT)
    assert ready["event"] == "ready", (ready, process.log())
    return process


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    return start_ready(start_runner, config_factory())


def assert_idle_and_quiet(runner: RunnerProcess) -> None:
    """The runner is idle and sent nothing it should not have (a second `finished`, from a forked child)."""
    assert runner.client is not None
    runner.client.send({"op": "status"})
    status, skipped = runner.client.wait_for(lambda event: event["event"] == "status", 30)
    assert status["state"] == "idle"
    assert skipped == []


@pytest.mark.parametrize(
    "code",
    [
        "for i in range(5000):\n    print('x' * 999)",
        "import sys\nfor i in range(5000):\n    sys.stdout.write('x' * 999 + '\\n')",
        "import os\nfor i in range(5000):\n    os.write(1, b'x' * 999 + b'\\n')",
        "import subprocess\nsubprocess.run('yes ' + 'x' * 999 + ' | head -n 5000', shell=True, check=True)",
    ],
    ids=["print", "sys.stdout.write", "os.write", "subprocess"],
)
def test_stdout_past_the_limit_is_cut_and_the_calculation_completes(runner: RunnerProcess, code: str) -> None:
    calculation = runner.execute(code)
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.stdout == CUT_LINES + marker("stdout")
    assert calculation.stderr == ""


def test_stderr_has_its_own_limit(runner: RunnerProcess) -> None:
    calculation = runner.execute("import sys\nprint('fine')\nfor i in range(5000):\n    print('x' * 999, file=sys.stderr)")
    assert calculation.state == "COMPLETED"
    assert calculation.stdout == "fine\n"
    assert calculation.stderr == CUT_LINES + marker("stderr")


def test_c_code_that_holds_the_gil_while_it_writes_more_than_a_pipe_holds(runner: RunnerProcess) -> None:
    # PyDLL keeps the GIL during the call: a reader thread in the runner could never empty the pipe.
    started = time.monotonic()
    calculation = runner.execute("import ctypes\nlibc = ctypes.PyDLL(None)\nlibc.printf(b'x' * 3_000_000)\nlibc.fflush(None)")
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.stdout == "x" * LIMIT + "\n" + marker("stdout")
    print(f"\n3 MB from printf holding the GIL: {time.monotonic() - started:.2f} s")


def test_the_limit_counts_per_calculation(runner: RunnerProcess) -> None:
    assert runner.execute("print('small')").stdout == "small\n"
    assert_idle_and_quiet(runner)


def test_a_failed_calculation_keeps_its_traceback_after_the_cut(runner: RunnerProcess) -> None:
    calculation = runner.execute("import sys\nfor i in range(5000):\n    print('x' * 999, file=sys.stderr)\n1 / 0")
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"] == "ZeroDivisionError: division by zero"
    assert calculation.stderr == (
        CUT_LINES + marker("stderr") + '  File "<stdin>", line 4, in <module>\nZeroDivisionError: division by zero\n'
    )


def test_a_print_loop_that_never_ends_is_cancelled(runner: RunnerProcess) -> None:
    assert runner.client is not None
    looping = runner.submit("while True:\n    print('x' * 999)")
    runner.client.wait_for(lambda event: event["event"] == "started" and event["id"] == looping, 30)
    # Cancelled once its stdout has reached the limit, not after a guessed delay.
    stdout = runner.calculation_dir(looping) / "stdout.txt"
    wait_until(lambda: stdout.exists() and stdout.stat().st_size >= LIMIT, "stdout to reach the limit")
    calculation = cancel_promptly(runner, looping)
    assert calculation.stdout == CUT_LINES + marker("stdout")
    assert runner.execute("print('still here')").stdout == "still here\n"


def test_a_process_left_running_never_grows_a_finished_calculations_files(runner: RunnerProcess, tmp_path: Path) -> None:
    started = runner.execute(
        "import subprocess\nticker = subprocess.Popen(['sh', '-c', 'while true; do echo tick; sleep 0.05; done'])"
    )
    assert started.state == "COMPLETED", started.stderr
    size = (started.directory / "stdout.txt").stat().st_size
    # What it writes meanwhile goes to the session log (waited for: the ticker may be slow to start), and never
    # to the finished calculation's files.
    wait_until(lambda: "tick\n" in runner.log(), "a tick in the session log")
    time.sleep(1)
    assert (started.directory / "stdout.txt").stat().st_size == size
    # And into the calculation running when it writes: that one runs until its stdout has a tick.
    done = tmp_path / "seen-a-tick"
    later_id = runner.submit(
        f"import os, time\nwhile not os.path.exists({str(done)!r}):\n    time.sleep(0.05)\nticker.kill()\nticker.wait()"
    )
    later_stdout = runner.calculation_dir(later_id) / "stdout.txt"
    wait_until(lambda: later_stdout.exists() and "tick\n" in later_stdout.read_text(errors="replace"), "a tick in the running calculation")
    done.touch()
    later = runner.wait_finished(later_id)
    assert later.state == "COMPLETED", later.stderr
    assert "tick\n" in later.stdout


def test_a_giant_last_value_is_cut_to_the_limit(runner: RunnerProcess) -> None:
    calculation = runner.execute("'z' * 3_000_000")
    assert calculation.state == "COMPLETED"
    assert (calculation.directory / "result.json").stat().st_size <= LIMIT
    [output] = calculation.result["outputs"]
    text = output["data"]["text/plain"]
    assert text.startswith("'zzz")
    assert text.endswith(f"z\n[Owlet: output cut, the result document holds at most {LIMIT} bytes]")


def test_displays_past_the_limit_are_left_out(runner: RunnerProcess) -> None:
    calculation = runner.execute("for i in range(100_000):\n    display('y' * 100)\n'last'")
    assert calculation.state == "COMPLETED"
    assert (calculation.directory / "result.json").stat().st_size <= LIMIT
    outputs = calculation.result["outputs"]
    kept = len(outputs) - 1
    assert outputs[:kept] == [{"data": {"text/plain": "'" + "y" * 100 + "'"}}] * kept
    # The last value counts among the outputs left out.
    assert outputs[-1]["data"]["text/plain"].endswith(
        f"\n[Owlet: output cut, the result document holds at most {LIMIT} bytes; {100_001 - len(outputs)} later outputs left out]"
    )


def test_a_reason_is_cut_to_athenas_1024_characters(runner: RunnerProcess) -> None:
    calculation = runner.execute("raise ValueError('v' * 5000)")
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"] == "ValueError: " + "v" * (1024 - len("ValueError: ") - 3) + "..."
    assert calculation.stderr.endswith("ValueError: " + "v" * 5000 + "\n")


@pytest.mark.parametrize(
    "code, reason",
    [
        ("import sys\nsys.exit(3)", "SystemExit: 3"),
        ("raise SystemExit(3)", "SystemExit: 3"),
        ("raise SystemExit('bye')", "SystemExit: bye"),
        ("exit()", "SystemExit: None"),
        ("quit()", "SystemExit: None"),
    ],
)
def test_exiting_the_interpreter_fails_only_the_calculation(runner: RunnerProcess, code: str, reason: str) -> None:
    calculation = runner.execute("kept_across_exit = 'yes'\n" + code)
    assert calculation.state == "FAILED"
    assert calculation.finished["reason"] == reason
    assert runner.execute("print(kept_across_exit)").stdout == "yes\n"
    assert_idle_and_quiet(runner)


@pytest.mark.parametrize(
    "child, parent, child_stdout, exit_code, stderr",
    [
        # Falls off the end of the block, through the last expression, as the child of a script would.
        ("print('in the child')", "", "in the child\n", 0, ""),
        ("raise ValueError('from the child')", "", "", 1, '  File "<stdin>", line 4, in <module>\nValueError: from the child\n'),
        ("import sys\n    sys.exit(5)", "", "", 5, ""),
        ("os._exit(7)", "", "", 7, ""),
        # With the runner's SIGTERM handler the child would shut "the runner" down instead (and remove the
        # runner's socket file 20 s later).
        ("while True:\n        time.sleep(0.1)", "time.sleep(0.2)\n    os.kill(pid, signal.SIGTERM)\n    ", "", -15, ""),
    ],
    ids=["end of the block", "an error", "sys.exit", "os._exit", "SIGTERM"],
)
def test_a_forked_child_exits_as_a_script_would_and_never_acts_as_the_runner(
    runner: RunnerProcess, child: str, parent: str, child_stdout: str, exit_code: int, stderr: str
) -> None:
    calculation = runner.execute(
        "import os, signal, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        f"    {child}\n"
        "else:\n"
        f"    {parent}_, status = os.waitpid(pid, 0)\n"
        "    print('the child exited with', os.waitstatus_to_exitcode(status))\n"
        "'done'"
    )
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.stdout == f"{child_stdout}the child exited with {exit_code}\n"
    assert calculation.stderr == stderr
    assert calculation.result["outputs"] == [{"data": {"text/plain": "'done'"}, "lastExpression": True}]
    assert [event["event"] for event in calculation.events] == ["started"]
    assert runner.socket_path.exists()
    assert_idle_and_quiet(runner)


def test_forks_from_a_thread_and_multiprocessing_pools(runner: RunnerProcess) -> None:
    calculation = runner.execute(
        "import multiprocessing, os, threading\n"
        "def fork_here():\n"
        "    if os.fork() == 0:\n"
        "        print('child of a thread')\n"
        "    else:\n"
        "        os.wait()\n"
        "thread = threading.Thread(target=fork_here)\n"
        "thread.start()\n"
        "thread.join()\n"
        "def square(x):\n"
        "    return x * x\n"
        "with multiprocessing.get_context('fork').Pool(2) as pool:\n"
        "    print(pool.map(square, range(5)))\n"
    )
    assert calculation.state == "COMPLETED", calculation.stderr
    assert calculation.stdout == "child of a thread\n[0, 1, 4, 9, 16]\n"
    assert_idle_and_quiet(runner)


def test_shutdown_ends_every_process_the_session_left_running(runner: RunnerProcess) -> None:
    assert runner.client is not None
    calculation = runner.execute(
        "import multiprocessing, os, subprocess, threading, time\n"
        "sleeper = subprocess.Popen(['sleep', '1000'])\n"
        "outside_the_group = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "worker = multiprocessing.get_context('fork').Process(target=time.sleep, args=(1000,))\n"
        "worker.start()\n"
        "forked = os.fork()\n"
        "if forked == 0:\n"
        "    while True:\n"
        "        time.sleep(1)\n"
        "threading.Thread(target=time.sleep, args=(1000,)).start()\n"
        "[sleeper.pid, outside_the_group.pid, worker.pid, forked]"
    )
    assert calculation.state == "COMPLETED", calculation.stderr
    left_running = json.loads(calculation.result["outputs"][0]["data"]["text/plain"])
    assert all(_running(pid) for pid in left_running)

    started = time.monotonic()
    runner.client.send({"op": "shutdown"})
    assert runner.client.wait_closed(timeout=60) == []
    # Neither the thread that never ends nor multiprocessing's exit handler (it joins its children) holds it.
    assert runner.process.wait(timeout=60) == 0
    print(f"\nshutdown with four processes and a thread left running: {time.monotonic() - started:.2f} s")
    assert time.monotonic() - started < 10
    assert [pid for pid in left_running if _running(pid)] == []
    assert [pid for pid in runner.children() if _running(pid)] == []
    assert_output_writer_exits(runner)


def test_spark_stop_fails_the_session_with_a_reason(
    start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]
) -> None:
    runner = start_ready(start_runner, config_factory())
    assert runner.client is not None
    calculation = runner.execute("spark.stop()")
    assert calculation.state == "COMPLETED", calculation.stderr
    failed, _ = runner.client.wait_for(lambda event: event["event"] == "failed", 30)
    assert failed["reason"] == (
        "Spark was stopped by the session's code (spark.stop()); the session cannot run calculations any more"
    )
    refused = runner.submit("1 + 1")
    error, _ = runner.client.wait_for(lambda event: event["event"] == "error", 30)
    assert error["id"] == refused
    runner.client.send({"op": "shutdown"})
    runner.client.wait_closed(timeout=60)
    assert runner.process.wait(timeout=60) == 0
    assert [pid for pid in runner.children() if _running(pid)] == []


def test_os_exit_ends_the_runner_and_keeps_what_it_printed(
    start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]
) -> None:
    runner = start_ready(start_runner, config_factory())
    assert runner.client is not None
    calculation_id = runner.submit("print('last words')\nimport os\nos._exit(1)")
    events = runner.client.wait_closed(timeout=60)
    assert [event["event"] for event in events] == ["started"]
    assert runner.process.wait(timeout=30) == 1
    # Still in the pipe when the runner died; the output writer copied it after.
    directory = runner.calculation_dir(calculation_id)
    assert_output_writer_exits(runner)
    assert (directory / "stdout.txt").read_text() == "last words\n"
    assert not (directory / "status.json").exists()


def assert_output_writer_exits(runner: RunnerProcess) -> None:
    """The output writer (not in the runner's group) exits once the runner has gone."""
    deadline = time.monotonic() + 120
    while runner.processes_naming_session():
        assert time.monotonic() < deadline, "the output writer is still running"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")

