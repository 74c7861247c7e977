"""Negative sampling: drawing items a user did not choose.

:func:`sample_items` is Spotlight's uniform sampler over NumPy. The
:class:`UniformSampler` and :class:`PopularitySampler` classes draw negatives
inside training on the model's device; both never return the padding item
``0``, can avoid the positive item, and give the log-probability of each item
for the sampled-softmax correction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from spotlight._validation import (
    RandomStateLike,
    check_float,
    check_int,
    check_random_state,
    draw_integers,
)

__all__ = ["NegativeSampler", "PopularitySampler", "UniformSampler", "sample_items"]

# Rounds of redrawing negatives that hit the positive before giving up; the
# few that remain are masked by the losses.
_REDRAW_ROUNDS = 4


def sample_items(
    num_items: int,
    shape: int | tuple[int, ...],
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Draw item ids uniformly from ``[0, num_items)``.

    Parameters
    ----------
    num_items : int
        Number of items to draw from.
    shape : int or tuple of int
        Shape of the returned array.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator

    Returns
    -------
    numpy.ndarray of int64
    """
    num_items = check_int("num_items", num_items, minimum=1)
    return draw_integers(check_random_state(random_state), 0, num_items, size=shape)


class NegativeSampler:
    """Base class of the samplers used in training.

    Parameters
    ----------
    num_items : int
        Items are drawn from ``1 .. num_items - 1``.
    """

    def __init__(self, num_items: int) -> None:
        self.num_items = check_int("num_items", num_items, minimum=3)

    def sample(
        self,
        shape: tuple[int, ...],
        device: str | torch.device = "cpu",
        exclude: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Draw negatives of the given shape from PyTorch's current generator.

        Parameters
        ----------
        shape : tuple of int
        device : str or torch.device
        exclude : torch.Tensor, optional
            Item ids (broadcastable to ``shape``) that should not be drawn,
            typically the positives. Uniform sampling avoids them exactly;
            popularity sampling redraws a few times and may leave rare hits,
            which the losses mask.

        Returns
        -------
        torch.Tensor of int64 with the given shape
        """
        raise NotImplementedError

    def log_probabilities(self, items: torch.Tensor) -> torch.Tensor:
        """Return the log-probability of drawing each of ``items``.

        Parameters
        ----------
        items : torch.Tensor of int64

        Returns
        -------
        torch.Tensor of float32, the shape of ``items``
        """
        raise NotImplementedError


class UniformSampler(NegativeSampler):
    """Draw every real item with the same probability (Spotlight's choice).

    Parameters
    ----------
    num_items : int
        Items are drawn from ``1 .. num_items - 1``.
    """

    def sample(
        self,
        shape: tuple[int, ...],
        device: str | torch.device = "cpu",
        exclude: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if exclude is None:
            return torch.randint(1, self.num_items, shape, device=device)
        # Draw from one item fewer and step over the excluded id: exactly
        # uniform over the other real items.
        draws = torch.randint(1, self.num_items - 1, shape, device=device)
        return draws + (draws >= exclude).long()

    def log_probabilities(self, items: torch.Tensor) -> torch.Tensor:
        return torch.full(
            items.shape, -math.log(self.num_items - 1), device=items.device
        )

    def __repr__(self) -> str:
        return f"UniformSampler(num_items={self.num_items})"


class PopularitySampler(NegativeSampler):
    """Draw items in proportion to ``(count + 1) ** alpha``: their training
    count, plus one so that no item is never drawn, raised to ``alpha``.

    Parameters
    ----------
    item_counts : array-like of shape (num_items,)
        How often each item occurs in training; entry 0 (padding) is ignored.
    alpha : float, default 0.75
        Exponent; 0 gives uniform sampling over the items, 1 sampling in
        proportion to popularity.
    """

    def __init__(self, item_counts: Any, alpha: float = 0.75) -> None:
        counts = np.asarray(item_counts, dtype=np.float64)
        if counts.ndim != 1 or len(counts) < 3:
            raise ValueError(
                f"item_counts must be 1-D with at least 3 entries, got shape "
                f"{counts.shape}"
            )
        if not np.isfinite(counts).all() or (counts < 0).any():
            raise ValueError("item_counts must be finite and non-negative")
        super().__init__(len(counts))
        self.item_counts = counts
        self.alpha = check_float("alpha", alpha, minimum=0.0, maximum=10.0)
        # Every real item keeps a small chance, so none is never a negative.
        weights = (counts + 1.0) ** self.alpha
        weights[0] = 0.0
        probabilities = weights / weights.sum()
        self._log_probabilities = torch.from_numpy(
            np.log(np.maximum(probabilities, 1e-30))
        ).float()
        self._cdf = torch.from_numpy(np.cumsum(probabilities)).double()

    def sample(
        self,
        shape: tuple[int, ...],
        device: str | torch.device = "cpu",
        exclude: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self._cdf.device != torch.device(device):
            self._cdf = self._cdf.to(device)
            self._log_probabilities = self._log_probabilities.to(device)
        draws = self._draw(shape, device)
        if exclude is not None:
            for _ in range(_REDRAW_ROUNDS):
                hits = draws == exclude
                if not hits.any():
                    break
                draws = torch.where(hits, self._draw(shape, device), draws)
        return draws

    def _draw(self, shape: tuple[int, ...], device: str | torch.device):
        uniform = torch.rand(shape, device=device, dtype=torch.float64)
        items = torch.searchsorted(self._cdf, uniform, right=True)
        return items.clamp_(1, self.num_items - 1)

    def log_probabilities(self, items: torch.Tensor) -> torch.Tensor:
        if self._log_probabilities.device != items.device:
            self._log_probabilities = self._log_probabilities.to(items.device)
        return self._log_probabilities[items]

    def __repr__(self) -> str:
        return f"PopularitySampler(num_items={self.num_items}, alpha={self.alpha})"
