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


class OutputCollector:
    """The outputs of the calculation that is running, in the order they were produced."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        # The image of each figure display() or %matplot showed, by id, so that the sweep of open figures at the
        # end of the calculation does not show one again unless it changed since. (matplotlib's `stale` flag
        # cannot tell: savefig itself leaves it set.)
        self._shown_figures: dict[int, tuple[Any, str]] = {}

    def reset(self) -> None:
        self.outputs = []
        self._shown_figures = {}

    def display(self, *values: Any) -> None:
        for value in values:
            bundle = mime_bundle(value)
            self.outputs.append({"data": bundle})
            if figures.is_figure(value):
                self._shown_figures[id(value)] = (value, bundle["image/png"])

    def add_bundle(self, bundle: dict[str, Any]) -> None:
        self.outputs.append({"data": bundle})

    def add_open_figures(self) -> None:
        """Like Jupyter's inline backend after a cell: every figure pyplot still holds becomes an image, unless
        that same image was shown already."""
        for figure in figures.open_figures():
            bundle = figures.figure_bundle(figure)
            shown = self._shown_figures.get(id(figure))
            if shown is not None and shown[0] is figure and shown[1] == bundle["image/png"]:
                continue
            self.outputs.append({"data": bundle})
