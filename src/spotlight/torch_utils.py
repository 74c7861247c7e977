"""Small PyTorch helpers: devices, minibatches, shuffling and seeding."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from spotlight._validation import RandomStateLike, check_int, check_random_state

__all__ = ["cpu", "gpu", "minibatch", "set_seed", "shuffle", "to_device"]


def to_device(value: Any, device: str | torch.device) -> Any:
    """Move a tensor, or every tensor inside a list, tuple or dict, to ``device``.

    Parameters
    ----------
    value : torch.Tensor, list, tuple or dict
        What to move; other objects are returned unchanged.
    device : str or torch.device

    Returns
    -------
    The same structure with its tensors on ``device``.
    """
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, list | tuple):
        return type(value)(to_device(item, device) for item in value)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    return value


def gpu(tensor: Any, gpu: bool = False) -> Any:
    """Move ``tensor`` to the current CUDA device when ``gpu`` is true.

    Parameters
    ----------
    tensor : torch.Tensor, or a list, tuple or dict of tensors
    gpu : bool, default False

    Returns
    -------
    The same structure, on the GPU when ``gpu`` is true.

    Raises
    ------
    RuntimeError
        If ``gpu`` is true and PyTorch sees no CUDA device.
    """
    if not gpu:
        return tensor
    if not torch.cuda.is_available():
        raise RuntimeError(
            "gpu=True but PyTorch sees no CUDA device; install a CUDA build of "
            "torch or leave gpu=False"
        )
    return to_device(tensor, "cuda")


def cpu(tensor: Any) -> Any:
    """Move ``tensor`` (or a structure of tensors) to the CPU.

    Parameters
    ----------
    tensor : torch.Tensor, or a list, tuple or dict of tensors

    Returns
    -------
    The same structure on the CPU.
    """
    return to_device(tensor, "cpu")


def minibatch(*tensors: Any, batch_size: int = 128) -> Iterator[Any]:
    """Yield consecutive slices of ``batch_size`` rows of the given arrays.

    Parameters
    ----------
    *tensors : arrays or tensors of equal length
    batch_size : int, default 128

    Yields
    ------
    One slice when a single array is given, else a tuple of slices.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not tensors:
        raise ValueError("minibatch needs at least one array")
    length = len(tensors[0])
    if any(len(tensor) != length for tensor in tensors):
        lengths = [len(tensor) for tensor in tensors]
        raise ValueError(f"all arrays must have the same length, got {lengths}")
    for start in range(0, length, batch_size):
        if len(tensors) == 1:
            yield tensors[0][start : start + batch_size]
        else:
            yield tuple(tensor[start : start + batch_size] for tensor in tensors)


def shuffle(*arrays: Any, random_state: RandomStateLike = None) -> Any:
    """Shuffle arrays of equal length with one common permutation.

    Parameters
    ----------
    *arrays : numpy arrays or tensors of equal length
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator

    Returns
    -------
    One shuffled array when a single array is given, else a tuple.
    """
    if not arrays:
        raise ValueError("shuffle needs at least one array")
    length = len(arrays[0])
    if any(len(array) != length for array in arrays):
        lengths = [len(array) for array in arrays]
        raise ValueError(f"all arrays must have the same length, got {lengths}")
    permutation = check_random_state(random_state).permutation(length)
    shuffled = tuple(array[permutation] for array in arrays)
    return shuffled[0] if len(shuffled) == 1 else shuffled


def set_seed(seed: int, cuda: bool = False) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators.

    This changes global state on purpose; models never call it themselves
    (pass ``random_state`` to them instead).

    Parameters
    ----------
    seed : int
    cuda : bool, default False
        Also seed every CUDA device.
    """
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeding the global generator is the point)
    torch.manual_seed(seed)
    if cuda:
        torch.cuda.manual_seed_all(seed)
