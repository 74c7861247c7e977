"""Map arbitrary user and item ids to the contiguous integers models use.

Real logs name users and items by strings or by sparse integers. Models need
users numbered ``0 .. num_users - 1`` and items numbered ``1 .. num_items - 1``
(item ``0`` is the padding value of sequences). :class:`IdMapping` keeps both
directions so that recommendations can be turned back into the original ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spotlight._validation import _show, as_1d_array

__all__ = ["IdMapping", "UnknownIdError"]


class UnknownIdError(KeyError, ValueError):
    """An original id that the mapping has never seen."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _as_key_array(name: str, values: Any) -> np.ndarray:
    """Return original ids as an array NumPy can sort and search."""
    array = as_1d_array(name, values)
    if array.dtype.kind == "O":
        kinds = {type(value) for value in array.tolist()}
        if kinds <= {str}:
            array = array.astype(str)
        elif all(issubclass(kind, int | np.integer) for kind in kinds):
            array = array.astype(np.int64)
        else:
            names = sorted(kind.__name__ for kind in kinds)
            raise ValueError(
                f"{name} must hold ids of one kind (all strings or all integers), "
                f"got {', '.join(names)}"
            )
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(
                f"{name} must not hold NaN or infinite ids: {_show(array)}"
            )
    elif array.dtype.kind not in "iuUS":
        raise ValueError(
            f"{name} must hold strings or numbers, got dtype {array.dtype}: "
            f"{_show(array)}"
        )
    return array


