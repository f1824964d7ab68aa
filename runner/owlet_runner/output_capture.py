"""Captures what a calculation writes to stdout and stderr into its stdout.txt and stderr.txt, at the
file-descriptor level, each cut at the output limit (docs/limits.md).

Swapping only ``sys.stdout`` would miss C extensions, ``os.write(1, ...)`` and subprocesses, so fds 1 and 2
themselves are captured. Once Spark is up they are pipes, for the rest of the runner's life, read by the output
writer process (output_writer), which the runner points at each calculation's files while it runs and at the
session log in between. Spark's JVM is a separate process that inherited the session log before that, so its
logs keep going there. A process a calculation leaves running keeps the pipes: what it writes later is copied
into the calculation running then, or into the session log, always within a limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO

from owlet_runner.output_writer import character_boundary

log = logging.getLogger(__name__)

OUTPUT_LIMIT_VARIABLE = "OWLET_CALCULATION_OUTPUT_LIMIT_BYTES"
# 64 MiB per file: about a million lines of output, far more than anyone reads, and small enough that a
# calculation's three files (each cut at the limit) cost at most a few hundred MiB of disk, and of the server's
# memory when it publishes them to S3 (one PutObject per file, read whole). See docs/limits.md.
DEFAULT_OUTPUT_LIMIT_BYTES = 64 * 1024 * 1024
# Below this the lines saying what was cut would not fit.
MINIMUM_OUTPUT_LIMIT_BYTES = 1024

_STDOUT_FD = 1
_STDERR_FD = 2
# The writer answers in milliseconds; a full disk or a pipe that a leftover process keeps full takes it at
# most a second (output_writer.DRAIN_SECONDS).
WRITER_ANSWER_TIMEOUT_SECONDS = 30.0
WRITER_EXIT_SECONDS = 3.0
_RUNNER_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the writer reports of one file: bytes kept and bytes discarded past the limit.
StreamCounts = dict[str, int]


class OutputWriterError(Exception):
    pass


def output_limit_from_environment(environ: Mapping[str, str] = os.environ) -> int:
    """The per-file limit from ``OWLET_CALCULATION_OUTPUT_LIMIT_BYTES``, or the default when it is unset. Raises
    ValueError, naming the variable, for anything but a whole number of bytes of at least 1024."""
    raw = environ.get(OUTPUT_LIMIT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_OUTPUT_LIMIT_BYTES
    if not raw.isdecimal() or int(raw) < MINIMUM_OUTPUT_LIMIT_BYTES:
        raise ValueError(
            f"{OUTPUT_LIMIT_VARIABLE} must be a whole number of bytes, at least {MINIMUM_OUTPUT_LIMIT_BYTES}: "
            f"got {raw!r}"
        )
    return int(raw)


def _flush_c_stdio() -> None:
    """C code writing through stdio keeps a buffer of its own when fd 1 is not a terminal; flush it into the
    calculation it belongs to before the writer switches files."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        _flush_quietly(stream)
    _flush_c_stdio()


def _flush_quietly(stream: TextIO | None) -> None:
    if stream is None:
        return
    try:
        stream.flush()
    except (OSError, ValueError):
        # A stream the user closed or broke must not stop the runner from restoring its own.
        pass


