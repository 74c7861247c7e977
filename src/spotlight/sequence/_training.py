"""Helpers of the training loop: seeding, progress, interruption, random state.

Kept apart from the estimator so that it reads as the steps of training.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import numpy as np
import torch
from torch import nn

logger = logging.getLogger("spotlight.sequence.implicit")


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with PyTorch's generators seeded, restoring them after.

    Everything random inside (initialisation, negative sampling, dropout)
    is reproducible, and the caller's global generator state is untouched.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        yield


class _NullProgress:
    """Stands in for a progress bar when none is shown."""

    def update(self, loss: float) -> None:
        pass

    def __enter__(self) -> _NullProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


class _Progress:
    """A tqdm bar over the batches of one epoch, with the running loss."""

    def __init__(self, total: int, epoch: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=f"epoch {epoch}", unit="batch", leave=False)
        self.total_loss = 0.0
        self.count = 0

    def update(self, loss: float) -> None:
        self.total_loss += loss
        self.count += 1
        self.bar.set_postfix(loss=f"{self.total_loss / self.count:.4f}", refresh=False)
        self.bar.update(1)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()


def progress_bar(total: int, epoch: int, enabled: bool) -> _Progress | _NullProgress:
    """A progress bar when ``enabled`` and tqdm is installed, else a stand-in."""
    if not enabled:
        return _NullProgress()
    try:
        return _Progress(total, epoch)
    except ImportError:
        logger.info("install tqdm to see a progress bar during training")
        return _NullProgress()


class DeferredInterrupt:
    """Turn the first Ctrl-C into a request to stop after the current batch.

    Only active in the main thread, where Python delivers signals; a second
    Ctrl-C raises :class:`KeyboardInterrupt` at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self.batches_in_epoch = 0
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("interrupt received: stopping after the current batch")

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def random_state_to_dict(
    random_state: np.random.RandomState | np.random.Generator,
) -> dict[str, Any]:
    """Describe a NumPy generator's state with plain values."""
    if isinstance(random_state, np.random.Generator):
        return {"kind": "generator", "state": random_state.bit_generator.state}
    name, keys, position, has_gauss, gauss = random_state.get_state()
    return {
        "kind": "random_state",
        "state": [name, keys.tolist(), int(position), int(has_gauss), float(gauss)],
    }


def random_state_from_dict(
    description: dict[str, Any],
) -> np.random.RandomState | np.random.Generator:
    """Rebuild a generator described by :func:`random_state_to_dict`."""
    if description["kind"] == "generator":
        state = description["state"]
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
        return np.random.Generator(bit_generator)
    name, keys, position, has_gauss, gauss = description["state"]
    random_state = np.random.RandomState()
    random_state.set_state(
        (name, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss)
    )
    return random_state


# With length bucketing, rows are sorted by length within pools of this many
# batches: batches hold rows of similar length while the order stays random.
_BATCHES_PER_POOL = 50


def real_lengths(sequences: np.ndarray) -> np.ndarray:
    """Number of items after the left padding of each row."""
    real = sequences != 0
    first = np.where(real.any(axis=1), real.argmax(axis=1), sequences.shape[1])
    return sequences.shape[1] - first


def epoch_batches(
    lengths: np.ndarray,
    batch_size: int,
    bucketing: bool,
    random_state: np.random.RandomState | np.random.Generator,
) -> list[np.ndarray]:
    """Row indices of each minibatch of one epoch, in training order.

    Without bucketing, rows are shuffled and cut into consecutive batches.
    With it, the shuffled rows are sorted by length within pools of
    ``_BATCHES_PER_POOL`` batches, cut into batches, and the batches shuffled,
    so that each batch wastes little work on padding.
    """
    order = random_state.permutation(len(lengths))
    if not bucketing:
        return np.array_split(order, range(batch_size, len(order), batch_size))
    batches = []
    pool_size = batch_size * _BATCHES_PER_POOL
    for start in range(0, len(order), pool_size):
        pool = order[start : start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        batches.extend(np.array_split(pool, range(batch_size, len(pool), batch_size)))
    return [batches[index] for index in random_state.permutation(len(batches))]


def trim(sequences: torch.Tensor, lengths: np.ndarray) -> torch.Tensor:
    """Drop the leading columns that are padding in every row."""
    width = max(int(lengths.max()), 1)
    return sequences[:, -width:]


class CompiledOrEager(nn.Module):
    """Run a module through :func:`torch.compile`, or as it is if that fails.

    Compilation happens at the first call; a failure there is logged once and
    the module runs uncompiled from then on. Shapes vary from batch to batch
    (length bucketing), so the module is compiled for dynamic shapes.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.compiled: Any = None
        self.failed = False

    def forward(self, *inputs: Any) -> Any:
        if self.failed:
            return self.module(*inputs)
        try:
            if self.compiled is None:
                self.compiled = torch.compile(self.module, dynamic=True)
            return self.compiled(*inputs)
        except Exception as error:  # any compiler failure: fall back
            self.failed = True
            logger.warning(
                "torch.compile failed (%s); training continues uncompiled",
                str(error).splitlines()[0][:200] if str(error) else type(error),
            )
            return self.module(*inputs)
