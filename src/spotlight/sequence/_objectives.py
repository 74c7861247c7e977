"""The training objective of a sequence model: one loss for one batch.

For every row and every position ``t`` that holds a real item, the network's
representation of the items before ``t`` must score the item at ``t`` above
negatives. Padding positions are dropped before scoring, so that no work is
spent on them. How negatives are drawn depends on the loss:

- Spotlight's ``pointwise``, ``bpr`` and ``hinge``: one negative per position;
- ``adaptive_hinge`` and ``bce``: ``num_negative_samples`` per position;
- ``gbce``: ``num_negative_samples`` per sequence, shared by its positions;
- ``sampled_softmax``: ``num_negative_samples`` shared by the whole batch;
- ``softmax``: no sampling, every item is scored.

A network with a ``repeat_offset`` parameter (see
:mod:`spotlight.sequence._repeats`) adds it to the score of every candidate
that occurs earlier in the row than the position being predicted.
"""

from __future__ import annotations

import torch
from torch import nn

from spotlight import losses
from spotlight._fused import linear_cross_entropy
from spotlight.interactions import PADDING_IDX
from spotlight.sampling import NegativeSampler
from spotlight.sequence._repeats import Repeats, repeat_offset
from spotlight.sequence.representations import SequenceNet

__all__ = ["LOSSES", "Objective"]

_PAIRWISE = {
    "pointwise": losses.pointwise_loss,
    "bpr": losses.bpr_loss,
    "hinge": losses.hinge_loss,
}

LOSSES = (
    "pointwise",
    "bpr",
    "hinge",
    "adaptive_hinge",
    "bce",
    "gbce",
    "sampled_softmax",
    "softmax",
)
"""Names of the losses :class:`Objective` knows."""


class Objective(nn.Module):
    """The loss of a batch of sequences for a network, as a module.

    Being a module whose ``forward`` runs the network, it can be wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel` or compiled whole.

    Parameters
    ----------
    network : SequenceNet
        The network to train; registered as a submodule.
    loss : str
        One of :data:`LOSSES`.
    num_items : int
    num_negative_samples : int
    sampler : NegativeSampler
    exclude_positive : bool
        Never draw the positive item as a negative (per-position sampling).
    gbce_calibration : float
        ``t`` of :func:`spotlight.losses.gbce_beta`.
    """

    def __init__(
        self,
        network: SequenceNet,
        loss: str,
        num_items: int,
        num_negative_samples: int,
        sampler: NegativeSampler,
        exclude_positive: bool,
        gbce_calibration: float,
    ) -> None:
        super().__init__()
        self.network = network
        self.loss = loss
        self.num_items = num_items
        self.num_negative_samples = num_negative_samples
        self.sampler = sampler
        self.exclude_positive = exclude_positive
        self.beta = losses.gbce_beta(num_negative_samples, num_items, gbce_calibration)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Return the mean loss over the real positions of ``sequences``.

        Parameters
        ----------
        sequences : torch.Tensor of int64, shape (batch, length)

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        net = self.network
        representations = net.representations(sequences)[:, :-1]  # (batch, len, R)
        mask = sequences != PADDING_IDX
        targets = sequences[mask]  # (positions,)
        repeats = Repeats(repeat_offset(net), sequences, mask, self.num_items)
        if self.loss == "gbce":
            return self._per_sequence(net, representations, mask, targets, repeats)
        steps = representations[mask]  # (positions, R)
        if self.loss == "softmax":
            return self._full_softmax(net, steps, targets, repeats)
        if self.loss == "sampled_softmax":
            return self._sampled_softmax(net, steps, targets, repeats)
        return self._per_position(net, steps, targets, repeats)

    def _per_position(
        self,
        net: SequenceNet,
        steps: torch.Tensor,
        targets: torch.Tensor,
        repeats: Repeats,
    ) -> torch.Tensor:
        """Spotlight's losses and BCE: negatives drawn for each position."""
        count = 1 if self.loss in _PAIRWISE else self.num_negative_samples
        exclude = targets.unsqueeze(-1) if self.exclude_positive else None
        negatives = self.sampler.sample(
            (len(targets), count), device=targets.device, exclude=exclude
        )
        candidates = torch.cat((targets.unsqueeze(-1), negatives), dim=-1)
        scores = net.score(steps, candidates)  # (positions, 1 + count)
        scores = repeats.at(scores, candidates)
        positive, negative = scores[:, 0], scores[:, 1:]
        if self.loss in _PAIRWISE:
            return _PAIRWISE[self.loss](positive, negative.squeeze(-1))
        if self.loss == "adaptive_hinge":
            return losses.adaptive_hinge_loss(positive, negative.T)
        return losses.bce_loss(
            positive, negative, negative_mask=negatives != targets[:, None]
        )

    def _per_sequence(
        self,
        net: SequenceNet,
        representations: torch.Tensor,
        mask: torch.Tensor,
        targets: torch.Tensor,
        repeats: Repeats,
    ) -> torch.Tensor:
        """gSASRec's loss: many negatives per sequence, shared by its steps."""
        batch = len(representations)
        negatives = self.sampler.sample(
            (batch, self.num_negative_samples), device=targets.device
        )
        steps = representations[mask]
        positive = self._positive(net, steps, targets, repeats)
        negative = net.score_per_sequence(representations, negatives)[mask]
        negative = repeats.per_sequence(negative, negatives)
        rows = mask.nonzero()[:, 0]
        misses = negatives[rows] != targets.unsqueeze(-1)
        return losses.gbce_loss(
            positive, negative, negative_mask=misses, beta=self.beta
        )

    def _sampled_softmax(
        self,
        net: SequenceNet,
        steps: torch.Tensor,
        targets: torch.Tensor,
        repeats: Repeats,
    ) -> torch.Tensor:
        """Softmax over the positive and one shared set of negatives."""
        negatives = self.sampler.sample(
            (self.num_negative_samples,), device=targets.device
        )
        positive = self._positive(net, steps, targets, repeats)
        negative = net.score_shared(steps, negatives)  # (positions, negatives)
        negative = repeats.shared(negative, negatives)
        return losses.sampled_softmax_loss(
            positive,
            negative,
            positive_log_probabilities=self.sampler.log_probabilities(targets),
            negative_log_probabilities=self.sampler.log_probabilities(negatives),
            negative_mask=negatives.unsqueeze(0) != targets.unsqueeze(-1),
        )

    def _positive(
        self,
        net: SequenceNet,
        steps: torch.Tensor,
        targets: torch.Tensor,
        repeats: Repeats,
    ) -> torch.Tensor:
        """The score of each position's own item, ``(positions,)``."""
        items = targets.unsqueeze(-1)
        return repeats.at(net.score(steps, items), items).squeeze(-1)

    def _full_softmax(
        self,
        net: SequenceNet,
        steps: torch.Tensor,
        targets: torch.Tensor,
        repeats: Repeats,
    ) -> torch.Tensor:
        """Cross-entropy over every real item (column ``j`` is item ``j + 1``)."""
        output = getattr(net, "output_embeddings", lambda: None)()
        if output is not None:
            embeddings, biases = output
            return linear_cross_entropy(
                steps,
                embeddings[1:],
                biases[1:],
                targets - 1,
                **repeats.fused_arguments(),
            )
        items = torch.arange(1, self.num_items, device=targets.device)
        logits = repeats.shared(net.score_shared(steps, items), items)
        return losses.softmax_loss(logits, targets - 1, padding_column=False)
