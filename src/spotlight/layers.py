"""Embedding layers for the sequence networks.

- :class:`ScaledEmbedding`: an embedding initialised with small values
  (standard deviation ``1 / embedding_dim``), the default for items;
- :class:`ZeroEmbedding`: an embedding initialised with zeros, for biases;
- :class:`BloomEmbedding`: a hashed, compressed embedding in which each id is
  the sum of a few rows of a smaller table, for large catalogues (Serrà and
  Karatzoglou, "Getting deep recommenders fit: Bloom embeddings for sparse
  binary input/output networks", RecSys 2017).

Each keeps row ``padding_idx`` at zero, so that padding contributes nothing.
On a CPU, the first two look up rows by indexing, whose backward pass
accumulates with ``index_put_``: about four times faster than the backward
of :func:`torch.nn.functional.embedding` there, with the same gradients.

And one layer for the networks' regularisation:

- :class:`FastDropout`: dropout that draws its mask from 15-bit integers, a
  few times faster than :class:`torch.nn.Dropout` on a CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from spotlight._hashing import murmurhash3_32
from spotlight._validation import check_float, check_int

__all__ = ["BloomEmbedding", "FastDropout", "ScaledEmbedding", "ZeroEmbedding"]


class _RowLookup(torch.autograd.Function):
    """``weight[ids]``; the backward pass gives row ``padding_idx`` nothing."""

    @staticmethod
    def forward(
        ctx: Any, weight: torch.Tensor, ids: torch.Tensor, padding_idx: int | None
    ) -> torch.Tensor:
        ctx.save_for_backward(ids)
        ctx.weight_shape, ctx.padding_idx = weight.shape, padding_idx
        return weight[ids]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor):
        (ids,) = ctx.saved_tensors
        grad_weight = grad_output.new_zeros(ctx.weight_shape)
        grad_weight.index_put_(
            (ids.reshape(-1),),
            grad_output.reshape(-1, ctx.weight_shape[1]),
            accumulate=True,
        )
        if ctx.padding_idx is not None:
            grad_weight[ctx.padding_idx] = 0.0
        return grad_weight, None, None


class _FastLookup(nn.Embedding):
    """An embedding whose dense CPU lookups use :class:`_RowLookup`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        plain = not (self.sparse or self.scale_grad_by_freq or self.max_norm)
        if plain and self.weight.device.type == "cpu":
            return _RowLookup.apply(self.weight, input, self.padding_idx)
        return super().forward(input)


class ScaledEmbedding(_FastLookup):
    """Embedding initialised from a normal with standard deviation
    ``1 / embedding_dim``; row ``padding_idx`` is zero.

    Parameters
    ----------
    num_embeddings : int
        Number of ids.
    embedding_dim : int
        Size of each embedding.
    padding_idx : int, optional
        Id whose embedding stays zero and gets no gradient.
    max_norm, norm_type, scale_grad_by_freq, sparse, _weight, _freeze, device, dtype
        As for :class:`torch.nn.Embedding`.

    Notes
    -----
    Shape:
        - Input: integer tensor of any shape ``(*)``.
        - Output: ``(*, embedding_dim)``.
    """

    def reset_parameters(self) -> None:
        """Draw the weights; the padding row is set to zero."""
        with torch.no_grad():
            self.weight.normal_(0.0, 1.0 / self.embedding_dim)
            if self.padding_idx is not None:
                self.weight[self.padding_idx].fill_(0.0)


class ZeroEmbedding(_FastLookup):
    """Embedding initialised with zeros, used for per-item biases.

    Parameters
    ----------
    num_embeddings : int
        Number of ids.
    embedding_dim : int
        Size of each embedding.
    padding_idx : int, optional
        Id whose embedding stays zero and gets no gradient.
    max_norm, norm_type, scale_grad_by_freq, sparse, _weight, _freeze, device, dtype
        As for :class:`torch.nn.Embedding`.

    Notes
    -----
    Shape:
        - Input: integer tensor of any shape ``(*)``.
        - Output: ``(*, embedding_dim)``.
    """

    def reset_parameters(self) -> None:
        """Set every weight to zero."""
        with torch.no_grad():
            self.weight.zero_()


