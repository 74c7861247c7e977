"""Interaction logs and the fixed-length sequences models train on.

:class:`Interactions` holds a log of (user, item, timestamp) triples, with
optional ratings and weights. :meth:`Interactions.to_sequence` cuts each
user's history, in time order, into left-padded windows and returns them as
:class:`SequenceInteractions`, the input of
:class:`~spotlight.sequence.implicit.ImplicitSequenceModel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from spotlight._validation import (
    _show,
    as_id_array,
    as_number_array,
    check_int,
)
from spotlight.id_mapping import IdMapping

if TYPE_CHECKING:
    import scipy.sparse

__all__ = ["PADDING_IDX", "Interactions", "SequenceInteractions"]

PADDING_IDX = 0
"""Item id that pads sequences on the left; no real item may use it."""

_MAX_ID = np.iinfo(np.int32).max

# Cells of the (rows x max_sequence_length) index matrix that to_sequence
# builds at once; bounds its temporary memory to a few tens of megabytes.
_CELLS_PER_CHUNK = 1 << 22


def _check_ids(name: str, values: Any, count_name: str, count: int | None):
    """Validate an id array and the count it must stay below."""
    ids = as_id_array(name, values)
    if ids.size and ids.max() > _MAX_ID:
        raise ValueError(f"{name} must be below 2**31, got {ids.max()}")
    largest = int(ids.max()) + 1 if ids.size else 0
    if count is None:
        return ids.astype(np.int32), largest
    count = check_int(count_name, count, minimum=0, maximum=_MAX_ID + 1)
    if largest > count:
        position = int(np.argmax(ids))
        raise ValueError(
            f"{name} must be below {count_name}={count}, got {ids[position]} at "
            f"position {position}"
        )
    return ids.astype(np.int32), count


def _check_same_length(arrays: dict[str, np.ndarray | None]) -> int:
    """Return the common length of the given arrays, refusing mismatches."""
    lengths = {name: len(array) for name, array in arrays.items() if array is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}: {length}" for name, length in lengths.items())
        raise ValueError(f"arrays must all have the same length, got {shown}")
    return next(iter(lengths.values()))


class Interactions:
    """A log of interactions between users and items.

    Parameters
    ----------
    user_ids : array-like of int, shape (n,)
        User of each interaction, from 0.
    item_ids : array-like of int, shape (n,)
        Item of each interaction. Sequence models reserve item ``0`` for
        padding, so items should start at 1 (see :mod:`spotlight.id_mapping`).
    ratings : array-like of float, shape (n,), optional
        Rating of each interaction.
    timestamps : array-like of numbers, shape (n,), optional
        Time of each interaction; needed by :meth:`to_sequence`.
    weights : array-like of float, shape (n,), optional
        Weight of each interaction.
    num_users : int, optional
        Number of users; by default the largest user id plus one.
    num_items : int, optional
        Number of items; by default the largest item id plus one.
    id_mapping : IdMapping, optional
        The mapping from original ids that produced ``user_ids`` and
        ``item_ids``; kept through splits and :meth:`to_sequence`.

    Attributes
    ----------
    user_ids, item_ids : numpy.ndarray of int32
    ratings, weights : numpy.ndarray of float32 or None
    timestamps : numpy.ndarray of int64 or float64, or None
    num_users, num_items : int

    Raises
    ------
    ValueError
        For empty input, arrays of different lengths, negative or non-integer
        ids, ids not below a given ``num_users``/``num_items``, or NaN and
        infinite values; the message names the argument and the bad value.

    Examples
    --------
    >>> interactions = Interactions([0, 0, 1], [1, 2, 1], timestamps=[1, 2, 3])
    >>> interactions
    <Interactions dataset (2 users x 3 items x 3 interactions)>
    """

    def __init__(
        self,
        user_ids: Any,
        item_ids: Any,
        ratings: Any = None,
        timestamps: Any = None,
        weights: Any = None,
        num_users: int | None = None,
        num_items: int | None = None,
        id_mapping: IdMapping | None = None,
    ) -> None:
        self.user_ids, self.num_users = _check_ids(
            "user_ids", user_ids, "num_users", num_users
        )
        self.item_ids, self.num_items = _check_ids(
            "item_ids", item_ids, "num_items", num_items
        )
        self.ratings = _optional_float("ratings", ratings)
        self.weights = _optional_float("weights", weights)
        self.timestamps = (
            None if timestamps is None else as_number_array("timestamps", timestamps)
        )
        length = _check_same_length(
            {
                "user_ids": self.user_ids,
                "item_ids": self.item_ids,
                "ratings": self.ratings,
                "timestamps": self.timestamps,
                "weights": self.weights,
            }
        )
        if length == 0:
            raise ValueError("user_ids and item_ids must not be empty, got 0 rows")
        if id_mapping is not None and not isinstance(id_mapping, IdMapping):
            raise TypeError(f"id_mapping must be an IdMapping, got {_show(id_mapping)}")
        self.id_mapping = id_mapping

    @classmethod
    def from_dataframe(
        cls,
        dataframe: Any,
        user_col: str = "user_id",
        item_col: str = "item_id",
        timestamp_col: str | None = "timestamp",
        rating_col: str | None = None,
        weight_col: str | None = None,
    ) -> Interactions:
        """Build interactions from a data frame, mapping ids to integers.

        Users and items may be named by anything sortable (strings, sparse
        integers); they are mapped to contiguous internal ids, users from 0
        and items from 1, and the mapping is kept in :attr:`id_mapping`.

        Parameters
        ----------
        dataframe : pandas.DataFrame
            One row per interaction.
        user_col, item_col : str
            Columns of the user and item ids.
        timestamp_col : str or None, default "timestamp"
            Column of the timestamps (numbers or datetimes); ``None`` for none.
        rating_col, weight_col : str or None
            Columns of ratings and weights, if any.

        Returns
        -------
        Interactions

        Raises
        ------
        ValueError
            If a named column is missing (the message lists those present),
            or if a column holds missing or invalid values.
        """
        columns = getattr(dataframe, "columns", None)
        if columns is None:
            raise TypeError(
                f"dataframe must be a pandas.DataFrame, got {type(dataframe).__name__}"
            )
        wanted = {
            "user_col": user_col,
            "item_col": item_col,
            "timestamp_col": timestamp_col,
            "rating_col": rating_col,
            "weight_col": weight_col,
        }
        for argument, column in wanted.items():
            if column is not None and column not in columns:
                raise ValueError(
                    f"{argument}={column!r} is not a column of the data; columns "
                    f"are {list(columns)}"
                )

        def column_values(column: str | None) -> np.ndarray | None:
            if column is None:
                return None
            values = dataframe[column]
            if values.isna().any():
                row = int(np.flatnonzero(values.isna().to_numpy())[0])
                raise ValueError(f"column {column!r} has a missing value in row {row}")
            return values.to_numpy()

        mapping, user_ids, item_ids = IdMapping.from_values(
            column_values(user_col), column_values(item_col)
        )
        return cls(
            user_ids,
            item_ids,
            ratings=column_values(rating_col),
            timestamps=column_values(timestamp_col),
            weights=column_values(weight_col),
            num_users=mapping.num_users,
            num_items=mapping.num_items,
            id_mapping=mapping,
        )

    def __len__(self) -> int:
        return len(self.user_ids)

    def __repr__(self) -> str:
        return (
            f"<Interactions dataset ({self.num_users} users x {self.num_items} items "
            f"x {len(self)} interactions)>"
        )

    def subset(self, indices: Any) -> Interactions:
        """Return the interactions at ``indices``.

        Counts of users and items and the id mapping are kept, so that the
        parts of a split share one id space.

        Parameters
        ----------
        indices : array-like of bool or int
            A boolean mask or positions.

        Returns
        -------
        Interactions
        """
        indices = np.asarray(indices)

        def take(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[indices]

        return Interactions(
            self.user_ids[indices],
            self.item_ids[indices],
            ratings=take(self.ratings),
            timestamps=take(self.timestamps),
            weights=take(self.weights),
            num_users=self.num_users,
            num_items=self.num_items,
            id_mapping=self.id_mapping,
        )

    def tocoo(self) -> scipy.sparse.coo_matrix:
        """Return the (users x items) matrix of ratings as a COO matrix.

        Interactions without ratings count as 1. Repeated (user, item) pairs
        stay as separate entries and add up when converted to CSR.

        Returns
        -------
        scipy.sparse.coo_matrix of shape (num_users, num_items)
        """
        import scipy.sparse

        data = self.ratings if self.ratings is not None else np.ones(len(self))
        return scipy.sparse.coo_matrix(
            (data, (self.user_ids, self.item_ids)),
            shape=(self.num_users, self.num_items),
        )

    def tocsr(self) -> scipy.sparse.csr_matrix:
        """Return the (users x items) matrix of ratings as a CSR matrix.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (num_users, num_items)
        """
        return self.tocoo().tocsr()

    def to_sequence(
        self,
        max_sequence_length: int = 10,
        min_sequence_length: int | None = None,
        step_size: int | None = None,
    ) -> SequenceInteractions:
        """Cut each user's history into left-padded windows of items.

        Interactions are sorted stably by user, then timestamp. For each user,
        windows are taken backwards from the most recent interaction, their
        ends ``step_size`` apart, each holding up to ``max_sequence_length``
        items, right-aligned and padded on the left with ``0``. Rows are
        ordered by user id and, within a user, most recent window first.

        Parameters
        ----------
        max_sequence_length : int, default 10
            Length of every row.
        min_sequence_length : int, optional
            Keep only rows with at least this many real items.
        step_size : int, optional
            Distance between the ends of consecutive windows of one user; by
            default ``max_sequence_length``, so that windows do not overlap.

        Returns
        -------
        SequenceInteractions

        Raises
        ------
        ValueError
            If there are no timestamps, if an interaction uses item 0 (the
            padding value), or if an argument is out of range.

        Examples
        --------
        >>> log = Interactions([0] * 5, [1, 2, 3, 4, 5], timestamps=range(5))
        >>> log.to_sequence(max_sequence_length=5, step_size=2).sequences
        array([[1, 2, 3, 4, 5],
               [0, 0, 1, 2, 3],
               [0, 0, 0, 0, 1]], dtype=int32)
        """
        max_sequence_length = check_int(
            "max_sequence_length", max_sequence_length, minimum=1
        )
        min_sequence_length = check_int(
            "min_sequence_length",
            min_sequence_length,
            minimum=1,
            maximum=max_sequence_length,
            allow_none=True,
        )
        step_size = check_int("step_size", step_size, minimum=1, allow_none=True)
        if step_size is None:
            step_size = max_sequence_length
        self._check_sequence_ready()

        order = np.lexsort((self.timestamps, self.user_ids))
        users = self.user_ids[order]
        items = self.item_ids[order]
        user_rows, ends, starts = _window_bounds(users, max_sequence_length, step_size)
        if min_sequence_length is not None:
            keep = ends - starts >= min_sequence_length
            user_rows, ends, starts = user_rows[keep], ends[keep], starts[keep]
        sequences = _gather_windows(items, ends, starts, max_sequence_length)
        return SequenceInteractions(
            sequences,
            user_ids=users[user_rows],
            num_items=self.num_items,
            id_mapping=self.id_mapping,
        )

    def _check_sequence_ready(self) -> None:
        """Refuse to build sequences without timestamps or with item 0."""
        if self.timestamps is None:
            raise ValueError(
                "to_sequence needs timestamps to order each user's interactions; "
                "pass timestamps=numpy.arange(len(user_ids)) to keep the row order"
            )
        uses_padding = self.item_ids == PADDING_IDX
        if uses_padding.any():
            position = int(np.flatnonzero(uses_padding)[0])
            raise ValueError(
                f"item_ids holds {PADDING_IDX}, the padding value of sequences, at "
                f"position {position}; shift the ids (item_ids + 1) or build the "
                "interactions with Interactions.from_dataframe, which numbers items "
                "from 1"
            )


def _optional_float(name: str, values: Any) -> np.ndarray | None:
    """Validate an optional float column and store it as float32."""
    if values is None:
        return None
    return as_number_array(name, values).astype(np.float32)


def _window_bounds(
    users: np.ndarray, length: int, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Locate every window of every user in the user-sorted log.

    Returns, for each window, the position of one of its rows in ``users``
    and the half-open range ``[start, end)`` of its items, ordered by user
    and, within a user, most recent window first.
    """
    boundaries = np.flatnonzero(users[1:] != users[:-1]) + 1
    user_starts = np.concatenate(([0], boundaries))
    user_ends = np.concatenate((boundaries, [len(users)]))
    windows_per_user = -(-(user_ends - user_starts) // step)

    owner = np.repeat(np.arange(len(user_starts)), windows_per_user)
    first_window = np.cumsum(windows_per_user) - windows_per_user
    rank = np.arange(len(owner)) - first_window[owner]

    ends = user_ends[owner] - rank * step
    starts = np.maximum(ends - length, user_starts[owner])
    return user_starts[owner], ends, starts


def _gather_windows(
    items: np.ndarray, ends: np.ndarray, starts: np.ndarray, length: int
) -> np.ndarray:
    """Copy each window ``items[start:end]`` right-aligned into a padded row."""
    sequences = np.zeros((len(ends), length), dtype=np.int32)
    offsets = np.arange(-length, 0)
    rows_per_chunk = max(1, _CELLS_PER_CHUNK // length)
    for first in range(0, len(ends), rows_per_chunk):
        chunk = slice(first, first + rows_per_chunk)
        positions = ends[chunk, None] + offsets  # (rows, length)
        real = positions >= starts[chunk, None]
        sequences[chunk] = np.where(real, items[np.maximum(positions, 0)], PADDING_IDX)
    return sequences


class SequenceInteractions:
    """Fixed-length, left-padded item sequences, one per row.

    Parameters
    ----------
    sequences : array-like of int, shape (num_sequences, max_sequence_length)
        Item ids, padded on the left with ``0``.
    user_ids : array-like of int, shape (num_sequences,), optional
        The user each row belongs to.
    num_items : int, optional
        Number of items; by default the largest id in ``sequences`` plus one.
    id_mapping : IdMapping, optional
        The mapping from original ids, if the data came through one.

    Attributes
    ----------
    sequences : numpy.ndarray of int32, shape (num_sequences, max_sequence_length)
    user_ids : numpy.ndarray of int32 or None
    num_items : int
    max_sequence_length : int

    Examples
    --------
    >>> SequenceInteractions([[0, 1, 2], [3, 4, 5]])
    <Sequence interactions dataset (2 sequences x 3 sequence length)>
    """

    def __init__(
        self,
        sequences: Any,
        user_ids: Any = None,
        num_items: int | None = None,
        id_mapping: IdMapping | None = None,
    ) -> None:
        self.sequences = _check_sequences(sequences)
        largest = int(self.sequences.max()) + 1 if self.sequences.size else 1
        if num_items is None:
            self.num_items = largest
        else:
            self.num_items = check_int(
                "num_items", num_items, minimum=1, maximum=_MAX_ID + 1
            )
            if largest > self.num_items:
                raise ValueError(
                    f"sequences must hold ids below num_items={self.num_items}, got "
                    f"{largest - 1}"
                )
        self.user_ids = None
        if user_ids is not None:
            self.user_ids = as_id_array("user_ids", user_ids).astype(np.int32)
            if len(self.user_ids) != len(self.sequences):
                raise ValueError(
                    f"user_ids must have one entry per sequence ({len(self.sequences)})"
                    f", got {len(self.user_ids)}"
                )
        if id_mapping is not None and not isinstance(id_mapping, IdMapping):
            raise TypeError(f"id_mapping must be an IdMapping, got {_show(id_mapping)}")
        self.id_mapping = id_mapping

    @property
    def max_sequence_length(self) -> int:
        """Length of every row, padding included."""
        return self.sequences.shape[1]

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        return (
            f"<Sequence interactions dataset ({len(self)} sequences x "
            f"{self.max_sequence_length} sequence length)>"
        )


def _check_sequences(sequences: Any) -> np.ndarray:
    """Validate a 2-D array of non-negative item ids and return it as int32."""
    if sequences is None:
        raise TypeError("sequences must be a 2-D array, got None")
    try:
        array = np.asarray(sequences)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"sequences must be a rectangular 2-D array of item ids, got "
            f"{_show(sequences)}"
        ) from error
    if array.ndim != 2:
        raise ValueError(
            f"sequences must be 2-D (num_sequences, max_sequence_length), got shape "
            f"{array.shape}"
        )
    if array.shape[1] == 0:
        raise ValueError(f"sequences must have at least one column, got {array.shape}")
    flat = as_id_array("sequences", array.reshape(-1))
    if flat.size and flat.max() > _MAX_ID:
        raise ValueError(f"sequences must hold ids below 2**31, got {flat.max()}")
    return flat.astype(np.int32).reshape(array.shape)
