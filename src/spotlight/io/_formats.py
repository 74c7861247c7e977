"""The formats the readers know: names, layouts, guessing, options, columns.

Turns what a caller passed (a path, a format name or none, column names and
options) into a checked file path, a format and the list of columns to read,
each with its role and the check its values must pass. Holds the layout and
columns of each MovieLens file, and imports pandas only when a file is read,
so that importing :mod:`spotlight.io` does not.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spotlight._validation import _show, check_choice
from spotlight.exceptions import DataFormatError

_INSTALL_HINT = 'pip install "spotlight-rec[io]"'


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


def _pandas() -> Any:
    """Import pandas, explaining how to install it when it is missing."""
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"reading files needs pandas; install it with {_INSTALL_HINT}"
        ) from error
    return pandas


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
