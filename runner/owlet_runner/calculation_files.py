"""The files a calculation leaves in its directory: stdout.txt, stderr.txt, result.json, status.json."""

from __future__ import annotations

import json
import os
from typing import Any

RESULT_DOCUMENT_VERSION = 1


class CalculationFiles:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.stdout_path = os.path.join(directory, "stdout.txt")
        self.stderr_path = os.path.join(directory, "stderr.txt")
        self.result_path = os.path.join(directory, "result.json")
        self.status_path = os.path.join(directory, "status.json")

    def prepare(self) -> None:
        """Creates the directory when the server has not (it normally has), and drops a stale status.json so
        that a reader never takes a previous attempt's outcome for this one's."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        try:
            os.unlink(self.status_path)
        except FileNotFoundError:
            pass

    def write_result(self, outputs: list[dict[str, Any]], error: dict[str, str] | None = None) -> None:
        """``error`` (a failed calculation's ``ename``, ``evalue`` and ``traceback``, the text ending stderr.txt)
        lets a Jupyter client show the failure as Jupyter's error output (docs/result-document.md)."""
        document: dict[str, Any] = {"version": RESULT_DOCUMENT_VERSION, "outputs": outputs}
        if error is not None:
            document["error"] = error
        write_json_atomically(self.result_path, document)

    def write_status(self, finished_event: dict[str, Any]) -> None:
        write_json_atomically(self.status_path, finished_event)


def write_json_atomically(path: str, document: Any) -> None:
    """Temp file in the same directory, then rename: a reader sees the old file or the whole new one.

    Not synced, on purpose. These files hand a calculation's outcome to the server on the same machine, and
    the kernel keeps written pages whoever is killed (the runner, the server, or both), so they survive every
    process crash. The server makes the results durable when it publishes them into its store. A crash of the
    machine itself leaves no runner to reclaim, and the server reads a missing or torn file as no outcome.
    Syncing cost 1-7 ms at the end of every calculation, the most right after a Spark job
    (docs/performance.md, "The count, step by step").
    """
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    data = (json.dumps(document) + "\n").encode("utf-8")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(temporary, path)
