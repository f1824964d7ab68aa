"""Compiling and running calculation code in the session's namespace, and describing how it ended."""

from __future__ import annotations

import ast
import os
import sys
import threading
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

from owlet_runner import child_processes, figures
from owlet_runner.cancellation import CALCULATION_FILENAME, InterruptGate
from owlet_runner.magic_syntax import MAGICS_NAME, UsageError, translate_magics
from owlet_runner.magics import CELL_MAGICS, LINE_MAGICS, SessionMagics
from owlet_runner.rich_output import OutputCollector

_RUNNER_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TRACEBACK_HEADER = "Traceback (most recent call last):\n"


@dataclass
class ExecutionOutcome:
    """``error`` is what the code raised (None when it completed); ``outputs`` are the result document's MIME
    bundles: every ``display()`` call and table or figure magic, then the last expression's value unless it is
    None, then each matplotlib figure the code left open."""

    error: BaseException | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)


def create_session_namespace(bindings: dict[str, Any]) -> dict[str, Any]:
    """The namespace shared by all calculations of the session, as the module ``__main__``.

    Registering it as ``sys.modules["__main__"]`` (IPython does the same) lets pickle and cloudpickle find
    classes and functions the user defines, e.g. for RDD lambdas and UDFs.
    """
    module = types.ModuleType("__main__")
    module.__dict__.update(bindings)
    sys.modules["__main__"] = module
    return module.__dict__


class CodeExecutor:
    """Runs code blocks in the main thread, in one persistent namespace."""

    def __init__(
        self,
        namespace: dict[str, Any],
        gate: InterruptGate,
        collector: OutputCollector,
        magics: SessionMagics | None,
    ) -> None:
        self._namespace = namespace
        self._gate = gate
        self._collector = collector
        self._magics = magics
        # `display` as in Jupyter; a user may rebind the name, as in any notebook.
        namespace.setdefault("display", self._collector.display)

    def run(self, calculation_id: str, code: str, cancel_requested: threading.Event) -> ExecutionOutcome:
        outcome = ExecutionOutcome()
        self._collector.reset()
        # Bound again each time: translated magic lines call it, whatever the user did to the name.
        self._namespace[MAGICS_NAME] = self._magics
        try:
            try:
                self._gate.open(calculation_id)
                if cancel_requested.is_set():
                    raise KeyboardInterrupt
                value = self._run_user_code(code)
                if value is not None:
                    self._collector.add_value(value)
            finally:
                self._gate.close()
        except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are outcomes too
            outcome.error = error
        # A child forked while the value or a figure was drawn (a user's __repr__) ends here at the latest.
        _end_if_forked_child(outcome.error)
        try:
            # A cancelled calculation ends as fast as it can: its figures are dropped, not drawn.
            if not cancel_requested.is_set():
                self._collector.add_open_figures()
        except Exception as error:  # noqa: BLE001 - matplotlib reports bad plot data only when drawing
            if outcome.error is None:
                outcome.error = error
        finally:
            figures.close_all_figures()
        outcome.outputs = self._collector.result_outputs()
        return outcome

    def _run_user_code(self, code: str) -> Any:
        """``_execute``, after which a child the code forked (and which came back into it) exits, as a script's
        child exits at the end of the script, instead of running on into the runner (child_processes)."""
        try:
            value = self._execute(code)
        except BaseException as error:
            _end_if_forked_child(error)
            raise
        _end_if_forked_child(None)
        return value

    def _execute(self, code: str) -> Any:
        """Runs ``code``; returns the last expression's value (None when there is none, or it is hidden)."""
        translated = translate_magics(code, LINE_MAGICS, CELL_MAGICS)
        try:
            module = ast.parse(translated.source, filename=CALCULATION_FILENAME, mode="exec")
        except SyntaxError as error:
            # An error on a magic line (an indentation error) must show the line the user wrote.
            if error.lineno in translated.magic_lines:
                error.text = _line_of(code, error.lineno)
            raise
        last_expression: ast.Expression | None = None
        if module.body and isinstance(module.body[-1], ast.Expr):
            last_expression = ast.Expression(module.body.pop().value)
        module_code = _compile_tree(module, code, "exec")
        expression_code = None if last_expression is None else _compile_tree(last_expression, code, "eval")
        exec(module_code, self._namespace)
        if expression_code is None:
            return None
        value = eval(expression_code, self._namespace)
        # IPython's convention: a trailing semicolon hides the value.
        if code.rstrip().endswith(";"):
            return None
        return value