class IdMapping:
    """Two-way mapping between original ids and contiguous internal ids.

    Users map to ``0 .. num_users - 1`` and items to ``1 .. num_items - 1``,
    both in the sorted order of the original ids; internal item id ``0`` is
    reserved for padding and maps to no original id.

    Parameters
    ----------
    user_values : array-like
        The original user ids, unique; position ``i`` is internal user ``i``.
    item_values : array-like
        The original item ids, unique; position ``i`` is internal item
        ``i + 1``.

    Attributes
    ----------
    num_users : int
        Number of users, ``len(user_values)``.
    num_items : int
        Number of internal item ids, ``len(item_values) + 1`` (padding
        included).

    Examples
    --------
    >>> mapping, users, items = IdMapping.from_values(["u2", "u1"], ["b", "a"])
    >>> users.tolist(), items.tolist()
    ([1, 0], [2, 1])
    >>> mapping.decode_items([2]).tolist()
    ['b']
    """

    def __init__(self, user_values: Any, item_values: Any) -> None:
        self.user_values = _as_key_array("user_values", user_values)
        self.item_values = _as_key_array("item_values", item_values)
        self._user_order = _check_unique("user_values", self.user_values)
        self._item_order = _check_unique("item_values", self.item_values)

    @classmethod
    def from_values(
        cls, user_values: Any, item_values: Any
    ) -> tuple[IdMapping, np.ndarray, np.ndarray]:
        """Build a mapping from the ids of a log and encode the log with it.

        Parameters
        ----------
        user_values : array-like of shape (n,)
            Original user id of each interaction.
        item_values : array-like of shape (n,)
            Original item id of each interaction.

        Returns
        -------
        mapping : IdMapping
            The mapping, users and items in sorted order of their ids.
        user_ids : numpy.ndarray of shape (n,), int32
            Internal user ids, from 0.
        item_ids : numpy.ndarray of shape (n,), int32
            Internal item ids, from 1.
        """
        users = _as_key_array("user_values", user_values)
        items = _as_key_array("item_values", item_values)
        if len(users) != len(items):
            raise ValueError(
                "user_values and item_values must have the same length, got "
                f"{len(users)} and {len(items)}"
            )
        unique_users, user_ids = np.unique(users, return_inverse=True)
        unique_items, item_ids = np.unique(items, return_inverse=True)
        mapping = cls(unique_users, unique_items)
        return mapping, user_ids.astype(np.int32), (item_ids + 1).astype(np.int32)

    @property
    def num_users(self) -> int:
        """Number of users the mapping knows."""
        return len(self.user_values)

    @property
    def num_items(self) -> int:
        """Number of internal item ids, the padding id ``0`` included."""
        return len(self.item_values) + 1

    def encode_users(self, values: Any) -> np.ndarray:
        """Return the internal ids of original user ids.

        Parameters
        ----------
        values : array-like
            Original user ids.

        Returns
        -------
        numpy.ndarray of int64

        Raises
        ------
        UnknownIdError
            If an id is not in the mapping; the message names it.
        """
        return _encode("user", self.user_values, self._user_order, values)

    def encode_items(self, values: Any) -> np.ndarray:
        """Return the internal ids (from 1) of original item ids.

        Parameters
        ----------
        values : array-like
            Original item ids.

        Returns
        -------
        numpy.ndarray of int64

        Raises
        ------
        UnknownIdError
            If an id is not in the mapping; the message names it.
        """
        return _encode("item", self.item_values, self._item_order, values) + 1

    def decode_users(self, ids: Any) -> np.ndarray:
        """Return the original ids of internal user ids.

        Parameters
        ----------
        ids : array-like of int
            Internal user ids.

        Returns
        -------
        numpy.ndarray
            Original ids, of the mapping's type.
        """
        return _decode("user", self.user_values, ids, offset=0)

    def decode_items(self, ids: Any) -> np.ndarray:
        """Return the original ids of internal item ids (from 1).

        Parameters
        ----------
        ids : array-like of int
            Internal item ids; the padding id 0 has no original id.

        Returns
        -------
        numpy.ndarray
            Original ids, of the mapping's type.
        """
        return _decode("item", self.item_values, ids, offset=1)

    def to_dict(self) -> dict[str, Any]:
        """Return the mapping as plain lists, for safe serialisation.

        Returns
        -------
        dict
            ``{"user_values": [...], "item_values": [...]}``.
        """
        return {
            "user_values": self.user_values.tolist(),
            "item_values": self.item_values.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> IdMapping:
        """Rebuild a mapping written by :meth:`to_dict`.

        Parameters
        ----------
        state : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        IdMapping
        """
        if not isinstance(state, dict) or set(state) != {"user_values", "item_values"}:
            raise ValueError(
                f"an id mapping must be a dict with keys 'user_values' and "
                f"'item_values', got {_show(state)}"
            )
        return cls(
            _list_to_array(state["user_values"]), _list_to_array(state["item_values"])
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdMapping):
            return NotImplemented
        return np.array_equal(self.user_values, other.user_values) and np.array_equal(
            self.item_values, other.item_values
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<IdMapping ({self.num_users} users, {self.num_items - 1} items)>"


def _list_to_array(values: list[Any]) -> np.ndarray:
    """Turn a list from :meth:`IdMapping.to_dict` back into an array."""
    if not values:
        return np.array([], dtype=np.int64)
    if all(isinstance(value, str) for value in values):
        return np.array(values, dtype=str)
    return np.array(values)


def _check_unique(name: str, values: np.ndarray) -> np.ndarray:
    """Return the sorting permutation of ``values``, refusing duplicates."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    duplicated = ordered[1:] == ordered[:-1]
    if duplicated.any():
        value = ordered[1:][duplicated][0].item()
        raise ValueError(f"{name} must be unique, {value!r} appears twice")
    return order


def _encode(kind: str, known: np.ndarray, order: np.ndarray, values: Any) -> np.ndarray:
    """Look up original ids in ``known`` (sorted through ``order``)."""
    query = _as_key_array(f"{kind} ids", np.atleast_1d(np.asarray(values)))
    if len(known) == 0:
        raise UnknownIdError(
            f"unknown {kind} id {query[0].item()!r}: the mapping is empty"
        )
    sorted_known = known[order]
    if (query.dtype.kind in "US") != (sorted_known.dtype.kind in "US"):
        held = "strings" if sorted_known.dtype.kind in "US" else "numbers"
        raise UnknownIdError(
            f"unknown {kind} id {query[0].item()!r}: the mapping holds {held}"
        )
    positions = np.searchsorted(sorted_known, query)
    positions = np.minimum(positions, len(sorted_known) - 1)
    found = sorted_known[positions] == query
    if not found.all():
        missing = query[np.flatnonzero(~found)[0]].item()
        raise UnknownIdError(f"unknown {kind} id {missing!r}: not seen in training")
    return order[positions].astype(np.int64)


def _decode(kind: str, known: np.ndarray, ids: Any, offset: int) -> np.ndarray:
    """Return ``known[ids - offset]``, refusing ids outside the mapping."""
    array = np.asarray(ids)
    if array.dtype.kind not in "iu":
        raise ValueError(f"internal {kind} ids must be integers, got {_show(array)}")
    array = array.astype(np.int64)
    bad = (array < offset) | (array >= len(known) + offset)
    if bad.any():
        value = int(array[bad][0])
        raise ValueError(
            f"internal {kind} id {value} is outside the mapping "
            f"[{offset}, {len(known) + offset})"
        )
    return known[array - offset]
