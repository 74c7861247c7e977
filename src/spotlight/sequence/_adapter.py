"""Run a network written for Spotlight's interface inside this library.

A Spotlight representation module has ``user_representation(sequences)``,
returning per-step representations with the sequence dimension last and the
final one, and ``forward(user_representations, targets)``, scoring targets
laid out like the representations' sequence dimension. :class:`ModuleAdapter`
gives such a module the interface of
:class:`~spotlight.sequence.representations.SequenceNet`. It is correct but
slower than the built-in networks, since every candidate goes through the
module's ``forward``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ModuleAdapter"]

# Representations scored at once by score_shared, to bound memory.
_ROWS_PER_CHUNK = 256


class ModuleAdapter(nn.Module):
    """Wrap a module with Spotlight's ``user_representation``/``forward``.

    Parameters
    ----------
    module : torch.nn.Module
    num_items : int
        Number of item ids, padding included.
    """

    def __init__(self, module: nn.Module, num_items: int) -> None:
        super().__init__()
        for method in ("user_representation", "forward"):
            if not callable(getattr(module, method, None)):
                raise TypeError(
                    f"representation must be a name or a module with "
                    f"user_representation() and forward(); "
                    f"{type(module).__name__} has no {method}()"
                )
        self.module = module
        self.num_items = num_items
        self._inner_shape: tuple[int, ...] | None = None

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        """Per-step and final representations as ``(batch, length + 1, R)``."""
        steps, final = self.module.user_representation(sequences)
        self._inner_shape = tuple(steps.shape[1:-1])
        batch, length = steps.shape[0], steps.shape[-1]
        steps = steps.reshape(batch, -1, length).transpose(1, 2)
        return torch.cat((steps, final.reshape(batch, 1, -1)), dim=1)

    def final_representation(self, sequences: torch.Tensor) -> torch.Tensor:
        """The representation after the whole sequence, ``(batch, R)``."""
        return self.representations(sequences)[:, -1]

    def score(self, representations: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Score ``items`` ``(*, n)`` against aligned representations ``(*, R)``."""
        leading = representations.shape[:-1]
        flat = representations.reshape(-1, representations.shape[-1])
        flat_items = items.reshape(-1, items.shape[-1])  # (rows, n)
        inner = self._inner_shape or (flat.shape[-1],)
        layout = flat.reshape(len(flat), *inner, 1).expand(
            *([-1] * (len(inner) + 1)), flat_items.shape[-1]
        )
        return self.module(layout, flat_items).reshape(*leading, -1)

    def score_per_sequence(
        self, representations: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        """Score ``items`` ``(batch, n)`` at every step ``(batch, length, R)``."""
        expanded = items.unsqueeze(1).expand(-1, representations.shape[1], -1)
        return self.score(representations, expanded)

    def score_shared(
        self, representations: torch.Tensor, items: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Score one set of items (all by default) against every representation."""
        if items is None:
            items = torch.arange(self.num_items, device=representations.device)
        leading = representations.shape[:-1]
        flat = representations.reshape(-1, representations.shape[-1])
        chunks = [
            self.score(chunk, items.expand(len(chunk), -1))
            for chunk in flat.split(_ROWS_PER_CHUNK)
        ]
        return torch.cat(chunks).reshape(*leading, -1)
