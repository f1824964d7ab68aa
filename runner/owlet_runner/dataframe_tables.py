"""A Spark DataFrame shown as a table in three forms (``text/plain``, ``text/html``, ``application/json``), all
from one bounded query.

The text is what ``DataFrame.show()`` prints for the same rows: cells formatted as Spark formats them (``NULL``,
``[1, NULL, 3]``, ``{a -> 1}``, ``1.23456789E7``, ``[01 02 AB]``), cut to 20 characters, laid out by Spark's
rules. Spark's own ``showString`` would give it, but only from a second run of the query, and the JSON needs the
typed values besides: one query instead selects, for each column, Spark's display string (built from Spark SQL
functions the way Spark 4's ``ToPrettyString`` builds it) and ``to_json`` of the row, so the three forms always
show the same rows and the query runs once. It runs in the calculation's job group, so it reports progress and
is cancelled with the calculation; if it fails, the calculation fails with its error, as ``show()`` would.
"""

from __future__ import annotations

import html
import json
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import DataType

# Rows in a table output. Athena users hit the silent 2,500-row cap of sparkmagic's %%sql; a capped table says
# so in each form instead (spec/user-pains.md, E.26).
DEFAULT_ROW_LIMIT = 1000
# DataFrame.show()'s default cell width.
SHOW_TRUNCATE = 20
# Spark pads columns to at least this width (Dataset.showString).
_MINIMUM_COLUMN_WIDTH = 3

# SchemaUtils.escapeMetaCharacters: show() writes these as escapes so that a cell stays on one line.
_META_CHARACTERS = str.maketrans(
    {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f", "\b": "\\b", "\u000b": "\\v", "\u0007": "\\a"}
)
# Characters Spark counts as two columns wide (Utils.stringHalfWidth).
_FULL_WIDTH = re.compile(
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6]"
)


def is_spark_dataframe(value: Any) -> bool:
    module = sys.modules.get("pyspark.sql")
    dataframe_class = getattr(module, "DataFrame", None)
    return dataframe_class is not None and isinstance(value, dataframe_class)


@dataclass(frozen=True)
class TableRows:
    """Up to ``row_limit`` rows of a DataFrame: the header and cells as show() writes them (escaped, not yet
    cut), the rows as JSON values, and whether the DataFrame has more rows."""

    header: list[str]
    types: list[str]
    cells: list[list[str]]
    values: list[list[Any]]
    truncated: bool
    row_limit: int


def dataframe_bundle(dataframe: DataFrame, row_limit: int = DEFAULT_ROW_LIMIT) -> dict[str, Any] | None:
    """The MIME bundle of a DataFrame; None when it cannot be shown as a table (a streaming DataFrame, or one
    whose columns Spark cannot format), so that the caller falls back to its repr."""
    if dataframe.isStreaming:
        return None
    table = fetch_table(dataframe, row_limit)
    if table is None:
        return None
    return {
        "text/plain": show_string(table.header, table.cells, table.truncated, table.row_limit),
        "text/html": html_table(table.header, table.cells, table.truncated, table.row_limit),
        "application/json": {
            "schema": [{"name": name, "type": type_name} for name, type_name in zip(table.header, table.types)],
            "rows": table.values,
            "truncated": table.truncated,
            "rowLimit": table.row_limit,
        },
    }


def fetch_table(dataframe: DataFrame, row_limit: int) -> TableRows | None:
    from pyspark.sql import functions

    fields = dataframe.schema.fields
    header = [field.name for field in fields]
    types = [field.dataType.simpleString() for field in fields]
    if not fields:
        # A command's result (CREATE TABLE ...) has no columns; show() still draws its rows.
        count = dataframe.limit(row_limit + 1).count()
        shown = min(count, row_limit)
        return TableRows([], [], [[] for _ in range(shown)], [[] for _ in range(shown)], count > row_limit, row_limit)

    # Positional names: a DataFrame may have two columns of the same name (a join), which no name could select.
    names = [f"c{index}" for index in range(len(fields))]
    renamed = dataframe.toDF(*names)
    columns = [functions.col(name) for name in names]
    exact_text = [_display_text(column, field.dataType) for column, field in zip(columns, fields)]
    json_row = functions.to_json(functions.struct(*columns), {"ignoreNullFields": "false"})
    # Fallbacks, for types the SQL functions cannot handle (a user-defined type): the JSON holds the display
    # strings instead of typed values, then the display strings are plain casts.
    attempts = [(exact_text, json_row), (exact_text, None), ([_cast_text(column) for column in columns], None)]
    for text_columns, json_column in attempts:
        selected = [text.alias(f"t{index}") for index, text in enumerate(text_columns)]
        if json_column is not None:
            selected.append(json_column.alias("json"))
        try:
            # Classic PySpark analyses the query here, so a type the functions cannot take fails now, before
            # anything runs; errors of the query itself come from take() below and are the calculation's.
            projected = renamed.select(*selected)
        except Exception:  # noqa: BLE001 - try the next, simpler form
            continue
        rows = projected.take(row_limit + 1)
        truncated = len(rows) > row_limit
        rows = rows[:row_limit]
        cells = [[_escape(row[index]) for index in range(len(fields))] for row in rows]
        if json_column is None:
            values: list[list[Any]] = [list(row[: len(fields)]) for row in rows]
        else:
            values = [_json_values(row[len(fields)], names) for row in rows]
        return TableRows([_escape(name) for name in header], types, cells, values, truncated, row_limit)
    return None


