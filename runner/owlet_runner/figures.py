"""matplotlib figures as ``image/png`` outputs, the way Jupyter's inline backend shows them.

matplotlib is optional: nothing here imports it. A figure can only exist once user code imported matplotlib,
so every function looks in ``sys.modules`` and does nothing when it is absent.
"""

from __future__ import annotations

import base64
import io
import os
import sys
from typing import Any


def use_non_interactive_backend() -> None:
    """Runs before any user code: pyplot picks its backend when first imported, and an interactive one (the
    server's environment may name TkAgg) would try to open windows on a machine nobody looks at."""
    os.environ["MPLBACKEND"] = "Agg"


def is_figure(value: Any) -> bool:
    module = sys.modules.get("matplotlib.figure")
    figure_class = getattr(module, "Figure", None)
    return figure_class is not None and isinstance(value, figure_class)


def figure_of(value: Any) -> Any | None:
    """The figure ``%matplot`` means: pyplot's current one for ``plt``, the figure itself, or an Axes' figure."""
    if value is sys.modules.get("matplotlib.pyplot"):
        return value.gcf()
    if is_figure(value):
        return value
    owner = getattr(value, "figure", None)
    return owner if is_figure(owner) else None


def figure_bundle(figure: Any) -> dict[str, Any]:
    buffer = io.BytesIO()
    # "tight" as in Jupyter's inline backend: no wide empty margins around the axes.
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return {"text/plain": repr(figure), "image/png": base64.b64encode(buffer.getvalue()).decode("ascii")}


def open_figures() -> list[Any]:
    """The figures pyplot still holds, oldest first."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    return [pyplot.figure(number) for number in pyplot.get_fignums()]


def close_figure(figure: Any) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


def close_all_figures() -> None:
    """Each calculation starts without figures, as each Jupyter cell does with the inline backend; pyplot would
    otherwise keep drawing into the previous calculation's figure."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
