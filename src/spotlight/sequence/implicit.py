"""The implicit-feedback sequence model: learn to predict the next item.

:class:`ImplicitSequenceModel` keeps the constructor, ``fit`` and ``predict``
of Spotlight's model of the same name, so Spotlight code runs unchanged, and
adds batch prediction, ``recommend``, safe saving, more networks and losses,
checkpoints and interruption that keeps the model.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spotlight import __version__, distributed
from spotlight._optim import SparseDenseAdam, split_sparse_parameters
from spotlight._validation import (
    _show,
    check_choice,
    check_float,
    check_int,
    check_random_state,
    draw_seed,
)
from spotlight.exceptions import DivergenceError, ModelFileError, NotFittedError
from spotlight.id_mapping import IdMapping
from spotlight.interactions import PADDING_IDX, SequenceInteractions
from spotlight.sampling import NegativeSampler, PopularitySampler, UniformSampler
from spotlight.sequence import _training
from spotlight.sequence._adapter import ModuleAdapter
from spotlight.sequence._objectives import LOSSES, Objective
from spotlight.sequence._repeats import add_repeat_offset, repeat_offset, seen_items
from spotlight.sequence.representations import NETWORKS, SequenceNet, build_network
from spotlight.serialization import read_state, write_state

__all__ = ["ImplicitSequenceModel"]

logger = logging.getLogger(__name__)
logger.addFilter(distributed.MainProcessFilter())

# Sequences scored at once by predict and recommend, to bound memory.
_PREDICT_BATCH = 1024


class ImplicitSequenceModel:
    """Learn from users' item sequences to recommend their next item.

    For every training row and every position, the model learns to score the
    item at that position above sampled (or all) other items, from a
    representation of the items before it.

    Parameters
    ----------
    loss : str, default "pointwise"
        Spotlight's ``"pointwise"``, ``"bpr"``, ``"hinge"``,
        ``"adaptive_hinge"``; or ``"bce"``, ``"gbce"``, ``"sampled_softmax"``,
        ``"softmax"`` (see :mod:`spotlight.losses`).
    representation : str or torch.nn.Module, default "pooling"
        ``"pooling"``, ``"cnn"``, ``"lstm"``, ``"mixture"``, ``"gru"``,
        ``"transformer"``, or a network instance (one of
        :mod:`spotlight.sequence.representations`, or any module with
        Spotlight's ``user_representation`` and ``forward``).
    embedding_dim : int, default 32
    n_iter : int, default 10
        Epochs per call of :meth:`fit`.
    batch_size : int, default 256
        Sequences per minibatch.
    l2 : float, default 0.0
        L2 penalty (Adam's weight decay).
    learning_rate : float, default 0.01
    optimizer_func : callable, optional
        ``optimizer_func(parameters)`` returns the optimizer to use instead
        of Adam.
    use_cuda : bool, default False
        Train and predict on the current CUDA device.
    sparse : bool, default False
        Sparse gradients for the embeddings, optimised by SparseAdam (Adam
        for the other parameters; ``l2`` applies to those only). Refused with
        ``loss="softmax"``, whose gradients reach every item.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        Seeds initialisation, shuffling, negative sampling and dropout. With a
        seed, a CPU run is fully reproducible; no global generator is touched.
    num_negative_samples : int, default 5
        Negatives per position (``adaptive_hinge``, ``bce``), per sequence
        (``gbce``) or per batch (``sampled_softmax``); the other losses use
        one negative per position.
    device : str or torch.device, optional
        Device to use, such as ``"cuda:1"``; overrides ``use_cuda``.
    representation_kwargs : dict, optional
        Extra arguments of the network built from a ``representation`` name,
        such as ``{"num_layers": 2, "dropout": 0.2}`` for ``"transformer"``.
    negative_sampling : {"uniform", "popularity"}, default "uniform"
        How negatives are drawn: uniformly (Spotlight) or in proportion to
        the training count of each item raised to ``popularity_alpha``.
    popularity_alpha : float, default 0.75
    exclude_positive : bool, default False
        Never draw the positive as a negative (per-position sampling).
        Spotlight does not exclude it; the sampled softmax and gBCE always
        mask such accidental hits.
    gbce_calibration : float, default 0.75
        Calibration ``t`` of the ``gbce`` loss, in [0, 1].
    length_bucketing : bool, default False
        Group rows of similar length into the same minibatch and drop the
        columns that are padding in every row of a batch, in training and in
        prediction. Much faster when rows are padded a lot; exact for
        ``"pooling"`` and ``"transformer"``, a slight change of arithmetic for
        the others (recurrent and convolutional networks no longer run over
        long runs of padding). The default, ``False``, runs every batch at
        full length, as Spotlight does.
    scheduler_func : callable, optional
        ``scheduler_func(optimizer)`` returns a learning-rate scheduler (such
        as one of :mod:`torch.optim.lr_scheduler`), stepped after every
        minibatch, over all calls of :meth:`fit`; for example a warm-up and a
        cosine decay over the ``epochs * ceil(len(sequences) / batch_size)``
        steps of a run. With ``sparse=True`` the optimizer is not a
        :class:`torch.optim.Optimizer`, so PyTorch's schedulers refuse it.
    mixed_precision : bool, default False
        Train under :func:`torch.autocast` with bfloat16: matrix products in
        bfloat16; parameters, optimizer, normalisations and the softmax in
        float32. Meant for GPUs with bfloat16 support and CPUs with AMX; on a
        CPU with AVX-512 BF16 alone it gave no reliable gain for the
        transformer (0.94 to 1.27 times the float32 speed: its matrices are
        small, and bfloat16 attention is slower there). Epoch losses agree
        with float32 training within about a part in a thousand. Prediction
        stays float32.
    compile : bool, default False
        Compile the training step with :func:`torch.compile`. The first
        batches take longer while it compiles; if compilation fails (no C++
        compiler, an unsupported operation), training goes on uncompiled with
        a warning.
    repeat_offset : bool, default False
        Learn one number added to the score of every item already in the
        sequence, in training and in prediction, so that the model can learn
        how often users come back to an item: rarely for films, often for
        songs. It is the network's parameter ``repeat_offset``. It leaves
        Spotlight's interface (``user_representation`` and ``forward`` of the
        network) unchanged, which knows no context items.

    Attributes
    ----------
    id_mapping_ : IdMapping or None
        The mapping of original ids of the training data, if it had one.
    epochs_completed_ : int
        Epochs trained so far, over all calls of :meth:`fit`.
    loss_history_ : list of float
        Mean training loss of each epoch.
    interrupted_ : bool
        Whether the last :meth:`fit` stopped early on Ctrl-C.
    metadata_ : dict
        Plain values stored with the model by :meth:`save` (empty by
        default), such as how the training data was prepared.

    Examples
    --------
    >>> from spotlight.datasets.synthetic import generate_sequential
    >>> log = generate_sequential(num_users=50, num_items=30,
    ...                           num_interactions=1000, random_state=0)
    >>> model = ImplicitSequenceModel(n_iter=2, random_state=0)
    >>> model.fit(log.to_sequence(max_sequence_length=10))  # doctest: +ELLIPSIS
    <spotlight.sequence.implicit.ImplicitSequenceModel object at ...>
    >>> model.predict([3, 5, 7]).shape
    (30,)
    """

    def __init__(
        self,
        loss: str = "pointwise",
        representation: str | nn.Module = "pooling",
        embedding_dim: int = 32,
        n_iter: int = 10,
        batch_size: int = 256,
        l2: float = 0.0,
        learning_rate: float = 1e-2,
        optimizer_func: Callable[[Any], Any] | None = None,
        use_cuda: bool = False,
        sparse: bool = False,
        random_state: Any = None,
        num_negative_samples: int = 5,
        *,
        device: str | torch.device | None = None,
        representation_kwargs: dict[str, Any] | None = None,
        negative_sampling: str = "uniform",
        popularity_alpha: float = 0.75,
        exclude_positive: bool = False,
        gbce_calibration: float = 0.75,
        length_bucketing: bool = False,
        scheduler_func: Callable[[Any], Any] | None = None,
        mixed_precision: bool = False,
        compile: bool = False,
        repeat_offset: bool = False,
    ) -> None:
        self._loss = check_choice("loss", loss, LOSSES)
        if isinstance(representation, str):
            check_choice("representation", representation, tuple(NETWORKS))
        elif not isinstance(representation, nn.Module):
            raise TypeError(
                "representation must be one of "
                f"{', '.join(map(repr, NETWORKS))} or a torch.nn.Module, got "
                f"{_show(representation)}"
            )
        self._representation = representation
        self._embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
        self._n_iter = check_int("n_iter", n_iter, minimum=1)
        self._batch_size = check_int("batch_size", batch_size, minimum=1)
        self._l2 = check_float("l2", l2, minimum=0.0)
        self._learning_rate = check_float(
            "learning_rate", learning_rate, minimum=0.0, inclusive=False
        )
        if optimizer_func is not None and not callable(optimizer_func):
            raise TypeError(
                f"optimizer_func must be callable, got {_show(optimizer_func)}"
            )
        self._optimizer_func = optimizer_func
        if scheduler_func is not None and not callable(scheduler_func):
            raise TypeError(
                f"scheduler_func must be callable, got {_show(scheduler_func)}"
            )
        self._scheduler_func = scheduler_func
        self._use_cuda = bool(use_cuda)
        self._sparse = bool(sparse)
        if self._sparse and self._loss == "softmax":
            raise ValueError(
                "sparse=True cannot be used with loss='softmax', which updates "
                "every item embedding at every step; use sparse=False, or "
                "loss='sampled_softmax' with sparse embeddings"
            )
        self._random_state = check_random_state(random_state)
        self._num_negative_samples = check_int(
            "num_negative_samples", num_negative_samples, minimum=1
        )
        self._device = _resolve_device(device, self._use_cuda)
        if representation_kwargs is not None and not isinstance(
            representation_kwargs, dict
        ):
            raise TypeError(
                "representation_kwargs must be a dict, got "
                f"{_show(representation_kwargs)}"
            )
        self._representation_kwargs = dict(representation_kwargs or {})
        self._negative_sampling = check_choice(
            "negative_sampling", negative_sampling, ("uniform", "popularity")
        )
        self._popularity_alpha = check_float(
            "popularity_alpha", popularity_alpha, 0.0, 10.0
        )
        self._exclude_positive = bool(exclude_positive)
        self._gbce_calibration = check_float("gbce_calibration", gbce_calibration, 0, 1)
        self._length_bucketing = bool(length_bucketing)
        self._mixed_precision = bool(mixed_precision)
        self._compile = bool(compile)
        self._repeat_offset = bool(repeat_offset)

        self._net: nn.Module | None = None
        self._optimizer: Any = None
        self._scheduler: Any = None
        self._objective: Objective | None = None
        self._num_items: int | None = None
        self.id_mapping_: IdMapping | None = None
        self.epochs_completed_ = 0
        self.loss_history_: list[float] = []
        self.interrupted_ = False
        self.metadata_: dict[str, Any] = {}

    def __repr__(self) -> str:
        representation = (
            self._representation
            if isinstance(self._representation, str)
            else type(self._representation).__name__
        )
        fitted = "fitted" if self._initialized else "not fitted"
        return (
            f"<ImplicitSequenceModel: loss={self._loss!r}, "
            f"representation={representation!r}, "
            f"embedding_dim={self._embedding_dim}, {fitted}>"
        )

    @property
    def _initialized(self) -> bool:
        return self._net is not None

    @property
    def num_items(self) -> int:
        """Number of item ids the fitted model scores, padding included."""
        self._check_fitted()
        return self._num_items

    @property
    def network(self) -> nn.Module:
        """The fitted network."""
        self._check_fitted()
        return self._net

    def _check_fitted(self) -> None:
        if self._net is None:
            raise NotFittedError(
                "this ImplicitSequenceModel is not fitted yet; call fit() with "
                "training sequences first"
            )

    def _build_network(self, num_items: int) -> nn.Module:
        """The network for ``num_items`` items, on the model's device."""
        if isinstance(self._representation, str):
            config = {
                "num_items": num_items,
                "embedding_dim": self._embedding_dim,
                "sparse": self._sparse,
                **self._representation_kwargs,
            }
            class_name = NETWORKS[self._representation]
            try:
                network = build_network(class_name, config)
            except TypeError as error:
                raise TypeError(
                    f"representation_kwargs {self._representation_kwargs!r} do not "
                    f"fit {class_name}: {error}"
                ) from error
        elif isinstance(self._representation, SequenceNet):
            network = self._representation
        else:
            network = ModuleAdapter(self._representation, num_items)
        network_items = getattr(network, "num_items", num_items)
        if network_items < num_items:
            raise ValueError(
                f"the representation network has {network_items} items but the "
                f"data has {num_items}"
            )
        return network.to(self._device)

    def _initialize(self, interactions: SequenceInteractions) -> None:
        """Build network, optimizer and negative sampler for the data."""
        num_items = interactions.num_items
        if self._representation == "transformer":
            self._representation_kwargs.setdefault(
                "max_sequence_length", interactions.max_sequence_length
            )
        with _training.seeded(draw_seed(self._random_state), self._device):
            network = self._build_network(num_items)
        if self._repeat_offset:
            add_repeat_offset(network)
        self._num_items = getattr(network, "num_items", num_items)
        self._net = network
        self._optimizer = self._build_optimizer()
        if self._scheduler_func is not None:
            self._scheduler = self._scheduler_func(self._optimizer)
        self._objective = Objective(
            self._net,
            self._loss,
            self._num_items,
            self._num_negative_samples,
            self._build_sampler(interactions),
            self._exclude_positive,
            self._gbce_calibration,
        )
        self.id_mapping_ = interactions.id_mapping

    def _build_optimizer(self) -> Any:
        if self._optimizer_func is not None:
            return self._optimizer_func(self._net.parameters())
        if self._sparse:
            sparse, dense = split_sparse_parameters(self._net)
            if self._l2 and sparse:
                logger.warning(
                    "l2=%s applies to the dense parameters only: SparseAdam, used "
                    "for sparse embeddings, has no weight decay",
                    self._l2,
                )
            return SparseDenseAdam(
                sparse, dense, lr=self._learning_rate, weight_decay=self._l2
            )
        return torch.optim.Adam(
            self._net.parameters(), lr=self._learning_rate, weight_decay=self._l2
        )

    def _build_sampler(self, interactions: SequenceInteractions) -> NegativeSampler:
        if self._negative_sampling == "uniform":
            return UniformSampler(self._num_items)
        sequences = interactions.sequences
        counts = np.bincount(
            sequences[sequences != PADDING_IDX], minlength=self._num_items
        )
        return PopularitySampler(counts, alpha=self._popularity_alpha)

    def fit(
        self,
        interactions: SequenceInteractions,
        verbose: bool = False,
        *,
        epochs: int | None = None,
        callback: Callable[[int, float, float], Any] | None = None,
        checkpoint_path: str | Path | None = None,
    ) -> ImplicitSequenceModel:
        """Train on sequences; calling it again resumes training.

        Parameters
        ----------
        interactions : SequenceInteractions
            Training sequences, as returned by
            :meth:`~spotlight.interactions.Interactions.to_sequence`.
        verbose : bool, default False
            Show a progress bar with the running loss (needs tqdm) and log
            each epoch's loss.
        epochs : int, optional
            Epochs to train in this call; by default ``n_iter``.
        callback : callable, optional
            Called after every epoch as ``callback(epoch, elapsed, loss)``,
            with the epoch's number (from 0, over all calls), the seconds it
            took and its mean loss. In distributed training it runs in every
            process, with the loss averaged over the processes.
        checkpoint_path : str or pathlib.Path, optional
            Write a checkpoint (parameters, optimizer and random state) there,
            atomically, after every epoch; :meth:`load` resumes from it. In
            distributed training only rank 0 writes it.

        Returns
        -------
        ImplicitSequenceModel
            The model itself.

        Raises
        ------
        DivergenceError
            If the loss becomes NaN, infinite or zero. The parameters of the
            start of that epoch are restored.
        PeerFailureError
            In distributed training, when another process failed or did not
            answer within the timeout.

        Notes
        -----
        Ctrl-C stops training at the end of the current batch with a warning;
        the model keeps what it learned and :attr:`interrupted_` is set. A
        partial epoch is not counted in :attr:`epochs_completed_` nor written
        to the checkpoint, so the checkpoint still resumes exactly. A second
        Ctrl-C interrupts at once.

        Launched by ``torchrun`` (the variables ``RANK``, ``WORLD_SIZE``, ...
        set), the processes train data-parallel (see
        :mod:`spotlight.distributed`): every global minibatch of
        ``world_size * batch_size`` sequences is cut into one contiguous part
        per process, gradients are averaged, and every process ends with the
        same parameters. Only rank 0 logs, shows progress and writes the
        checkpoint.
        """
        interactions = _check_training_data(interactions)
        epochs = check_int("epochs", epochs, minimum=1, allow_none=True) or self._n_iter
        with distributed.training_group(self._device) as group:
            # Every process starts from the same data and random state.
            group.check_same_data(interactions.sequences)
            self._random_state = group.broadcast(self._random_state)
            if not self._initialized:
                self._initialize(interactions)
            elif interactions.num_items > self._num_items:
                raise ValueError(
                    f"the data has {interactions.num_items} items but the model was "
                    f"fitted with {self._num_items}; build a new model to train on "
                    "a larger catalogue"
                )
            self._train(interactions, epochs, group, verbose, callback, checkpoint_path)
        return self

    def _train(
        self,
        interactions: SequenceInteractions,
        epochs: int,
        group: distributed.TrainingGroup,
        verbose: bool,
        callback: Callable[[int, float, float], Any] | None,
        checkpoint_path: str | Path | None,
    ) -> None:
        """Run the epochs of one call of :meth:`fit`, stopping on Ctrl-C."""
        objective = group.wrap(self._objective)
        if self._compile:
            objective = _training.CompiledOrEager(objective)
        sequences = torch.from_numpy(interactions.sequences.astype(np.int64))
        lengths = _training.real_lengths(interactions.sequences)
        verbose = verbose and group.is_main
        checkpoint_path = checkpoint_path if group.is_main else None
        self.interrupted_ = False
        with _training.DeferredInterrupt() as interrupt:
            for _ in range(epochs):
                started = time.perf_counter()
                loss, complete = self._fit_epoch(
                    objective, group, sequences, lengths, verbose, interrupt
                )
                elapsed = time.perf_counter() - started
                if complete:
                    self._finish_epoch(
                        loss, elapsed, verbose, callback, checkpoint_path
                    )
                if group.any(interrupt.requested):
                    self._stop_interrupted(interrupt.batches_in_epoch, complete)
                    break

    def _stop_interrupted(self, batches: int, complete: bool) -> None:
        """Record and report a stop on Ctrl-C."""
        self.interrupted_ = True
        if complete:
            logger.warning(
                "training interrupted after epoch %d", self.epochs_completed_ - 1
            )
            return
        logger.warning(
            "training interrupted after %d batches of epoch %d; the model keeps "
            "the parameters learned so far, but that epoch is not counted as "
            "completed nor written to the checkpoint",
            batches,
            self.epochs_completed_,
        )

    def _fit_epoch(
        self,
        objective: nn.Module,
        group: distributed.TrainingGroup,
        sequences: torch.Tensor,
        lengths: np.ndarray,
        verbose: bool,
        interrupt: _training.DeferredInterrupt,
    ) -> tuple[float, bool]:
        """Train one epoch over shuffled minibatches.

        Returns the mean loss and whether every batch ran (False when Ctrl-C
        stopped the epoch early). In distributed training the batches are
        those of one process with ``world_size * batch_size`` sequences, each
        cut into one part per process; the shuffle is shared, the negatives
        and dropout are each process's own.
        """
        snapshot = self._snapshot()
        global_batches = _training.epoch_batches(
            lengths,
            self._batch_size * group.world_size,
            self._length_bucketing,
            self._random_state,
        )
        batches_of_rows = group.shard(global_batches)
        seed = group.process_seed(draw_seed(self._random_state))
        epoch = self.epochs_completed_
        total, batches = 0.0, 0
        self._net.train()
        progress = _training.progress_bar(len(batches_of_rows), epoch, verbose)
        with progress, _training.seeded(seed, self._device):
            for rows in batches_of_rows:
                batch = sequences[torch.from_numpy(rows)]
                if self._length_bucketing:
                    batch = _training.trim(batch, lengths[rows])
                batch = batch.to(self._device, non_blocking=True)
                with torch.autocast(
                    self._device.type,
                    dtype=torch.bfloat16,
                    enabled=self._mixed_precision,
                ):
                    loss = objective(batch)
                self._optimizer.zero_grad()
                loss.backward()
                self._optimizer.step()
                if self._scheduler is not None:
                    self._scheduler.step()

                # The batch's loss over all processes, checked after the step
                # (the restore of the epoch's start undoes it) so that every
                # process takes the same decision.
                value, stop = group.agree(loss, interrupt.requested)
                if not math.isfinite(value):
                    self._restore(snapshot)
                    raise _divergence(value, epoch, self._learning_rate)

                total, batches = total + value, batches + 1
                progress.update(value)
                interrupt.batches_in_epoch = batches
                if stop:
                    break
        mean = total / max(batches, 1)
        if not math.isfinite(mean) or mean == 0.0:
            self._restore(snapshot)
            raise _divergence(mean, epoch, self._learning_rate)
        return mean, batches == len(batches_of_rows)

    def _finish_epoch(
        self,
        loss: float,
        elapsed: float,
        verbose: bool,
        callback: Callable[[int, float, float], Any] | None,
        checkpoint_path: str | Path | None,
    ) -> None:
        """Record the epoch, log it, write the checkpoint, call the callback."""
        epoch = self.epochs_completed_
        self.epochs_completed_ += 1
        self.loss_history_.append(loss)
        log = logger.info if verbose else logger.debug
        log("epoch %d: loss %.5f (%.1f s)", epoch, loss, elapsed)
        if checkpoint_path is not None:
            self.save(checkpoint_path, include_training_state=True)
        if callback is not None:
            callback(epoch, elapsed, loss)

    def _snapshot(self) -> dict[str, Any]:
        """Copy parameters and optimizer state, to restore after divergence."""
        snapshot = {
            "network": copy.deepcopy(self._net.state_dict()),
            "optimizer": copy.deepcopy(self._optimizer.state_dict()),
        }
        if self._scheduler is not None:
            snapshot["scheduler"] = copy.deepcopy(self._scheduler.state_dict())
        return snapshot

    def _restore(self, snapshot: dict[str, Any]) -> None:
        self._net.load_state_dict(snapshot["network"])
        self._optimizer.load_state_dict(snapshot["optimizer"])
        if self._scheduler is not None:
            self._scheduler.load_state_dict(snapshot["scheduler"])

    def _score_batches(self, sequences: np.ndarray, items: torch.Tensor | None):
        """Yield ``(rows, chunk, scores)``: the positions of a chunk of the
        sequences, the chunk on the device and its scores ``(rows, items)``,
        computed without autograd and in evaluation mode."""
        lengths = _training.real_lengths(sequences)
        # Bucketing changes the scores of networks that read padding, so only
        # those that ignore it are fed trimmed batches unless it was asked for.
        trim = self._length_bucketing or getattr(
            self._net, "ignores_left_padding", False
        )
        if trim:
            order = np.argsort(lengths, kind="stable")
        else:
            order = np.arange(len(sequences))
        # Networks that look back a bounded number of items are fed only those.
        window = getattr(self._net, "receptive_field", None)
        was_training = self._net.training
        self._net.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(sequences), _PREDICT_BATCH):
                    rows = order[start : start + _PREDICT_BATCH]
                    chunk = torch.from_numpy(sequences[rows])
                    if trim:
                        chunk = _training.trim(chunk, lengths[rows])
                    chunk = chunk.to(self._device)
                    recent = chunk if window is None else chunk[:, -window:]
                    final = self._net.final_representation(recent)
                    scores = self._net.score_shared(final, items)
                    yield rows, chunk, self._with_repeats(scores, chunk, items)
        finally:
            self._net.train(was_training)

    def _with_repeats(
        self, scores: torch.Tensor, chunk: torch.Tensor, items: torch.Tensor | None
    ) -> torch.Tensor:
        """``scores`` plus the repeat offset, if any, for the candidates in the
        sequences."""
        offset = repeat_offset(self._net)
        if offset is None:
            return scores
        seen = seen_items(chunk.long(), self._num_items)
        if items is not None:
            seen = seen[:, items]
        return scores + offset * seen

    def predict(self, sequences: Any, item_ids: Any = None) -> np.ndarray:
        """Score items as the next item of each sequence.

        Parameters
        ----------
        sequences : array-like of int
            One sequence, shape ``(length,)`` or ``(1, length)``, or a batch
            ``(num_sequences, length)``; item ids left-padded with 0. Any
            length is accepted.
        item_ids : array-like of int, shape (num_candidates,) or
            (num_candidates, 1), optional
            Items to score; by default every item id (padding included, which
            always scores 0).

        Returns
        -------
        numpy.ndarray of float32
            ``(num_candidates,)`` for one sequence (1-D, or a single row),
            ``(num_sequences, num_candidates)`` for a batch of several.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            For malformed sequences or item ids, or ids beyond the catalogue.
        """
        self._check_fitted()
        sequences, single = self._check_sequences(sequences)
        items = self._check_item_ids(item_ids)
        num_candidates = self._num_items if items is None else len(items)
        result = np.empty((len(sequences), num_candidates), dtype=np.float32)
        for rows, _, scores in self._score_batches(sequences, items):
            result[rows] = scores.float().cpu().numpy()
        if single:
            return result[0]
        return result

    def recommend(
        self, sequences: Any, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the top-``k`` next items of each sequence.

        Parameters
        ----------
        sequences : array-like of int
            One sequence ``(length,)`` or a batch ``(num_sequences, length)``.
        k : int, default 10
            Number of items to return; at most the number of real items.
        exclude_seen : bool, default True
            Leave out the items already in the sequence.

        Returns
        -------
        item_ids : numpy.ndarray of int64
            ``(k,)`` for one sequence (1-D or one row), ``(num_sequences, k)``
            for a batch, best first. Internal ids; ``id_mapping_.decode_items``
            turns them into original ids. Where fewer than ``k`` items remain
            after exclusion, the last entries are ``-1``.
        scores : numpy.ndarray of float32
            Their scores, same shape; ``-inf`` where the id is ``-1``.
        """
        self._check_fitted()
        sequences, single = self._check_sequences(sequences)
        k = check_int("k", k, minimum=1, maximum=self._num_items - 1)
        items = np.empty((len(sequences), k), dtype=np.int64)
        scores = np.empty((len(sequences), k), dtype=np.float32)
        for rows, chunk, chunk_scores in self._score_batches(sequences, None):
            chunk_scores = chunk_scores.float()
            chunk_scores[:, PADDING_IDX] = -math.inf
            if exclude_seen:
                chunk_scores.scatter_(1, chunk.long(), -math.inf)
            values, indices = chunk_scores.topk(k, dim=1)
            indices[values == -math.inf] = -1
            items[rows] = indices.cpu().numpy()
            scores[rows] = values.cpu().numpy()
        if single:
            return items[0], scores[0]
        return items, scores

    def _check_sequences(self, sequences: Any) -> tuple[np.ndarray, bool]:
        """Validate sequences for prediction; return (2-D int64, was 1-D)."""
        if isinstance(sequences, torch.Tensor):
            sequences = sequences.detach().cpu().numpy()
        if isinstance(sequences, SequenceInteractions):
            sequences = sequences.sequences
        try:
            array = np.asarray(sequences)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"sequences must be a rectangular array of item ids, got "
                f"{_show(sequences)}"
            ) from error
        single = array.ndim == 1 or (array.ndim == 2 and len(array) == 1)
        if array.ndim not in (1, 2) or array.size == 0:
            raise ValueError(
                "sequences must be a non-empty 1-D sequence or 2-D batch of item "
                f"ids, got shape {array.shape}"
            )
        array = _check_item_array("sequences", np.atleast_2d(array), self._num_items)
        return array, single

    def _check_item_ids(self, item_ids: Any) -> torch.Tensor | None:
        if item_ids is None:
            return None
        if isinstance(item_ids, torch.Tensor):
            item_ids = item_ids.detach().cpu().numpy()
        array = np.asarray(item_ids)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                "item_ids must be a non-empty 1-D array or an (n, 1) column, got "
                f"shape {array.shape}"
            )
        array = _check_item_array("item_ids", array, self._num_items)
        return torch.from_numpy(array).to(self._device)

    def _config(self) -> dict[str, Any]:
        """Constructor arguments as plain values, for model files."""
        representation = (
            self._representation if isinstance(self._representation, str) else None
        )
        return {
            "loss": self._loss,
            "representation": representation,
            "embedding_dim": self._embedding_dim,
            "n_iter": self._n_iter,
            "batch_size": self._batch_size,
            "l2": self._l2,
            "learning_rate": self._learning_rate,
            "sparse": self._sparse,
            "num_negative_samples": self._num_negative_samples,
            "representation_kwargs": self._representation_kwargs,
            "negative_sampling": self._negative_sampling,
            "popularity_alpha": self._popularity_alpha,
            "exclude_positive": self._exclude_positive,
            "gbce_calibration": self._gbce_calibration,
            "length_bucketing": self._length_bucketing,
            "mixed_precision": self._mixed_precision,
            "compile": self._compile,
            "repeat_offset": self._repeat_offset,
        }

    def save(
        self,
        path: str | Path,
        include_training_state: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Write the fitted model to ``path`` in a safe format.

        The file holds the configuration, the parameters and the id mapping
        as tensors and plain values; :meth:`load` reads it without unpickling
        any object. The write is atomic.

        Parameters
        ----------
        path : str or pathlib.Path
        include_training_state : bool, default False
            Also store the optimizer state, the random state and the loss
            history, so that :meth:`fit` resumes exactly where it stopped (a
            checkpoint).
        metadata : dict, optional
            Plain values (str, numbers, bools, None, lists, dicts) to store
            with the model, such as how the data was prepared; read back as
            :attr:`metadata_`. By default the model's current
            :attr:`metadata_`.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        NotImplementedError
            For a network or optimizer that cannot be described by plain
            values; pickle such a model with ``torch.save(model, path)``.
        """
        self._check_fitted()
        if not isinstance(self._net, SequenceNet):
            raise NotImplementedError(
                "save() supports the networks of spotlight.sequence.representations;"
                " pickle a model with a custom network with torch.save(model, path)"
            )
        state = {
            "library_version": __version__,
            "config": self._config(),
            "network_class": type(self._net).__name__,
            "network_config": _without_num_items(self._net.get_config()),
            "num_items": self._num_items,
            "parameters": {
                name: tensor.detach().cpu()
                for name, tensor in self._net.state_dict().items()
            },
            "id_mapping": self.id_mapping_.to_dict() if self.id_mapping_ else None,
            "epochs_completed": self.epochs_completed_,
            "loss_history": list(self.loss_history_),
            "sampler_counts": _sampler_counts(self._objective.sampler),
            "metadata": _check_metadata(
                self.metadata_ if metadata is None else metadata
            ),
        }
        if include_training_state:
            state["training"] = self._training_state()
        write_state(path, "model", state)

    def _training_state(self) -> dict[str, Any]:
        for name in ("optimizer_func", "scheduler_func"):
            if getattr(self, f"_{name}") is not None:
                raise NotImplementedError(
                    "checkpoints store the default optimizers only, without a "
                    f"scheduler; with {name} pickle the model with "
                    "torch.save(model, path)"
                )
        return {
            "optimizer": self._optimizer.state_dict(),
            "random_state": _training.random_state_to_dict(self._random_state),
        }

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device | None = None
    ) -> ImplicitSequenceModel:
        """Read a model (or checkpoint) written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
        device : str or torch.device, optional
            Where to put the model; by default the CPU.

        Returns
        -------
        ImplicitSequenceModel
            Fitted; a checkpoint also restores the optimizer and random
            state, so that :meth:`fit` continues exactly.

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        ModelFileError
            If the file is damaged, foreign or from an incompatible version.
        """
        state = read_state(path, "model")
        try:
            return cls._from_state(state, device)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(
                f"{str(path)!r} does not hold a valid model: {error}"
            ) from error

    @classmethod
    def _from_state(
        cls, state: dict[str, Any], device: str | torch.device | None
    ) -> ImplicitSequenceModel:
        config = dict(state["config"])
        representation = config.pop("representation")
        network = build_network(
            state["network_class"],
            {"num_items": state["num_items"], **state["network_config"]},
        )
        if config.get("repeat_offset"):
            add_repeat_offset(network)
        network.load_state_dict(state["parameters"])
        model = cls(
            representation=representation or network, device=device or "cpu", **config
        )
        model._net = network.to(model._device)
        model._num_items = state["num_items"]
        model._optimizer = model._build_optimizer()
        model.id_mapping_ = (
            IdMapping.from_dict(state["id_mapping"]) if state["id_mapping"] else None
        )
        model.epochs_completed_ = int(state["epochs_completed"])
        model.loss_history_ = [float(value) for value in state["loss_history"]]
        model.metadata_ = dict(state.get("metadata") or {})
        model._restore_objective(state["sampler_counts"])
        training = state.get("training")
        if training is not None:
            model._optimizer.load_state_dict(training["optimizer"])
            model._random_state = _training.random_state_from_dict(
                training["random_state"]
            )
        return model

    def _restore_objective(self, counts: list[float] | None) -> None:
        if self._negative_sampling == "popularity" and counts is not None:
            sampler: NegativeSampler = PopularitySampler(
                np.asarray(counts), alpha=self._popularity_alpha
            )
        else:
            sampler = UniformSampler(self._num_items)
        self._objective = Objective(
            self._net,
            self._loss,
            self._num_items,
            self._num_negative_samples,
            sampler,
            self._exclude_positive,
            self._gbce_calibration,
        )


