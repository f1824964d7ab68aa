"""The output writer: a small process that copies what reaches the runner's fds 1 and 2 into the running
calculation's stdout.txt and stderr.txt, each cut at the output limit (docs/limits.md).

From the moment Spark is up, fds 1 and 2 of the runner are pipes, and every process the runner starts inherits
them: print, C extensions, subprocesses and forked children all write there. The writer reads both pipes and
copies into the files the runner hands it over the control socket while a calculation runs, and into the
session log (its own stdout and stderr) between calculations, so that a process a calculation left running can
neither grow a finished calculation's files nor fill the disk.

Why a process and not a thread of the runner: a thread needs the GIL to copy, and C code that holds the GIL
while it writes more than a pipe holds (64 KiB) then waits for ever on a reader that waits for the GIL
(wurlitzer issue #20; ipykernel pull request #752 shows `ctypes.PyDLL(None).printf(b'1' * 100_000)` hanging a
kernel). A process also outlives the runner: what the runner wrote just before it died (`os._exit`, a signal)
is still in the pipe, and the writer copies it once the runner's end of the control socket closes.

Control packets (SOCK_SEQPACKET, one JSON object each), each answered with one packet:

- ``{"op": "calculation", "limit": N}`` with two descriptors (stdout.txt, stderr.txt) attached: what is in the
  pipes now goes where it was going, then the pipes go to the two files, each holding at most N bytes of output
  plus a last line saying it was cut. Answer ``{"ok": true}``.
- ``{"op": "idle"}``: what is in the pipes now goes to the calculation's files, which the writer then closes;
  the pipes go to the session log again. Answer ``{"stdout": {"written": N, "discarded": N}, "stderr": {...}}``.

``python -m owlet_runner.output_writer --stdout-fd N --stderr-fd N --control-fd N --idle-limit N``; the runner
starts it (output_capture.SessionOutput). It imports nothing of the runner's but this module.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import time
from typing import Any

# One read's worth; the loop turns to the control socket between reads of a busy pipe.
CHUNK_BYTES = 64 * 1024
# How long a switch of sinks (and the last copy once the runner is gone) keeps reading a pipe that does not
# empty: a process that writes without pause must not hold the runner's calculation for ever.
DRAIN_SECONDS = 1.0
MAX_CONTROL_PACKET_BYTES = 64 * 1024


def calculation_marker(stream: str, limit: int) -> str:
    return (
        f"[Owlet: {stream} truncated at {limit} bytes; the calculation went on and the rest of its {stream} "
        "was discarded]\n"
    )


def idle_marker(stream: str, limit: int) -> str:
    return (
        f"[Owlet: {stream} written between calculations truncated at {limit} bytes for this session; "
        "the rest is discarded]\n"
    )


def character_boundary(data: bytes, cut: int) -> int:
    """``cut``, moved back to the start of the UTF-8 character it falls in (at most 3 bytes), so that a cut file
    stays valid UTF-8. Bytes that are not UTF-8 are cut where asked."""
    if cut >= len(data):
        return len(data)
    boundary = cut
    while boundary > 0 and cut - boundary < 3 and data[boundary] & 0xC0 == 0x80:
        boundary -= 1
    return cut if data[boundary] & 0xC0 == 0x80 else boundary


class LimitedSink:
    """A file that takes at most ``limit`` bytes; the write that crosses the limit is cut and ``marker`` follows
    on a line of its own. Later writes are counted as discarded. A file that cannot be written (a full disk)
    discards too, instead of stopping the writer."""

    def __init__(self, fd: int | None, limit: int, marker: str, owns_fd: bool) -> None:
        self._fd = fd
        self._limit = limit
        self._marker = marker.encode("utf-8")
        self._owns_fd = owns_fd
        self._ends_with_newline = True
        self.written = 0
        self.discarded = 0
        self.truncated = False

    def write(self, data: bytes) -> None:
        if self.truncated or self._fd is None:
            self.discarded += len(data)
            return
        room = self._limit - self.written
        if len(data) <= room:
            head, tail = data, b""
        else:
            cut = character_boundary(data, room)
            head, tail = data[:cut], data[cut:]
        if head:
            self._ends_with_newline = head.endswith(b"\n")
        if tail:
            self.truncated = True
            self.discarded += len(tail)
            head += (b"" if self._ends_with_newline else b"\n") + self._marker
        try:
            _write_all(self._fd, head)
        except OSError as error:
            _report(f"cannot write output (fd {self._fd}): {error}; discarding it")
            self.discarded += len(data) - len(tail)
            self._fd = None
            return
        self.written += len(data) - len(tail)

    def counts(self) -> dict[str, int]:
        return {"written": self.written, "discarded": self.discarded}

    def close(self) -> None:
        if self._owns_fd and self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None


class _Stream:
    """One pipe and the sink its bytes go to."""

    def __init__(self, name: str, pipe_fd: int, idle: LimitedSink) -> None:
        self.name = name
        self.pipe_fd = pipe_fd
        self.idle = idle
        self.sink = idle
        # False once every writing end is closed: poll would report the pipe at once, for ever.
        self.open = True
        os.set_blocking(pipe_fd, False)

    def copy_available(self, max_bytes: int) -> bool:
        """Copies what the pipe holds, up to about ``max_bytes``; True when the pipe is empty now."""
        copied = 0
        while copied < max_bytes:
            try:
                data = os.read(self.pipe_fd, CHUNK_BYTES)
            except BlockingIOError:
                return True
            if not data:
                self.open = False
                return True
            self.sink.write(data)
            copied += len(data)
        return False

    def drain(self, deadline: float) -> None:
        while self.open and not self.copy_available(CHUNK_BYTES * 16) and time.monotonic() < deadline:
            pass


class OutputWriter:
    def __init__(self, stdout_fd: int, stderr_fd: int, control: socket.socket, idle_limit: int) -> None:
        # The writer's own stdout and stderr are the session log.
        self._streams = [
            _Stream("stdout", stdout_fd, LimitedSink(1, idle_limit, idle_marker("stdout", idle_limit), owns_fd=False)),
            _Stream("stderr", stderr_fd, LimitedSink(2, idle_limit, idle_marker("stderr", idle_limit), owns_fd=False)),
        ]
        self._control = control

    def run(self) -> int:
        poller = select.poll()
        poller.register(self._control.fileno(), select.POLLIN)
        by_fd = {stream.pipe_fd: stream for stream in self._streams}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == self._control.fileno():
                    if not self._handle_control():
                        self._finish()
                        return 0
                    continue
                stream = by_fd[fd]
                stream.copy_available(CHUNK_BYTES * 16)
                if not stream.open:
                    poller.unregister(fd)

    def _handle_control(self) -> bool:
        """Acts on one control packet; False once the runner's end is closed (it exited or died)."""
        try:
            packet, fds, _, _ = socket.recv_fds(self._control, MAX_CONTROL_PACKET_BYTES, 2)
        except ConnectionResetError:
            return False
        if not packet:
            for fd in fds:
                os.close(fd)
            return False
        try:
            answer = self._act(json.loads(packet), fds)
        except Exception as error:  # noqa: BLE001 - a bad packet is answered, the writer goes on
            for fd in fds:
                os.close(fd)
            answer = {"error": f"{type(error).__name__}: {error}"}
        try:
            self._control.send(json.dumps(answer).encode("utf-8"))
        except OSError:
            return False
        return True

    def _act(self, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        op = message.get("op")
        if op == "calculation":
            limit = message.get("limit")
            if len(fds) != 2 or not isinstance(limit, int) or limit < 1:
                raise ValueError("calculation needs two descriptors and a positive limit")
            self._switch(
                [
                    LimitedSink(fd, limit, calculation_marker(stream.name, limit), owns_fd=True)
                    for fd, stream in zip(fds, self._streams)
                ]
            )
            return {"ok": True}
        if op == "idle":
            if fds:
                raise ValueError("idle takes no descriptors")
            previous = self._switch([stream.idle for stream in self._streams])
            return {stream.name: sink.counts() for stream, sink in zip(self._streams, previous)}
        raise ValueError(f"unknown op {op!r}")

    def _switch(self, sinks: list[LimitedSink]) -> list[LimitedSink]:
        """Everything in the pipes now belongs to the current sinks: the runner wrote it before it asked (a
        write to a pipe returns once the pipe holds it). Then the new sinks take over."""
        deadline = time.monotonic() + DRAIN_SECONDS
        previous = []
        for stream, sink in zip(self._streams, sinks):
            stream.drain(deadline)
            previous.append(stream.sink)
            if stream.sink is not stream.idle:
                stream.sink.close()
            stream.sink = sink
        return previous

    def _finish(self) -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        for stream in self._streams:
            stream.drain(deadline)
            stream.sink.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _report(message: str) -> None:
    try:
        _write_all(2, f"owlet output writer: {message}\n".encode("utf-8", "backslashreplace"))
    except OSError:
        pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="owlet_runner.output_writer")
    parser.add_argument("--stdout-fd", type=int, required=True)
    parser.add_argument("--stderr-fd", type=int, required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--idle-limit", type=int, required=True)
    # Only to name the session in the process list, so that a writer left behind is found with its session.
    parser.add_argument("--session-dir")
    arguments = parser.parse_args(argv)
    control = socket.socket(fileno=arguments.control_fd)
    writer = OutputWriter(arguments.stdout_fd, arguments.stderr_fd, control, arguments.idle_limit)
    return writer.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
