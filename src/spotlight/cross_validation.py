"""Train/test splits of :class:`~spotlight.interactions.Interactions`.

All splits keep the number of users and items and the id mapping of their
input, so that a model fitted on one part can score the others.
"""

from __future__ import annotations

import numpy as np

from spotlight._hashing import murmurhash3_32
from spotlight._validation import (
    RandomStateLike,
    check_float,
    check_random_state,
    draw_integers,
)
from spotlight.interactions import Interactions

__all__ = [
    "leave_last_out_split",
    "random_train_test_split",
    "shuffle_interactions",
    "user_based_train_test_split",
]


def _check_interactions(interactions: Interactions) -> None:
    if not isinstance(interactions, Interactions):
        raise TypeError(
            "interactions must be a spotlight.interactions.Interactions, got "
            f"{type(interactions).__name__}"
        )


def _part(interactions: Interactions, indices: np.ndarray, name: str) -> Interactions:
    """Return ``interactions.subset(indices)``, refusing an empty part."""
    indices = np.asarray(indices)
    size = np.count_nonzero(indices) if indices.dtype == bool else indices.size
    if size == 0:
        raise ValueError(
            f"the {name} part of the split is empty ({len(interactions)} "
            "interactions in all); use more data or another test_percentage"
        )
    return interactions.subset(indices)


def shuffle_interactions(
    interactions: Interactions, random_state: RandomStateLike = None
) -> Interactions:
    """Return the interactions in a random order.

    Parameters
    ----------
    interactions : Interactions
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    Interactions
    """
    _check_interactions(interactions)
    random_state = check_random_state(random_state)
    indices = np.arange(len(interactions))
    random_state.shuffle(indices)
    return interactions.subset(indices)


def random_train_test_split(
    interactions: Interactions,
    test_percentage: float = 0.2,
    random_state: RandomStateLike = None,
) -> tuple[Interactions, Interactions]:
    """Split interactions at random into train and test parts.

    The interactions are shuffled and the last ``test_percentage`` of them
    become the test part.

    Parameters
    ----------
    interactions : Interactions
    test_percentage : float, default 0.2
        Fraction of interactions in the test part, in (0, 1).
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator

    Returns
    -------
    (train, test) : tuple of Interactions
    """
    test_percentage = check_float(
        "test_percentage", test_percentage, 0.0, 1.0, inclusive=False
    )
    shuffled = shuffle_interactions(interactions, random_state=random_state)
    cutoff = int((1.0 - test_percentage) * len(shuffled))
    indices = np.arange(len(shuffled))
    return (
        _part(shuffled, indices[:cutoff], "train"),
        _part(shuffled, indices[cutoff:], "test"),
    )


def user_based_train_test_split(
    interactions: Interactions,
    test_percentage: float = 0.2,
    random_state: RandomStateLike = None,
) -> tuple[Interactions, Interactions]:
    """Split interactions by user: all of a user's interactions go to one side.

    A user goes to the test part when a seeded 32-bit MurmurHash3 of its id,
    modulo 100, falls below ``100 * test_percentage``. The fraction of test
    users is therefore approximate, and the split depends only on the user
    ids and the seed, not on the order of the rows. The seed is one integer
    drawn from ``random_state``, as in Spotlight, so the same
    ``numpy.random.RandomState`` gives Spotlight's split.

    Parameters
    ----------
    interactions : Interactions
    test_percentage : float, default 0.2
        Approximate fraction of users in the test part, in (0, 1).
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator

    Returns
    -------
    (train, test) : tuple of Interactions

    Examples
    --------
    >>> from spotlight.datasets.synthetic import generate_sequential
    >>> log = generate_sequential(num_users=100, random_state=1)
    >>> train, test = user_based_train_test_split(log, random_state=2)
    >>> set(train.user_ids.tolist()) & set(test.user_ids.tolist())
    set()
    """
    _check_interactions(interactions)
    test_percentage = check_float(
        "test_percentage", test_percentage, 0.0, 1.0, inclusive=False
    )
    random_state = check_random_state(random_state)
    seed = int(draw_integers(random_state, 0, np.iinfo(np.uint32).max))
    hashes = murmurhash3_32(interactions.user_ids, seed=seed)
    in_test = (hashes % 100) / 100.0 < test_percentage
    return (
        _part(interactions, ~in_test, "train"),
        _part(interactions, in_test, "test"),
    )


def leave_last_out_split(
    interactions: Interactions, random_state: RandomStateLike = None
) -> tuple[Interactions, Interactions, Interactions]:
    """Split each user's history in time: last item to test, one before to
    validation, the rest to train.

    This is the protocol of most published sequential-recommendation results
    (SASRec, BERT4Rec, gSASRec). Users with fewer than three interactions keep
    them all in the training part, as in those papers.

    Parameters
    ----------
    interactions : Interactions
        Must have timestamps.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Only used to order interactions of one user that share a timestamp;
        with ``None`` they keep the order of the rows.

    Returns
    -------
    (train, validation, test) : tuple of Interactions
        Validation and test hold at most one interaction per user.

    Raises
    ------
    ValueError
        If the interactions have no timestamps.
    """
    _check_interactions(interactions)
    if interactions.timestamps is None:
        raise ValueError(
            "leave_last_out_split needs timestamps to find each user's last "
            "interaction; pass timestamps=numpy.arange(len(user_ids)) to use "
            "the row order"
        )
    keys = [interactions.timestamps, interactions.user_ids]
    if random_state is not None:
        random_state = check_random_state(random_state)
        keys.insert(0, random_state.permutation(len(interactions)))
    order = np.lexsort(keys)
    users = interactions.user_ids[order]

    # Position of each interaction counted from the end of its user's history.
    is_last = np.append(users[1:] != users[:-1], True)
    user_end = np.flatnonzero(is_last)
    counts = np.diff(np.concatenate(([-1], user_end)))
    from_end = np.repeat(user_end, counts) - np.arange(len(users))
    long_enough = np.repeat(counts >= 3, counts)

    test = order[(from_end == 0) & long_enough]
    validation = order[(from_end == 1) & long_enough]
    train = order[(from_end >= 2) | ~long_enough]
    return (
        _part(interactions, np.sort(train), "train"),
        _part(interactions, np.sort(validation), "validation"),
        _part(interactions, np.sort(test), "test"),
    )
