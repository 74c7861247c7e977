"""Plain-text tables and JSON files for the command line's results."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["format_metrics", "format_table", "to_json", "write_json"]


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Lay out rows under a header in left-aligned columns.

    Floats are shown with four decimals.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences
        One value per column.

    Returns
    -------
    str
        The table, lines joined by newlines, without a final newline.
    """
    cells = [list(header)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_metrics(metrics: Mapping[str, float], title: str = "value") -> str:
    """Show metrics as a two-column table, one metric a row.

    Parameters
    ----------
    metrics : mapping of str to float
    title : str, default "value"
        Header of the value column, such as the part evaluated.

    Returns
    -------
    str
    """
    return format_table(["metric", title], list(metrics.items()))


def write_json(path: str | Path, value: Any) -> None:
    """Write ``value`` as indented JSON, creating missing folders.

    Non-finite floats are written as ``null``, so that the file is valid JSON.

    Parameters
    ----------
    path : str or pathlib.Path
    value : dict, list or plain value
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(value) + "\n", encoding="utf-8")


def to_json(value: Any) -> str:
    """Return ``value`` as indented JSON, non-finite floats as ``null``.

    Parameters
    ----------
    value : dict, list or plain value

    Returns
    -------
    str
    """
    return json.dumps(_finite(value), indent=2)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities by None, in nested dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
