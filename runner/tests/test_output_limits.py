"""The output limit without Spark: the output writer process, the result document's limit, the setting, and the
end of processes a session leaves behind (docs/limits.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from owlet_runner.output_capture import (
    DEFAULT_OUTPUT_LIMIT_BYTES,
    OUTPUT_LIMIT_VARIABLE,
    output_limit_from_environment,
)
from owlet_runner.output_writer import LimitedSink, calculation_marker, character_boundary
from owlet_runner.rich_output import OutputCollector
from runner_harness import RUNNER_PACKAGE_PARENT, RUNNER_PYTHON


def test_the_limit_defaults_to_64_mib_and_the_environment_sets_it() -> None:
    assert output_limit_from_environment({}) == DEFAULT_OUTPUT_LIMIT_BYTES == 64 * 1024 * 1024
    assert output_limit_from_environment({OUTPUT_LIMIT_VARIABLE: " 2048 "}) == 2048
    for bad in ("1k", "-5", "12.5", "1023", "0x1000"):
        with pytest.raises(ValueError) as refused:
            output_limit_from_environment({OUTPUT_LIMIT_VARIABLE: bad})
        assert str(refused.value) == (
            f"OWLET_CALCULATION_OUTPUT_LIMIT_BYTES must be a whole number of bytes, at least 1024: got {bad!r}"
        )


def test_a_cut_never_splits_a_utf8_character() -> None:
    data = "ab€c".encode()  # € is 3 bytes, at 2..4
    assert [character_boundary(data, cut) for cut in range(7)] == [0, 1, 2, 2, 2, 5, 6]
    # Bytes that are not UTF-8 are cut where asked.
    assert character_boundary(b"\x80\x80\x80\x80\x80", 4) == 4


def sink_into(path: Path, limit: int) -> LimitedSink:
    return LimitedSink(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), limit, calculation_marker("stdout", limit), True)


def test_a_sink_keeps_the_limit_and_says_so_on_a_line_of_its_own(tmp_path: Path) -> None:
    sink = sink_into(tmp_path / "out", 10)
    sink.write(b"12345\n")
    sink.write(b"678")
    sink.write(b"90abc")
    sink.write(b"more")
    sink.close()
    marker = "[Owlet: stdout truncated at 10 bytes; the calculation went on and the rest of its stdout was discarded]\n"
    assert (tmp_path / "out").read_text() == "12345\n6789\n" + marker
    assert sink.counts() == {"written": 10, "discarded": 8}

    at_a_line_end = sink_into(tmp_path / "lines", 6)
    at_a_line_end.write(b"12345\nnext")
    at_a_line_end.close()
    assert (tmp_path / "lines").read_text() == "12345\n" + calculation_marker("stdout", 6)


def test_the_writer_copies_each_calculation_into_its_files_within_the_limit(tmp_path: Path) -> None:
    writer = WriterProcess(tmp_path, idle_limit=1024)
    try:
        os.write(writer.stdout, b"before the calculation\n")
        files = [os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) for name in ("out.txt", "err.txt")]
        assert writer.request({"op": "calculation", "limit": 1024}, files) == {"ok": True}
        for fd in files:
            os.close(fd)
        os.write(writer.stdout, b"x" * 1000 + b"\n")
        os.write(writer.stdout, b"y" * 100 + b"\n")
        os.write(writer.stderr, b"an error\n")
        counts = writer.request({"op": "idle"})
        assert counts == {"stdout": {"written": 1024, "discarded": 78}, "stderr": {"written": 9, "discarded": 0}}
        assert (tmp_path / "out.txt").read_bytes() == (
            b"x" * 1000 + b"\n" + b"y" * 23 + b"\n" + calculation_marker("stdout", 1024).encode()
        )
        assert (tmp_path / "err.txt").read_bytes() == b"an error\n"
        # Between calculations, output goes to the session log (the writer's own stdout), within the limit too.
        os.write(writer.stdout, b"after the calculation\n")
        os.write(writer.stdout, b"z" * 2000)
        assert writer.request({"op": "bogus"}) == {"error": "ValueError: unknown op 'bogus'"}
    finally:
        writer.close()
    log = (tmp_path / "session.log").read_text()
    assert log.startswith("before the calculation\nafter the calculation\nzzz")
    assert log.endswith(
        "\n[Owlet: stdout written between calculations truncated at 1024 bytes for this session; the rest is discarded]\n"
    )
    assert len(log) < 1024 + 200


def test_output_written_just_before_the_runner_dies_still_lands(tmp_path: Path) -> None:
    writer = WriterProcess(tmp_path, idle_limit=1024)
    try:
        files = [os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) for name in ("out.txt", "err.txt")]
        writer.request({"op": "calculation", "limit": 1 << 20}, files)
        for fd in files:
            os.close(fd)
        # As if the runner wrote and died at once: its end of the control socket closes with the output unread.
        os.write(writer.stdout, b"last words\n")
        writer.control.close()
        assert writer.process.wait(timeout=10) == 0
        assert (tmp_path / "out.txt").read_bytes() == b"last words\n"
    finally:
        writer.close()


class WriterProcess:
    """The output writer started as the runner starts it, with the test holding the runner's ends."""

    def __init__(self, directory: Path, idle_limit: int) -> None:
        stdout_read, self.stdout = os.pipe()
        stderr_read, self.stderr = os.pipe()
        self.control, writer_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control.settimeout(30)
        with open(directory / "session.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    RUNNER_PYTHON, "-m", "owlet_runner.output_writer",
                    "--stdout-fd", str(stdout_read), "--stderr-fd", str(stderr_read),
                    "--control-fd", str(writer_end.fileno()), "--idle-limit", str(idle_limit),
                ],
                pass_fds=(stdout_read, stderr_read, writer_end.fileno()),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env={**os.environ, "PYTHONPATH": str(RUNNER_PACKAGE_PARENT)},
            )  # fmt: skip
        for fd in (stdout_read, stderr_read):
            os.close(fd)
        writer_end.close()

    def request(self, message: dict, fds: list[int] | None = None) -> dict:
        socket.send_fds(self.control, [json.dumps(message).encode()], fds or [])
        return json.loads(self.control.recv(65536))

    def close(self) -> None:
        self.control.close()
        for fd in (self.stdout, self.stderr):
            os.close(fd)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def document_bytes(outputs: list) -> int:
    return len(json.dumps({"version": 1, "outputs": outputs})) + 1