def _resolve_device(device: str | torch.device | None, use_cuda: bool) -> torch.device:
    """The device to use; refuse CUDA when PyTorch sees none."""
    try:
        resolved = torch.device(device if device is not None else "cpu")
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must name a torch device, got {_show(device)}"
        ) from error
    if device is None and use_cuda:
        resolved = torch.device("cuda")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "use_cuda=True (or a CUDA device) was asked for, but PyTorch sees no "
            "CUDA device: torch.cuda.is_available() is False. Use use_cuda=False, "
            "or install a CUDA build of PyTorch on a machine with a GPU"
        )
    return resolved


def _check_training_data(interactions: Any) -> SequenceInteractions:
    if not isinstance(interactions, SequenceInteractions):
        hint = ""
        if type(interactions).__name__ == "Interactions":
            hint = "; call interactions.to_sequence() first"
        raise TypeError(
            "fit() needs a spotlight.interactions.SequenceInteractions, got "
            f"{type(interactions).__name__}{hint}"
        )
    if len(interactions) == 0:
        raise ValueError("fit() needs at least one sequence, got none")
    if not (interactions.sequences != PADDING_IDX).any():
        raise ValueError("fit() needs sequences with real items; all are padding")
    return interactions


def _check_item_array(name: str, array: np.ndarray, num_items: int) -> np.ndarray:
    """Check an array of item ids for prediction and return it as int64."""
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError(f"{name} must hold integer item ids, got {_show(array)}")
    elif array.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer item ids, got dtype {array.dtype}: "
            f"{_show(array)}"
        )
    array = array.astype(np.int64)
    bad = (array < 0) | (array >= num_items)
    if bad.any():
        value = array[bad].flat[0]
        raise ValueError(
            f"{name} holds item id {value}, outside the fitted catalogue "
            f"[0, {num_items}); ids must come from the training data's mapping"
        )
    return array


def _divergence(value: float, epoch: int, learning_rate: float) -> DivergenceError:
    if value == 0.0:
        problem = (
            "the mean loss became exactly 0, a degenerate loss that usually "
            "means the model collapsed or the data are trivial"
        )
    else:
        problem = f"the loss became {value}"
    return DivergenceError(
        f"training diverged in epoch {epoch}: {problem}. The parameters of the "
        "start of that epoch were restored. Try a lower learning_rate (now "
        f"{learning_rate}), a larger batch_size or some l2"
    )


def _check_metadata(metadata: Any) -> dict[str, Any]:
    """Refuse metadata that a weights-only file cannot hold."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {_show(metadata)}")

    def check(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"metadata keys must be strings, got {key!r}")
                check(item, f"{where}[{key!r}]")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                check(item, f"{where}[{index}]")
        elif not isinstance(value, str | int | float | bool | type(None)):
            raise TypeError(
                f"metadata{where} must be a plain value, got {type(value).__name__}"
            )

    check(metadata, "")
    return metadata


def _without_num_items(config: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in config.items() if name != "num_items"}


def _sampler_counts(sampler: NegativeSampler) -> list[float] | None:
    counts = getattr(sampler, "item_counts", None)
    return None if counts is None else [float(count) for count in counts]
