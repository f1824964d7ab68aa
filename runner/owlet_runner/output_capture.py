"""Redirects the process's stdout and stderr into a calculation's files, at the file-descriptor level.

Swapping only ``sys.stdout`` would miss C extensions, ``os.write(1, ...)`` and subprocesses, so fds 1 and 2
themselves point at stdout.txt and stderr.txt while a calculation runs. Spark's JVM is a separate process that
inherited the original fds when it started, so its logs keep going to the session log.
"""

from __future__ import annotations

import ctypes
import io
import os
import sys
from types import TracebackType
from typing import TextIO

_STDOUT_FD = 1
_STDERR_FD = 2


def _flush_c_stdio() -> None:
    """C code writing through stdio keeps a buffer of its own when fd 1 is a file; flush it into the file it
    was meant for before fd 1 moves."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


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


class CalculationOutputCapture:
    """``with CalculationOutputCapture(stdout_path, stderr_path):`` — everything written inside lands in the
    two files; the previous fds and ``sys`` streams are back afterwards, also when the body raised."""

    def __init__(self, stdout_path: str, stderr_path: str) -> None:
        self._stdout_path = stdout_path
        self._stderr_path = stderr_path
        self._saved_fds: tuple[int, int] | None = None
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
        _flush_quietly(sys.stdout)
        _flush_quietly(sys.stderr)
        _flush_c_stdio()
        self._saved_fds = (os.dup(_STDOUT_FD), os.dup(_STDERR_FD))
        self._saved_streams = (sys.stdout, sys.stderr)
        os.dup2(stdout_file, _STDOUT_FD)
        os.dup2(stderr_file, _STDERR_FD)
        os.close(stdout_file)
        os.close(stderr_file)
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
        self.restore()

    def restore(self) -> None:
        if self._saved_fds is None or self._saved_streams is None:
            return
        # User code may have replaced sys.stdout; flush that and ours.
        for stream in (sys.stdout, sys.stderr, self.stdout, self.stderr):
            _flush_quietly(stream)
        _flush_c_stdio()
        saved_stdout, saved_stderr = self._saved_fds
        os.dup2(saved_stdout, _STDOUT_FD)
        os.dup2(saved_stderr, _STDERR_FD)
        os.close(saved_stdout)
        os.close(saved_stderr)
        sys.stdout, sys.stderr = self._saved_streams
        self._saved_fds = None
        self._saved_streams = None
