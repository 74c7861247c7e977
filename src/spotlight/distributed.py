"""Data-parallel training over :mod:`torch.distributed`.

Launched by ``torchrun`` (or any launcher that sets the variables ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``), several
processes train one model together. Each holds a whole copy of the network
and trains on its own part of every minibatch; after each backward pass the
gradients are averaged over the processes, so that the copies stay identical.

This module holds what the estimator needs for that: detecting the launch,
joining or creating the process group (gloo on the CPU, NCCL on CUDA) with a
timeout, cutting minibatches into one part per process, averaging across
processes, and turning the failure of a peer process into a clear error.
Without the launcher's variables, :func:`training_group` returns a group of
one process whose operations change nothing, so single-process training runs
exactly as before.

Examples
--------
Two processes on this machine::

    torchrun --nproc_per_node=2 train.py

and in ``train.py``, nothing but the usual ``model.fit(sequences)``; write
files only where :func:`is_main_process` is true.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import nn

from spotlight.exceptions import SpotlightError

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_VARIABLE",
    "MainProcessFilter",
    "PeerFailureError",
    "TrainingGroup",
    "get_rank",
    "get_world_size",
    "initialize",
    "is_distributed",
    "is_launched",
    "is_main_process",
    "mean_across_processes",
    "shard_batches",
    "shutdown",
    "timeout_seconds",
    "training_group",
]

logger = logging.getLogger(__name__)

TIMEOUT_VARIABLE = "SPOTLIGHT_DISTRIBUTED_TIMEOUT"
"""Environment variable holding the timeout of collective operations, in s."""

DEFAULT_TIMEOUT = 600.0
"""Seconds a process waits for its peers before giving up, by default.

