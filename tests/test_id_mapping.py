"""Specification of the id mapping and of Interactions.from_dataframe."""

import numpy as np
import pandas as pd
import pytest

from spotlight.id_mapping import IdMapping, UnknownIdError
from spotlight.interactions import Interactions


def test_string_ids_map_to_contiguous_integers_items_from_one():
    mapping, users, items = IdMapping.from_values(
        ["bob", "ann", "bob"], ["x", "y", "x"]
    )
    assert users.tolist() == [1, 0, 1]
    assert items.tolist() == [1, 2, 1]
    assert (mapping.num_users, mapping.num_items) == (2, 3)


def test_round_trip_of_sparse_integer_ids():
    items = np.array([1000, 7, 123456789, 7])
    mapping, _, encoded = IdMapping.from_values([1, 2, 3, 4], items)
    assert mapping.decode_items(encoded).tolist() == items.tolist()
    assert mapping.encode_items(items).tolist() == encoded.tolist()


def test_unknown_id_is_named():
    mapping, _, _ = IdMapping.from_values(["u", "u"], ["a", "b"])
    with pytest.raises(UnknownIdError, match="unknown item id 'zzz'"):
        mapping.encode_items(["a", "zzz"])
    with pytest.raises(UnknownIdError, match="unknown user id 5"):
        mapping.encode_users([5])


def test_decoding_padding_or_out_of_range_ids_is_refused():
    mapping, _, _ = IdMapping.from_values(["u"], ["a"])
    with pytest.raises(ValueError, match="outside the mapping"):
        mapping.decode_items([0])


def test_dict_round_trip():
    mapping, _, _ = IdMapping.from_values(["u", "v"], [10, 20])
    assert IdMapping.from_dict(mapping.to_dict()) == mapping


def test_mixed_id_types_are_refused():
    with pytest.raises(ValueError, match="one kind"):
        IdMapping.from_values(np.array(["a", 1], dtype=object), [1, 2])


def test_from_dataframe_maps_ids_and_keeps_columns():
    frame = pd.DataFrame(
        {
            "user": ["b", "a", "b"],
            "item": ["m1", "m2", "m3"],
            "time": [3, 1, 2],
            "stars": [5.0, 3.0, 4.0],
        }
    )
    interactions = Interactions.from_dataframe(
        frame,
        user_col="user",
        item_col="item",
        timestamp_col="time",
        rating_col="stars",
    )
    assert interactions.user_ids.tolist() == [1, 0, 1]
    assert interactions.ratings.tolist() == [5.0, 3.0, 4.0]
    rows = interactions.to_sequence(2)
    assert interactions.id_mapping.decode_items(rows.sequences[1]).tolist() == [
        "m3",
        "m1",
    ]
    assert rows.id_mapping is interactions.id_mapping


def test_from_dataframe_accepts_datetimes():
    frame = pd.DataFrame(
        {
            "user_id": [1, 1],
            "item_id": [5, 6],
            "timestamp": pd.to_datetime(["2024-01-02", "2024-01-01"]),
        }
    )
    rows = Interactions.from_dataframe(frame).to_sequence(2)
    assert rows.sequences.tolist() == [[2, 1]]


def test_from_dataframe_names_a_missing_column():
    frame = pd.DataFrame({"u": [1], "i": [2]})
    with pytest.raises(ValueError, match=r"user_col='user_id' is not a column.*'u'"):
        Interactions.from_dataframe(frame)


def test_from_dataframe_refuses_missing_values():
    frame = pd.DataFrame({"user_id": [1, None], "item_id": [2, 3], "timestamp": [0, 1]})
    with pytest.raises(ValueError, match="missing value in row 1"):
        Interactions.from_dataframe(frame)
