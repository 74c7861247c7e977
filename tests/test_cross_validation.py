"""Specification of the train/test splits."""

import numpy as np
import pytest

from spotlight._hashing import murmurhash3_32
from spotlight.cross_validation import (
    leave_last_out_split,
    random_train_test_split,
    shuffle_interactions,
    user_based_train_test_split,
)
from spotlight.datasets.synthetic import generate_sequential
from spotlight.interactions import Interactions


@pytest.fixture
def log():
    return generate_sequential(
        num_users=200, num_items=50, num_interactions=4000, random_state=3
    )


def as_rows(interactions):
    return sorted(
        zip(
            interactions.user_ids.tolist(),
            interactions.item_ids.tolist(),
            interactions.timestamps.tolist(),
            strict=True,
        )
    )


def test_murmurhash_matches_reference_values():
    # Values of the reference MurmurHash3_x86_32 of the keys' 4 bytes
    # (checked against scikit-learn's murmurhash3_32 with positive=True).
    keys = np.array([0, 1, 2, 12345, -1, 2**31 - 1], dtype=np.int32)
    assert murmurhash3_32(keys, 0).tolist() == [
        593689054,
        4226891818,
        1085422463,
        638799361,
        1982413648,
        2641277762,
    ]
    assert murmurhash3_32(keys, 42).tolist() == [
        933211791,
        3735386339,
        1765031574,
        2172818868,
        2690190909,
        133916647,
    ]
    assert murmurhash3_32(keys, 4000000000).tolist() == [
        4180149334,
        3355747573,
        4231437672,
        1800735726,
        2754433179,
        2927276669,
    ]


def test_shuffle_keeps_every_interaction(log):
    shuffled = shuffle_interactions(log, random_state=1)
    assert as_rows(shuffled) == as_rows(log)
    assert not np.array_equal(shuffled.timestamps, log.timestamps)


def test_random_split_sizes_and_partition(log):
    train, test = random_train_test_split(log, test_percentage=0.25, random_state=1)
    assert len(train) == int(0.75 * len(log))
    assert sorted(as_rows(train) + as_rows(test)) == as_rows(log)
    assert train.num_items == test.num_items == log.num_items


def test_user_split_puts_each_user_on_one_side(log):
    train, test = user_based_train_test_split(log, random_state=1)
    assert not set(train.user_ids.tolist()) & set(test.user_ids.tolist())
    assert sorted(as_rows(train) + as_rows(test)) == as_rows(log)


def test_user_split_fraction_is_approximate(log):
    _, test = user_based_train_test_split(log, test_percentage=0.3, random_state=5)
    fraction = len(np.unique(test.user_ids)) / len(np.unique(log.user_ids))
    assert abs(fraction - 0.3) < 0.1  # 200 users: binomial sd about 0.03


def test_user_split_does_not_depend_on_row_order(log):
    shuffled = shuffle_interactions(log, random_state=9)
    _, test_a = user_based_train_test_split(log, random_state=np.random.RandomState(4))
    _, test_b = user_based_train_test_split(
        shuffled, random_state=np.random.RandomState(4)
    )
    assert as_rows(test_a) == as_rows(test_b)


def test_user_split_follows_spotlights_rule():
    # Spotlight draws one uint32 seed from the RandomState, hashes user ids
    # with MurmurHash3 and sends a user to test when hash % 100 / 100 < p.
    users = np.arange(1000, dtype=np.int32)
    log = Interactions(users, np.ones(1000, dtype=np.int32))
    _, test = user_based_train_test_split(log, random_state=np.random.RandomState(100))
    seed = np.random.RandomState(100).randint(0, 2**32 - 1, dtype=np.int64)
    expected = users[(murmurhash3_32(users, int(seed)) % 100) / 100.0 < 0.2]
    assert test.user_ids.tolist() == expected.tolist()


def test_int_seed_equals_random_state_with_that_seed(log):
    _, a = user_based_train_test_split(log, random_state=7)
    _, b = user_based_train_test_split(log, random_state=np.random.RandomState(7))
    assert as_rows(a) == as_rows(b)


def test_generator_is_accepted(log):
    train, test = random_train_test_split(log, random_state=np.random.default_rng(1))
    assert len(train) + len(test) == len(log)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 2])
def test_bad_test_percentage_is_refused(log, fraction):
    with pytest.raises(ValueError, match="test_percentage"):
        user_based_train_test_split(log, test_percentage=fraction)


def test_bad_random_state_is_refused(log):
    with pytest.raises(TypeError, match="random_state"):
        shuffle_interactions(log, random_state="seed")


def test_empty_part_is_refused_with_a_clear_message():
    log = Interactions([0], [1])
    with pytest.raises(ValueError, match="train part of the split is empty"):
        random_train_test_split(log, test_percentage=0.1, random_state=1)


def test_leave_last_out_takes_last_for_test_and_one_before_for_validation():
    log = Interactions(
        [0, 0, 0, 0, 1, 1, 1, 2, 2],
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        timestamps=[3, 1, 4, 2, 0, 2, 1, 0, 1],
    )
    train, validation, test = leave_last_out_split(log)
    assert sorted(zip(test.user_ids.tolist(), test.item_ids.tolist(), strict=True)) == [
        (0, 3),
        (1, 6),
    ]
    assert sorted(validation.item_ids.tolist()) == [1, 7]
    # user 2 has fewer than three interactions: all of them stay in train
    assert sorted(train.item_ids.tolist()) == [2, 4, 5, 8, 9]


def test_leave_last_out_partitions_the_log(log):
    parts = leave_last_out_split(log)
    assert sorted(row for part in parts for row in as_rows(part)) == as_rows(log)
    assert len(np.unique(parts[2].user_ids)) == len(parts[2])


def test_leave_last_out_needs_timestamps():
    with pytest.raises(ValueError, match="needs timestamps"):
        leave_last_out_split(Interactions([0, 0, 0], [1, 2, 3]))