Long enough for the main process to evaluate and write files while the
others wait at the next epoch; short enough that a hung run ends.
"""

# Words of the errors raised by the gloo and NCCL transports and by the
# rendezvous, which tell a failed peer from an ordinary RuntimeError.
_TRANSPORT_WORDS = ("gloo", "nccl", "connection", "timed out", "timeout", "peer")

# Whether the process group was created here, and so is ours to destroy.
_created_here = False


class PeerFailureError(SpotlightError, RuntimeError):
    """Another process of a distributed run failed, left or stopped answering.

    The message names this process, the timeout and the original error; the
    first error of the run is in the log of the process that failed.
    """


def _available() -> bool:
    return torch.distributed.is_available()


def is_launched() -> bool:
    """Whether a launcher asked for more than one process.

    Returns
    -------
    bool
        True when ``WORLD_SIZE`` is set to more than 1.

    Raises
    ------
    ValueError
        If ``WORLD_SIZE`` or ``RANK`` is not a valid number.
    """
    world_size = _environment_int("WORLD_SIZE", default=1, minimum=1)
    if world_size == 1:
        return False
    rank = _environment_int("RANK", default=0, minimum=0)
    if rank >= world_size:
        raise ValueError(f"RANK must be below WORLD_SIZE={world_size}, got {rank}")
    return True


def is_distributed() -> bool:
    """Whether a process group of more than one process is initialised.

    Returns
    -------
    bool
    """
    return (
        _available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


def get_rank() -> int:
    """The rank of this process: from the process group, else ``RANK``, else 0.

    Returns
    -------
    int
    """
    if _available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return _environment_int("RANK", default=0, minimum=0)


def get_world_size() -> int:
    """The number of processes: from the process group, else ``WORLD_SIZE``.

    Returns
    -------
    int
        1 when not launched.
    """
    if _available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return _environment_int("WORLD_SIZE", default=1, minimum=1)


def is_main_process() -> bool:
    """Whether this process is rank 0, the one that logs and writes files.

    Works before the process group is initialised (from ``RANK``), so that
    a script can decide early what to print.

    Returns
    -------
    bool
        True outside distributed runs.
    """
    return get_rank() == 0


class MainProcessFilter(logging.Filter):
    """A logging filter that keeps records of the main process only.

    Parameters
    ----------
    name : str, default ""
        As for :class:`logging.Filter`: when given, only the records of that
        logger and its children pass, and only on rank 0.

    Examples
    --------
    >>> import logging
    >>> logging.getLogger("my.training").addFilter(MainProcessFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record on rank 0 only.

        Parameters
        ----------
        record : logging.LogRecord

        Returns
        -------
        bool
        """
        return super().filter(record) and is_main_process()


def timeout_seconds(timeout: float | None = None) -> float:
    """The timeout of collective operations, in seconds.

    Parameters
    ----------
    timeout : float, optional
        Seconds; by default the value of ``SPOTLIGHT_DISTRIBUTED_TIMEOUT``,
        else :data:`DEFAULT_TIMEOUT`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the timeout is not a positive number of seconds.
    """
    source = "timeout"
    if timeout is None:
        text = os.environ.get(TIMEOUT_VARIABLE)
        if text is None:
            return DEFAULT_TIMEOUT
        source = f"the environment variable {TIMEOUT_VARIABLE}"
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(
                f"{source} must be a positive number of seconds, got {text!r}"
            ) from None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"{source} must be a number of seconds, got {timeout!r}")
    if not np.isfinite(timeout) or timeout <= 0:
        raise ValueError(
            f"{source} must be a positive number of seconds, got {timeout!r}"
        )
    return float(timeout)


def initialize(
    device: str | torch.device = "cpu", timeout: float | None = None
) -> bool:
    """Join the distributed run this process was launched into, if any.

    Creates the default process group from the launcher's variables: gloo
    for a CPU ``device``, NCCL for a CUDA one (each process then uses the
    GPU of its ``LOCAL_RANK``). An existing process group is kept as it is.

    Parameters
    ----------
    device : str or torch.device, default "cpu"
        Where the model trains; chooses the backend.
    timeout : float, optional
        Seconds to wait for the other processes in any collective operation
        before raising; by default from ``SPOTLIGHT_DISTRIBUTED_TIMEOUT``, else
        :data:`DEFAULT_TIMEOUT`.

    Returns
    -------
    bool
        Whether this process now belongs to a group of more than one.

    Raises
    ------
    RuntimeError
        If the launcher asked for several processes but this build of
        PyTorch has no :mod:`torch.distributed`, or the backend is missing.
    PeerFailureError
        If the other processes do not join within the timeout.
    """
    if _available() and torch.distributed.is_initialized():
        return is_distributed()
    if not is_launched():
        return False
    backend = _backend_for(torch.device(device))
    seconds = timeout_seconds(timeout)
    if backend == "nccl":
        torch.cuda.set_device(_environment_int("LOCAL_RANK", default=0, minimum=0))
    try:
        torch.distributed.init_process_group(
            backend, timeout=datetime.timedelta(seconds=seconds)
        )
    except RuntimeError as error:
        raise _join_failure(error, seconds) from error
    global _created_here
    _created_here = True
    if is_main_process():
        logger.info(
            "distributed training: %d processes, %s backend, timeout %g s",
            get_world_size(),
            backend,
            seconds,
        )
    return True


def _backend_for(device: torch.device) -> str:
    """The backend for a device, refused with a clear error when absent."""
    if not _available():
        raise RuntimeError(
            f"WORLD_SIZE={os.environ.get('WORLD_SIZE')} asks for distributed "
            "training, but this build of PyTorch has no torch.distributed"
        )
    backend = "nccl" if device.type == "cuda" else "gloo"
    present = (
        torch.distributed.is_nccl_available()
        if backend == "nccl"
        else torch.distributed.is_gloo_available()
    )
    if not present:
        raise RuntimeError(
            f"distributed training on device {str(device)!r} needs the {backend} "
            "backend, which this build of PyTorch lacks"
        )
    return backend


def shutdown() -> None:
    """Destroy the process group if :func:`initialize` created it.

    Safe to call in any process, launched or not, and more than once. A group
    created by the caller is left for the caller to destroy.
    """
    global _created_here
    if _created_here and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    _created_here = False


def shard_batches(
    batches: Sequence[np.ndarray], rank: int, world_size: int
) -> list[np.ndarray]:
    """This process's part of each global minibatch.

    Every process cuts each global batch into ``world_size`` contiguous parts
    whose sizes differ by at most one and keeps part ``rank``. A batch with
    fewer rows than processes (at most the last one, or one per epoch with
    length bucketing) is dropped in every process, so that all of them run
    the same number of steps.

    Parameters
    ----------
    batches : sequence of numpy.ndarray
        Row indices of each global batch, the same in every process.
    rank : int
        This process, in ``[0, world_size)``.
    world_size : int
        Number of processes.

    Returns
    -------
    list of numpy.ndarray
        Row indices of this process's part of each batch kept.

    Raises
    ------
    ValueError
        If ``rank`` is not in ``[0, world_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> shard_batches([np.arange(5), np.arange(5, 6)], rank=1, world_size=2)
    [array([3, 4])]
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"rank must be in [0, world_size) with world_size >= 1, got rank={rank} "
            f"and world_size={world_size}"
        )
    kept = [rows for rows in batches if len(rows) >= world_size]
    if len(kept) < len(batches):
        logger.debug(
            "dropped %d batch(es) with fewer rows than the %d processes",
            len(batches) - len(kept),
            world_size,
        )
    return [np.array_split(rows, world_size)[rank] for rows in kept]


def mean_across_processes(tensor: torch.Tensor) -> torch.Tensor:
    """Average a tensor over the processes of the run (all-reduce).

    Parameters
    ----------
    tensor : torch.Tensor
        The same shape in every process.

    Returns
    -------
    torch.Tensor
        A new tensor holding the mean; ``tensor`` itself outside distributed
        runs.
    """
    if not is_distributed():
        return tensor
    total = tensor.detach().clone()
    torch.distributed.all_reduce(total)
    return total / torch.distributed.get_world_size()


class TrainingGroup:
    """The processes that train one model; a single process is a group of one.

    Use as a context manager around training: inside it, an error of the
    transport (a peer that died, a timeout) becomes a
    :class:`PeerFailureError`. Every method of a group of one returns its
    input unchanged, so single-process training is not altered at all.
    Build one with :func:`training_group`.

    Attributes
    ----------
    rank : int
    world_size : int
    is_main : bool
        Whether this process logs, shows progress and writes files.
    """

    rank = 0
    world_size = 1
    is_main = True

    def __enter__(self) -> TrainingGroup:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def check_same_data(self, sequences: np.ndarray) -> None:
        """Refuse to train when the processes were given different data.

        Parameters
        ----------
        sequences : numpy.ndarray, shape (num_sequences, length)
        """

    def broadcast(self, value: Any) -> Any:
        """Return rank 0's ``value`` in every process.

        Parameters
        ----------
        value : picklable object

        Returns
        -------
        object
        """
        return value

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module to train with: gradients averaged across processes.

        Parameters
        ----------
        module : torch.nn.Module

        Returns
        -------
        torch.nn.Module
        """
        return module

    def shard(self, batches: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        """This process's part of each global batch (see :func:`shard_batches`).

        Parameters
        ----------
        batches : sequence of numpy.ndarray

        Returns
        -------
        sequence of numpy.ndarray
        """
        return batches

    def process_seed(self, seed: int) -> int:
        """A seed of this process's own random draws (negatives, dropout).

        Parameters
        ----------
        seed : int
            The seed shared by every process.

        Returns
        -------
        int
            Non-negative, below 2**63; different in each process.
        """
        return seed

    def agree(self, loss: torch.Tensor, stop: bool) -> tuple[float, bool]:
        """The loss averaged over processes, and whether any asks to stop.

        Parameters
        ----------
        loss : torch.Tensor
            This process's scalar loss of the batch.
        stop : bool
            Whether this process was asked to stop (Ctrl-C).

        Returns
        -------
        loss : float
        stop : bool
        """
        return loss.item(), stop

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true in any process.

        Parameters
        ----------
        flag : bool

        Returns
        -------
        bool
        """
        return flag


class _DataParallelGroup(TrainingGroup):
    """A group of several processes over the default process group."""

    def __init__(self, device: torch.device, timeout: float | None) -> None:
        self.rank = torch.distributed.get_rank()
        self.world_size = torch.distributed.get_world_size()
        self.is_main = self.rank == 0
        self.backend = torch.distributed.get_backend()
        self.timeout = timeout
        # Collectives of NCCL run on this process's GPU, gloo's on the CPU.
        if self.backend == "nccl":
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
        self.model_device = device

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if _is_transport_error(error):
            raise _peer_failure(error, self.rank, self.timeout) from error

    def check_same_data(self, sequences: np.ndarray) -> None:
        digest = hashlib.blake2b(
            np.ascontiguousarray(sequences).tobytes(), digest_size=7
        ).digest()
        mine = torch.tensor(
            [*sequences.shape, int.from_bytes(digest, "little")], device=self.device
        )
        everyone = [torch.empty_like(mine) for _ in range(self.world_size)]
        torch.distributed.all_gather(everyone, mine)
        different = [
            rank
            for rank, theirs in enumerate(everyone)
            if not torch.equal(theirs, everyone[0])
        ]
        if different:
            raise ValueError(
                "every process must train on the same sequences, but those of "
                f"rank(s) {different} differ from those of rank 0 (shapes "
                f"{[tuple(t[:2].tolist()) for t in everyone]}); load and split the "
                "data the same way, with the same seeds, in every process"
            )

    def broadcast(self, value: Any) -> Any:
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def wrap(self, module: nn.Module) -> nn.Module:
        if self.backend != "gloo" and _has_sparse_gradients(module):
            raise NotImplementedError(
                f"sparse=True is not supported with the {self.backend} backend: "
                "DistributedDataParallel averages sparse gradients with gloo only. "
                "Use sparse=False, or train on the CPU (gloo)"
            )
        device_ids = None
        if self.model_device.type == "cuda":
            index = self.model_device.index
            device_ids = [torch.cuda.current_device() if index is None else index]
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)

    def shard(self, batches: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        return shard_batches(batches, self.rank, self.world_size)

    def process_seed(self, seed: int) -> int:
        state = np.random.SeedSequence([seed, self.rank]).generate_state(1, np.uint64)
        return int(state[0] >> np.uint64(1))

    def agree(self, loss: torch.Tensor, stop: bool) -> tuple[float, bool]:
        flag = torch.tensor(float(stop), device=loss.device)
        summary = torch.stack([loss.detach().float().reshape(()), flag])
        summary = summary.to(self.device)
        torch.distributed.all_reduce(summary)
        total, stops = summary.tolist()
        return total / self.world_size, stops > 0

    def any(self, flag: bool) -> bool:
        summary = torch.tensor([float(flag)], device=self.device)
        torch.distributed.all_reduce(summary)
        return summary.item() > 0


def training_group(device: str | torch.device = "cpu") -> TrainingGroup:
    """The group of processes that trains the model, created when launched.

    Parameters
    ----------
    device : str or torch.device, default "cpu"
        Where the model trains; chooses the backend if the process group has
        to be created (see :func:`initialize`).

    Returns
    -------
    TrainingGroup
        A group of one, doing nothing, outside distributed runs.

    Raises
    ------
    PeerFailureError
        If the other processes do not join within the timeout.
    """
    if not initialize(device):
        return TrainingGroup()
    return _DataParallelGroup(torch.device(device), _group_timeout())


def _group_timeout() -> float | None:
    """Seconds of the default group's timeout, or None when unknown."""
    try:
        backend = torch.distributed.group.WORLD._get_backend(torch.device("cpu"))
        return backend.options._timeout.total_seconds()
    except (AttributeError, RuntimeError):
        return None


def _has_sparse_gradients(module: nn.Module) -> bool:
    return any(
        isinstance(layer, nn.Embedding | nn.EmbeddingBag) and layer.sparse
        for layer in module.modules()
    )


def _is_transport_error(error: BaseException | None) -> bool:
    if error is None or isinstance(error, SpotlightError):
        return False
    if isinstance(error, getattr(torch.distributed, "DistError", ())):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(
        word in text for word in _TRANSPORT_WORDS
    )


def _peer_failure(
    error: BaseException, rank: int, timeout: float | None
) -> PeerFailureError:
    waited = "its timeout" if timeout is None else f"the timeout of {timeout:g} s"
    return PeerFailureError(
        f"process {rank} stopped: a peer process of the distributed run failed, "
        f"exited or did not answer within {waited} (set it with the environment "
        f"variable {TIMEOUT_VARIABLE}, in seconds). The first error is in the "
        f"log of the process that failed. The transport said: {_first_line(error)}"
    )


def _join_failure(error: BaseException, timeout: float) -> PeerFailureError:
    address = (
        f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    )
    return PeerFailureError(
        f"process {get_rank()} could not join the distributed run of "
        f"{get_world_size()} processes at {address} within {timeout:g} s (set "
        f"with {TIMEOUT_VARIABLE}): {_first_line(error)}. Start every process "
        "with the same MASTER_ADDR and MASTER_PORT, on a free port that the "
        "other machines can reach"
    )


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _environment_int(name: str, default: int, minimum: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"the environment variable {name} must be an integer, got {text!r}"
        ) from None
    if value < minimum:
        raise ValueError(
            f"the environment variable {name} must be at least {minimum}, got {value}"
        )
    return value
