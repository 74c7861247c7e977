"""Negative sampling (spotlight.sampling): uniform and popularity samplers.

Frequencies are estimated from 200,000 draws with fixed seeds; a frequency's
standard error is then at most 0.0012, and the tolerances below are stated
beside each assertion.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spotlight.sampling import PopularitySampler, UniformSampler, sample_items

pytestmark = pytest.mark.usefixtures("single_thread")

DRAWS = 200_000


@contextmanager
def seeded(seed: int):
    """Seed PyTorch's generator for the block, restoring the global state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def frequencies(draws: torch.Tensor, num_items: int) -> np.ndarray:
    return np.bincount(draws.flatten().numpy(), minlength=num_items) / draws.numel()


# --- sample_items (Spotlight's NumPy sampler) -------------------------------


def test_sample_items_draws_ids_in_range_with_the_given_shape():
    items = sample_items(10, (50, 4), random_state=0)

    assert items.shape == (50, 4)
    assert items.min() >= 0 and items.max() < 10


def test_sample_items_is_reproducible_with_a_seed():
    assert np.array_equal(sample_items(100, 20, 7), sample_items(100, 20, 7))


def test_sample_items_accepts_a_generator():
    items = sample_items(5, 1000, random_state=np.random.default_rng(0))

    assert set(items.tolist()) == {0, 1, 2, 3, 4}


def test_sample_items_refuses_an_empty_catalogue():
    with pytest.raises(ValueError, match="num_items"):
        sample_items(0, 3)


# --- UniformSampler -------------------------------------------------------------


def test_uniform_sampler_never_draws_padding_and_covers_every_item():
    with seeded(0):
        draws = UniformSampler(20).sample((DRAWS,))

    share = frequencies(draws, 20)
    assert share[0] == 0.0
    # every real item 1/19 = 0.0526; 0.005 is more than four standard errors
    assert np.abs(share[1:] - 1 / 19).max() < 0.005


def test_uniform_sampler_returns_the_requested_shape_and_dtype():
    with seeded(0):
        draws = UniformSampler(20).sample((3, 4, 5))

    assert draws.shape == (3, 4, 5)
    assert draws.dtype == torch.int64


@settings(max_examples=30, deadline=None)
@given(
    num_items=st.integers(3, 40),
    data=st.data(),
)
def test_uniform_sampler_with_exclude_never_returns_the_excluded_id(num_items, data):
    exclude = torch.tensor(
        data.draw(st.lists(st.integers(1, num_items - 1), min_size=1, max_size=8))
    ).unsqueeze(-1)
    seed = data.draw(st.integers(0, 2**16))

    with seeded(seed):
        draws = UniformSampler(num_items).sample((len(exclude), 50), exclude=exclude)

    assert (draws != exclude).all()
    assert draws.min() >= 1 and draws.max() <= num_items - 1


def test_uniform_sampler_with_exclude_is_uniform_over_the_other_items():
    with seeded(1):
        draws = UniformSampler(12).sample((DRAWS,), exclude=torch.tensor(5))

    share = frequencies(draws, 12)
    others = np.delete(share, [0, 5])
    assert share[5] == 0.0
    # 10 remaining items at 0.1 each; 0.005 is four standard errors
    assert np.abs(others - 0.1).max() < 0.005


def test_uniform_sampler_log_probability_is_minus_log_of_real_items():
    sampler = UniformSampler(101)

    log_q = sampler.log_probabilities(torch.tensor([1, 50, 100]))

    assert torch.allclose(log_q, torch.full((3,), -math.log(100)))


def test_uniform_sampler_draws_are_reproducible_from_torch_seed():
    sampler = UniformSampler(50)
    with seeded(3):
        first = sampler.sample((100,))
    with seeded(3):
        second = sampler.sample((100,))

    assert torch.equal(first, second)


def test_sampler_refuses_a_catalogue_without_two_real_items():
    with pytest.raises(ValueError, match="num_items"):
        UniformSampler(2)


# --- PopularitySampler ----------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.5, 0.75, 1.0])
def test_popularity_sampler_frequencies_follow_counts_to_the_alpha(alpha):
    # Large counts, so that the "+1" which keeps unseen items drawable shifts
    # no weight by more than 0.1%.
    counts = np.array([0, 1000, 4000, 16000, 64000, 2000])
    expected = counts.astype(float) ** alpha
    expected /= expected.sum()

    with seeded(0):
        draws = PopularitySampler(counts, alpha=alpha).sample((DRAWS,))

    # 0.005 absolute is above four standard errors for every item
    assert np.abs(frequencies(draws, len(counts)) - expected).max() < 0.005


def test_popularity_sampler_with_alpha_zero_is_uniform_over_real_items():
    with seeded(0):
        draws = PopularitySampler([0, 5, 500, 50000], alpha=0.0).sample((DRAWS,))

    share = frequencies(draws, 4)
    assert share[0] == 0.0
    assert np.abs(share[1:] - 1 / 3).max() < 0.006  # five standard errors


def test_popularity_sampler_ignores_the_padding_count():
    with seeded(0):
        draws = PopularitySampler([10**6, 1, 1, 1], alpha=1.0).sample((10_000,))

    assert (draws != 0).all()


def test_popularity_sampler_log_probabilities_match_its_frequencies():
    counts = np.array([0, 10, 40, 90, 300])
    sampler = PopularitySampler(counts, alpha=0.75)
    with seeded(0):
        draws = sampler.sample((DRAWS,))

    q = sampler.log_probabilities(torch.arange(1, 5)).exp().numpy()

    assert q.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.abs(frequencies(draws, 5)[1:] - q).max() < 0.005


def test_popularity_sampler_exclude_redraws_hits_on_the_positive():
    # item 1 has probability 0.6; one draw would hit it 60% of the time
    counts = np.array([0, 600, 100, 100, 100, 100])
    sampler = PopularitySampler(counts, alpha=1.0)
    with seeded(0):
        draws = sampler.sample((DRAWS,), exclude=torch.tensor(1))

    hits = (draws == 1).float().mean().item()
    # redrawing at least twice leaves at most 0.6 ** 3 = 0.216 of hits
    assert hits < 0.6**3


def test_popularity_sampler_draws_are_reproducible_from_torch_seed():
    sampler = PopularitySampler(np.arange(20), alpha=0.75)
    with seeded(5):
        first = sampler.sample((4, 6))
    with seeded(5):
        second = sampler.sample((4, 6))

    assert torch.equal(first, second)


@pytest.mark.parametrize(
    "counts",
    [
        [[1, 2, 3], [4, 5, 6]],  # 2-D
        [1, 2],  # no two real items
        [0, -1, 3, 4],  # negative count
        [0, float("nan"), 3, 4],
    ],
    ids=["2-D", "too-short", "negative", "nan"],
)
def test_popularity_sampler_refuses_bad_counts(counts):
    with pytest.raises(ValueError, match="item_counts"):
        PopularitySampler(counts)


def test_popularity_sampler_refuses_a_negative_alpha():
    with pytest.raises(ValueError, match="alpha"):
        PopularitySampler([0, 1, 2, 3], alpha=-0.5)