def _end_if_forked_child(error: BaseException | None) -> None:
    """In a forked child: exits with 0, with the status of a SystemExit, or with 1 after printing the traceback
    of any other error, as Python does at the end of a script. In the runner: returns."""
    if not child_processes.is_forked_child():
        return
    if isinstance(error, SystemExit):
        status = child_processes.exit_status_of(error)
    elif error is not None:
        sys.stderr.write(format_user_traceback(error))
        status = 1
    else:
        status = 0
    child_processes.exit_forked_child(status)


def _line_of(source: str, line_number: int) -> str | None:
    lines = source.splitlines()
    return lines[line_number - 1] + "\n" if 0 < line_number <= len(lines) else None


def _compile_tree(tree: ast.Module | ast.Expression, source: str, mode: str) -> types.CodeType:
    try:
        return compile(tree, CALCULATION_FILENAME, mode)
    except SyntaxError as error:
        # Errors found only when compiling the tree ('return' outside function) carry no source line, unlike
        # those ast.parse finds; add it so the traceback shows it the same way.
        if error.text is None and error.lineno:
            error.text = _line_of(source, error.lineno)
        raise


def format_user_traceback(error: BaseException) -> str:
    r"""The standard traceback of ``error`` without its header line and without the runner's frames, as Athena
    shows it: ``  File "<stdin>", line 2, in <module>\nNameError: name 'foobar' is not defined\n``.

    Everything above the first calculation frame goes (the runner, and ``ast.parse`` for a SyntaxError), and so
    do the runner's frames below it (a magic's implementation); frames of library code the user called stay.
    Chained exceptions stay too, each without its header line. A UsageError is a single line, as in IPython.
    """
    if isinstance(error, UsageError):
        return exception_line(error) + "\n"
    summary = traceback.TracebackException(type(error), error, error.__traceback__, compact=True)
    frames = list(summary.stack)
    first_user_frame = next(
        (index for index, frame in enumerate(frames) if frame.filename == CALCULATION_FILENAME), len(frames)
    )
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in frames[first_user_frame:] if not frame.filename.startswith(_RUNNER_DIRECTORY)]
    )
    _drop_runner_frames_of_chained(summary, {id(summary)})
    return "".join(line for line in summary.format() if line != _TRACEBACK_HEADER)


def _drop_runner_frames_of_chained(summary: traceback.TracebackException, seen: set[int]) -> None:
    linked = [summary.__cause__, summary.__context__, *(getattr(summary, "exceptions", None) or ())]
    for chained in linked:
        if chained is None or id(chained) in seen:
            continue
        seen.add(id(chained))
        chained.stack = traceback.StackSummary.from_list(
            [frame for frame in chained.stack if not frame.filename.startswith(_RUNNER_DIRECTORY)]
        )
        _drop_runner_frames_of_chained(chained, seen)


def exception_line(error: BaseException) -> str:
    """The last line of a traceback (``NameError: name 'foobar' is not defined``): the calculation's reason."""
    error_type = type(error)
    name = error_type.__qualname__
    # IPython's UsageError lives in IPython.core.error but always shows as plain "UsageError".
    if error_type.__module__ not in ("__main__", "builtins") and not isinstance(error, UsageError):
        name = f"{error_type.__module__}.{name}"
    if isinstance(error, SyntaxError):
        message = error.msg or ""
    else:
        try:
            message = str(error)
        except Exception:  # noqa: BLE001 - a broken __str__ must not break the report
            message = "<exception str() failed>"
    return f"{name}: {message}" if message else name
