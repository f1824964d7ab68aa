"""What each magic does: the ones Athena documents for its notebooks (the "Use cell magics", "Use line magics"
and "Magics for creating data graphs" pages of its user guide), plus IPython's ``%env`` and ``%lsmagic``.

magic_syntax turns each magic line into a call on a SessionMagics object. A magic used wrongly raises
UsageError, which fails the calculation with ``UsageError: ...`` in stderr, as IPython reports it. Athena's
``%%sql`` always cuts cells to 20 characters and shows 20 rows; Owlet's takes both as options, with Athena's
values as defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from owlet_runner import figures
from owlet_runner.dataframe_tables import is_spark_dataframe
from owlet_runner.magic_syntax import MagicArguments, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LINE_MAGICS: dict[str, MagicArguments] = {
    "env": MagicArguments.TEXT,
    "help": MagicArguments.TEXT,
    "list_sessions": MagicArguments.TEXT,
    "lsmagic": MagicArguments.TEXT,
    "matplot": MagicArguments.EXPRESSION,
    "plotly": MagicArguments.EXPRESSION,
    "session_id": MagicArguments.TEXT,
    "set_log_level": MagicArguments.TEXT,
    "status": MagicArguments.TEXT,
    "table": MagicArguments.EXPRESSION,
}
CELL_MAGICS = ("sql",)

# Athena's list, upper case and unquoted; WARNING is Python's name for log4j's WARN.
LOG_LEVELS = {"DEBUG": "DEBUG", "ERROR": "ERROR", "FATAL": "FATAL", "INFO": "INFO", "WARN": "WARN", "WARNING": "WARN"}
# %env without arguments hides values whose names suggest secrets, as IPython's %env does.
_SECRET_NAME_PARTS = ("key", "token", "secret", "password")

_HELP = """\
Magics of an Owlet session (Athena's notebook magics; IPython itself is not installed)

Cell magic (the first line of a code block):
  %%sql [--limit N] [--truncate N] [--vertical] [--dataframe NAME]
      Run the rest of the block as one Spark SQL statement and print its result as DataFrame.show() does.
      --limit N, -n N     rows to print (default 20)
      --truncate N, -t N  cut cells to N characters (default 20; 0 prints them whole)
      --vertical          one line per column value
      --dataframe NAME    also keep the result DataFrame in the variable NAME

Line magics (a line of their own, anywhere in a block):
  %table DATAFRAME        show a DataFrame as a table (text, HTML and JSON in the result)
  %matplot FIGURE         show a matplotlib figure (or plt: its current figure) as an image, then close it
  %plotly FIGURE          show a plotly figure
  %session_id             print this session's ID
  %status                 print this session's ID, state, workgroup, Spark version and start time
  %list_sessions          print this session (a session cannot see the others; use ListSessions)
  %set_log_level LEVEL    set Spark's log level: DEBUG, ERROR, FATAL, INFO, WARN or WARNING
  %env [NAME[=VALUE]]     list the environment, print a variable, or set one
  %lsmagic                list the magics
  %help                   this text
"""


@dataclass(frozen=True)
class SessionInfo:
    """What the magics may tell about the session; the runner fills it in."""

    session_id: str | None
    # Athena's session state name (BUSY while a calculation runs, which is whenever a magic runs).
    state: str
    work_group: str | None
    spark_version: str | None
    # Seconds since the epoch: when the session was handed to this runner (or the runner started).
    started_at: float | None


class SessionMagics:
    """The object translated magic lines call (``__owlet_magics__`` in the session's namespace)."""

    def __init__(
        self,
        spark: SparkSession,
        namespace: dict[str, Any],
        session_info: Callable[[], SessionInfo],
        display: Callable[..., None],
        add_bundle: Callable[[dict[str, Any]], None],
    ) -> None:
        self._spark = spark
        self._namespace = namespace
        self._session_info = session_info
        self._display = display
        self._add_bundle = add_bundle

    # -- cell magics -----------------------------------------------------------------------------------------

    def cell(self, name: str, arguments: str, body: str) -> None:
        if name == "sql":
            return self._sql(arguments, body)
        raise UsageError(f"Cell magic `%%{name}` not found.")

    def _sql(self, arguments: str, body: str) -> None:
        options = _SQL_OPTIONS.parse(arguments)
        statement = body.strip()
        if not statement:
            raise UsageError("%%sql needs a SQL statement on the lines after %%sql.")
        dataframe = self._spark.sql(statement)
        if options.dataframe:
            self._namespace[options.dataframe] = dataframe
        dataframe.show(n=options.limit, truncate=options.truncate, vertical=options.vertical)

    # -- line magics whose argument is text -------------------------------------------------------------------

    def line(self, name: str, text: str) -> Any:
        handler = getattr(self, f"_line_{name}", None)
        if handler is None:
            raise UsageError(f"Line magic function `%{name}` not found.")
        return handler(text)

    def _line_env(self, text: str) -> Any:
        if not text:
            return {
                name: "<hidden>" if any(part in name.lower() for part in _SECRET_NAME_PARTS) else value
                for name, value in os.environ.items()
            }
        separator = "=" if "=" in text else " " if " " in text else None
        if separator is None:
            if text not in os.environ:
                raise UsageError(f"Environment does not have key: {text}")
            return os.environ[text]
        name, value = (part.strip() for part in text.split(separator, 1))
        if not name:
            raise UsageError("%env needs a variable name: %env NAME=VALUE")
        os.environ[name] = value
        print(f"env: {name}={value}")
        return None

    def _line_help(self, text: str) -> None:
        print(_HELP, end="")

    def _line_lsmagic(self, text: str) -> None:
        print("Available line magics:")
        print("  ".join(f"%{name}" for name in sorted(LINE_MAGICS)))
        print()
        print("Available cell magics:")
        print("  ".join(f"%%{name}" for name in CELL_MAGICS))

    def _line_session_id(self, text: str) -> None:
        session_id = self._session_info().session_id
        print(session_id if session_id is not None else "none: this runner has not been given a session yet")

    def _line_status(self, text: str) -> None:
        info = self._session_info()
        print(f"Session ID: {info.session_id or 'none'}")
        print(f"State: {info.state}")
        print(f"Workgroup: {info.work_group or 'unknown'}")
        print(f"Spark version: {info.spark_version or 'unknown'}")
        print(f"Session start time: {_timestamp(info.started_at)}")

    def _line_list_sessions(self, text: str) -> None:
        info = self._session_info()
        print(f"{'Session ID':<40} {'State':<8} Start time")
        print(f"{info.session_id or 'none':<40} {info.state:<8} {_timestamp(info.started_at)}")
        print(
            "Only this session is listed: a session cannot see the others. "
            "ListSessions lists them all (aws athena list-sessions --work-group NAME)."
        )

    def _line_set_log_level(self, text: str) -> None:
        level = LOG_LEVELS.get(text)
        if level is None:
            raise UsageError(
                f"Invalid log level {text!r}: use DEBUG, ERROR, FATAL, INFO, WARN or WARNING "
                "(upper case, without quotes)."
            )
        self._spark.sparkContext.setLogLevel(level)

    # -- line magics whose argument is an expression ----------------------------------------------------------

    def table(self, *values: Any) -> None:
        if len(values) != 1:
            raise UsageError("%table takes one DataFrame: %table df")
        value = values[0]
        if not is_spark_dataframe(value) and not _is_pandas_dataframe(value):
            raise UsageError(f"%table needs a DataFrame, not {_type_name(value)}.")
        self._display(value)

    def matplot(self, *values: Any) -> None:
        if len(values) != 1:
            raise UsageError("%matplot takes one figure, or plt for the current one: %matplot plt")
        figure = figures.figure_of(values[0])
        if figure is None:
            raise UsageError(f"%matplot needs a matplotlib figure or plt, not {_type_name(values[0])}.")
        self._display(figure)
        # Shown once: closing keeps the end-of-calculation sweep, and the next plot, from drawing on it again.
        figures.close_figure(figure)

    def plotly(self, *values: Any) -> None:
        if len(values) != 1:
            raise UsageError("%plotly takes one figure: %plotly fig")
        figure = values[0]
        to_html = getattr(figure, "to_html", None)
        if not callable(to_html):
            raise UsageError(f"%plotly needs a plotly figure, not {_type_name(figure)}.")
        # The page loads plotly.js from its CDN instead of embedding 3 MB of it in every output.
        bundle: dict[str, Any] = {
            "text/plain": f"<{type(figure).__name__}>",
            "text/html": to_html(full_html=False, include_plotlyjs="cdn"),
        }
        to_json = getattr(figure, "to_json", None)
        if callable(to_json):
            bundle["application/vnd.plotly.v1+json"] = json.loads(to_json())
        self._add_bundle(bundle)


def _is_pandas_dataframe(value: Any) -> bool:
    # By name: pandas may not be installed, and importing it only to check would cost a second or more.
    return any(
        cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pandas" for cls in type(value).__mro__
    )


def _type_name(value: Any) -> str:
    value_type = type(value)
    if value_type.__module__ == "builtins":
        return value_type.__qualname__
    return f"{value_type.__module__}.{value_type.__qualname__}"


def _timestamp(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


class _MagicArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad option as a UsageError instead of printing usage and exiting the process."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")

    def parse(self, text: str) -> argparse.Namespace:
        try:
            words = shlex.split(text)
        except ValueError as error:
            raise UsageError(f"{self.prog}: {error}") from None
        return self.parse_args(words)


def _non_negative(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{number} is negative")
    return number


def _identifier(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not a Python name")
    return text


_SQL_OPTIONS = _MagicArgumentParser(prog="%%sql", add_help=False, allow_abbrev=False)
_SQL_OPTIONS.add_argument("-n", "--limit", type=_non_negative, default=20)
_SQL_OPTIONS.add_argument("-t", "--truncate", type=_non_negative, default=20)
_SQL_OPTIONS.add_argument("-v", "--vertical", action="store_true")
_SQL_OPTIONS.add_argument("-d", "--dataframe", type=_identifier)
