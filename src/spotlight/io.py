"""Read interaction logs and item titles from files.

:func:`read_interactions` turns a CSV, Parquet or MovieLens ratings file into
:class:`~spotlight.interactions.Interactions`, mapping the original user and
item ids to contiguous integers (users from 0, items from 1) and keeping the
mapping in ``interactions.id_mapping``. :func:`read_item_metadata` reads the
titles of the MovieLens releases, keyed by the same original item ids.

Damaged files never end in a bare pandas traceback: every problem is a
:class:`~spotlight.exceptions.DataFormatError` that names the file, the line
(counting from 1, header included) and what is wrong there. With
``skip_bad_rows=True`` bad rows are dropped and counted instead, and
:func:`read_interactions_with_report` returns the count.

The readers need pandas (and pyarrow for Parquet), imported only when a file
is read: ``pip install "spotlight-rec[io]"``.

Examples
--------
>>> from spotlight.io import read_interactions  # doctest: +SKIP
>>> interactions = read_interactions("ml-100k/u.data")  # doctest: +SKIP
>>> interactions.id_mapping.decode_items([1])  # doctest: +SKIP
array([1])
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spotlight._validation import _show, check_choice
from spotlight.exceptions import DataFormatError
from spotlight.interactions import Interactions

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMATS",
    "ITEM_FORMATS",
    "ReadReport",
    "read_interactions",
    "read_interactions_with_report",
    "read_item_metadata",
]

logger = logging.getLogger(__name__)

FORMATS = ("csv", "parquet", "movielens-100k", "movielens-1m", "movielens-latest")
"""Formats :func:`read_interactions` understands."""

ITEM_FORMATS = ("movielens-100k", "movielens-1m", "movielens-latest")
"""Formats :func:`read_item_metadata` understands (the item file of each)."""

_INSTALL_HINT = 'pip install "spotlight-rec[io]"'
_GZIP_MAGIC = b"\x1f\x8b"
_NEWLINE = ord("\n")
_RETURN = ord("\r")
# Stands in for separators longer than one byte ("::"); MovieLens never uses it.
_UNIT_SEPARATOR = "\x1f"
_ASCII_PROBE = "\n\r\t ,;|:\x1f\"'0123456789.-+abcdefxyzABCXYZ"
_GUESSED_SEPARATORS = (",", "\t", ";", "|")
# White space that makes a line blank; str.strip() would also take "\x1f".
_BLANK = " \t\r\n\f\v"


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


@dataclass(frozen=True)
class _Layout:
    """How the fields of a text format are laid out."""

    sep: str | None
    header: bool
    quoted: bool
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Column:
    """A column to read: its role, its name in the file and how to check it."""

    role: str
    name: str
    kind: str
    argument: str | None = None


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


@dataclass(frozen=True)
class _Fields:
    """The fields of a text file: how many a line has, which to keep (by name
    and position) and which to keep as text rather than parse as numbers."""

    count: int
    positions: dict[str, int]
    as_text: frozenset[int]


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

_RATINGS = ("user", "item", "rating", "timestamp")
_MOVIELENS_RATINGS = {
    "movielens-100k": _Layout("\t", header=False, quoted=False, names=_RATINGS),
    "movielens-1m": _Layout("::", header=False, quoted=False, names=_RATINGS),
    "movielens-latest": _Layout(",", header=True, quoted=True),
}
_MOVIELENS_RATING_COLUMNS = {
    "movielens-100k": _RATINGS,
    "movielens-1m": _RATINGS,
    "movielens-latest": ("userId", "movieId", "rating", "timestamp"),
}
_MOVIELENS_ITEMS = {
    # u.item: id|title|release date|video release date|IMDb URL|19 genre flags
    "movielens-100k": _Layout(
        "|",
        header=False,
        quoted=False,
        names=("item", "title", *(f"field_{index}" for index in range(3, 25))),
    ),
    "movielens-1m": _Layout(
        "::", header=False, quoted=False, names=("item", "title", "genres")
    ),
    "movielens-latest": _Layout(",", header=True, quoted=True),
}
_MOVIELENS_ITEM_COLUMNS = {
    "movielens-100k": ("item", "title"),
    "movielens-1m": ("item", "title"),
    "movielens-latest": ("movieId", "title"),
}
_MOVIELENS_ITEM_ENCODINGS = {
    "movielens-100k": "latin-1",
    "movielens-1m": "latin-1",
    "movielens-latest": "utf-8",
}


def read_interactions(
    path: str | os.PathLike,
    format: str | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    timestamp_col: str | None = "timestamp",
    rating_col: str | None = None,
    weight_col: str | None = None,
    sep: str | None = None,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
) -> Interactions:
    """Read an interaction log from a file.

    Takes the same arguments as :func:`read_interactions_with_report` and
    returns only the interactions; see there for the details.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read; ``.gz`` files are decompressed on the fly.
    format : {"csv", "parquet", "movielens-100k", "movielens-1m", \
"movielens-latest"}, optional
        Guessed from the file name when omitted.
    user_col, item_col : str
        Columns of the user and item ids (CSV and Parquet only).
    timestamp_col : str or None, default "timestamp"
        Column of the timestamps; ``None`` for none.
    rating_col, weight_col : str or None
        Columns of ratings and weights, if any.
    sep : str, optional
        Field separator of a CSV file; guessed from its header when omitted.
    skip_bad_rows : bool, default False
        Drop bad rows (and log how many) instead of raising.
    encoding : str, default "utf-8"
        Text encoding of a CSV or MovieLens file.

    Returns
    -------
    Interactions
        With ``id_mapping`` set; MovieLens files give ratings and timestamps.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If the file is damaged or a named column is missing; the message
        names the file, the line of the first bad row and what is wrong.
    ImportError
        If pandas (or pyarrow, for Parquet) is not installed.

    Examples
    --------
    >>> log = read_interactions("log.csv", rating_col="rating")  # doctest: +SKIP
    """
    interactions, _ = read_interactions_with_report(
        path,
        format=format,
        user_col=user_col,
        item_col=item_col,
        timestamp_col=timestamp_col,
        rating_col=rating_col,
        weight_col=weight_col,
        sep=sep,
        skip_bad_rows=skip_bad_rows,
        encoding=encoding,
    )
    return interactions


def read_interactions_with_report(
    path: str | os.PathLike,
    format: str | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    timestamp_col: str | None = "timestamp",
    rating_col: str | None = None,
    weight_col: str | None = None,
    sep: str | None = None,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
) -> tuple[Interactions, ReadReport]:
    """Read an interaction log from a file and report the rows it refused.

    Formats:

    - ``"csv"``: a header line naming the columns, then one row per
      interaction; fields may be quoted. Ids that are all canonical integers
      (``"42"``, not ``"042"``) are read as integers, other ids as strings.
    - ``"parquet"``: columns keep the types stored in the file.
    - ``"movielens-100k"``: ``u.data``, ``user item rating timestamp``
      separated by tabs, no header.
    - ``"movielens-1m"``: ``ratings.dat`` of MovieLens 1M and 10M,
      ``UserID::MovieID::Rating::Timestamp``, no header.
    - ``"movielens-latest"``: ``ratings.csv`` of MovieLens 20M and the
      "latest" releases, header ``userId,movieId,rating,timestamp``.

    Without ``format``, ``.parquet`` and ``.pq`` files are read as Parquet,
    ``u.data`` as MovieLens 100K, ``ratings.dat`` as MovieLens 1M and
    ``.csv``, ``.tsv`` and ``.txt`` files as CSV. The MovieLens formats fix
    their columns, so the ``*_col`` arguments and ``sep`` are ignored there.

    A row is bad when it has the wrong number of fields, an empty id, a
    MovieLens id that is not an integer, or a timestamp, rating or weight
    that is not a finite number. Blank lines are ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read; gzip-compressed files (``.gz``) are decompressed
        on the fly.
    format : str, optional
        One of :data:`FORMATS`; guessed from the file name when omitted.
    user_col, item_col : str
        Columns of the user and item ids (CSV and Parquet only).
    timestamp_col : str or None, default "timestamp"
        Column of the timestamps, numbers such as Unix seconds (Parquet
        files may also store datetimes); ``None`` to read none.
    rating_col, weight_col : str or None
        Columns of ratings and weights, if any.
    sep : str, optional
        Field separator of a CSV file; by default a tab for ``.tsv`` files,
        otherwise whichever of ``,``, tab, ``;`` and ``|`` the header line
        holds most. A separator of several characters must not appear inside
        quoted fields.
    skip_bad_rows : bool, default False
        Drop bad rows instead of raising, and log how many were dropped.
        Damage to the whole file (bad encoding, truncated gzip, broken
        quoting) still raises.
    encoding : str, default "utf-8"
        Text encoding of a CSV or MovieLens file.

    Returns
    -------
    interactions : Interactions
        One interaction per good row, ids mapped through ``id_mapping``.
    report : ReadReport
        Rows read and skipped, and the first bad row.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If a named column is missing (the message lists the columns of the
        file); if the file is empty, wrongly encoded, a truncated gzip or not
        a Parquet file; or, unless ``skip_bad_rows``, if a row is bad. The
        message names the file and the line of the first bad row.
    ImportError
        If pandas (or pyarrow, for Parquet) is not installed.
    """
    _pandas()
    path = _check_file(path)
    format = _resolve_format(path, format, FORMATS, _guess_format)
    _check_options(sep, skip_bad_rows, encoding)
    columns = _interaction_columns(
        format, user_col, item_col, timestamp_col, rating_col, weight_col
    )

    if format == "parquet":
        rows = _parquet_rows(path, columns)
    else:
        layout = _MOVIELENS_RATINGS.get(format, _Layout(sep, header=True, quoted=True))
        rows = _text_rows(path, layout, columns, encoding)

    values, report = _convert_rows(path, rows, columns, skip_bad_rows)
    if report.rows_skipped:
        logger.warning(
            "%s: skipped %d bad rows of %d; the first, %s %d: %s",
            path,
            report.rows_skipped,
            report.rows_read,
            rows.unit,
            report.first_bad_line,
            report.first_bad_reason,
        )

    roles = {column.role for column in columns}
    interactions = Interactions.from_dataframe(
        _pandas().DataFrame(values),
        user_col="user",
        item_col="item",
        timestamp_col="timestamp" if "timestamp" in roles else None,
        rating_col="rating" if "rating" in roles else None,
        weight_col="weight" if "weight" in roles else None,
    )
    return interactions, report


def read_item_metadata(
    path: str | os.PathLike,
    format: str | None = None,
    encoding: str | None = None,
) -> dict[Any, str]:
    """Read the titles of the items of a MovieLens release.

    Formats (one of :data:`ITEM_FORMATS`), guessed from the file name when
    omitted:

    - ``"movielens-100k"``: ``u.item``, ``id|title|...`` in Latin-1;
    - ``"movielens-1m"``: ``movies.dat`` of 1M and 10M, ``id::title::genres``
      in Latin-1;
    - ``"movielens-latest"``: ``movies.csv`` of 20M and the "latest"
      releases, header ``movieId,title,genres``, UTF-8, quoted titles.

    Parameters
    ----------
    path : str or os.PathLike
        The item file; ``.gz`` files are decompressed on the fly.
    format : str, optional
        The release the file comes from; guessed from the file name.
    encoding : str, optional
        Text encoding; by default that of the release.

    Returns
    -------
    dict
        Title of each item, keyed by the original item id as an ``int``, the
        type :func:`read_interactions` gives MovieLens ids, so that
        ``titles[mapping.decode_items([i])[0]]`` works.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If the file is empty, wrongly encoded, has a bad row (wrong number of
        fields, an id that is not an integer) or repeats an id; the message
        names the file and the line.
    ImportError
        If pandas is not installed.

    Examples
    --------
    >>> titles = read_item_metadata("ml-100k/u.item")  # doctest: +SKIP
    >>> titles[1]  # doctest: +SKIP
    'Toy Story (1995)'
    """
    _pandas()
    path = _check_file(path)
    format = _resolve_format(path, format, ITEM_FORMATS, _guess_item_format)
    if encoding is None:
        encoding = _MOVIELENS_ITEM_ENCODINGS[format]
    _check_options(None, False, encoding)
    item_name, title_name = _MOVIELENS_ITEM_COLUMNS[format]
    columns = [
        _Column("item", item_name, "integer"),
        _Column("title", title_name, "text"),
    ]

    rows = _text_rows(path, _MOVIELENS_ITEMS[format], columns, encoding)
    values, _ = _convert_rows(path, rows, columns, skip_bad_rows=False)

    repeated = _pandas().Series(values["item"]).duplicated().to_numpy()
    if repeated.any():
        position = int(np.flatnonzero(repeated)[0])
        raise DataFormatError(
            f"{path}: {rows.unit} {rows.numbers[position]}: item id "
            f"{values['item'][position]} appears a second time"
        )
    return dict(zip(values["item"].tolist(), values["title"].tolist(), strict=True))


def _pandas() -> Any:
    """Import pandas, explaining how to install it when it is missing."""
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"reading files needs pandas; install it with {_INSTALL_HINT}"
        ) from error
    return pandas


def _pyarrow_parquet() -> Any:
    """Import pyarrow.parquet, explaining how to install it when missing."""
    try:
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError(
            f"reading Parquet files needs pyarrow; install it with {_INSTALL_HINT}"
        ) from error
    return pyarrow.parquet


def _check_file(path: Any) -> Path:
    """Return ``path`` as a Path to an existing file, or raise."""
    try:
        path = Path(os.fspath(path)).expanduser()
    except TypeError as error:
        raise TypeError(
            f"path must be a str or os.PathLike, got {_show(path)} "
            f"of type {type(path).__name__}"
        ) from error
    if path.is_dir():
        raise IsADirectoryError(f"path='{path}' is a folder, expected a file")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: '{path}'")
    return path


def _resolve_format(
    path: Path,
    format: str | None,
    choices: tuple[str, ...],
    guess: Callable[[Path], str | None],
) -> str:
    """Return the given format, checked, or the one guessed from the name."""
    if format is not None:
        lowered = format.lower() if isinstance(format, str) else format
        return check_choice("format", lowered, choices)
    guessed = guess(path)
    if guessed is None:
        options = ", ".join(repr(choice) for choice in choices)
        raise ValueError(
            f"cannot guess the format of '{path}' from its name; pass format= "
            f"one of {options}"
        )
    return guessed


def _check_options(sep: Any, skip_bad_rows: Any, encoding: Any) -> None:
    """Refuse a separator, flag or encoding of the wrong kind."""
    if sep is not None and (
        not isinstance(sep, str) or not sep or any(c in sep for c in '\r\n"')
    ):
        raise ValueError(
            "sep must be a non-empty string without quotes or line breaks, got "
            f"{_show(sep)}"
        )
    if not isinstance(skip_bad_rows, bool | np.bool_):
        raise TypeError(f"skip_bad_rows must be a bool, got {_show(skip_bad_rows)}")
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a str, got {_show(encoding)}")


def _plain_name(path: Path) -> str:
    """Return the lower-case file name without a trailing ``.gz``."""
    name = path.name.lower()
    return name[: -len(".gz")] if name.endswith(".gz") else name


def _guess_format(path: Path) -> str | None:
    """Guess the format of a ratings file from its name."""
    name = _plain_name(path)
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name == "u.data":
        return "movielens-100k"
    if name == "ratings.dat":
        return "movielens-1m"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return None


def _guess_item_format(path: Path) -> str | None:
    """Guess the release of a MovieLens item file from its name."""
    names = {
        "u.item": "movielens-100k",
        "movies.dat": "movielens-1m",
        "movies.csv": "movielens-latest",
    }
    return names.get(_plain_name(path))


def _interaction_columns(
    format: str,
    user_col: str,
    item_col: str,
    timestamp_col: str | None,
    rating_col: str | None,
    weight_col: str | None,
) -> list[_Column]:
    """List the columns to read, with their roles and checks."""
    if format in _MOVIELENS_RATING_COLUMNS:
        user, item, rating, timestamp = _MOVIELENS_RATING_COLUMNS[format]
        return [
            _Column("user", user, "integer"),
            _Column("item", item, "integer"),
            _Column("timestamp", timestamp, "number"),
            _Column("rating", rating, "number"),
        ]

    named = [
        ("user", user_col, "label", "user_col"),
        ("item", item_col, "label", "item_col"),
        ("timestamp", timestamp_col, "number", "timestamp_col"),
        ("rating", rating_col, "number", "rating_col"),
        ("weight", weight_col, "number", "weight_col"),
    ]
    columns = []
    for role, name, kind, argument in named:
        if name is None and role in ("user", "item"):
            raise TypeError(f"{argument} must be a column name, got None")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{argument} must be a str or None, got {_show(name)}")
        if name is not None:
            columns.append(_Column(role, name, kind, argument))
    return columns


def _check_columns(path: Path, columns: list[_Column], available: list[str]) -> None:
    """Refuse a named column the file does not have, listing those it has."""
    for column in columns:
        if column.name not in available:
            named = (
                f"{column.argument}={column.name!r}"
                if column.argument
                else f"column {column.name!r}"
            )
            hint = ""
            if column.argument == "timestamp_col":
                hint = "; pass timestamp_col=None to read no timestamps"
            raise DataFormatError(
                f"{path}: {named} is not a column of the file; its columns are "
                f"{available}{hint}"
            )


def _parquet_rows(path: Path, columns: list[_Column]) -> _Rows:
    """Read the needed columns of a Parquet file."""
    parquet = _pyarrow_parquet()
    import pyarrow

    try:
        available = list(parquet.read_schema(path).names)
        _check_columns(path, columns, available)
        names = list(dict.fromkeys(column.name for column in columns))
        frame = parquet.read_table(path, columns=names).to_pandas()
    except (pyarrow.ArrowException, OSError) as error:
        raise DataFormatError(
            f"{path}: not a readable Parquet file ({error})"
        ) from error

    if len(frame) == 0:
        raise DataFormatError(f"{path}: the Parquet file holds no rows")
    return _Rows(frame, np.arange(1, len(frame) + 1), "row", [])


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


def _count_reason(expected: int, found: int) -> str:
    """Say that a row has the wrong number of fields."""
    return f"expected {expected} fields, found {found}"


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