def _display_text(column: Column, data_type: DataType) -> Column:
    """Spark's show() text of a value (Spark 4's ToPrettyString): NULL at any depth, arrays in brackets, maps
    as ``{k -> v}``, structs as ``{a, b}``, binary as hex bytes; other types as Spark casts them to string."""
    from pyspark.sql import functions
    from pyspark.sql import types

    if isinstance(data_type, types.BinaryType):
        text = functions.concat(
            functions.lit("["), functions.regexp_replace(functions.hex(column), "(..)(?!$)", "$1 "), functions.lit("]")
        )
    elif isinstance(data_type, types.ArrayType):
        element_type = data_type.elementType
        items = functions.transform(column, lambda item: _display_text(item, element_type))
        text = functions.concat(functions.lit("["), functions.array_join(items, ", "), functions.lit("]"))
    elif isinstance(data_type, types.MapType):
        key_type, value_type = data_type.keyType, data_type.valueType
        entries = functions.transform(
            functions.map_entries(column),
            lambda entry: functions.concat(
                _display_text(entry.getField("key"), key_type),
                functions.lit(" -> "),
                _display_text(entry.getField("value"), value_type),
            ),
        )
        text = functions.concat(functions.lit("{"), functions.array_join(entries, ", "), functions.lit("}"))
    elif isinstance(data_type, types.StructType):
        parts = [_display_text(column.getField(field.name), field.dataType) for field in data_type.fields]
        inner = functions.concat_ws(", ", *parts) if parts else functions.lit("")
        text = functions.concat(functions.lit("{"), inner, functions.lit("}"))
    else:
        text = column.cast("string")
    return functions.when(column.isNull(), functions.lit("NULL")).otherwise(text)


def _cast_text(column: Column) -> Column:
    from pyspark.sql import functions

    return functions.coalesce(column.cast("string"), functions.lit("NULL"))


def _json_values(text: str | None, names: list[str]) -> list[Any]:
    # Spark writes NaN and infinities as strings already; parse_constant keeps any bare one a string too, since
    # NaN is no JSON value.
    row = json.loads(text, parse_constant=str) if text else {}
    return [row.get(name) for name in names]


def _escape(cell: Any) -> str:
    return str(cell).translate(_META_CHARACTERS)


def _java_length(text: str) -> int:
    """String.length(): UTF-16 code units, which is what Spark measures and cuts."""
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def _java_prefix(text: str, units: int) -> str:
    encoded = text.encode("utf-16-le", "surrogatepass")[: 2 * units]
    return encoded.decode("utf-16-le", "surrogatepass")


def _half_width(text: str) -> int:
    return _java_length(text) + len(_FULL_WIDTH.findall(text))


def _cut(cell: str, truncate: int) -> str:
    if truncate <= 0 or _java_length(cell) <= truncate:
        return cell
    if truncate < 4:
        return _java_prefix(cell, truncate)
    return _java_prefix(cell, truncate - 3) + "..."


def truncation_note(row_limit: int) -> str:
    """Spark's own footer for a cut table."""
    return f"only showing top {row_limit} {'row' if row_limit == 1 else 'rows'}"


def show_string(
    header: list[str], cells: list[list[str]], truncated: bool, row_limit: int, truncate: int = SHOW_TRUNCATE
) -> str:
    """The text DataFrame.show(row_limit, truncate) prints (without print's final newline): Dataset.showString's
    layout. Cells are cut to ``truncate`` characters and right-aligned; with 0 they are whole and left-aligned.
    Column names are never cut."""
    rows = [header] + [[_cut(cell, truncate) for cell in row] for row in cells]
    widths = [_MINIMUM_COLUMN_WIDTH] * len(header)
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], _half_width(cell))

    def line(row: list[str]) -> str:
        padded = []
        for index, cell in enumerate(row):
            padding = " " * (widths[index] - _half_width(cell))
            padded.append(padding + cell if truncate > 0 else cell + padding)
        return "|" + "|".join(padded) + "|\n"

    separator = "+" + "+".join("-" * width for width in widths) + "+\n"
    text = [separator, line(rows[0]), separator, *(line(row) for row in rows[1:]), separator]
    if truncated:
        # Spark 4 ends the note without a newline (print adds one), unlike the table's lines.
        text.append(truncation_note(row_limit))
    return "".join(text)


def html_table(header: list[str], cells: list[list[str]], truncated: bool, row_limit: int) -> str:
    """An HTML table of whole cells, shaped like PySpark's eager-evaluation HTML (``htmlString``)."""
    parts = ["<table border='1'>\n"]
    parts.append("<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in header) + "</tr>\n")
    for row in cells:
        parts.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>\n")
    parts.append("</table>\n")
    if truncated:
        parts.append(f"<p>{truncation_note(row_limit)}</p>\n")
    return "".join(parts)
