"""Read a delimited text file (CSV or MovieLens) into raw rows.

Reads the bytes (decompressing gzip), decodes them, naming the line of a bad
byte, finds the separator and the header, then splits the lines: files with
quotes go through :mod:`csv`, which tracks line numbers; all others take the
faster byte-level path of :mod:`spotlight.io._plain`.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from spotlight.exceptions import DataFormatError
from spotlight.io._columns import _Rows
from spotlight.io._formats import _check_columns, _Column, _Layout, _pandas, _plain_name
from spotlight.io._plain import (
    _UNIT_SEPARATOR,
    _count_reason,
    _Fields,
    _plain_rows,
    _single_byte_separator,
)

_GZIP_MAGIC = b"\x1f\x8b"
_GUESSED_SEPARATORS = (",", "\t", ";", "|")
# White space that makes a line blank; str.strip() would also take "\x1f".
_BLANK = " \t\r\n\f\v"


def _text_rows(
    path: Path, layout: _Layout, columns: list[_Column], encoding: str
) -> _Rows:
    """Read the needed columns of a delimited text file, line by line."""
    raw = _read_bytes(path)
    text = _decode(path, raw, encoding)
    first_line = _first_line(text)
    sep = layout.sep or _guess_separator(path, first_line)

    names = list(layout.names)
    if layout.header:
        names = _header_names(first_line, sep, layout.quoted)
    _check_columns(path, columns, names)
    fields = _Fields(
        count=len(names),
        positions={column.name: names.index(column.name) for column in columns},
        as_text=frozenset(
            names.index(column.name)
            for column in columns
            if column.kind in ("label", "text")
        ),
    )

    if layout.quoted and '"' in text:
        rows = _quoted_rows(path, text, sep, fields)
    else:
        data, sep, encoding = _single_byte_separator(raw, text, sep, encoding)
        rows = _plain_rows(path, data, sep, encoding, fields, layout.header)

    if len(rows.frame) == 0 and not rows.bad:
        raise DataFormatError(f"{path}: the file has a header line but no data rows")
    return rows


def _read_bytes(path: Path) -> bytes:
    """Read a file, decompressing it when it is gzip data."""
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise DataFormatError(
            f"{path}: the gzip data is truncated or corrupt ({error}); "
            "download or compress the file again"
        ) from error


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    """Decode the whole file, naming the line of the first bad byte."""
    try:
        text = raw.decode(encoding)
    except LookupError as error:
        raise ValueError(
            f"encoding must name a text encoding, got {encoding!r}"
        ) from error
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        bad = raw[error.start : error.end]
        raise DataFormatError(
            f"{path}: line {line}: bytes {bad!r} are not valid {encoding}; pass "
            "encoding= the file's encoding (for example encoding='latin-1')"
        ) from error

    text = text.removeprefix("\ufeff")
    if not text.strip(_BLANK):
        raise DataFormatError(f"{path}: the file is empty")
    return text


def _first_line(text: str) -> str:
    """Return the first line of ``text`` that is not blank."""
    for line in io.StringIO(text):
        if line.strip(_BLANK):
            return line.rstrip("\r\n")
    return ""


def _guess_separator(path: Path, header: str) -> str:
    """Pick a tab for .tsv files, else the likeliest separator of the header."""
    if _plain_name(path).endswith(".tsv"):
        return "\t"
    counts = {sep: header.count(sep) for sep in _GUESSED_SEPARATORS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _header_names(line: str, sep: str, quoted: bool) -> list[str]:
    """Split the header line into column names."""
    if quoted and len(sep) == 1:
        fields = next(csv.reader([line], delimiter=sep))
    else:
        fields = line.split(sep)
    return [field.strip() for field in fields]


def _quoted_rows(path: Path, text: str, sep: str, fields: _Fields) -> _Rows:
    """Split a file with quoted fields with :mod:`csv`, which tracks lines."""
    if len(sep) > 1:
        text = text.replace(sep, _UNIT_SEPARATOR)
        sep = _UNIT_SEPARATOR
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    records, numbers, bad = [], [], []
    previous = 0
    header_seen = False
    try:
        for record in reader:
            number, previous = previous + 1, reader.line_num
            if len(record) <= 1 and not "".join(record).strip(_BLANK):
                continue
            if not header_seen:
                header_seen = True
            elif len(record) != fields.count:
                bad.append((number, _count_reason(fields.count, len(record))))
            else:
                records.append([record[index] for index in fields.positions.values()])
                numbers.append(number)
    except csv.Error as error:
        raise DataFormatError(
            f"{path}: line {previous + 1}: broken quoting ({error})"
        ) from error

    frame = _pandas().DataFrame(records, columns=list(fields.positions), dtype=object)
    return _Rows(frame, np.asarray(numbers, dtype=np.int64), "line", bad)
