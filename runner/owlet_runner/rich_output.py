"""MIME bundles for the result document: the last expression's value and every ``display()`` call.

A bundle always has ``text/plain`` (the value's ``repr``); objects that describe themselves the way Jupyter
asks (``_repr_html_``, ``_repr_json_``, ``_repr_png_``, ``_repr_markdown_``) add those forms too.
"""

from __future__ import annotations

import base64
import json
from typing import Any

_RICH_FORMS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("application/json", "_repr_json_"),
    ("image/png", "_repr_png_"),
)


def mime_bundle(value: Any) -> dict[str, Any]:
    bundle: dict[str, Any] = {"text/plain": repr(value)}
    for mime, method_name in _RICH_FORMS:
        method = getattr(value, method_name, None)
        if not callable(method):
            continue
        try:
            form = method()
        except Exception:  # noqa: BLE001 - a broken rich form leaves the plain one
            continue
        if form is None:
            continue
        if mime == "image/png" and isinstance(form, (bytes, bytearray)):
            form = base64.b64encode(form).decode("ascii")
        if mime == "application/json" and isinstance(form, str):
            try:
                form = json.loads(form)
            except ValueError:
                continue
        bundle[mime] = form
    return bundle


class OutputCollector:
    """The outputs of the calculation that is running, in the order they were produced."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.outputs = []

    def display(self, *values: Any) -> None:
        for value in values:
            self.outputs.append({"data": mime_bundle(value)})
