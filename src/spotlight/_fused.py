"""Softmax cross-entropy over a whole catalogue without storing the logits.

The straightforward full softmax writes a (positions x items) matrix of
logits, reads it back for the softmax, and writes and reads its gradient: a
few hundred megabytes per batch on MovieLens-1M, and gigabytes for larger
catalogues. Here the logits are computed a block of rows at a time and used
while they are still in cache. Because the loss is a scalar, its gradients
are known up to one factor (the gradient of the output) as soon as a block's
softmax is: the forward pass computes them block by block, and the backward
pass only scales them. No logit is stored or computed twice, and the peak
memory is one block plus the gradients themselves.

Under :func:`torch.autocast` the three matrix products run in the autocast
type (bfloat16, say) while the softmax, the loss and the accumulated weight
gradient stay in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

__all__ = ["linear_cross_entropy"]

# Logits held at once: rows per block times items stays near this many floats.
_BLOCK_ELEMENTS = 1 << 20


def _block_rows(num_items: int) -> int:
    return max(16, _BLOCK_ELEMENTS // max(num_items, 1))


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean of ``logsumexp(z) - z[target]`` over rows, with the logits
    ``z = h W^T + b`` plus ``offset`` at the entries ``offset_entries`` gives."""

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        targets: torch.Tensor,
        compute_dtype: torch.dtype,
        offset: torch.Tensor | None,
        offset_entries: Callable[[slice], tuple[torch.Tensor, torch.Tensor]] | None,
    ) -> torch.Tensor:
        wanted = ctx.needs_input_grad[:3]
        grad_hidden = torch.empty_like(hidden) if wanted[0] else None
        grad_weight = torch.zeros_like(weight) if wanted[1] else None
        grad_bias = torch.zeros_like(bias) if wanted[2] else None
        wants_offset = offset is not None and ctx.needs_input_grad[5]
        grad_offset = torch.zeros_like(offset) if wants_offset else None

        # Products in compute_dtype; softmax and sums in at least float32.
        inputs, weights, biases = (
            tensor.to(compute_dtype) for tensor in (hidden, weight, bias)
        )
        exact = torch.promote_types(hidden.dtype, torch.float32)
        block = _block_rows(len(weight))
        total = torch.zeros((), dtype=exact, device=hidden.device)
        for start in range(0, len(hidden), block):
            rows = slice(start, start + block)
            part, chosen = inputs[rows], targets[rows].unsqueeze(1)

            # The log-normaliser, from the logits shifted by their maximum.
            logits = torch.addmm(biases, part, weights.T).to(exact)  # (block, items)
            if offset is not None:
                entry_rows, columns = offset_entries(rows)
                # Flat positions: index_add_ on them is about 3 times faster
                # than index_put_ with (row, column) pairs.
                where = entry_rows * logits.shape[1] + columns
                logits.view(-1).index_add_(
                    0, where, offset.to(exact).expand(len(where))
                )
            target_logits = logits.gather(1, chosen).squeeze(1)
            peaks = logits.amax(1, keepdim=True)
            exponentials = logits.sub_(peaks).exp_()
            sums = exponentials.sum(1, keepdim=True)
            log_normalisers = (peaks + sums.log()).squeeze(1)
            total += (log_normalisers - target_logits).sum()
            if not any(wanted) and grad_offset is None:
                continue

            # d(loss)/d(logits) = softmax(logits) - one_hot(target)
            gradient = exponentials.div_(sums)
            gradient.scatter_add_(1, chosen, gradient.new_full(chosen.shape, -1.0))
            if grad_bias is not None:
                grad_bias += gradient.sum(0)
            if grad_offset is not None:
                grad_offset += gradient.view(-1)[where].sum().to(grad_offset.dtype)
            gradient = gradient.to(compute_dtype)
            if grad_hidden is not None:
                grad_hidden[rows] = gradient @ weights
            if grad_weight is not None and grad_weight.dtype == compute_dtype:
                grad_weight.addmm_(gradient.T, part)
            elif grad_weight is not None:
                grad_weight += gradient.T @ part

        count = max(len(hidden), 1)
        ctx.count = count
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias, grad_offset)
        return (total / count).to(hidden.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor):
        scale = grad_output / ctx.count
        grad_hidden, grad_weight, grad_bias, grad_offset = (
            None if gradient is None else gradient * scale
            for gradient in ctx.saved_tensors
        )
        return grad_hidden, grad_weight, grad_bias, None, None, grad_offset, None


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    offset: torch.Tensor | None = None,
    offset_entries: Callable[[slice], tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> torch.Tensor:
    """Mean softmax cross-entropy of the logits ``hidden @ weight.T + bias``.

    Equal to ``F.cross_entropy(hidden @ weight.T + bias, targets)`` within
    rounding, without ever holding all the logits. The gradients are computed
    in the forward pass, when an input requires them, so the loss can be
    differentiated once (not twice). Under :func:`torch.autocast` the matrix
    products use the autocast type and the softmax float32.

    Parameters
    ----------
    hidden : torch.Tensor of shape (rows, dim)
    weight : torch.Tensor of shape (items, dim)
    bias : torch.Tensor of shape (items,)
    targets : torch.Tensor of int64, shape (rows,)
        Column of the correct item of each row.
    offset : torch.Tensor, optional
        A scalar added to the logits at the entries ``offset_entries`` gives;
        it gets a gradient like the other inputs.
    offset_entries : callable, optional
        Given a slice of rows, the entries of their logits that get
        ``offset``: a pair of int64 tensors (row within the slice, column),
        each entry at most once. Needed with ``offset``.

    Returns
    -------
    torch.Tensor
        Scalar mean loss.
    """
    device = hidden.device.type
    compute_dtype = (
        torch.get_autocast_dtype(device)
        if torch.is_autocast_enabled(device)
        else hidden.dtype
    )
    if (offset is None) != (offset_entries is None):
        raise ValueError("offset and offset_entries must be given together")
    return _LinearCrossEntropy.apply(
        hidden, weight, bias, targets, compute_dtype, offset, offset_entries
    )
