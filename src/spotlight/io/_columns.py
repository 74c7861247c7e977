"""Check and convert the raw columns a reader found; drop or refuse bad rows.

Every reader hands over a :class:`_Rows`: the raw columns of the rows whose
shape is right, with the line (or Parquet row) of each. Each column is
converted by its kind (integer ids, ids of any kind, finite numbers or text);
a value that does not fit makes its row bad, and the bad rows are then
dropped and counted in a :class:`ReadReport`, or refused with the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spotlight.exceptions import DataFormatError
from spotlight.io._formats import _Column, _pandas

if TYPE_CHECKING:
    import pandas as pd

_ROLE_LABELS = {
    "user": "user id",
    "item": "item id",
    "timestamp": "timestamp",
    "rating": "rating",
    "weight": "weight",
    "title": "title",
}
_EXPECTED = {
    "integer": "an integer id",
    "label": "a non-empty id",
    "number": "a finite number",
    "text": "text",
}


@dataclass(frozen=True)
class ReadReport:
    """What :func:`read_interactions_with_report` found in a file.

    Parameters
    ----------
    rows_read : int
        Data rows in the file, bad ones included; the header line and blank
        lines are not rows.
    rows_skipped : int
        Bad rows dropped because of ``skip_bad_rows=True``; the interactions
        hold ``rows_read - rows_skipped`` rows.
    first_bad_line : int or None
        Line of the first bad row, counting from 1 with the header line (for
        Parquet files, the position of the row counting from 1); ``None``
        when every row was good.
    first_bad_reason : str or None
        What is wrong with that row.
    """

    rows_read: int
    rows_skipped: int
    first_bad_line: int | None
    first_bad_reason: str | None


@dataclass
class _Rows:
    """The raw columns of the rows whose shape is right, before conversion.

    ``numbers`` holds the line (or Parquet row) of each row of ``frame``;
    ``bad`` the ``(number, reason)`` of rows already refused for their shape.
    """

    frame: pd.DataFrame
    numbers: np.ndarray
    unit: str
    bad: list[tuple[int, str]]


def _convert_rows(
    path: Path, rows: _Rows, columns: list[_Column], skip_bad_rows: bool
) -> tuple[dict[str, np.ndarray], ReadReport]:
    """Check and convert every column, then drop or refuse the bad rows."""
    values = {}
    bad_rows = np.zeros(len(rows.frame), dtype=bool)
    problems = list(rows.bad)
    for column in columns:
        raw = rows.frame[column.name]
        values[column.role], bad = _convert_column(column.kind, raw, rows.unit)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            problems.append(
                (int(rows.numbers[position]), _reason(column, raw, position))
            )
        bad_rows |= bad

    rows_read = len(rows.frame) + len(rows.bad)
    if not problems:
        return values, ReadReport(rows_read, 0, None, None)

    number, reason = min(problems, key=lambda problem: problem[0])
    where = f"{path}: {rows.unit} {number}: {reason}"
    if not skip_bad_rows:
        raise DataFormatError(f"{where}; pass skip_bad_rows=True to drop bad rows")
    if bad_rows.all():
        raise DataFormatError(
            f"{path}: all {rows_read} rows are bad; the first, {rows.unit} {number}: "
            f"{reason}"
        )

    kept = {role: array[~bad_rows] for role, array in values.items()}
    skipped = int(bad_rows.sum()) + len(rows.bad)
    return kept, ReadReport(rows_read, skipped, number, reason)


def _reason(column: _Column, raw: pd.Series, position: int) -> str:
    """Say what is wrong with the value at ``position`` of a column."""
    label = _ROLE_LABELS[column.role]
    value = raw.iloc[position]
    if isinstance(value, np.generic):
        value = value.item()
    shown = repr(value)
    if value is None or value is _pandas().NA or value != value:  # NaN != NaN
        shown = f"a missing value ({value})"
    return (
        f"{label} (column {column.name!r}) must be {_EXPECTED[column.kind]}, got "
        f"{shown}"
    )


def _convert_column(
    kind: str, raw: pd.Series, unit: str
) -> tuple[np.ndarray, np.ndarray]:
    """Convert one column; return its values and a mask of bad rows."""
    if kind == "integer":
        return _to_integers(raw)
    if kind == "label":
        return _to_labels(raw, infer_integers=unit == "line")
    if kind == "number":
        return _to_numbers(raw)
    text = raw.where(raw.notna(), "").astype(str).to_numpy(dtype=object)
    return text, np.zeros(len(raw), dtype=bool)


def _to_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Finite numbers (or datetimes); integers stay int64 to keep every digit."""
    pd = _pandas()
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return _to_datetimes(raw)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return _numeric_values(raw)

    stripped = raw.astype(str).str.strip()
    values, bad = _numeric_values(pd.to_numeric(stripped, errors="coerce"))
    bad |= _missing(raw)
    if bad.any() and not bad.all():
        # Parse the good rows again, so that whole numbers come back as int64
        # rather than as the float64 the bad rows forced.
        good, _ = _numeric_values(pd.to_numeric(stripped[~bad]))
        values = np.zeros(len(raw), dtype=good.dtype)
        values[~bad] = good
    return values, bad


def _numeric_values(numbers: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values of a numeric column as int64 or float64, and its bad rows."""
    pd = _pandas()
    bad = _missing(numbers)
    target = np.float64 if pd.api.types.is_float_dtype(numbers.dtype) else np.int64
    values = numbers.fillna(0).to_numpy(dtype=target)
    if target is np.float64:
        bad |= ~np.isfinite(values)
    return values, bad


def _to_datetimes(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Datetimes (from Parquet) as naive UTC datetime64, refusing NaT."""
    if getattr(raw.dt, "tz", None) is not None:
        raw = raw.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = _missing(raw)
    return raw.to_numpy(dtype="datetime64[ns]"), bad


def _to_integers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers, such as MovieLens ids."""
    values, bad = _to_numbers(raw)
    if values.dtype.kind == "f":
        bad |= values != np.round(values)
        values = np.where(bad, 0, values).astype(np.int64)
    elif values.dtype.kind == "M":
        bad = np.ones(len(values), dtype=bool)
    return values, bad


def _to_labels(raw: pd.Series, infer_integers: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ids of any kind; text ids that are all canonical integers become ints."""
    pd = _pandas()
    if pd.api.types.is_integer_dtype(raw.dtype) or pd.api.types.is_float_dtype(
        raw.dtype
    ):
        return _to_integers(raw)

    bad = _missing(raw)
    stripped = raw.where(~bad, "").astype(str).str.strip()
    bad |= (stripped == "").to_numpy()
    if infer_integers and not bad.all():
        canonical = stripped.str.fullmatch(r"-?(?:0|[1-9][0-9]{0,17})").to_numpy()
        if canonical[~bad].all():
            values = stripped.where(~bad, "0").astype(np.int64).to_numpy()
            return values, bad
    return stripped.to_numpy(dtype=object), bad


def _missing(values: pd.Series) -> np.ndarray:
    """Return a writable mask of the missing values of a column."""
    return np.array(values.isna(), dtype=bool)
