"""Ranking metrics for sequence models, computed in batches.

In every row of a :class:`~spotlight.interactions.SequenceInteractions`, the
last item is the target (the last ``k`` items for precision and recall) and
the items before it are the context. The model scores every item for the
context; the target's rank is counted among all real items (the padding item
``0`` is never ranked), ties averaged, so the results equal those of ranking
each row on its own with ``scipy.stats.rankdata``.

Metrics return one value per row; take the mean for the usual figure.
:func:`sequence_metrics` computes MRR, HR@k and NDCG@k in one pass, and
:func:`target_sequences` builds the rows of the leave-last-out protocol.
``exclude_preceding`` moves the context's items to the bottom of the
ranking; ``exclude_history`` moves there every item the row's user has in
some interactions, such as the whole training history where rows keep only
its most recent items.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from spotlight._validation import check_int
from spotlight.interactions import PADDING_IDX, Interactions, SequenceInteractions

__all__ = [
    "sequence_hit_rate_score",
    "sequence_metrics",
    "sequence_mrr_score",
    "sequence_ndcg_score",
    "sequence_precision_recall_score",
    "sequence_target_ranks",
    "target_sequences",
]

# Rows scored per call of model.predict.
_ROWS_PER_BATCH = 1024


def _check_test(test: Any, targets: int = 1) -> np.ndarray:
    """Return the sequences of ``test``, refusing what cannot be evaluated."""
    if not isinstance(test, SequenceInteractions):
        raise TypeError(
            "test must be a spotlight.interactions.SequenceInteractions, got "
            f"{type(test).__name__}"
        )
    if len(test) == 0:
        raise ValueError("test holds no sequences to evaluate")
    if test.max_sequence_length <= targets:
        raise ValueError(
            f"test sequences of length {test.max_sequence_length} leave no context "
            f"before {targets} target item(s)"
        )
    return test.sequences


class _History:
    """Each user's items in some interactions, to exclude from their rows."""

    def __init__(
        self, history: Interactions | Sequence[Interactions], test: Any
    ) -> None:
        parts = [history] if isinstance(history, Interactions) else list(history)
        if not parts or not all(isinstance(part, Interactions) for part in parts):
            raise TypeError(
                "exclude_history must be a spotlight.interactions.Interactions or "
                f"a sequence of them, got {history!r:.80}"
            )
        if test.user_ids is None:
            raise ValueError(
                "exclude_history needs the test rows' user_ids (target_sequences "
                "and to_sequence record them); these rows have none"
            )
        users = np.concatenate([part.user_ids for part in parts])
        order = np.argsort(users, kind="stable")
        self.items = np.concatenate([part.item_ids for part in parts])[order]
        num_users = max(part.num_users for part in parts)
        self.starts = np.searchsorted(users[order], np.arange(num_users + 1))
        self.user_ids = test.user_ids.astype(np.int64)

    def exclude(self, scores: np.ndarray, start: int) -> None:
        """Set to ``-inf`` the scores of each row's user's items; the rows are
        those from ``start``."""
        users = self.user_ids[start : start + len(scores)]
        known = users < len(self.starts) - 1
        rows = np.flatnonzero(known)
        begin = self.starts[users[known]]
        counts = self.starts[users[known] + 1] - begin
        # Positions in self.items of every (row, item) pair, row by row.
        offsets = np.arange(counts.sum()) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        positions = np.repeat(begin, counts) + offsets
        scores[np.repeat(rows, counts), self.items[positions]] = -np.inf


