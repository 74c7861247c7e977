"""An optimizer for networks that mix sparse and dense gradients.

Adam refuses sparse gradients, and SparseAdam refuses dense ones. With
``sparse=True`` the embeddings produce sparse gradients while the rest of a
network (convolutions, recurrent layers) stays dense, so the two are paired.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["SparseDenseAdam", "split_sparse_parameters"]


def split_sparse_parameters(
    network: nn.Module,
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Return the parameters with sparse gradients and the others."""
    sparse_ids = {
        id(module.weight)
        for module in network.modules()
        if isinstance(module, nn.Embedding) and module.sparse
    }
    sparse, dense = [], []
    for parameter in network.parameters():
        (sparse if id(parameter) in sparse_ids else dense).append(parameter)
    return sparse, dense


class SparseDenseAdam:
    """SparseAdam for the sparse-gradient parameters, Adam for the rest.

    Parameters
    ----------
    sparse_parameters, dense_parameters : iterable of torch.nn.Parameter
    lr : float
        Learning rate of both.
    weight_decay : float
        L2 penalty, applied to the dense parameters only (SparseAdam has none).
    """

    def __init__(
        self,
        sparse_parameters: Iterable[nn.Parameter],
        dense_parameters: Iterable[nn.Parameter],
        lr: float,
        weight_decay: float = 0.0,
    ) -> None:
        sparse_parameters = list(sparse_parameters)
        dense_parameters = list(dense_parameters)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        if sparse_parameters:
            self.optimizers["sparse"] = torch.optim.SparseAdam(sparse_parameters, lr=lr)
        if dense_parameters:
            self.optimizers["dense"] = torch.optim.Adam(
                dense_parameters, lr=lr, weight_decay=weight_decay
            )

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups of both optimizers (to change learning rates)."""
        return [
            group
            for optimizer in self.optimizers.values()
            for group in optimizer.param_groups
        ]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter."""
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        """Update every parameter."""
        for optimizer in self.optimizers.values():
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """Return the state of both optimizers."""
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`."""
        if set(state) != set(self.optimizers):
            raise ValueError(
                f"optimizer state has parts {sorted(state)}, expected "
                f"{sorted(self.optimizers)}"
            )
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state[name])
