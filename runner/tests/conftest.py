"""Fixtures for the runner tests.

Starting Spark takes 10-30 s on a busy 2-core machine, so each test module shares one runner (module-scoped
fixtures); teardown stops every runner the module started, with its process group.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from runner_harness import RUNNER_PACKAGE_PARENT, RunnerProcess, session_config

# The unit tests (test_magic_syntax, test_dataframe_tables) import the runner's modules directly.
if str(RUNNER_PACKAGE_PARENT) not in sys.path:
    sys.path.insert(0, str(RUNNER_PACKAGE_PARENT))


@pytest.fixture(scope="module")
def start_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunnerProcess]]:
    """``start_runner(config, prepare=None, env=None)``: ``prepare(session_dir)`` runs before the runner starts;
    ``env`` adds to the runner's environment."""
    started: list[RunnerProcess] = []

    def start(
        config: dict[str, Any], prepare: Callable[[Path], None] | None = None, env: dict[str, str] | None = None
    ) -> RunnerProcess:
        session_dir = tmp_path_factory.mktemp("session")
        if prepare is not None:
            prepare(session_dir)
        runner = RunnerProcess(session_dir, config, env)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        runner.stop()


@pytest.fixture(scope="module")
def config_factory() -> Callable[..., dict[str, Any]]:
    return session_config