def _scored_batches(
    model: Any,
    sequences: np.ndarray,
    targets: int,
    exclude_preceding: bool,
    history: _History | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (scores, target items) per batch; padding and, if asked, the
    context items and the users' history items score ``-inf``."""
    for start in range(0, len(sequences), _ROWS_PER_BATCH):
        rows = sequences[start : start + _ROWS_PER_BATCH]
        context, target_items = rows[:, :-targets], rows[:, -targets:]
        scores = np.atleast_2d(model.predict(context)).astype(np.float64)
        if exclude_preceding:
            np.put_along_axis(scores, context.astype(np.int64), -np.inf, axis=1)
        if history is not None:
            history.exclude(scores, start)
        yield scores, target_items


def _history(exclude_history: Any, test: SequenceInteractions) -> _History | None:
    return None if exclude_history is None else _History(exclude_history, test)


def sequence_target_ranks(
    model: Any,
    test: SequenceInteractions,
    exclude_preceding: bool = False,
    exclude_history: Interactions | Sequence[Interactions] | None = None,
) -> np.ndarray:
    """Rank of each row's last item among all items, given the items before it.

    Parameters
    ----------
    model : fitted model with ``predict(sequences)``
        Such as :class:`~spotlight.sequence.implicit.ImplicitSequenceModel`.
    test : SequenceInteractions
    exclude_preceding : bool, default False
        Move the items of the context to the bottom of the ranking, so that
        items the user has seen are not recommended again. A target that is
        also in the context moves down with them.
    exclude_history : Interactions or sequence of Interactions, optional
        Move every item that a row's user has in these interactions to the
        bottom of the ranking too; the rows need ``user_ids``. Use it where
        rows keep only the most recent items of long histories: the
        leave-last-out protocol of recent papers excludes everything the
        user rated before, such as ``[train, validation]`` for the test rows.

    Returns
    -------
    numpy.ndarray of float64, shape (len(test),)
        Ranks from 1 (best); ties share the average of their ranks.
    """
    sequences = _check_test(test)
    history = _history(exclude_history, test)
    ranks = []
    batches = _scored_batches(model, sequences, 1, exclude_preceding, history)
    for scores, targets in batches:
        target_scores = np.take_along_axis(scores, targets.astype(np.int64), axis=1)
        real_items = scores[:, PADDING_IDX + 1 :]
        above = (real_items > target_scores).sum(axis=1)
        tied = (real_items == target_scores).sum(axis=1) - 1
        ranks.append(1.0 + above + tied / 2.0)
    return np.concatenate(ranks)


def sequence_mrr_score(
    model: Any,
    test: SequenceInteractions,
    exclude_preceding: bool = False,
    exclude_history: Interactions | Sequence[Interactions] | None = None,
) -> np.ndarray:
    """Reciprocal rank of each row's last item, given the items before it.

    Parameters
    ----------
    model : fitted model with ``predict(sequences)``
    test : SequenceInteractions
    exclude_preceding : bool, default False
        See :func:`sequence_target_ranks`.
    exclude_history : Interactions or sequence of Interactions, optional
        See :func:`sequence_target_ranks`.

    Returns
    -------
    numpy.ndarray of shape (len(test),)
        One reciprocal rank per row; the mean is the MRR.

    Examples
    --------
    >>> from spotlight.datasets.synthetic import generate_sequential
    >>> from spotlight.sequence.implicit import ImplicitSequenceModel
    >>> rows = generate_sequential(num_items=50, num_interactions=2000,
    ...                            random_state=0).to_sequence(10)
    >>> model = ImplicitSequenceModel(n_iter=1, random_state=0).fit(rows)
    >>> sequence_mrr_score(model, rows).shape == (len(rows),)
    True
    """
    return 1.0 / sequence_target_ranks(model, test, exclude_preceding, exclude_history)


def sequence_hit_rate_score(
    model: Any,
    test: SequenceInteractions,
    k: int = 10,
    exclude_preceding: bool = False,
    exclude_history: Interactions | Sequence[Interactions] | None = None,
) -> np.ndarray:
    """Whether each row's last item ranks in the top ``k`` (HR@k, recall@k for
    one target).

    Parameters
    ----------
    model : fitted model with ``predict(sequences)``
    test : SequenceInteractions
    k : int, default 10
    exclude_preceding : bool, default False
        See :func:`sequence_target_ranks`.
    exclude_history : Interactions or sequence of Interactions, optional
        See :func:`sequence_target_ranks`.

    Returns
    -------
    numpy.ndarray of float64, shape (len(test),)
        1.0 for a hit, else 0.0.
    """
    k = check_int("k", k, minimum=1)
    return (
        sequence_target_ranks(model, test, exclude_preceding, exclude_history) <= k
    ).astype(float)


def sequence_ndcg_score(
    model: Any,
    test: SequenceInteractions,
    k: int = 10,
    exclude_preceding: bool = False,
    exclude_history: Interactions | Sequence[Interactions] | None = None,
) -> np.ndarray:
    """Normalised discounted cumulative gain at ``k`` of each row's last item:
    ``1 / log2(rank + 1)`` when it ranks in the top ``k``, else 0.

    Parameters
    ----------
    model : fitted model with ``predict(sequences)``
    test : SequenceInteractions
    k : int, default 10
    exclude_preceding : bool, default False
        See :func:`sequence_target_ranks`.
    exclude_history : Interactions or sequence of Interactions, optional
        See :func:`sequence_target_ranks`.

    Returns
    -------
    numpy.ndarray of float64, shape (len(test),)
    """
    k = check_int("k", k, minimum=1)
    return _ndcg(
        sequence_target_ranks(model, test, exclude_preceding, exclude_history), k
    )


def _ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    return np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)


