"""A learned score offset for the items already in a sequence.

Whether users come back to an item depends on the domain: a film is rarely
rated twice, a song is played again and again. With ``repeat_offset=True``
an :class:`~spotlight.sequence.implicit.ImplicitSequenceModel` adds one
learned number to the score of every item that appears before the position
being predicted, in training as in prediction; the data decide its sign and
size. The number is a parameter named ``repeat_offset`` of the network, so
that optimizers, checkpoints, model files and distributed training carry it
like any other.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spotlight.interactions import PADDING_IDX

__all__ = ["OFFSET", "Repeats", "add_repeat_offset", "repeat_offset", "seen_items"]

OFFSET = "repeat_offset"
"""Name of the offset parameter on the network."""


def add_repeat_offset(network: nn.Module) -> None:
    """Give ``network`` a zero ``repeat_offset`` parameter, unless it has one."""
    if repeat_offset(network) is None:
        device = next(network.parameters()).device
        network.register_parameter(OFFSET, nn.Parameter(torch.zeros((), device=device)))


def repeat_offset(network: nn.Module) -> torch.Tensor | None:
    """The network's repeat offset, or ``None`` when it has none."""
    return network._parameters.get(OFFSET)


def seen_items(sequences: torch.Tensor, num_items: int) -> torch.Tensor:
    """Whether each item id occurs in each sequence, padding excluded.

    Parameters
    ----------
    sequences : torch.Tensor of int64, shape (batch, length)
    num_items : int

    Returns
    -------
    torch.Tensor of bool, shape (batch, num_items)
    """
    seen = torch.zeros(
        (len(sequences), num_items), dtype=torch.bool, device=sequences.device
    )
    seen.scatter_(1, sequences, True)
    seen[:, PADDING_IDX] = False
    return seen


class Repeats:
    """The repeat offset in the scores of one training batch.

    Each method takes scores of candidates at the real positions of the batch
    (those of ``sequences[mask]``, in that order) and returns them with the
    offset added where the candidate occurs in its row before the position.
    Without an offset they return the scores unchanged.

    Parameters
    ----------
    offset : torch.Tensor or None
        The network's scalar ``repeat_offset``.
    sequences : torch.Tensor of int64, shape (batch, length)
    mask : torch.Tensor of bool, shape (batch, length)
        The real positions.
    num_items : int
    """

    def __init__(
        self,
        offset: torch.Tensor | None,
        sequences: torch.Tensor,
        mask: torch.Tensor,
        num_items: int,
    ) -> None:
        self.offset = offset
        if offset is None:
            return
        batch, length = sequences.shape
        # (batch, num_items): each item's first position in the row; `length`
        # for the items (and the padding) that do not occur.
        first = torch.full(
            (batch, num_items), length, dtype=torch.int32, device=sequences.device
        )
        positions = torch.arange(length, dtype=torch.int32, device=sequences.device)
        first.scatter_reduce_(1, sequences, positions.expand(batch, -1), "amin")
        first[:, PADDING_IDX] = length
        self.first = first
        self.sequences = sequences
        self.rows, self.times = mask.nonzero(as_tuple=True)  # (positions,) each

    def _add(self, scores: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """Add the offset where ``first`` ``(positions, n)`` is before the
        position."""
        return scores + self.offset * (first < self.times.unsqueeze(1))

    def at(self, scores: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores ``(positions, n)`` of candidates ``(positions, n)``."""
        if self.offset is None:
            return scores
        return self._add(scores, self.first[self.rows.unsqueeze(1), items])

    def per_sequence(self, scores: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores ``(positions, n)`` of candidates ``(batch, n)`` per row."""
        if self.offset is None:
            return scores
        return self._add(scores, self.first.gather(1, items)[self.rows])

    def shared(self, scores: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores ``(positions, n)`` of candidates ``(n,)`` shared by all."""
        if self.offset is None:
            return scores
        return self._add(scores, self.first[:, items][self.rows])

    def fused_arguments(self) -> dict[str, Any]:
        """The ``offset`` and ``offset_entries`` of
        :func:`spotlight._fused.linear_cross_entropy` over the real items
        (column ``j`` is item ``j + 1``); empty without an offset.

        The entries come from each position's earlier items, a few hundred at
        most, rather than from a mask over the whole catalogue.
        """
        if self.offset is None:
            return {}
        sequences = self.sequences
        length = sequences.shape[1]
        steps = torch.arange(length, device=sequences.device)
        # (batch, length): whether an item occurs here for the first time in
        # its row, so that each (position, item) entry is listed once.
        first_here = (self.first.gather(1, sequences) == steps) & (sequences != 0)
        rows, times = self.rows, self.times

        def offset_entries(block: slice) -> tuple[torch.Tensor, torch.Tensor]:
            earlier = first_here[rows[block]] & (steps < times[block].unsqueeze(1))
            entry_rows, columns = earlier.nonzero(as_tuple=True)
            items = sequences[rows[block][entry_rows], columns]
            return entry_rows, items - 1

        return {"offset": self.offset, "offset_entries": offset_entries}
