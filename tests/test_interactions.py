"""Specification of Interactions, SequenceInteractions and to_sequence."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spotlight.interactions import Interactions, SequenceInteractions


def one_user(items):
    return Interactions(
        np.zeros(len(items), dtype=np.int32), items, timestamps=np.arange(len(items))
    )


def test_counts_default_to_largest_id_plus_one():
    interactions = Interactions([0, 3], [1, 7])
    assert (interactions.num_users, interactions.num_items) == (4, 8)
    assert len(interactions) == 2


def test_given_counts_are_kept():
    interactions = Interactions([0], [1], num_users=10, num_items=20)
    assert (interactions.num_users, interactions.num_items) == (10, 20)


def test_repr_names_the_sizes():
    text = repr(Interactions([0, 1], [1, 2]))
    assert text == "<Interactions dataset (2 users x 3 items x 2 interactions)>"


def test_ids_are_stored_as_int32_and_ratings_as_float32():
    interactions = Interactions(
        np.array([0, 1], dtype=np.int64), [1, 2], ratings=[1, 5]
    )
    assert interactions.user_ids.dtype == np.int32
    assert interactions.item_ids.dtype == np.int32
    assert interactions.ratings.dtype == np.float32


def test_large_integer_timestamps_keep_every_digit():
    stamps = np.array([1_700_000_000_123, 1_700_000_000_124])
    interactions = Interactions([0, 0], [1, 2], timestamps=stamps)
    assert np.array_equal(interactions.timestamps, stamps)


def test_integral_float_ids_are_accepted():
    interactions = Interactions(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    assert interactions.item_ids.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"user_ids": [0, 1], "item_ids": [1]}, "same length"),
        ({"user_ids": [0, -1], "item_ids": [1, 2]}, "user_ids must be non-negative"),
        ({"user_ids": [0, 1], "item_ids": [1, 2.5]}, "item_ids must hold integer"),
        ({"user_ids": ["a"], "item_ids": [1]}, "user_ids must hold integer"),
        ({"user_ids": [True], "item_ids": [1]}, "user_ids must hold integer"),
        ({"user_ids": [0], "item_ids": [5], "num_items": 5}, "below num_items=5"),
        ({"user_ids": [3], "item_ids": [1], "num_users": 2}, "below num_users=2"),
        (
            {"user_ids": [0, 0], "item_ids": [1, 2], "timestamps": [1.0, np.nan]},
            "timestamps must be finite",
        ),
        ({"user_ids": [], "item_ids": []}, "must not be empty"),
        ({"user_ids": [[0]], "item_ids": [[1]]}, "one-dimensional"),
        ({"user_ids": [0], "item_ids": [1], "ratings": [np.inf]}, "ratings"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(arguments, message):
    with pytest.raises(ValueError, match=message):
        Interactions(**arguments)


def test_error_shows_the_bad_value_and_its_position():
    with pytest.raises(ValueError, match=r"got -4 at position 1"):
        Interactions([0, -4], [1, 2])


def test_tocoo_and_tocsr_hold_the_ratings():
    interactions = Interactions([0, 1, 1], [1, 2, 2], ratings=[5.0, 3.0, 1.0])
    dense = interactions.tocsr().toarray()
    assert dense.shape == (2, 3)
    assert dense[0, 1] == 5.0
    assert dense[1, 2] == 4.0  # repeated pairs add up
    assert interactions.tocoo().nnz == 3


def test_to_sequence_worked_example_step_one():
    rows = one_user([1, 2, 3, 4, 5]).to_sequence(max_sequence_length=5, step_size=1)
    assert rows.sequences.tolist() == [
        [1, 2, 3, 4, 5],
        [0, 1, 2, 3, 4],
        [0, 0, 1, 2, 3],
        [0, 0, 0, 1, 2],
        [0, 0, 0, 0, 1],
    ]


def test_to_sequence_worked_example_step_two():
    rows = one_user([1, 2, 3, 4, 5]).to_sequence(max_sequence_length=5, step_size=2)
    assert rows.sequences.tolist() == [
        [1, 2, 3, 4, 5],
        [0, 0, 1, 2, 3],
        [0, 0, 0, 0, 1],
    ]


def test_default_step_gives_windows_that_do_not_overlap():
    rows = one_user([1, 2, 3, 4, 5]).to_sequence(max_sequence_length=2)
    assert rows.sequences.tolist() == [[4, 5], [2, 3], [0, 1]]


def test_min_sequence_length_drops_short_rows():
    rows = one_user([1, 2, 3, 4, 5]).to_sequence(
        max_sequence_length=5, min_sequence_length=3, step_size=1
    )
    assert rows.sequences.tolist() == [
        [1, 2, 3, 4, 5],
        [0, 1, 2, 3, 4],
        [0, 0, 1, 2, 3],
    ]


def test_rows_are_ordered_by_user_then_most_recent_first():
    interactions = Interactions(
        [2, 0, 2, 0, 1], [1, 2, 3, 4, 5], timestamps=[9, 2, 1, 1, 0]
    )
    rows = interactions.to_sequence(max_sequence_length=1)
    assert rows.user_ids.tolist() == [0, 0, 1, 2, 2]
    assert rows.sequences[:, 0].tolist() == [2, 4, 5, 1, 3]


def test_sort_by_timestamp_is_stable_for_ties():
    interactions = Interactions([0, 0, 0], [3, 1, 2], timestamps=[5, 5, 5])
    assert interactions.to_sequence(3).sequences.tolist() == [[3, 1, 2]]


def test_to_sequence_keeps_num_items_and_mapping():
    interactions = Interactions([0, 0], [1, 2], timestamps=[0, 1], num_items=10)
    rows = interactions.to_sequence(4)
    assert rows.num_items == 10
    assert rows.max_sequence_length == 4


def test_to_sequence_refuses_item_zero_and_says_how_to_fix_it():
    with pytest.raises(ValueError, match=r"padding value.*item_ids \+ 1"):
        Interactions([0, 0], [0, 1], timestamps=[0, 1]).to_sequence()


def test_to_sequence_refuses_missing_timestamps():
    with pytest.raises(ValueError, match="needs timestamps"):
        Interactions([0, 0], [1, 2]).to_sequence()


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"max_sequence_length": 0}, ValueError),
        ({"max_sequence_length": 2.5}, TypeError),
        ({"max_sequence_length": 3, "min_sequence_length": 4}, ValueError),
        ({"step_size": 0}, ValueError),
    ],
)
def test_to_sequence_refuses_bad_lengths(arguments, error):
    with pytest.raises(error):
        one_user([1, 2, 3]).to_sequence(**arguments)


def test_sequence_interactions_attributes_and_repr():
    rows = SequenceInteractions([[0, 1, 2], [3, 4, 5]], user_ids=[0, 1])
    assert rows.num_items == 6
    assert rows.max_sequence_length == 3
    assert len(rows) == 2
    assert (
        repr(rows)
        == "<Sequence interactions dataset (2 sequences x 3 sequence length)>"
    )


@pytest.mark.parametrize(
    ("sequences", "arguments", "message"),
    [
        ([1, 2, 3], {}, "2-D"),
        ([[1, -2]], {}, "non-negative"),
        ([[1, 5]], {"num_items": 5}, "below num_items=5"),
        ([[1, 2]], {"user_ids": [0, 1]}, "one entry per sequence"),
    ],
)
def test_sequence_interactions_refuse_bad_input(sequences, arguments, message):
    with pytest.raises(ValueError, match=message):
        SequenceInteractions(sequences, **arguments)


@st.composite
def logs(draw):
    size = draw(st.integers(1, 60))
    users = draw(st.lists(st.integers(0, 5), min_size=size, max_size=size))
    items = draw(st.lists(st.integers(1, 30), min_size=size, max_size=size))
    stamps = draw(st.lists(st.integers(0, 10), min_size=size, max_size=size))
    return Interactions(users, items, timestamps=stamps)


def expected_histories(interactions):
    """Each user's items in stable (timestamp, row) order, computed per user."""
    histories = {}
    for user in np.unique(interactions.user_ids):
        rows = np.flatnonzero(interactions.user_ids == user)
        rows = rows[np.argsort(interactions.timestamps[rows], kind="stable")]
        histories[int(user)] = interactions.item_ids[rows].tolist()
    return histories


