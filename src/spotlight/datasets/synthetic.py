"""Synthetic sequential data from a Markov chain over items.

Useful to check that a sequence model learns: with a low concentration
parameter each item is followed by a few likely successors, so the next item
is predictable; with a high one, sequences are close to random.
"""

from __future__ import annotations

import numpy as np

from spotlight._validation import (
    RandomStateLike,
    check_float,
    check_int,
    check_random_state,
    draw_integers,
)
from spotlight.interactions import Interactions

__all__ = ["generate_sequential"]

_SINKHORN_ROUNDS = 100
_SINKHORN_TOLERANCE = 1e-3


def _doubly_stochastic(matrix: np.ndarray) -> np.ndarray:
    """Rescale rows and columns in turn until both sum to one (Sinkhorn)."""
    # A floor keeps every column reachable, so no column sum is zero.
    matrix = np.maximum(matrix, 1e-12)
    for _ in range(_SINKHORN_ROUNDS):
        matrix /= matrix.sum(axis=0, keepdims=True)
        matrix /= matrix.sum(axis=1, keepdims=True)
        if np.abs(matrix.sum(axis=0) - 1.0).max() < _SINKHORN_TOLERANCE:
            break
    return matrix


def _transition_matrix(num_states: int, concentration: float, random_state):
    """Dirichlet rows, made doubly stochastic so every state stays visited."""
    alphas = np.full(num_states, concentration)
    rows = random_state.dirichlet(alphas, size=num_states)
    rows = np.nan_to_num(rows, nan=0.0)
    return _doubly_stochastic(rows)


def _walk(
    transitions: np.ndarray, num_steps: int, order: int, random_state
) -> np.ndarray:
    """Walk the chain: each step draws from the mean of the rows of the
    last ``order`` states."""
    num_states = len(transitions)
    cumulative = np.cumsum(transitions, axis=1)
    state = list(draw_integers(random_state, 0, num_states, size=order))
    uniforms = (
        random_state.random_sample(num_steps)
        if isinstance(random_state, np.random.RandomState)
        else random_state.random(num_steps)
    )
    walk = np.empty(num_steps, dtype=np.int64)
    for step, uniform in enumerate(uniforms):
        row = cumulative[state].mean(axis=0)
        following = min(int(np.searchsorted(row, uniform)), num_states - 1)
        walk[step] = following
        state = [*state[1:], following]
    return walk


def generate_sequential(
    num_users: int = 100,
    num_items: int = 1000,
    num_interactions: int = 10000,
    concentration_parameter: float = 0.1,
    order: int = 3,
    random_state: RandomStateLike = None,
) -> Interactions:
    """Generate interactions whose items follow a Markov chain.

    One chain of the given order walks over items ``1 .. num_items - 1``: the
    next item is drawn from the average of the transition rows of the last
    ``order`` items. Each transition row is a Dirichlet draw with the given
    concentration, and the matrix is rescaled to be doubly stochastic. The
    walk is cut into consecutive pieces, one per user (users drawn at random
    and sorted), and the timestamp of an interaction is its step number.

    Parameters
    ----------
    num_users : int, default 100
    num_items : int, default 1000
        Number of item ids, padding ``0`` included; items are
        ``1 .. num_items - 1``.
    num_interactions : int, default 10000
    concentration_parameter : float, default 0.1
        Dirichlet concentration: low gives predictable sequences, high
        near-random ones.
    order : int, default 3
        How many previous items the next one depends on.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator

    Returns
    -------
    Interactions
        With ratings of 1 and timestamps ``0 .. num_interactions - 1``.

    Examples
    --------
    >>> log = generate_sequential(num_users=10, num_items=50,
    ...                           num_interactions=200, random_state=0)
    >>> log
    <Interactions dataset (10 users x 50 items x 200 interactions)>
    """
    num_users = check_int("num_users", num_users, minimum=1)
    num_items = check_int("num_items", num_items, minimum=3)
    num_interactions = check_int("num_interactions", num_interactions, minimum=1)
    concentration_parameter = check_float(
        "concentration_parameter",
        concentration_parameter,
        minimum=0.0,
        inclusive=False,
    )
    order = check_int("order", order, minimum=1)
    random_state = check_random_state(random_state)

    transitions = _transition_matrix(
        num_items - 1, concentration_parameter, random_state
    )
    user_ids = np.sort(draw_integers(random_state, 0, num_users, size=num_interactions))
    item_ids = _walk(transitions, num_interactions, order, random_state) + 1
    return Interactions(
        user_ids,
        item_ids,
        ratings=np.ones(num_interactions, dtype=np.float32),
        timestamps=np.arange(num_interactions),
        num_users=num_users,
        num_items=num_items,
    )
