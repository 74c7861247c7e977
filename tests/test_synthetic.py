"""Specification of the synthetic Markov-chain data."""

import itertools

import numpy as np
import pytest

from spotlight.datasets.synthetic import generate_sequential


def transition_entropy(log):
    """Mean entropy (nats) of the empirical next-item distributions."""
    items = log.item_ids
    counts = {}
    for current, following in itertools.pairwise(items):
        counts.setdefault(current, []).append(following)
    entropies = []
    for followers in counts.values():
        _, frequency = np.unique(followers, return_counts=True)
        p = frequency / frequency.sum()
        entropies.append(-(p * np.log(p)).sum())
    return float(np.mean(entropies))


def test_shape_and_defaults():
    log = generate_sequential(random_state=0)
    assert len(log) == 10000
    assert (log.num_users, log.num_items) == (100, 1000)
    assert log.item_ids.min() >= 1
    assert log.item_ids.max() <= 999
    assert np.array_equal(log.timestamps, np.arange(10000))
    assert np.all(np.diff(log.user_ids) >= 0)  # users hold consecutive pieces


def test_same_seed_same_data():
    a = generate_sequential(num_items=50, num_interactions=500, random_state=4)
    b = generate_sequential(num_items=50, num_interactions=500, random_state=4)
    assert np.array_equal(a.item_ids, b.item_ids)
    assert np.array_equal(a.user_ids, b.user_ids)


def test_low_concentration_is_more_predictable_than_high():
    arguments = {"num_items": 50, "num_interactions": 5000, "order": 1}
    predictable = generate_sequential(
        concentration_parameter=0.01, random_state=1, **arguments
    )
    noisy = generate_sequential(
        concentration_parameter=100, random_state=1, **arguments
    )
    # 49 items: a uniform next item has entropy log(49) = 3.9 nats
    assert transition_entropy(predictable) < 1.5
    assert transition_entropy(noisy) > 3.0


def test_every_item_is_reachable():
    log = generate_sequential(
        num_items=20,
        num_interactions=20000,
        concentration_parameter=0.5,
        random_state=2,
    )
    assert set(log.item_ids.tolist()) == set(range(1, 20))


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"num_items": 2}, ValueError),
        ({"concentration_parameter": 0.0}, ValueError),
        ({"order": 0}, ValueError),
        ({"num_users": 1.5}, TypeError),
    ],
)
def test_bad_arguments_are_refused(arguments, error):
    with pytest.raises(error):
        generate_sequential(**arguments)
