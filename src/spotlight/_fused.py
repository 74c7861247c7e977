"""Softmax cross-entropy over a whole catalogue without storing the logits.

The straightforward full softmax writes a (positions x items) matrix of
logits, reads it back for the softmax, and writes and reads its gradient: a
few hundred megabytes per batch on MovieLens-1M, and gigabytes for larger
catalogues. Here the logits are computed a block of rows at a time, used
while they are still in cache, and recomputed in the backward pass. That
costs one more matrix product but keeps memory traffic and peak memory small.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["linear_cross_entropy"]

# Logits held at once: rows per block times items stays near this many floats.
_BLOCK_ELEMENTS = 1 << 20


def _block_rows(num_items: int) -> int:
    return max(16, _BLOCK_ELEMENTS // max(num_items, 1))


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean of ``logsumexp(h W^T + b) - (h W^T + b)[target]`` over rows."""

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        targets: torch.Tensor,
    ) -> torch.Tensor:
        block = _block_rows(len(weight))
        log_normalisers = torch.empty(
            len(hidden), dtype=hidden.dtype, device=hidden.device
        )
        total = hidden.new_zeros(())
        for start in range(0, len(hidden), block):
            rows = slice(start, start + block)
            logits = torch.addmm(bias, hidden[rows], weight.T)  # (block, items)
            log_normalisers[rows] = torch.logsumexp(logits, dim=1)
            chosen = logits.gather(1, targets[rows].unsqueeze(1)).squeeze(1)
            total = total + (log_normalisers[rows] - chosen).sum()
        ctx.save_for_backward(hidden, weight, bias, targets, log_normalisers)
        return total / max(len(hidden), 1)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor):
        hidden, weight, bias, targets, log_normalisers = ctx.saved_tensors
        block = _block_rows(len(weight))
        scale = grad_output / max(len(hidden), 1)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight)
        grad_bias = torch.zeros_like(bias)
        for start in range(0, len(hidden), block):
            rows = slice(start, start + block)
            # softmax(logits) - one_hot(target), times the output's gradient
            gradient = torch.addmm(bias, hidden[rows], weight.T)
            gradient.sub_(log_normalisers[rows].unsqueeze(1)).exp_()
            gradient.scatter_add_(
                1,
                targets[rows].unsqueeze(1),
                gradient.new_full((len(gradient), 1), -1.0),
            )
            gradient.mul_(scale)
            grad_hidden[rows] = gradient @ weight
            grad_weight.addmm_(gradient.T, hidden[rows])
            grad_bias += gradient.sum(0)
        return grad_hidden, grad_weight, grad_bias, None


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """Mean softmax cross-entropy of the logits ``hidden @ weight.T + bias``.

    Equal to ``F.cross_entropy(hidden @ weight.T + bias, targets)`` within
    rounding, without ever holding all the logits.

    Parameters
    ----------
    hidden : torch.Tensor of shape (rows, dim)
    weight : torch.Tensor of shape (items, dim)
    bias : torch.Tensor of shape (items,)
    targets : torch.Tensor of int64, shape (rows,)
        Column of the correct item of each row.

    Returns
    -------
    torch.Tensor
        Scalar mean loss.
    """
    return _LinearCrossEntropy.apply(hidden, weight, bias, targets)
