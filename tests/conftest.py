"""Shared fixtures of the model-layer tests: small synthetic data, fixed seeds."""

from __future__ import annotations

import pytest
import torch

from spotlight.datasets.synthetic import generate_sequential

SMALL_NUM_ITEMS = 30
"""Item ids of the small log, padding included."""


@pytest.fixture(scope="module")
def single_thread():
    """Run a module's tests with one PyTorch thread, restoring the setting.

    The tensors here are tiny; on a shared machine a second thread costs more
    in synchronisation than it gains.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def small_log():
    """A learnable log: 20 users, items 1..29, 600 interactions, seed 0."""
    return generate_sequential(
        num_users=20,
        num_items=SMALL_NUM_ITEMS,
        num_interactions=600,
        concentration_parameter=0.05,
        order=2,
        random_state=0,
    )


@pytest.fixture(scope="session")
def small_sequences(small_log):
    """The small log cut into left-padded rows of 10 items."""
    return small_log.to_sequence(max_sequence_length=10)
