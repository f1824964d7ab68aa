"""The layout of DataFrame tables (dataframe_tables.show_string and html_table) from given cells.

No Spark here: the expected texts are what Spark 4's Dataset.showString prints for the same cells.
test_runner_magics_and_rich_output compares whole tables with df.show() in a real runner.
"""

from __future__ import annotations

from owlet_runner.dataframe_tables import html_table, show_string


def test_cells_are_cut_to_twenty_characters_and_right_aligned_but_names_are_not_cut() -> None:
    text = show_string(
        ["id", "a very long column name that exceeds twenty"],
        [["1", "this is a very long value indeed"], ["22", "short"]],
        truncated=False,
        row_limit=1000,
    )
    assert text == (
        "+---+-------------------------------------------+\n"
        "| id|a very long column name that exceeds twenty|\n"
        "+---+-------------------------------------------+\n"
        "|  1|                       this is a very lo...|\n"
        "| 22|                                      short|\n"
        "+---+-------------------------------------------+\n"
    )


def test_without_truncation_cells_are_whole_and_left_aligned() -> None:
    text = show_string(["s"], [["abcdefghijklmnopqrstuvwxyz"], ["x"]], truncated=False, row_limit=1000, truncate=0)
    assert text == (
        "+--------------------------+\n"
        "|s                         |\n"
        "+--------------------------+\n"
        "|abcdefghijklmnopqrstuvwxyz|\n"
        "|x                         |\n"
        "+--------------------------+\n"
    )


def test_a_width_under_four_cuts_without_an_ellipsis() -> None:
    assert show_string(["s"], [["abcdef"]], truncated=False, row_limit=1, truncate=2).splitlines()[3] == "| ab|"


def test_full_width_characters_count_twice_and_astral_characters_as_java_counts_them() -> None:
    # Spark measures UTF-16 units (an emoji is 2) plus one more for each full-width character.
    text = show_string(["ja", "e"], [["日本語テキスト", "😀"]], truncated=False, row_limit=1000)
    assert text.splitlines()[1] == "|            ja|  e|"
    assert text.splitlines()[3] == "|日本語テキスト| 😀|"


def test_a_cut_table_ends_with_sparks_note() -> None:
    assert show_string(["id"], [["0"]], truncated=True, row_limit=1).endswith("+---+\nonly showing top 1 row")
    assert show_string(["id"], [["0"], ["1"]], truncated=True, row_limit=2).endswith("only showing top 2 rows")


def test_a_table_without_columns() -> None:
    assert show_string([], [[], []], truncated=False, row_limit=1000) == "++\n||\n++\n||\n||\n++\n"


def test_the_html_table_escapes_and_says_when_it_is_cut() -> None:
    assert html_table(["a<b"], [["x & y"], ["NULL"]], truncated=True, row_limit=2) == (
        "<table border='1'>\n"
        "<tr><th>a&lt;b</th></tr>\n"
        "<tr><td>x &amp; y</td></tr>\n"
        "<tr><td>NULL</td></tr>\n"
        "</table>\n"
        "<p>only showing top 2 rows</p>\n"
    )
