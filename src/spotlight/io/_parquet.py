"""Read the needed columns of a Parquet file (needs pyarrow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spotlight.exceptions import DataFormatError
from spotlight.io._columns import _Rows
from spotlight.io._formats import _INSTALL_HINT, _check_columns, _Column


def _pyarrow_parquet() -> Any:
    """Import pyarrow.parquet, explaining how to install it when missing."""
    try:
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError(
            f"reading Parquet files needs pyarrow; install it with {_INSTALL_HINT}"
        ) from error
    return pyarrow.parquet


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
