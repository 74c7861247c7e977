"""Split unquoted delimited text into rows, working on its raw bytes.

The field count of every line comes from where the newlines and separators
sit in the bytes, found with numpy; only the lines whose count is off are
looked at one by one (they are blank or bad). The good lines then go to
pandas' C parser in one piece, and each row keeps the number of its line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spotlight.exceptions import DataFormatError
from spotlight.io._columns import _Rows
from spotlight.io._formats import _pandas

if TYPE_CHECKING:
    import pandas as pd

_NEWLINE = ord("\n")
# Stands in for separators longer than one byte ("::"); MovieLens never uses it.
_UNIT_SEPARATOR = "\x1f"
_ASCII_PROBE = "\n\r\t ,;|:\x1f\"'0123456789.-+abcdefxyzABCXYZ"


@dataclass(frozen=True)
class _Fields:
    """The fields of a text file: how many a line has, which to keep (by name
    and position) and which to keep as text rather than parse as numbers."""

    count: int
    positions: dict[str, int]
    as_text: frozenset[int]


def _single_byte_separator(
    raw: bytes, text: str, sep: str, encoding: str
) -> tuple[bytes, str, str]:
    """Return bytes in which lines end in ``\\n`` and ``sep`` is one byte.

    The raw bytes serve as they are when the encoding writes ASCII as ASCII;
    otherwise (UTF-16, a byte-order mark, a separator of several characters)
    the text is encoded again as UTF-8.
    """
    if len(sep) > 1 or not sep.isascii():
        text = text.replace(sep, _UNIT_SEPARATOR)
        sep = _UNIT_SEPARATOR
    elif _ascii_compatible(encoding) and not raw.startswith(b"\xef\xbb\xbf"):
        return raw, sep, encoding
    return text.encode("utf-8"), sep, "utf-8"


def _ascii_compatible(encoding: str) -> bool:
    """Whether ``encoding`` writes ASCII characters as their ASCII bytes."""
    try:
        return _ASCII_PROBE.encode(encoding) == _ASCII_PROBE.encode("ascii")
    except UnicodeError:
        return False


def _line_bounds(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return where each line starts and where its ``\\n`` (or the end) is."""
    newlines = np.flatnonzero(data == _NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _plain_rows(
    path: Path,
    raw: bytes,
    sep: str,
    encoding: str,
    fields: _Fields,
    header: bool,
) -> _Rows:
    """Check the field count of every line, then parse the good lines."""
    data = np.frombuffer(raw, dtype=np.uint8)
    starts, ends = _line_bounds(data)
    separators = np.flatnonzero(data == ord(sep))
    counts = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1

    first_data = _first_nonblank(raw, starts, ends) + 1 if header else 0
    dropped = list(range(first_data))
    bad = []

    # Only lines with an unexpected number of fields are looked at one by one:
    # they are blank or bad.
    odd = np.flatnonzero(counts != fields.count)
    for index in odd[odd >= first_data].tolist():
        line = raw[starts[index] : ends[index]]
        dropped.append(index)
        if line.strip():
            found = line.count(sep.encode(encoding)) + 1
            bad.append((index + 1, _count_reason(fields.count, found)))

    keep = np.ones(len(starts), dtype=bool)
    keep[dropped] = False
    kept = np.flatnonzero(keep)
    body = _without_lines(raw, starts, ends, dropped)
    frame = _parse_plain(path, body, sep, encoding, fields)
    if len(frame) != len(kept):
        raise DataFormatError(
            f"{path}: parsed {len(frame)} rows from {len(kept)} lines; the file "
            "may hold stray quotes or line breaks"
        )
    return _Rows(frame, kept + 1, "line", bad)


def _first_nonblank(raw: bytes, starts: np.ndarray, ends: np.ndarray) -> int:
    """Return the index of the first line holding more than white space."""
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if raw[start:end].strip():
            return index
    return len(starts)


def _without_lines(
    raw: bytes, starts: np.ndarray, ends: np.ndarray, dropped: list[int]
) -> bytes:
    """Return ``raw`` without the lines at the sorted indices ``dropped``."""
    pieces = []
    position = 0
    for index in dropped:
        pieces.append(raw[position : starts[index]])
        position = ends[index] + 1
    pieces.append(raw[position:])
    return b"".join(pieces)


def _parse_plain(
    path: Path,
    body: bytes,
    sep: str,
    encoding: str,
    fields: _Fields,
) -> pd.DataFrame:
    """Parse lines that all have ``fields.count`` fields and no quoting."""
    pd = _pandas()
    if not body.strip():
        return pd.DataFrame({name: [] for name in fields.positions}, dtype=object)

    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            sep=sep,
            header=None,
            names=list(range(fields.count)),
            usecols=sorted(set(fields.positions.values())),
            dtype=dict.fromkeys(fields.as_text, object),
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            encoding=encoding,
            engine="c",
            skip_blank_lines=False,
            low_memory=False,
        )
    except (ValueError, pd.errors.ParserError) as error:
        raise DataFormatError(f"{path}: could not be parsed ({error})") from error
    return pd.DataFrame(
        {name: frame[index] for name, index in fields.positions.items()}
    )


def _count_reason(expected: int, found: int) -> str:
    """Say that a row has the wrong number of fields."""
    return f"expected {expected} fields, found {found}"