def sequence_metrics(
    model: Any,
    test: SequenceInteractions,
    k: int | Sequence[int] = 10,
    exclude_preceding: bool = False,
    exclude_history: Interactions | Sequence[Interactions] | None = None,
) -> dict[str, float]:
    """Mean MRR, HR@k and NDCG@k over the rows, from one ranking pass.

    Parameters
    ----------
    model : fitted model with ``predict(sequences)``
    test : SequenceInteractions
    k : int or sequence of int, default 10
        Cut-offs of HR and NDCG.
    exclude_preceding : bool, default False
        See :func:`sequence_target_ranks`.
    exclude_history : Interactions or sequence of Interactions, optional
        See :func:`sequence_target_ranks`.

    Returns
    -------
    dict
        ``{"mrr": ..., "hr@10": ..., "ndcg@10": ...}``.
    """
    cutoffs = [k] if isinstance(k, int | np.integer) else list(k)
    cutoffs = [check_int("k", cutoff, minimum=1) for cutoff in cutoffs]
    ranks = sequence_target_ranks(model, test, exclude_preceding, exclude_history)
    metrics = {"mrr": float(np.mean(1.0 / ranks))}
    for cutoff in cutoffs:
        metrics[f"hr@{cutoff}"] = float(np.mean(ranks <= cutoff))
        metrics[f"ndcg@{cutoff}"] = float(np.mean(_ndcg(ranks, cutoff)))
    return metrics


def sequence_precision_recall_score(
    model: Any,
    test: SequenceInteractions,
    k: int = 10,
    exclude_preceding: bool = False,
    exclude_history: Interactions | Sequence[Interactions] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at ``k`` of the top-``k`` items against each
    row's last ``k`` items, given the items before them.

    Parameters
    ----------
    model : fitted model with ``predict(sequences)``
    test : SequenceInteractions
    k : int, default 10
        Number of recommended items and of target items.
    exclude_preceding : bool, default False
        Never recommend items of the context.
    exclude_history : Interactions or sequence of Interactions, optional
        See :func:`sequence_target_ranks`.

    Returns
    -------
    (precision, recall) : tuple of numpy.ndarray, each of shape (len(test),)
        Precision divides the hits by ``k``; recall by the number of real
        (non-padding) targets.
    """
    k = check_int("k", k, minimum=1)
    sequences = _check_test(test, targets=k)
    history = _history(exclude_history, test)
    precision, recall = [], []
    batches = _scored_batches(model, sequences, k, exclude_preceding, history)
    for scores, targets in batches:
        real_items = scores[:, PADDING_IDX + 1 :]
        top = np.argpartition(-real_items, k - 1, axis=1)[:, :k] + PADDING_IDX + 1
        real_targets = np.where(targets == PADDING_IDX, -1, targets)
        hits = (top[:, :, None] == real_targets[:, None, :]).any(axis=2).sum(axis=1)
        precision.append(hits / k)
        recall.append(hits / np.maximum((targets != PADDING_IDX).sum(axis=1), 1))
    return np.concatenate(precision), np.concatenate(recall)


def target_sequences(
    context: Interactions | Sequence[Interactions],
    targets: Interactions,
    max_sequence_length: int,
) -> SequenceInteractions:
    """Rows that end with each target item, preceded by the user's context.

    This builds the evaluation rows of the leave-last-out protocol: with
    ``train, validation, test = leave_last_out_split(log)``, the test rows are
    ``target_sequences([train, validation], test, n)`` and the validation
    rows ``target_sequences(train, validation, n)``.

    Parameters
    ----------
    context : Interactions or sequence of Interactions
        The history before the targets, in any order (sorted here by user and
        timestamp); must have timestamps.
    targets : Interactions
        At most one interaction per user.
    max_sequence_length : int
        Length of the rows; the context keeps the most recent
        ``max_sequence_length - 1`` items.

    Returns
    -------
    SequenceInteractions
        One row per target, in the order of ``targets``, with ``user_ids``.

    Raises
    ------
    ValueError
        If a user has several targets, or the parts lack timestamps.
    """
    max_sequence_length = check_int("max_sequence_length", max_sequence_length, 2)
    parts = [context] if isinstance(context, Interactions) else list(context)
    if any(part.timestamps is None for part in parts):
        raise ValueError("context must have timestamps to order each user's history")
    users = np.concatenate([part.user_ids for part in parts])
    items = np.concatenate([part.item_ids for part in parts])
    times = np.concatenate([part.timestamps for part in parts])
    order = np.lexsort((times, users))
    users, items = users[order], items[order]

    target_users = targets.user_ids
    if len(np.unique(target_users)) != len(target_users):
        raise ValueError("targets must hold at most one interaction per user")
    ends = np.searchsorted(users, target_users, side="right")
    starts = np.maximum(
        np.searchsorted(users, target_users, side="left"),
        ends - (max_sequence_length - 1),
    )
    offsets = np.arange(-(max_sequence_length - 1), 0)
    positions = ends[:, None] + offsets
    real = positions >= starts[:, None]
    context_items = np.where(real, items[np.clip(positions, 0, len(items) - 1)], 0)
    num_items = max([targets.num_items, *(part.num_items for part in parts)])
    return SequenceInteractions(
        np.column_stack((context_items, targets.item_ids)),
        user_ids=target_users,
        num_items=num_items,
        id_mapping=targets.id_mapping,
    )
