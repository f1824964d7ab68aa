"""MIME bundles for the result document: every ``display()`` call, the last expression's value, and the figures a
calculation leaves open (docs/result-document.md).

A bundle always has ``text/plain``. A Spark DataFrame adds ``text/html`` and ``application/json`` tables
(dataframe_tables), a matplotlib figure ``image/png`` (figures); other objects add the forms they describe
themselves in, the way Jupyter asks: ``_repr_mimebundle_`` and ``_repr_html_``, ``_repr_markdown_``,
``_repr_json_``, ``_repr_png_`` (a pandas DataFrame gives its HTML table this way).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from owlet_runner import figures
from owlet_runner.dataframe_tables import DEFAULT_ROW_LIMIT, dataframe_bundle, is_spark_dataframe

_RICH_FORMS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("application/json", "_repr_json_"),
    ("image/png", "_repr_png_"),
)


def mime_bundle(value: Any, row_limit: int = DEFAULT_ROW_LIMIT) -> dict[str, Any]:
    """Raises what rendering a DataFrame's rows raises: the user asked to see them, and the query failed."""
    if is_spark_dataframe(value):
        table = dataframe_bundle(value, row_limit)
        if table is not None:
            return table
    if figures.is_figure(value):
        return figures.figure_bundle(value)
    bundle: dict[str, Any] = {"text/plain": repr(value)}
    bundle.update(_self_described_forms(value))
    return bundle


def _self_described_forms(value: Any) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    method = getattr(value, "_repr_mimebundle_", None)
    if callable(method):
        try:
            described = method(include=None, exclude=None)
        except Exception:  # noqa: BLE001 - a broken rich form leaves the others
            described = None
        # Jupyter allows (data, metadata); the result document has no metadata.
        if isinstance(described, tuple) and described:
            described = described[0]
        if isinstance(described, dict):
            forms.update({mime: _json_form(mime, form) for mime, form in described.items() if mime != "text/plain"})
    for mime, method_name in _RICH_FORMS:
        method = getattr(value, method_name, None)
        if mime in forms or not callable(method):
            continue
        try:
            form = method()
        except Exception:  # noqa: BLE001 - a broken rich form leaves the plain one
            continue
        if form is None:
            continue
        if mime == "application/json" and isinstance(form, str):
            try:
                form = json.loads(form)
            except ValueError:
                continue
        forms[mime] = _json_form(mime, form)
    return {mime: form for mime, form in forms.items() if form is not None}


