"""Turning magic lines into Python: which lines are magics, what they become, and the errors for bad ones.

No Spark here; test_runner_magics_and_rich_output runs the magics in a real runner.
"""

from __future__ import annotations

import pytest

from owlet_runner.magic_syntax import MAGICS_NAME, UsageError, translate_magics
from owlet_runner.magics import CELL_MAGICS, LINE_MAGICS


def translate(code: str) -> tuple[str, list[int]]:
    translated = translate_magics(code, LINE_MAGICS, CELL_MAGICS)
    return translated.source, sorted(translated.magic_lines)


def test_code_without_magics_is_unchanged() -> None:
    code = "x = 10 % 3\nprint('%d' % x)\n"
    assert translate(code) == (code, [])


def test_line_magics_become_one_call_each_and_keep_the_line_count() -> None:
    code = "x = 1\n%status\n  \nif x:\n    %table df.limit(5)  # show it\n%env NAME=some value\nx\n"
    source, magic_lines = translate(code)
    assert source == (
        "x = 1\n"
        f"{MAGICS_NAME}.line('status', '')\n"
        "  \n"
        "if x:\n"
        f"    {MAGICS_NAME}.table(df.limit(5))\n"
        f"{MAGICS_NAME}.line('env', 'NAME=some value')\n"
        "x\n"
    )
    assert magic_lines == [2, 5, 6]
    assert source.count("\n") == code.count("\n")


def test_percent_signs_inside_strings_brackets_and_continuations_are_not_magics() -> None:
    code = (
        "text = '''\n%d items\n'''\n"
        'other = """first\n%s"""\n'
        "total = (1\n% 2)\n"
        "more = 3 \\\n% 4\n"
        "escaped = 'a\\\n%b'\n"
        "# a comment with a bracket (\n"
        "%lsmagic\n"
    )
    source, magic_lines = translate(code)
    assert magic_lines == [13]
    assert source.splitlines()[:12] == code.splitlines()[:12]


def test_the_line_endings_python_counts_are_kept() -> None:
    source, magic_lines = translate("x = 1\r\n%status\r\ny = 2\r%help\rz = '\x0c'\n")
    assert magic_lines == [2, 4]
    assert source == f"x = 1\r\n{MAGICS_NAME}.line('status', '')\r\ny = 2\r{MAGICS_NAME}.line('help', '')\rz = '\x0c'\n"


def test_a_cell_magic_takes_the_rest_of_the_block_as_its_body() -> None:
    source, magic_lines = translate("\n%%sql --limit 5\nSELECT '%d'\nFROM t;\n")
    assert source == f"\n{MAGICS_NAME}.cell('sql', '--limit 5', \"SELECT '%d'\\nFROM t;\\n\")\n\n\n"
    assert magic_lines == [2]


def test_an_expression_magic_without_an_argument_calls_with_none() -> None:
    assert translate("%table")[0] == f"{MAGICS_NAME}.table()"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%foo", "Line magic function `%foo` not found."),
        ("x = 1\n  %pip install x", "Line magic function `%pip` not found."),
        ("%", "Line magic function `%` not found."),
        (
            "%sql SELECT 1",
            "Line magic function `%sql` not found (But cell magic `%%sql` exists, did you mean that instead?).",
        ),
        ("%%foo\nx", "Cell magic `%%foo` not found."),
        (
            "%%table\ndf",
            "Cell magic `%%table` not found (But line magic `%table` exists, did you mean that instead?).",
        ),
        ("x = 1\n%%sql\nSELECT 1", "Cell magic `%%sql` must be the first line of a code block."),
    ],
)
def test_unknown_or_misplaced_magics_are_usage_errors(code: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        translate(code)
    assert str(raised.value) == message


def test_a_bad_expression_argument_is_a_syntax_error_on_the_users_line() -> None:
    with pytest.raises(SyntaxError) as raised:
        translate("x = 1\n  %table df[\n")
    error = raised.value
    assert error.filename == "<stdin>"
    assert error.lineno == 2
    assert error.text == "  %table df[\n"
    # The "[" is the 12th character of the line.
    assert error.offset == 12
