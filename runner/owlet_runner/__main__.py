"""``python -m owlet_runner --session-dir DIR``: run one session until the server tells it to shut down."""

import argparse
import os
import sys

from owlet_runner.output_capture import flush_standard_streams
from owlet_runner.runner import SessionRunner


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="owlet_runner",
        description="Run one Owlet session: a PySpark driver controlled over DIR/runner.sock.",
    )
    parser.add_argument(
        "--session-dir",
        required=True,
        help="the session directory holding config.json and secret (see docs/runner-protocol.md)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    return SessionRunner(arguments.session_dir).run()


if __name__ == "__main__":
    status = main(sys.argv[1:])
    flush_standard_streams()
    # The runner has stopped Spark and ended every process the session left (SessionRunner._stop). The
    # interpreter's own shutdown would now wait for threads calculation code started and never ended, and run
    # the exit handlers it registered (multiprocessing's joins its children): a session must end even so.
    os._exit(status)