def _json_form(mime: str, form: Any) -> Any:
    """The form as the result document holds it, or None to leave it out. Binary forms (``_repr_png_`` returns
    bytes) travel base64-encoded, as in Jupyter's notebook format; a form that is no JSON (an object, a NaN) is
    dropped here rather than breaking result.json."""
    if isinstance(form, (bytes, bytearray)):
        return base64.b64encode(form).decode("ascii") if mime.startswith("image/") else None
    try:
        json.dumps(form, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return form


# The result document as write_result writes it, with no outputs: ``{"version": 1, "outputs": []}`` and a newline.
_EMPTY_DOCUMENT_BYTES = len(json.dumps({"version": 1, "outputs": []})) + 1
# Room kept for the line that says what was cut, so that the document stays within its limit.
_CUT_NOTE_RESERVE_BYTES = 300
_SEPARATOR_BYTES = len(", ")


class OutputCollector:
    """The outputs of the calculation that is running, in the order they were produced, within ``limit_bytes``
    of result document (docs/limits.md): the output that does not fit is cut to the start of its ``text/plain``
    (its other forms cannot be cut and are left out), with a line saying so, and later outputs are left out
    without being rendered."""

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._outputs: list[dict[str, Any]] = []
        self._used = _EMPTY_DOCUMENT_BYTES
        self._cut: int | None = None
        self._left_out = 0
        # The image of each figure display() or %matplot showed, by id, so that the sweep of open figures at the
        # end of the calculation does not show one again unless it changed since. (matplotlib's `stale` flag
        # cannot tell: savefig itself leaves it set.)
        self._shown_figures: dict[int, tuple[Any, str]] = {}

    def reset(self) -> None:
        self._outputs = []
        self._used = _EMPTY_DOCUMENT_BYTES
        self._cut = None
        self._left_out = 0
        self._shown_figures = {}

    @property
    def full(self) -> bool:
        return self._cut is not None

    def result_outputs(self) -> list[dict[str, Any]]:
        """The outputs for the result document, the cut one ending with a line that says what was cut."""
        outputs = list(self._outputs)
        if self._cut is not None:
            cut = outputs[self._cut]
            later = f"; {self._left_out} later output{'s' if self._left_out != 1 else ''} left out" if self._left_out else ""
            note = f"\n[Owlet: output cut, the result document holds at most {self._limit} bytes{later}]"
            outputs[self._cut] = {**cut, "data": {"text/plain": cut["data"]["text/plain"] + note}}
        return outputs

    def display(self, *values: Any) -> None:
        for value in values:
            if self.full:
                self._left_out += 1
                continue
            bundle = mime_bundle(value)
            self.add_bundle(bundle)
            if figures.is_figure(value):
                self._shown_figures[id(value)] = (value, bundle["image/png"])

    def add_value(self, value: Any) -> None:
        """The last expression's value, marked ``lastExpression`` (a Jupyter client shows it as the cell's
        execute_result); not rendered once the document is full."""
        if self.full:
            self._left_out += 1
        else:
            self.add_bundle(mime_bundle(value), last_expression=True)

    def add_bundle(self, bundle: dict[str, Any], last_expression: bool = False) -> None:
        if self.full:
            self._left_out += 1
            return
        mark = {"lastExpression": True} if last_expression else {}
        output = {"data": bundle, **mark}
        room = self._limit - _CUT_NOTE_RESERVE_BYTES - self._used - (_SEPARATOR_BYTES if self._outputs else 0)
        size = _encoded_size(output, room)
        if size is not None:
            self._outputs.append(output)
            self._used += size + (_SEPARATOR_BYTES if len(self._outputs) > 1 else 0)
            return
        text = bundle.get("text/plain")
        self._outputs.append({"data": {"text/plain": _cut_text(text if isinstance(text, str) else "", room)}, **mark})
        self._cut = len(self._outputs) - 1

    def add_open_figures(self) -> None:
        """Like Jupyter's inline backend after a cell: every figure pyplot still holds becomes an image, unless
        that same image was shown already."""
        for figure in figures.open_figures():
            if self.full:
                self._left_out += 1
                continue
            bundle = figures.figure_bundle(figure)
            shown = self._shown_figures.get(id(figure))
            if shown is not None and shown[0] is figure and shown[1] == bundle["image/png"]:
                continue
            self.add_bundle(bundle)


def _encoded_size(output: dict[str, Any], room: int) -> int | None:
    """The bytes ``output`` takes in result.json (json.dumps escapes everything to ASCII), or None when that is
    more than ``room``. A string form longer than the room is too long escaped too: it is not encoded, which
    would take as much memory again."""
    if sum(len(form) for form in output["data"].values() if isinstance(form, str)) > room:
        return None
    size = len(json.dumps(output))
    return size if size <= room else None


def _cut_text(text: str, room: int) -> str:
    """The longest start of ``text`` whose output ``{"data": {"text/plain": ...}}`` takes at most ``room`` bytes."""
    room_for_text = room - len(json.dumps({"data": {"text/plain": ""}}))
    if room_for_text <= 0:
        return ""
    # Escaping only lengthens a string: start from as many characters as there are bytes, and shorten in
    # proportion to the excess until it fits.
    start = text[:room_for_text]
    while True:
        escaped = len(json.dumps(start)) - 2
        if escaped <= room_for_text:
            return start
        start = start[: max(0, min(len(start) - 1, len(start) * room_for_text // escaped))]
