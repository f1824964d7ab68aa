"""Processes that calculation code starts: forked children must never act as the runner, and whatever a session
leaves running ends with it (docs/limits.md).

A child of ``os.fork()`` (or of multiprocessing's fork start method) is a copy of the runner, with the runner's
descriptors and, on the forking thread, the runner's own call stack under the user's code. Left alone, a child
that returns from the fork runs on through the rest of the block and back into the runner: it would write the
calculation's status.json, send its ``finished`` on the server's connection, make py4j calls on the driver's
connections, and then wait for work as a second runner. So the executor ends such a child when the code block
ends (``exit_if_forked_child``), as a Python script's child ends at the end of the script, and a fork hook
points the runner's own descriptors (control socket, output pipes) at /dev/null in every child, so that nothing
a child does can reach them, and gives the child Python's default SIGTERM and SIGINT handlers.

The runner leads its own process group (the server starts it with setsid), which holds Spark's JVM and every
process calculation code starts, unless that process leaves the group itself. ``end_leftover_processes`` ends
the group and the runner's descendants when the runner shuts down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterable

from owlet_runner.output_capture import flush_standard_streams

_runner_pid: int | None = None
# How often a shutdown looks whether the processes it signalled are gone.
_POLL_SECONDS = 0.05
# A process can fork between the look and the kill; SIGKILL rounds go on until none is left, or this many.
_KILL_ROUNDS = 40


def install_fork_guard(runner_only_fds: Callable[[], Iterable[int]]) -> None:
    """Records this process as the runner and, in every child forked from it later, points the descriptors
    ``runner_only_fds()`` names at /dev/null. Once per process: fork hooks cannot be removed."""
    global _runner_pid
    if _runner_pid is not None:
        return
    _runner_pid = os.getpid()
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    def forget_the_runner() -> None:
        # Runs in the child right after fork, also between fork and exec of subprocesses that have a
        # preexec_fn (which sets its own handlers after this); no locks: another thread may have held one at
        # the fork. The runner's handlers would run runner code in the child: its SIGTERM handler shuts "the
        # runner" down (and, 20 s later, removes the runner's socket file), its SIGINT handler is the
        # calculation's gate. A child gets Python's defaults, as a script's child has.
        for fd in runner_only_fds():
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd, inheritable=False)
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)

    os.register_at_fork(after_in_child=forget_the_runner)


def is_forked_child() -> bool:
    return _runner_pid is not None and os.getpid() != _runner_pid


def exit_forked_child(status: int) -> None:
    """Ends a forked child the way a script's end would, without the interpreter's shutdown: that would run the
    runner's exit handlers (multiprocessing's among them, which joins the runner's own children)."""
    flush_standard_streams()
    os._exit(status)


def exit_status_of(error: SystemExit) -> int:
    """The exit status Python gives ``raise SystemExit(code)``: None is 0, an int is itself, anything else is
    printed to stderr and is 1."""
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def end_leftover_processes(grace_seconds: float, spare: Collection[int] = ()) -> list[int]:
    """Ends every process of the runner's process group (when the runner leads it) and every descendant of the
    runner, except the runner and ``spare``: SIGTERM first, SIGKILL to what is left after ``grace_seconds``.
    Returns the pids it signalled. A process that left the group and whose parent is gone (a daemon that forked
    twice and called setsid) is out of reach."""
    own = os.getpid()
    spared = set(spare) | {own}
    lead_group = os.getpgrp() == own

    def leftovers() -> list[int]:
        return [pid for pid in _group_and_descendants(own, lead_group) if pid not in spared]

    signalled: list[int] = []
    deadline = time.monotonic() + grace_seconds
    while True:
        alive = leftovers()
        if not alive:
            return signalled
        for pid in alive:
            if pid not in signalled:
                signalled.append(pid)
                _signal(pid, signal.SIGTERM)
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    for _ in range(_KILL_ROUNDS):
        alive = leftovers()
        if not alive:
            break
        for pid in alive:
            _signal(pid, signal.SIGKILL)
        time.sleep(_POLL_SECONDS / 2)
    return signalled


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _group_and_descendants(own: int, lead_group: bool) -> list[int]:
    """Live processes (zombies are gone: they only wait for their parent to reap them) in the group ``own`` leads,
    if it leads one, and below ``own`` in the process tree, read from /proc."""
    children: dict[int, list[int]] = {}
    members: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdecimal():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 3 or fields[0] in (b"Z", b"X"):
            continue
        pid, parent, group = int(entry), int(fields[1]), int(fields[2])
        children.setdefault(parent, []).append(pid)
        if lead_group and group == own:
            members.add(pid)
    found = set(members)
    pending = [own]
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in found:
                found.add(child)
                pending.append(child)
    found.discard(own)
    return sorted(found)