def _text_stream_on(fd: int) -> TextIO:
    # closefd=False: the wrapper may outlive the calculation (a logging handler the user created keeps a
    # reference); it then writes to whatever fd 1 or 2 is at that time instead of failing on a closed file.
    return io.open(  # noqa: SIM115 - the stream is handed over to sys.stdout / sys.stderr
        fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class SessionOutput:
    """The runner's fds 1 and 2 as pipes, and the output writer process that reads them."""

    def __init__(self, session_dir: str, limit: int) -> None:
        self.limit = limit
        self._session_dir = session_dir
        self._lock = threading.Lock()
        self._log_fds: tuple[int, int] | None = None
        self._read_fds: tuple[int, int] | None = None
        self._write_fds: tuple[int, int] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    def start(self) -> None:
        """Call once Spark's JVM runs: the JVM must keep the session log it inherited, not the pipes."""
        flush_standard_streams()
        # The session log, for the writer's own stdout and stderr: a writer started again later must not get
        # the pipes it reads.
        self._log_fds = (os.dup(_STDOUT_FD), os.dup(_STDERR_FD))
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        # The runner keeps both ends: the pipes outlive a writer that dies, and a new writer takes them over;
        # the writing ends put fds 1 and 2 back should calculation code close or redirect them.
        self._read_fds = (stdout_read, stderr_read)
        self._write_fds = (stdout_write, stderr_write)
        self._spawn_writer()
        self._point_standard_fds_at_pipes()

    @property
    def writer_pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def runner_only_fds(self) -> list[int]:
        """Descriptors a forked child must not keep: with them it could read calculation output meant for the
        writer, or keep the writer from seeing the runner go."""
        fds = list(self._read_fds or ())
        control = self._control
        if control is not None and control.fileno() >= 0:
            fds.append(control.fileno())
        return fds

    def begin_calculation(self, stdout_fd: int, stderr_fd: int) -> None:
        """The writer copies into these files from now on (it takes copies of the descriptors)."""
        self._point_standard_fds_at_pipes()
        message = {"op": "calculation", "limit": self.limit}
        try:
            self._request(message, (stdout_fd, stderr_fd))
        except OutputWriterError as error:
            log.warning("the output writer failed (%s); starting a new one", error)
            self._restart_writer()
            self._request(message, (stdout_fd, stderr_fd))

    def end_calculation(self) -> dict[str, StreamCounts]:
        """Waits until the writer has copied what the pipes hold into the calculation's files and closed them;
        returns what it kept and discarded of each."""
        try:
            answer = self._request({"op": "idle"})
        except OutputWriterError as error:
            log.warning("the output writer failed (%s); starting a new one", error)
            self._restart_writer()
            return {}
        self._point_standard_fds_at_pipes()
        return {name: counts for name, counts in answer.items() if isinstance(counts, dict)}

    def ensure_writer_running(self) -> None:
        """A writer that died is started again: without a reader, the pipes fill and the next write to fd 1
        or 2 would block the runner."""
        process = self._process
        if process is not None and process.poll() is not None:
            log.warning("the output writer exited (%s); starting a new one", process.returncode)
            self._restart_writer()

    def close(self) -> None:
        """Closes the control socket; the writer copies what the pipes still hold and exits."""
        with self._lock:
            control, self._control = self._control, None
            process = self._process
        if control is not None:
            control.close()
        if process is not None:
            try:
                process.wait(WRITER_EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("the output writer did not exit; killing it")
                process.kill()
                process.wait()

    def _point_standard_fds_at_pipes(self) -> None:
        if self._write_fds is None:
            return
        for target, fd in zip((_STDOUT_FD, _STDERR_FD), self._write_fds):
            os.dup2(fd, target)

    def _spawn_writer(self) -> None:
        assert self._read_fds is not None and self._log_fds is not None
        runner_end, writer_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stdout_read, stderr_read = self._read_fds
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [_RUNNER_PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "owlet_runner.output_writer",
                    "--stdout-fd",
                    str(stdout_read),
                    "--stderr-fd",
                    str(stderr_read),
                    "--control-fd",
                    str(writer_end.fileno()),
                    "--idle-limit",
                    str(self.limit),
                    "--session-dir",
                    self._session_dir,
                ],
                pass_fds=(stdout_read, stderr_read, writer_end.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=self._log_fds[0],
                stderr=self._log_fds[1],
                env=environment,
                # Out of the runner's process group: when the server kills the group (a calculation that would
                # not stop, a runner that died), the writer still copies what the pipes hold, then exits
                # because the runner's end of the control socket is closed.
                start_new_session=True,
            )
        except BaseException:
            runner_end.close()
            raise
        finally:
            writer_end.close()
        runner_end.settimeout(WRITER_ANSWER_TIMEOUT_SECONDS)
        with self._lock:
            self._process = process
            self._control = runner_end

    def _restart_writer(self) -> None:
        with self._lock:
            control, self._control = self._control, None
            process, self._process = self._process, None
        if control is not None:
            control.close()
        if process is not None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGKILL)
            process.wait()
        self._spawn_writer()

    def _request(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> dict[str, Any]:
        with self._lock:
            control = self._control
            if control is None:
                raise OutputWriterError("the output writer is not running")
            try:
                socket.send_fds(control, [json.dumps(message).encode("utf-8")], list(fds))
                packet = control.recv(64 * 1024)
            except OSError as error:
                raise OutputWriterError(f"no answer to {message['op']}: {error}") from None
        if not packet:
            raise OutputWriterError("it exited")
        answer = json.loads(packet)
        if "error" in answer:
            raise OutputWriterError(str(answer["error"]))
        return answer


class CalculationOutputCapture:
    """``with CalculationOutputCapture(output, stdout_path, stderr_path) as capture:`` — everything written inside
    lands in the two files, through the output writer; ``capture.finish(epilogue)`` (or leaving the block)
    waits until it has, and puts the runner's own ``sys`` streams back, also when the body raised."""

    def __init__(self, output: SessionOutput, stdout_path: str, stderr_path: str) -> None:
        self._output = output
        self._stdout_path = stdout_path
        self._stderr_path = stderr_path
        self._files: tuple[int, int] | None = None
        self._saved_streams: tuple[TextIO, TextIO] | None = None
        self.stdout: TextIO | None = None
        self.stderr: TextIO | None = None

    def __enter__(self) -> CalculationOutputCapture:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        stdout_file = os.open(self._stdout_path, flags, 0o644)
        try:
            stderr_file = os.open(self._stderr_path, flags, 0o644)
        except OSError:
            os.close(stdout_file)
            raise
        # Whatever is still buffered was written before the calculation started.
        flush_standard_streams()
        try:
            self._output.begin_calculation(stdout_file, stderr_file)
        except BaseException:
            os.close(stdout_file)
            os.close(stderr_file)
            raise
        self._files = (stdout_file, stderr_file)
        self._saved_streams = (sys.stdout, sys.stderr)
        self.stdout = _text_stream_on(_STDOUT_FD)
        self.stderr = _text_stream_on(_STDERR_FD)
        sys.stdout = self.stdout
        sys.stderr = self.stderr
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish()

    def finish(self, stderr_epilogue: str | None = None) -> dict[str, StreamCounts]:
        """Ends the capture; ``stderr_epilogue`` (a failed calculation's traceback) ends stderr.txt, after any
        line saying the output was cut: the runner writes it, not the calculation, so the limit does not drop
        it (it is cut at the limit itself). Returns what the writer kept and discarded of each file."""
        if self._files is None or self._saved_streams is None:
            return {}
        # User code may have replaced sys.stdout; flush that and ours.
        for stream in (sys.stdout, sys.stderr, self.stdout, self.stderr):
            _flush_quietly(stream)
        _flush_c_stdio()
        stdout_file, stderr_file = self._files
        self._files = None
        try:
            counts = self._output.end_calculation()
        finally:
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = None
            try:
                if stderr_epilogue:
                    _write_all(stderr_file, self._bounded(stderr_epilogue))
            finally:
                os.close(stdout_file)
                os.close(stderr_file)
        return counts

    def _bounded(self, text: str) -> bytes:
        data = text.encode("utf-8", "backslashreplace")
        limit = self._output.limit
        if len(data) <= limit:
            return data
        return data[: character_boundary(data, limit)] + f"\n[Owlet: traceback truncated at {limit} bytes]\n".encode()
