"""Loss functions (spotlight.losses): Spotlight's formulas and the new losses.

Expected values are computed by hand with ``math`` from the formulas in the
module's documentation; float32 tensors are compared with ``atol=1e-6``
unless a test says otherwise.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from spotlight import losses

pytestmark = pytest.mark.usefixtures("single_thread")

ATOL = 1e-6


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def tensor(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def assert_close(actual: torch.Tensor, expected: float, atol: float = ATOL) -> None:
    assert actual.dim() == 0, f"a loss must be a scalar, got shape {actual.shape}"
    assert abs(actual.item() - expected) <= atol, (actual.item(), expected)


PAIRWISE = [losses.pointwise_loss, losses.bpr_loss, losses.hinge_loss]

# Scores small enough that every loss stays finite and exact in float32.
scores = st.lists(
    st.floats(-8.0, 8.0, allow_nan=False, width=32), min_size=2, max_size=12
)


# --- Spotlight's losses -------------------------------------------------------


def test_pointwise_loss_is_one_minus_sigmoid_positive_plus_sigmoid_negative():
    positive, negative = [0.0, 2.0, -1.5], [0.0, -1.0, 0.5]
    expected = sum(
        (1 - sigmoid(p)) + sigmoid(n) for p, n in zip(positive, negative, strict=True)
    ) / len(positive)

    assert_close(losses.pointwise_loss(tensor(positive), tensor(negative)), expected)


def test_bpr_loss_is_one_minus_sigmoid_of_the_difference():
    positive, negative = [0.0, 2.0, -1.5], [0.0, -1.0, 0.5]
    expected = sum(
        1 - sigmoid(p - n) for p, n in zip(positive, negative, strict=True)
    ) / len(positive)

    assert_close(losses.bpr_loss(tensor(positive), tensor(negative)), expected)


def test_hinge_loss_is_max_of_zero_and_one_minus_margin():
    # margins p - n: 2 (no loss), 0.5 (loss 0.5), -1 (loss 2)
    positive, negative = [2.0, 0.5, -0.5], [0.0, 0.0, 0.5]

    assert_close(losses.hinge_loss(tensor(positive), tensor(negative)), 2.5 / 3)


def test_adaptive_hinge_uses_the_highest_of_negatives_stacked_on_dim_0():
    positive = tensor([1.0, 0.0])
    # three negatives for each of the two positions, stacked on dim 0
    negatives = tensor([[0.5, -2.0], [-1.0, 0.2], [0.0, -3.0]])
    # hardest negatives: 0.5 and 0.2 -> hinge 0.5 and 1.2
    expected = (max(0.0, 1 - 1.0 + 0.5) + max(0.0, 1 - 0.0 + 0.2)) / 2

    assert_close(losses.adaptive_hinge_loss(positive, negatives), expected)


def test_adaptive_hinge_with_one_negative_equals_hinge():
    positive, negative = tensor([0.3, -0.7, 1.5]), tensor([0.1, 0.4, -2.0])

    adaptive = losses.adaptive_hinge_loss(positive, negative.unsqueeze(0))

    assert_close(adaptive, losses.hinge_loss(positive, negative).item())


@pytest.mark.parametrize("loss", PAIRWISE, ids=lambda f: f.__name__)
def test_pairwise_loss_is_the_mean_over_unmasked_positions_only(loss):
    positive, negative = tensor([0.5, -1.0, 2.0, 0.0]), tensor([0.0, 1.0, -1.0, 3.0])
    mask = torch.tensor([True, False, True, False])

    masked = loss(positive, negative, mask=mask)

    assert_close(masked, loss(positive[mask], negative[mask]).item())


def test_masked_mean_divides_by_the_number_of_unmasked_positions_not_all():
    # hinge of these positions: 1, 3 (masked), 0 -> mean over unmasked 0.5
    positive, negative = tensor([0.0, -1.0, 5.0]), tensor([0.0, 1.0, 0.0])
    mask = torch.tensor([True, False, True])

    assert_close(losses.hinge_loss(positive, negative, mask=mask), 0.5)


@pytest.mark.parametrize("loss", PAIRWISE, ids=lambda f: f.__name__)
def test_pairwise_losses_accept_a_batch_by_length_layout(loss):
    positive = torch.linspace(-2, 2, 12).reshape(3, 4)
    negative = torch.linspace(1, -1, 12).reshape(3, 4)

    value = loss(positive, negative)

    assert_close(value, loss(positive.flatten(), negative.flatten()).item())


@settings(max_examples=25, deadline=None)
@given(data=st.data(), values=scores)
def test_spotlight_losses_are_non_negative_and_ignore_masked_positions(data, values):
    positive = tensor(values)
    negative = tensor(data.draw(st.permutations(values)))
    mask = torch.tensor(
        data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    )
    changed = torch.where(mask, negative, negative + 100.0)  # only masked ones move
    stacked = torch.stack((negative, negative.flip(0)))

    for loss in PAIRWISE:
        value = loss(positive, negative, mask=mask)
        assert value.item() >= 0.0
        assert loss(positive, changed, mask=mask).item() == pytest.approx(
            value.item(), abs=ATOL
        ), loss.__name__
    adaptive = losses.adaptive_hinge_loss(positive, stacked, mask=mask)
    moved = losses.adaptive_hinge_loss(
        positive, torch.where(mask, stacked, stacked + 100.0), mask=mask
    )
    assert adaptive.item() >= 0.0
    assert moved.item() == pytest.approx(adaptive.item(), abs=ATOL)


# --- BCE and gBCE -------------------------------------------------------------


def test_bce_loss_is_softplus_of_minus_positive_plus_sum_of_softplus_negatives():
    positive = [0.5, -1.0]
    negatives = [[0.0, 1.0, -2.0], [0.3, -0.3, 2.0]]
    expected = sum(
        softplus(-p) + sum(softplus(n) for n in row)
        for p, row in zip(positive, negatives, strict=True)
    ) / len(positive)

    assert_close(losses.bce_loss(tensor(positive), tensor(negatives)), expected, 1e-5)


@settings(max_examples=20, deadline=None)
@given(values=scores)
def test_bce_equals_gbce_with_beta_one(values):
    positive = tensor(values)
    negatives = torch.stack((positive.flip(0), positive * 0.5), dim=-1)

    bce = losses.bce_loss(positive, negatives)

    assert bce.item() == pytest.approx(
        losses.gbce_loss(positive, negatives, beta=1.0).item(), abs=1e-5
    )


def test_gbce_weights_the_positive_term_by_beta():
    positive, negatives = tensor([0.5, -1.0]), tensor([[0.0, 1.0], [2.0, -2.0]])
    beta = 0.3
    expected = (
        beta * softplus(-0.5)
        + softplus(0.0)
        + softplus(1.0)
        + beta * softplus(1.0)
        + softplus(2.0)
        + softplus(-2.0)
    ) / 2

    value = losses.gbce_loss(positive, negatives, beta=beta)

    assert_close(value, expected, 1e-5)


def test_gbce_negative_mask_drops_accidental_hits():
    positive, negatives = tensor([0.5]), tensor([[0.0, 1.0, -1.0]])
    keep = torch.tensor([[True, False, True]])

    masked = losses.gbce_loss(positive, negatives, negative_mask=keep, beta=0.5)
    without = losses.gbce_loss(positive, tensor([[0.0, -1.0]]), beta=0.5)

    assert_close(masked, without.item())


def test_gbce_stays_finite_for_extreme_scores():
    value = losses.gbce_loss(tensor([-200.0, 200.0]), tensor([[200.0], [-200.0]]))

    assert math.isfinite(value.item()), "softplus keeps extreme scores finite"


@pytest.mark.parametrize("num_negatives", [1, 5, 50])
def test_gbce_beta_with_calibration_zero_is_one(num_negatives):
    assert losses.gbce_beta(num_negatives, 100, 0.0) == pytest.approx(1.0, abs=1e-12)


def test_gbce_beta_with_calibration_one_is_the_sampling_rate():
    # 100 item ids = padding + 99 real items; a positive's negatives come from
    # the 98 other real items, so alpha = 5 / 98 (gSASRec's k / (|I| - 1)).
    assert losses.gbce_beta(5, 100, 1.0) == pytest.approx(5 / 98, rel=1e-12)


def test_gbce_beta_follows_the_gsasrec_formula_between():
    alpha, t = 5 / 98, 0.75
    expected = alpha * (t * (1 - 1 / alpha) + 1 / alpha)

    assert losses.gbce_beta(5, 100, t) == pytest.approx(expected, rel=1e-12)


def test_gbce_beta_is_one_when_every_other_item_is_sampled():
    assert losses.gbce_beta(500, 100, 0.75) == pytest.approx(1.0, abs=1e-12)


# --- Sampled softmax ----------------------------------------------------------


def test_sampled_softmax_is_cross_entropy_of_positive_against_negatives():
    positive, negatives = tensor([1.0, -0.5]), tensor([[0.0, 2.0], [0.5, -1.0]])
    expected = (
        sum(
            math.log(math.exp(p) + sum(math.exp(n) for n in row)) - p
            for p, row in zip([1.0, -0.5], [[0.0, 2.0], [0.5, -1.0]], strict=True)
        )
        / 2
    )

    value = losses.sampled_softmax_loss(positive, negatives)

    assert_close(value, expected, 1e-5)


def test_sampled_softmax_subtracts_log_sampling_probabilities():
    positive, negatives = tensor([1.0]), tensor([[0.0, 2.0]])
    log_q_positive, log_q_negatives = tensor([-1.0]), tensor([-3.0, -0.5])
    logits = [1.0 + 1.0, 0.0 + 3.0, 2.0 + 0.5]  # s - log q
    expected = math.log(sum(math.exp(x) for x in logits)) - logits[0]

    value = losses.sampled_softmax_loss(
        positive,
        negatives,
        positive_log_probabilities=log_q_positive,
        negative_log_probabilities=log_q_negatives,
    )

    assert_close(value, expected, 1e-5)


def test_sampled_softmax_with_uniform_sampling_needs_no_correction():
    positive, negatives = tensor([1.0, 0.2]), tensor([0.0, 2.0, -1.0])
    log_q = math.log(1 / 99)

    corrected = losses.sampled_softmax_loss(
        positive,
        negatives,
        positive_log_probabilities=torch.full((2,), log_q),
        negative_log_probabilities=torch.full((3,), log_q),
    )

    assert_close(corrected, losses.sampled_softmax_loss(positive, negatives).item())


def test_sampled_softmax_accepts_negatives_shared_by_all_positions():
    positive, shared = tensor([1.0, -0.5, 0.0]), tensor([0.3, -0.2])

    value = losses.sampled_softmax_loss(positive, shared)

    per_position = losses.sampled_softmax_loss(positive, shared.expand(3, 2))
    assert_close(value, per_position.item())


@settings(max_examples=25, deadline=None)
@given(data=st.data(), values=scores)
def test_sampled_softmax_masked_negative_does_not_change_the_loss(data, values):
    positive = tensor(values[:1])
    negatives = tensor(values).unsqueeze(0)  # (1, n)
    hit = data.draw(st.integers(0, len(values) - 1))
    keep = torch.ones_like(negatives, dtype=torch.bool)
    keep[0, hit] = False
    rest = torch.cat((negatives[:, :hit], negatives[:, hit + 1 :]), dim=1)

    masked = losses.sampled_softmax_loss(positive, negatives, negative_mask=keep)
    moved = negatives.clone()
    moved[0, hit] += 50.0

    assert masked.item() >= 0.0
    assert masked.item() == pytest.approx(
        losses.sampled_softmax_loss(positive, rest).item(), abs=1e-5
    )
    assert losses.sampled_softmax_loss(
        positive, moved, negative_mask=keep
    ).item() == pytest.approx(masked.item(), abs=1e-5)


def test_sampled_softmax_with_every_negative_masked_is_zero():
    value = losses.sampled_softmax_loss(
        tensor([0.7]), tensor([[1.0, 2.0]]), negative_mask=torch.zeros(1, 2).bool()
    )

    assert_close(value, 0.0)


# --- Full softmax -------------------------------------------------------------


def test_softmax_loss_excludes_the_padding_column():
    logits = tensor([[5.0, 1.0, 2.0, 0.0], [-3.0, 0.0, 0.0, 1.0]])
    targets = torch.tensor([2, 3])
    expected = (
        sum(
            math.log(sum(math.exp(x) for x in row[1:])) - row[target]
            for row, target in zip(logits.tolist(), [2, 3], strict=True)
        )
        / 2
    )

    assert_close(losses.softmax_loss(logits, targets), expected, 1e-5)


def test_softmax_loss_ignores_the_padding_score():
    logits = tensor([[0.0, 1.0, 2.0, 0.0]])
    raised = logits.clone()
    raised[0, 0] = 100.0
    targets = torch.tensor([1])

    assert_close(
        losses.softmax_loss(raised, targets),
        losses.softmax_loss(logits, targets).item(),
    )


def test_softmax_loss_without_padding_column_is_plain_cross_entropy():
    logits = tensor([[5.0, 1.0, 2.0], [-3.0, 0.0, 1.0]])
    targets = torch.tensor([0, 2])

    value = losses.softmax_loss(logits, targets, padding_column=False)

    assert_close(value, F.cross_entropy(logits, targets).item())


def test_softmax_loss_column_layouts_agree():
    # column j of the no-padding layout is item j + 1 of the padded layout
    real = tensor([[0.5, -1.0, 2.0], [1.0, 1.0, 0.0]])
    padded = torch.cat((torch.zeros(2, 1), real), dim=1)
    items = torch.tensor([3, 1])

    with_padding = losses.softmax_loss(padded, items)
    without = losses.softmax_loss(real, items - 1, padding_column=False)

    assert_close(with_padding, without.item())


def test_softmax_loss_is_the_mean_over_unmasked_positions():
    logits = torch.linspace(-1, 1, 24).reshape(2, 3, 4)
    targets = torch.tensor([[1, 2, 3], [3, 2, 1]])
    mask = torch.tensor([[True, False, True], [False, False, True]])

    value = losses.softmax_loss(logits, targets, mask=mask)

    assert_close(value, losses.softmax_loss(logits[mask], targets[mask]).item())


@settings(max_examples=20, deadline=None)
@given(data=st.data(), values=scores)
def test_sampled_losses_are_non_negative_and_ignore_masked_positions(data, values):
    positive = tensor(values)
    negatives = torch.stack((positive.flip(0), positive - 1.0), dim=-1)
    mask = torch.tensor(
        data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    )
    moved = torch.where(mask.unsqueeze(-1), negatives, negatives + 30.0)
    logits = torch.cat((torch.zeros(len(values), 1), negatives), dim=-1)
    moved_logits = torch.cat((torch.zeros(len(values), 1), moved), dim=-1)
    targets = torch.ones(len(values), dtype=torch.long)

    pairs = [
        (
            losses.bce_loss(positive, negatives, mask=mask),
            losses.bce_loss(positive, moved, mask=mask),
        ),
        (
            losses.gbce_loss(positive, negatives, mask=mask, beta=0.3),
            losses.gbce_loss(positive, moved, mask=mask, beta=0.3),
        ),
        (
            losses.sampled_softmax_loss(positive, negatives, mask=mask),
            losses.sampled_softmax_loss(positive, moved, mask=mask),
        ),
        (
            losses.softmax_loss(logits, targets, mask=mask),
            losses.softmax_loss(moved_logits, targets, mask=mask),
        ),
    ]
    for value, with_masked_moved in pairs:
        assert value.item() >= 0.0
        assert with_masked_moved.item() == pytest.approx(value.item(), abs=1e-4)