class BloomEmbedding(nn.Module):
    """Hashed embedding: each id is the sum of ``num_hash_functions`` rows of a
    table ``compression_ratio`` times smaller than the number of ids.

    Parameters
    ----------
    num_embeddings : int
        Number of ids.
    embedding_dim : int
        Size of each embedding.
    compression_ratio : float, default 0.2
        Rows of the compressed table divided by ``num_embeddings``, in (0, 1].
    num_hash_functions : int, default 4
        Rows summed per id; different seeds of MurmurHash3.
    bag : bool, default False
        Use :func:`torch.nn.functional.embedding_bag`, which avoids
        materialising the rows before summing them.
    padding_idx : int, default 0
        Id whose embedding is always zero.
    sparse : bool, default False
        Sparse gradients for the compressed table.

    Notes
    -----
    Shape:
        - Input: integer tensor of any shape ``(*)``.
        - Output: ``(*, embedding_dim)``.

    Examples
    --------
    >>> layer = BloomEmbedding(1000, 16, compression_ratio=0.1)
    >>> layer(torch.tensor([[0, 5, 999]])).shape
    torch.Size([1, 3, 16])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        compression_ratio: float = 0.2,
        num_hash_functions: int = 4,
        bag: bool = False,
        padding_idx: int = 0,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.num_embeddings = check_int("num_embeddings", num_embeddings, minimum=2)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
        self.compression_ratio = check_float(
            "compression_ratio", compression_ratio, 0.0, 1.0
        )
        if self.compression_ratio == 0.0:
            raise ValueError("compression_ratio must be above 0, got 0.0")
        self.num_hash_functions = check_int(
            "num_hash_functions", num_hash_functions, minimum=1
        )
        self.padding_idx = check_int(
            "padding_idx", padding_idx, minimum=0, maximum=num_embeddings - 1
        )
        self.bag = bool(bag)
        num_rows = max(int(self.compression_ratio * num_embeddings), 2)
        self.embeddings = ScaledEmbedding(
            num_rows, embedding_dim, padding_idx=0, sparse=sparse
        )
        self.register_buffer("hash_rows", self._hash_rows(num_rows), persistent=False)

    def _hash_rows(self, num_rows: int) -> torch.Tensor:
        """Rows of the compressed table for every id; row 0 is the zero row."""
        ids = np.arange(self.num_embeddings)
        rows = np.stack(
            [
                murmurhash3_32(ids, seed=seed).astype(np.int64) % (num_rows - 1) + 1
                for seed in range(self.num_hash_functions)
            ],
            axis=1,
        )
        rows[self.padding_idx] = 0
        return torch.from_numpy(rows)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """Return the embedding of each id in ``indices``.

        Parameters
        ----------
        indices : torch.Tensor of int64, shape (*)

        Returns
        -------
        torch.Tensor of shape (*, embedding_dim)
        """
        rows = self.hash_rows[indices]  # (*, num_hash_functions)
        if not self.bag:
            return self.embeddings(rows).sum(-2)
        flat = F.embedding_bag(
            rows.reshape(-1, self.num_hash_functions),
            self.embeddings.weight,
            mode="sum",
            sparse=self.embeddings.sparse,
            padding_idx=0,
        )
        return flat.reshape(*indices.shape, self.embedding_dim)

    def extra_repr(self) -> str:
        return (
            f"{self.num_embeddings}, {self.embedding_dim}, "
            f"compression_ratio={self.compression_ratio}, "
            f"num_hash_functions={self.num_hash_functions}, bag={self.bag}"
        )


_MASK_LEVELS = 1 << 15  # int16's random_() draws from [0, 2 ** 15)


class FastDropout(nn.Module):
    """Inverted dropout whose mask comes from 15-bit random integers.

    On a CPU, :class:`torch.nn.Dropout` draws one float per element and
    spends most of a small network's dropout time there; comparing cheap
    15-bit integers with a threshold is a few times faster. The probability
    is therefore rounded to a multiple of ``2 ** -15`` (0.2 stays within
    2e-5 of itself), and the kept elements are scaled by the inverse of the
    rounded probability, so that the expected output is the input exactly.
    On other devices it is :func:`torch.nn.functional.dropout`.

    Parameters
    ----------
    p : float, default 0.5
        Probability of zeroing an element, in [0, 1].

    Notes
    -----
    Shape:
        - Input: any shape.
        - Output: the input's shape.

    Examples
    --------
    >>> layer = FastDropout(0.25).eval()
    >>> x = torch.ones(3)
    >>> torch.equal(layer(x), x)
    True
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_float("p", p, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        threshold = round(self.p * _MASK_LEVELS)
        if threshold == _MASK_LEVELS:
            return x * 0.0
        draws = torch.empty(x.shape, dtype=torch.int16, device=x.device).random_()
        keep = draws >= threshold
        return x * keep * (_MASK_LEVELS / (_MASK_LEVELS - threshold))

    def extra_repr(self) -> str:
        return f"p={self.p}"
