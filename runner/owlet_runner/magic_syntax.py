"""Finding the magics in a code block and turning them into Python before it is compiled.

Athena runs calculations in an IPython kernel, so a code block may use IPython's magic syntax: ``%%sql`` as the
first line makes the whole block a cell magic, and a line starting with ``%`` is a line magic. Owlet has no
IPython. Each magic line becomes exactly one line of Python calling the session's magics object (bound in the
namespace as ``__owlet_magics__``), so every other line keeps its number and tracebacks point at the right line.

A line is a magic only where a statement could start: not inside a string, brackets, or after a backslash
continuation (``"%d items"`` on the second line of a triple-quoted string stays text), as IPython decides with
its tokenizer. A line magic may be indented inside a block (``if debug:`` then ``    %status``).
"""

from __future__ import annotations

import ast
import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from owlet_runner.cancellation import CALCULATION_FILENAME

# The name the translated lines call; a user would have to try hard to clash with it.
MAGICS_NAME = "__owlet_magics__"

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
_MAGIC_NAME = re.compile(r"\w*")


class UsageError(Exception):
    """A magic used wrongly. Shown as IPython shows it: ``UsageError: <message>``, without a traceback."""


class MagicArguments(enum.Enum):
    # The rest of the line is a Python expression, evaluated where the line stands (%table df.limit(5)).
    EXPRESSION = "expression"
    # The rest of the line is text handed over as it is (%env NAME=value, %set_log_level DEBUG).
    TEXT = "text"


@dataclass(frozen=True)
class TranslatedCode:
    source: str
    # 1-based numbers of the lines that were magics; their text in ``source`` is the runner's, not the user's.
    magic_lines: frozenset[int]


def translate_magics(
    code: str, line_magics: Mapping[str, MagicArguments], cell_magics: Collection[str]
) -> TranslatedCode:
    """Returns ``code`` with its magics turned into calls. Raises UsageError for a magic that does not exist and
    SyntaxError (pointing at the user's line) for an expression magic whose argument is not an expression."""
    if "%" not in code:
        return TranslatedCode(code, frozenset())
    lines = _split_lines(code)
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        return _translate_cell_magic(lines, first, line_magics, cell_magics)

    translated: list[str] = []
    magic_lines: set[int] = set()
    scanner = _StatementScanner()
    for index, line in enumerate(lines):
        body, ending = _without_ending(line)
        if scanner.at_statement_start and body.lstrip().startswith("%"):
            translated.append(_translate_line_magic(body, index + 1, line_magics, cell_magics) + ending)
            magic_lines.add(index + 1)
            continue
        scanner.scan(body)
        translated.append(line)
    return TranslatedCode("".join(translated), frozenset(magic_lines))


def _translate_cell_magic(
    lines: list[str], first: int, line_magics: Mapping[str, MagicArguments], cell_magics: Collection[str]
) -> TranslatedCode:
    header, ending = _without_ending(lines[first])
    name, arguments = _name_and_rest(header.strip()[2:])
    if name not in cell_magics:
        extra = f" (But line magic `%{name}` exists, did you mean that instead?)" if name in line_magics else ""
        raise UsageError(f"Cell magic `%%{name}` not found{extra}.")
    body = "".join(lines[first + 1 :])
    call = f"{MAGICS_NAME}.cell({name!r}, {arguments!r}, {body!r})"
    # The body's lines become empty ones: the block keeps its line count.
    remaining = [_without_ending(line)[1] for line in lines[first + 1 :]]
    source = "".join(lines[:first]) + call + ending + "".join(remaining)
    return TranslatedCode(source, frozenset({first + 1}))


def _translate_line_magic(
    line: str, line_number: int, line_magics: Mapping[str, MagicArguments], cell_magics: Collection[str]
) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    text = line.strip()
    if text.startswith("%%"):
        name, _ = _name_and_rest(text[2:])
        if name in cell_magics:
            raise UsageError(f"Cell magic `%%{name}` must be the first line of a code block.")
        raise UsageError(f"Cell magic `%%{name}` not found.")
    name, rest = _name_and_rest(text[1:])
    kind = line_magics.get(name)
    if kind is None:
        extra = f" (But cell magic `%%{name}` exists, did you mean that instead?)" if name in cell_magics else ""
        raise UsageError(f"Line magic function `%{name}` not found{extra}.")
    if kind is MagicArguments.TEXT:
        return f"{indent}{MAGICS_NAME}.line({name!r}, {rest!r})"
    if not rest:
        return f"{indent}{MAGICS_NAME}.{name}()"
    column = line.index(rest, len(indent) + 1 + len(name))
    try:
        expression = ast.parse(rest, filename=CALCULATION_FILENAME, mode="eval")
    except SyntaxError as error:
        raise _syntax_error_on_line(error, line, line_number, column) from None
    # unparse gives one line whatever the user wrote (a trailing comment, for one, would swallow the ")").
    return f"{indent}{MAGICS_NAME}.{name}({ast.unparse(expression.body)})"


def _syntax_error_on_line(error: SyntaxError, line: str, line_number: int, column: int) -> SyntaxError:
    """The error ast.parse found in a magic's argument, placed where the argument stands in the user's code."""
    # 0 and None mean "unknown" and stay so.
    offset = column + error.offset if error.offset else error.offset
    end_offset = column + error.end_offset if error.end_offset else error.end_offset
    return SyntaxError(
        error.msg, (CALCULATION_FILENAME, line_number, offset, line + "\n", line_number, end_offset)
    )


def _name_and_rest(text: str) -> tuple[str, str]:
    match = _MAGIC_NAME.match(text)
    name = match.group(0) if match else ""
    return name, text[len(name) :].strip()


def _split_lines(code: str) -> list[str]:
    """Lines with their endings, split where Python's tokenizer splits them (str.splitlines also splits at form
    feeds and other characters Python does not count as line ends, which would shift the line numbers)."""
    lines = [match.group(0) for match in _LINE.finditer(code)]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _without_ending(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


class _StatementScanner:
    """Follows strings, brackets and continuations over physical lines, enough to tell where a statement can
    start. Errors in the code (an unterminated string) are the compiler's to report; the scanner just recovers
    at the end of the line."""

    def __init__(self) -> None:
        self._depth = 0
        self._quote: str | None = None
        self._continued = False

    @property
    def at_statement_start(self) -> bool:
        return self._depth == 0 and self._quote is None and not self._continued

    def scan(self, line: str) -> None:
        self._continued = False
        string_continues = False
        index = 0
        length = len(line)
        while index < length:
            character = line[index]
            if self._quote is not None:
                if character == "\\":
                    string_continues = index == length - 1
                    index += 2
                    continue
                if line.startswith(self._quote, index):
                    index += len(self._quote)
                    self._quote = None
                    continue
                index += 1
                continue
            if character == "#":
                break
            if character in "([{":
                self._depth += 1
            elif character in ")]}":
                self._depth = max(0, self._depth - 1)
            elif character in "'\"":
                triple = line[index : index + 3]
                if triple in ("'''", '"""'):
                    self._quote = triple
                    index += 3
                    continue
                self._quote = character
            elif character == "\\" and index == length - 1:
                self._continued = True
            index += 1
        if self._quote in ("'", '"') and not string_continues:
            # A single-quoted string ends with its line unless a backslash continues it.
            self._quote = None