@settings(max_examples=60, deadline=None)
@given(logs(), st.integers(1, 8))
def test_without_overlap_every_interaction_appears_once_in_time_order(log, length):
    rows = log.to_sequence(max_sequence_length=length)
    for user, history in expected_histories(log).items():
        windows = rows.sequences[rows.user_ids == user]
        # most recent window first: reversing the rows restores time order
        items = [item for row in windows[::-1] for item in row if item != 0]
        assert items == history


@settings(max_examples=60, deadline=None)
@given(logs(), st.integers(1, 8), st.integers(1, 8))
def test_rows_are_left_padded_and_never_empty(log, length, step):
    sequences = log.to_sequence(max_sequence_length=length, step_size=step).sequences
    real = sequences != 0
    assert real.any(axis=1).all()
    # once a real item appears, no padding follows it
    assert (np.diff(real.astype(int), axis=1) >= 0).all()


@settings(max_examples=60, deadline=None)
@given(logs(), st.integers(1, 8), st.integers(1, 8))
def test_consecutive_windows_of_a_user_are_shifted_by_step_size(log, length, step):
    rows = log.to_sequence(max_sequence_length=length, step_size=step)
    for user, history in expected_histories(log).items():
        windows = rows.sequences[rows.user_ids == user]
        for rank, window in enumerate(windows):
            end = len(history) - rank * step
            expected = history[max(end - length, 0) : end]
            assert window[length - len(expected) :].tolist() == expected
            assert (window[: length - len(expected)] == 0).all()


@settings(max_examples=40, deadline=None)
@given(logs(), st.integers(1, 8), st.integers(1, 8))
def test_min_sequence_length_keeps_exactly_the_long_enough_rows(log, length, minimum):
    minimum = min(minimum, length)
    every = log.to_sequence(max_sequence_length=length, step_size=1)
    kept = log.to_sequence(
        max_sequence_length=length, min_sequence_length=minimum, step_size=1
    )
    long_enough = (every.sequences != 0).sum(axis=1) >= minimum
    assert np.array_equal(kept.sequences, every.sequences[long_enough])
