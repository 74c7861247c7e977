"""Ranking metrics (spotlight.evaluation) against straightforward per-row
references: one ``model.predict`` per row, ranks from ``scipy.stats.rankdata``
over the real items ``1 .. num_items - 1`` (padding never ranked), ties
averaged. Metrics are compared within 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from spotlight import evaluation
from spotlight.cross_validation import leave_last_out_split
from spotlight.evaluation import (
    sequence_hit_rate_score,
    sequence_metrics,
    sequence_mrr_score,
    sequence_ndcg_score,
    sequence_precision_recall_score,
    sequence_target_ranks,
    target_sequences,
)
from spotlight.interactions import Interactions, SequenceInteractions
from spotlight.sequence.implicit import ImplicitSequenceModel

pytestmark = pytest.mark.usefixtures("single_thread")

TOLERANCE = 1e-9


class TiedScores:
    """A stand-in model whose scores tie often: five levels over 30 items."""

    num_items = 30

    def predict(self, sequences):
        rows = np.atleast_2d(sequences)
        items = np.arange(self.num_items)[None, :]
        scores = ((items * 7 + rows[:, -1:]) % 5).astype(np.float32)
        return scores[0] if np.ndim(sequences) == 1 else scores


class HighestIdFirst:
    """A stand-in model that scores item ``j`` as ``j``."""

    def predict(self, sequences):
        rows = np.atleast_2d(sequences)
        scores = np.tile(np.arange(30, dtype=np.float32), (len(rows), 1))
        return scores[0] if np.ndim(sequences) == 1 else scores


@pytest.fixture(scope="module")
def model(small_sequences):
    return ImplicitSequenceModel(n_iter=2, embedding_dim=8, random_state=0).fit(
        small_sequences
    )


@pytest.fixture(params=["trained", "tied"])
def any_model(request, model):
    return model if request.param == "trained" else TiedScores()


def reference_ranks(model, test, exclude_preceding=False) -> np.ndarray:
    ranks = []
    for row in test.sequences:
        context, target = row[:-1], row[-1]
        scores = np.asarray(model.predict(context), dtype=np.float64)
        if exclude_preceding:
            scores[context] = -np.inf
        ranks.append(rankdata(-scores[1:])[target - 1])  # column j is item j + 1
    return np.array(ranks)


def reference_precision_recall(model, test, k, exclude_preceding=False):
    precision, recall = [], []
    for row in test.sequences:
        context, targets = row[:-k], row[-k:]
        scores = np.asarray(model.predict(context), dtype=np.float64)
        scores[0] = -np.inf
        if exclude_preceding:
            scores[context] = -np.inf
        top = set(np.argsort(-scores, kind="stable")[:k].tolist())
        real = targets[targets != 0]
        hits = len(top & set(real.tolist()))
        precision.append(hits / k)
        recall.append(hits / max(len(real), 1))
    return np.array(precision), np.array(recall)


@pytest.mark.parametrize("exclude_preceding", [False, True])
def test_mrr_equals_the_per_row_reference(
    any_model, small_sequences, exclude_preceding
):
    expected = 1.0 / reference_ranks(any_model, small_sequences, exclude_preceding)

    mrr = sequence_mrr_score(any_model, small_sequences, exclude_preceding)

    assert mrr.shape == (len(small_sequences),)
    assert np.abs(mrr - expected).max() < TOLERANCE


def test_mrr_excluding_preceding_equals_the_reference_for_unseen_targets(
    any_model, small_sequences
):
    rows = small_sequences.sequences
    unseen = ~(rows[:, :-1] == rows[:, -1:]).any(axis=1)
    test = SequenceInteractions(rows[unseen], num_items=small_sequences.num_items)
    assert 0 < len(test) < len(small_sequences)  # both kinds of rows exist
    expected = 1.0 / reference_ranks(any_model, test, exclude_preceding=True)

    mrr = sequence_mrr_score(any_model, test, exclude_preceding=True)

    assert np.abs(mrr - expected).max() < TOLERANCE


def test_ties_share_the_average_of_their_ranks(small_sequences):
    ranks = sequence_target_ranks(TiedScores(), small_sequences)

    # 29 real items on five levels: every tie group has 5 or 6 members
    assert not np.allclose(ranks, np.round(ranks))
    assert np.abs(ranks - reference_ranks(TiedScores(), small_sequences)).max() < 1e-12


def test_metrics_do_not_depend_on_the_evaluation_batch_size(
    model, small_sequences, monkeypatch
):
    whole = sequence_mrr_score(model, small_sequences)
    monkeypatch.setattr(evaluation, "_ROWS_PER_BATCH", 7)

    assert np.abs(sequence_mrr_score(model, small_sequences) - whole).max() < TOLERANCE


def test_exclude_preceding_moves_a_repeated_target_down():
    # the target 3 is also in the context [1, 2, 3]
    test = SequenceInteractions([[1, 2, 3, 3]], num_items=30)

    with_context = sequence_target_ranks(HighestIdFirst(), test)
    excluded = sequence_target_ranks(HighestIdFirst(), test, exclude_preceding=True)

    assert with_context.tolist() == [27.0]  # items 4..29 score higher
    assert excluded[0] > with_context[0]


def test_an_excluded_target_ties_only_with_the_other_excluded_real_items():
    # Items 1..29 score their id. Context {1, 2, 3} is excluded and the target
    # 3 ties with 1 and 2 at ranks 27, 28, 29: average 28; padding is no item.
    test = SequenceInteractions([[1, 2, 3, 3]], num_items=30)

    excluded = sequence_target_ranks(HighestIdFirst(), test, exclude_preceding=True)

    assert excluded.tolist() == [28.0]


@pytest.mark.parametrize("exclude_preceding", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_precision_recall_equal_the_per_row_reference(
    model, small_sequences, k, exclude_preceding
):
    expected_precision, expected_recall = reference_precision_recall(
        model, small_sequences, k, exclude_preceding
    )

    precision, recall = sequence_precision_recall_score(
        model, small_sequences, k=k, exclude_preceding=exclude_preceding
    )

    assert np.abs(precision - expected_precision).max() < TOLERANCE
    assert np.abs(recall - expected_recall).max() < TOLERANCE


def test_precision_divides_by_k_and_recall_by_the_real_targets():
    # targets of the row are [0, 28, 29]: padding and two real items, both in
    # the top three (29, 28, 27)
    test = SequenceInteractions([[0, 0, 0, 28, 29]], num_items=30)

    precision, recall = sequence_precision_recall_score(HighestIdFirst(), test, k=3)

    assert precision.tolist() == [pytest.approx(2 / 3)]
    assert recall.tolist() == [1.0]


def test_precision_recall_with_exclude_preceding_skip_context_items():
    # context [29, 28] is excluded, so the top two are 27 and 26
    test = SequenceInteractions([[29, 28, 27, 5]], num_items=30)

    precision, _ = sequence_precision_recall_score(
        HighestIdFirst(), test, k=2, exclude_preceding=True
    )

    assert precision.tolist() == [0.5]


def test_sequence_metrics_has_mrr_and_one_hr_and_ndcg_per_cutoff(
    model, small_sequences
):
    metrics = sequence_metrics(model, small_sequences, k=[1, 5, 10])

    assert set(metrics) == {
        "mrr",
        "hr@1",
        "ndcg@1",
        "hr@5",
        "ndcg@5",
        "hr@10",
        "ndcg@10",
    }
    assert all(isinstance(value, float) for value in metrics.values())


@pytest.mark.parametrize("exclude_preceding", [False, True])
def test_sequence_metrics_agree_with_the_ranks(
    any_model, small_sequences, exclude_preceding
):
    ranks = sequence_target_ranks(any_model, small_sequences, exclude_preceding)

    metrics = sequence_metrics(any_model, small_sequences, [1, 5], exclude_preceding)

    assert metrics["mrr"] == pytest.approx(np.mean(1.0 / ranks), abs=TOLERANCE)
    for k in (1, 5):
        ndcg = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
        assert metrics[f"hr@{k}"] == pytest.approx(np.mean(ranks <= k), abs=TOLERANCE)
        assert metrics[f"ndcg@{k}"] == pytest.approx(ndcg.mean(), abs=TOLERANCE)
        hit_rate = sequence_hit_rate_score(
            any_model, small_sequences, k, exclude_preceding
        )
        assert hit_rate.mean() == pytest.approx(metrics[f"hr@{k}"], abs=TOLERANCE)
        assert sequence_ndcg_score(
            any_model, small_sequences, k, exclude_preceding
        ).mean() == pytest.approx(metrics[f"ndcg@{k}"], abs=TOLERANCE)


def test_sequence_metrics_mrr_equals_the_mean_of_sequence_mrr_score(
    model, small_sequences
):
    mrr = sequence_mrr_score(model, small_sequences).mean()

    assert sequence_metrics(model, small_sequences)["mrr"] == pytest.approx(
        mrr, abs=TOLERANCE
    )


def test_metrics_refuse_interactions_that_are_not_sequences(model, small_log):
    with pytest.raises(TypeError, match="SequenceInteractions"):
        sequence_mrr_score(model, small_log)


def test_precision_recall_refuse_rows_without_context(model, small_sequences):
    with pytest.raises(ValueError, match="no context"):
        sequence_precision_recall_score(model, small_sequences, k=10)


def test_metrics_refuse_a_bad_cutoff(model, small_sequences):
    with pytest.raises(ValueError, match="k"):
        sequence_metrics(model, small_sequences, k=0)


# --- target_sequences -----------------------------------------------------------

CONTEXT = Interactions(
    user_ids=[0, 0, 0, 1, 1, 0],
    item_ids=[1, 2, 3, 4, 5, 6],
    timestamps=[3, 1, 2, 1, 2, 0],
    num_users=3,
    num_items=10,
)
# user 0 in time order: 6, 2, 3, 1; user 1: 4, 5; user 2: nothing


def test_target_sequences_end_with_the_target_after_the_latest_context():
    targets = Interactions([1, 0, 2], [7, 8, 9], timestamps=[10, 10, 10], num_users=3)

    rows = target_sequences(CONTEXT, targets, max_sequence_length=4)

    assert rows.sequences.tolist() == [[0, 4, 5, 7], [2, 3, 1, 8], [0, 0, 0, 9]]
    assert rows.user_ids.tolist() == [1, 0, 2]
    assert rows.num_items == 10


def test_target_sequences_merge_several_context_parts_in_time_order():
    early = CONTEXT.subset(np.array([1, 3, 5]))  # user 0: items 2, 6; user 1: 4
    late = CONTEXT.subset(np.array([0, 2, 4]))  # user 0: items 1, 3; user 1: 5
    targets = Interactions([0, 1], [8, 7], timestamps=[10, 10])

    rows = target_sequences([late, early], targets, max_sequence_length=5)

    assert rows.sequences.tolist() == [[6, 2, 3, 1, 8], [0, 0, 4, 5, 7]]


def test_target_sequences_refuse_two_targets_for_one_user():
    targets = Interactions([0, 0], [7, 8], timestamps=[10, 11])

    with pytest.raises(ValueError, match="one interaction per user"):
        target_sequences(CONTEXT, targets, max_sequence_length=4)


def test_target_sequences_refuse_context_without_timestamps():
    context = Interactions([0, 1], [1, 2])

    with pytest.raises(ValueError, match="timestamps"):
        target_sequences(context, Interactions([0], [3]), max_sequence_length=3)


def test_exclude_history_excludes_items_older_than_the_row():
    # Items score their id. The rows keep one context item; the history of
    # user 0 holds 29 and 28 (older than the row) and user 1 has none.
    history = Interactions([0, 0], [29, 28], timestamps=[0, 1], num_users=2)
    test = SequenceInteractions([[5, 20], [5, 20]], user_ids=[0, 1], num_items=30)

    ranks = sequence_target_ranks(HighestIdFirst(), test, exclude_history=history)

    # items 21..29 score above 20; for user 0, 28 and 29 move below it
    assert ranks.tolist() == [8.0, 10.0]


def test_exclude_history_equals_excluding_the_same_items_per_row(model, small_log):
    # Rows of 5 context items out of about 30 per user; the reference sets
    # each row's user's training items and context items to -inf.
    train, validation, test = leave_last_out_split(small_log)
    rows = target_sequences([train, validation], test, 6)
    expected = []
    for row, user in zip(rows.sequences, rows.user_ids, strict=True):
        scores = np.asarray(model.predict(row[:-1]), dtype=np.float64)
        scores[train.item_ids[train.user_ids == user]] = -np.inf
        scores[row[:-1]] = -np.inf
        expected.append(rankdata(-scores[1:])[row[-1] - 1])

    ranks = sequence_target_ranks(
        model, rows, exclude_preceding=True, exclude_history=[train]
    )

    assert np.abs(ranks - np.array(expected)).max() < TOLERANCE
    assert (ranks != sequence_target_ranks(model, rows, True)).any()


def test_exclude_history_refuses_rows_without_user_ids(model, small_log):
    rows = SequenceInteractions([[1, 2, 3]], num_items=small_log.num_items)

    with pytest.raises(ValueError, match="user_ids"):
        sequence_metrics(model, rows, exclude_history=small_log)


def test_exclude_history_refuses_what_is_not_interactions(model, small_sequences):
    with pytest.raises(TypeError, match="exclude_history"):
        sequence_mrr_score(model, small_sequences, exclude_history=[[1, 2]])