def test_the_result_document_cuts_the_output_that_does_not_fit_and_leaves_out_the_rest() -> None:
    collector = OutputCollector(4096)
    collector.display("small")
    collector.display("é" * 10_000, "later", "later again")
    collector.add_value(12)
    outputs = collector.result_outputs()
    assert document_bytes(outputs) <= 4096
    assert outputs[0] == {"data": {"text/plain": "'small'"}}
    assert len(outputs) == 2
    cut = outputs[1]["data"]["text/plain"]
    assert cut.startswith("'ééé")
    assert cut.endswith("\n[Owlet: output cut, the result document holds at most 4096 bytes; 3 later outputs left out]")
    # Escaped as \\u00e9, each character takes 6 bytes: the cut keeps what fits, not 4096 characters.
    assert 500 < cut.count("é") < 4096 // 6

    collector.reset()
    for number in range(2000):
        collector.display(number)
    outputs = collector.result_outputs()
    assert document_bytes(outputs) <= 4096
    assert outputs[-1]["data"]["text/plain"].endswith("later outputs left out]")
    assert collector.full


def test_rich_forms_of_an_output_that_does_not_fit_are_left_out() -> None:
    class Wide:
        def __repr__(self) -> str:
            return "Wide()"

        def _repr_html_(self) -> str:
            return "<td>" * 5000

    collector = OutputCollector(4096)
    collector.display(Wide())
    assert collector.result_outputs() == [
        {"data": {"text/plain": "Wide()\n[Owlet: output cut, the result document holds at most 4096 bytes]"}}
    ]


LEFTOVERS_SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from owlet_runner.child_processes import end_leftover_processes

    # In the group: a child, a child that ignores SIGTERM, and a grandchild whose parent is gone.
    plain = subprocess.Popen(["sleep", "1000"])
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(1000)"],
        stdout=subprocess.PIPE,
    )
    stubborn.stdout.readline()  # It ignores SIGTERM from now on.
    orphan = subprocess.run(
        ["sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # Out of the group, but a child.
    escaped = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    spared = subprocess.Popen(["sleep", "1000"])
    started = time.monotonic()
    ended = end_leftover_processes(1.0, spare=[spared.pid])
    seconds = time.monotonic() - started
    spared_ran_on = spared.poll() is None
    spared.kill()
    print(json.dumps({
        "expected": sorted([plain.pid, stubborn.pid, int(orphan), escaped.pid]),
        "ended": sorted(ended),
        "seconds": seconds,
        "spared_ran_on": spared_ran_on,
    }))
    """
)


def test_leftover_processes_end_with_sigterm_then_sigkill() -> None:
    # In a process of its own, leading its group as a runner does: the test must not end pytest's children.
    finished = subprocess.run(
        [RUNNER_PYTHON, "-c", LEFTOVERS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(RUNNER_PACKAGE_PARENT)},
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["ended"] == report["expected"]
    assert report["spared_ran_on"]
    # The one that ignores SIGTERM waited for the grace period, then got SIGKILL (the upper bound is a deadline
    # for a hang, generous for a loaded machine).
    assert 1.0 <= report["seconds"] < 60
    for pid in report["expected"]:
        assert not _running(pid), pid


def _running(pid: int) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                if stat.read().rsplit(") ", 1)[-1].split()[0] in "ZX":
                    return False
        except OSError:
            return False
        time.sleep(0.05)
    return True

