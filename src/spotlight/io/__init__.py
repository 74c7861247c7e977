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

import logging
import os
from typing import Any

import numpy as np

from spotlight.exceptions import DataFormatError
from spotlight.interactions import Interactions
from spotlight.io._columns import ReadReport, _convert_rows
from spotlight.io._formats import (
    _MOVIELENS_ITEM_COLUMNS,
    _MOVIELENS_ITEM_ENCODINGS,
    _MOVIELENS_ITEMS,
    _MOVIELENS_RATINGS,
    _check_file,
    _check_options,
    _Column,
    _guess_format,
    _guess_item_format,
    _interaction_columns,
    _Layout,
    _pandas,
    _resolve_format,
)
from spotlight.io._parquet import _parquet_rows
from spotlight.io._text import _text_rows

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

# Defined beside the conversion that fills it in; shown and pickled as part of
# the public module.
ReadReport.__module__ = __name__


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
