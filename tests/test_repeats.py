"""The learned repeat offset: where it applies, what it learns, what keeps it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from spotlight import _fused
from spotlight.interactions import SequenceInteractions
from spotlight.sampling import UniformSampler
from spotlight.sequence._objectives import Objective
from spotlight.sequence._repeats import Repeats, add_repeat_offset, repeat_offset
from spotlight.sequence.implicit import ImplicitSequenceModel
from spotlight.sequence.representations import LSTMNet, MixtureLSTMNet

pytestmark = pytest.mark.usefixtures("single_thread")

NUM_ITEMS = 10
BATCH = torch.tensor([[0, 0, 3, 5, 3], [1, 2, 1, 2, 1], [0, 7, 7, 8, 2]])
MASK = BATCH != 0


def seen_before(sequences: torch.Tensor) -> torch.Tensor:
    """Reference: bool (real positions, NUM_ITEMS), item in the row before t."""
    rows = []
    for row in sequences.tolist():
        for t, item in enumerate(row):
            if item:
                before = {earlier for earlier in row[:t] if earlier}
                rows.append([j in before for j in range(NUM_ITEMS)])
    return torch.tensor(rows)


def test_repeats_add_the_offset_exactly_where_the_item_came_before():
    offset = torch.tensor(-2.0)
    repeats = Repeats(offset, BATCH, MASK, NUM_ITEMS)
    expected = seen_before(BATCH).float() * -2.0
    positions = len(expected)
    every = torch.arange(NUM_ITEMS)
    zeros = torch.zeros(positions, NUM_ITEMS)

    shared = repeats.shared(zeros, every)
    aligned = repeats.at(zeros, every.expand(positions, -1))
    per_sequence = repeats.per_sequence(zeros, every.expand(len(BATCH), -1))
    rows, columns = repeats.fused_arguments()["offset_entries"](slice(2, positions))
    fused = torch.zeros(positions - 2, NUM_ITEMS - 1, dtype=torch.bool)
    fused[rows, columns] = True

    assert torch.equal(shared, expected)
    assert torch.equal(aligned, expected)
    assert torch.equal(per_sequence, expected)
    assert torch.equal(fused, seen_before(BATCH)[2:, 1:])
    assert len(rows) == int(fused.sum())  # each entry once, despite repeats


def test_without_an_offset_repeats_leave_the_scores_alone():
    repeats = Repeats(None, BATCH, MASK, NUM_ITEMS)
    scores = torch.randn(int(MASK.sum()), 3)

    assert repeats.at(scores, torch.ones(len(scores), 3, dtype=torch.long)) is scores
    assert repeats.fused_arguments() == {}


@pytest.mark.parametrize("network", [LSTMNet, MixtureLSTMNet])
def test_the_softmax_objective_adds_the_offset_to_every_seen_item(network, monkeypatch):
    # The LSTM takes the blockwise fused path (small blocks, several of them);
    # the mixture scores densely. Both must equal the cross-entropy of the
    # offset logits, in value and in the offset's gradient.
    monkeypatch.setattr(_fused, "_BLOCK_ELEMENTS", 5 * NUM_ITEMS)
    torch.manual_seed(0)
    net = network(NUM_ITEMS, 4)
    add_repeat_offset(net)
    with torch.no_grad():
        net.repeat_offset.fill_(-0.7)
    objective = Objective(
        net, "softmax", NUM_ITEMS, 1, UniformSampler(NUM_ITEMS), False, 0.75
    )

    loss = objective(BATCH)
    (gradient,) = torch.autograd.grad(loss, [net.repeat_offset])

    steps = net.representations(BATCH)[:, :-1][MASK]
    items = torch.arange(1, NUM_ITEMS)
    logits = (
        net.score_shared(steps, items) + net.repeat_offset * (seen_before(BATCH)[:, 1:])
    )
    expected = F.cross_entropy(logits, BATCH[MASK] - 1)
    (expected_gradient,) = torch.autograd.grad(expected, [net.repeat_offset])
    # float32: agreement within 1e-5 is rounding
    assert abs(loss.item() - expected.item()) < 1e-5
    assert abs(gradient.item() - expected_gradient.item()) < 1e-5


def test_predict_adds_the_offset_to_the_items_of_the_sequence(small_sequences):
    model = ImplicitSequenceModel(
        n_iter=1, embedding_dim=8, random_state=0, repeat_offset=True
    ).fit(small_sequences)
    rows = small_sequences.sequences[:20]
    with torch.no_grad():
        offset = float(model.network.repeat_offset)
        model.network.repeat_offset.zero_()
    plain = model.predict(rows)
    with torch.no_grad():
        model.network.repeat_offset.fill_(offset)
    candidates = np.array([1, 4, 9, 17])

    scores = model.predict(rows)
    chosen = model.predict(rows, item_ids=candidates)

    seen = np.zeros_like(plain, dtype=bool)
    np.put_along_axis(seen, rows, True, axis=1)
    seen[:, 0] = False
    # float32 scores: within 1e-6 is rounding
    assert np.abs(scores - (plain + offset * seen)).max() < 1e-6
    assert np.abs(chosen - scores[:, candidates]).max() < 1e-6


def distinct_sequences(repeats: bool) -> SequenceInteractions:
    """300 rows of 12 distinct items out of 39, or with every second item a
    repeat of the one before."""
    rng = np.random.default_rng(0)
    rows = np.stack([rng.permutation(np.arange(1, 40))[:12] for _ in range(300)])
    if repeats:
        rows[:, 1::2] = rows[:, 0::2]
    return SequenceInteractions(rows, num_items=40)


@pytest.mark.parametrize(("repeats", "sign"), [(False, -1.0), (True, 1.0)])
def test_the_offset_learns_whether_users_come_back(repeats, sign):
    rows = distinct_sequences(repeats)
    model = ImplicitSequenceModel(
        loss="softmax",
        representation="pooling",
        n_iter=3,
        batch_size=32,
        embedding_dim=8,
        learning_rate=0.05,
        random_state=0,
        repeat_offset=True,
    ).fit(rows)

    # Without repeats the offset must fall well below zero; with half the
    # positions repeating an earlier item it must rise well above.
    assert sign * model.network.repeat_offset.item() > 0.5


def test_the_offset_is_off_by_default_and_kept_by_model_files(
    tmp_path, small_sequences
):
    plain = ImplicitSequenceModel(n_iter=1, random_state=0).fit(small_sequences)
    model = ImplicitSequenceModel(n_iter=1, random_state=0, repeat_offset=True).fit(
        small_sequences
    )
    model.save(tmp_path / "model.spot")

    loaded = ImplicitSequenceModel.load(tmp_path / "model.spot")

    assert repeat_offset(plain.network) is None
    assert repeat_offset(loaded.network) is not None
    rows = small_sequences.sequences[:10]
    assert np.array_equal(loaded.predict(rows), model.predict(rows))
