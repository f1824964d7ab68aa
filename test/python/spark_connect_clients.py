# Spark Connect clients for the tests of GetSessionEndpoint: a client script run by a given Python interpreter,
# in a process of its own, so that one test runs against several versions of pyspark's Connect client.
import json
import os
import subprocess
from pathlib import Path

from owlet_clients import runtime_python

# Importing pyspark's Connect client takes seconds, and a first query more on a busy machine: a deadline for a
# stuck client, generous for a loaded one.
CLIENT_TIMEOUT_S = 600


def client_pythons() -> dict[str, str]:
    """The interpreters whose pyspark clients the tests use: the default engine's (pyspark[connect] 3.5, the
    client Athena's Spark Connect documentation installs), and any named in OWLET_TEST_CONNECT_CLIENTS
    (`name=/path/to/python`, space-separated)."""
    pythons = {'pyspark-3.5': str(runtime_python('spark-3.5'))}
    for entry in os.environ.get('OWLET_TEST_CONNECT_CLIENTS', '').split():
        name, _, python = entry.partition('=')
        assert name and python, f'OWLET_TEST_CONNECT_CLIENTS takes name=/path/to/python entries, not {entry!r}'
        pythons[name] = python
    return pythons


def run_client(
    python: str, script: str, url: str, tmp_path: Path, env: dict[str, str] | None = None, timeout: float = CLIENT_TIMEOUT_S
) -> tuple[int, dict]:
    """Runs `script` (which takes the connection string as its argument and prints one JSON line last) with
    `python`; returns its exit code and what it printed last."""
    path = tmp_path / 'connect_client.py'
    path.write_text(script, encoding='utf-8')
    completed = subprocess.run(
        [python, str(path), url],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f'the client printed nothing (exit {completed.returncode}); stderr: {completed.stderr[-3000:]}'
    return completed.returncode, json.loads(lines[-1])
