"""``spotlight train``: fit an ImplicitSequenceModel and report how it does.

Each epoch is followed by the validation metrics (and a checkpoint, when
asked); the end of training by the test metrics. The model file records the
data, sequence and split options, which ``evaluate`` and ``recommend`` reuse.

Launched by ``torchrun`` (``torchrun --nproc_per_node=2 -m spotlight train
...``), every process trains its part of each minibatch (see
:mod:`spotlight.distributed`); only rank 0 prints, evaluates and writes files.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any

from spotlight.cli import _parsing
from spotlight.cli.data import (
    DataOptions,
    Splits,
    load_interactions,
    split_sequences,
)
from spotlight.cli.data_arguments import add_data_arguments, resolve_data_options
from spotlight.cli.evaluate import compute_metrics, load_model
from spotlight.cli.output import format_metrics
from spotlight.cli.plots import PLOT_SUFFIXES, plot_training_curves

__all__ = [
    "BLOCKS",
    "LOSSES",
    "REPRESENTATIONS",
    "add_arguments",
    "model_kwargs",
    "run",
]

# Kept here rather than imported, so that --help does not wait for PyTorch;
# the tests check them against spotlight.sequence.
LOSSES = (
    "pointwise",
    "bpr",
    "hinge",
    "adaptive_hinge",
    "bce",
    "gbce",
    "sampled_softmax",
    "softmax",
)
"""Values of ``--loss``."""

REPRESENTATIONS = ("pooling", "cnn", "lstm", "gru", "mixture", "transformer")
"""Values of ``--representation``."""

BLOCKS = ("pre-norm", "sasrec")
"""Values of ``--block``."""

USAGE = "%(prog)s [options]"

DESCRIPTION = """\
Train a sequence model to predict each user's next item, print validation
metrics after every epoch and test metrics at the end. By default it learns
synthetic Markov-chain data in seconds; --dataset and --data name real data.
"""


@dataclasses.dataclass
class _Session:
    """What one training run keeps track of, and records in model files."""

    model: Any
    options: DataOptions
    n_iter: int
    k: int
    history: list[dict[str, float]]

    def metadata(self) -> dict[str, Any]:
        return {
            "created_by": "spotlight train",
            "data": self.options.to_dict(),
            "training": {"n_iter": self.n_iter, "k": self.k},
            "validation_history": self.history,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``spotlight train`` to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    _add_model_arguments(parser)
    _add_sampling_arguments(parser)
    _add_network_arguments(parser)
    add_data_arguments(parser, recorded=False)
    _add_run_arguments(parser)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    add = group.add_argument
    add("--loss", choices=LOSSES, default="pointwise", help="training loss")
    add(
        "--representation",
        choices=REPRESENTATIONS,
        default="pooling",
        help="network that reads the sequence",
    )
    positive = _parsing.positive_int
    add(
        "--embedding-dim", type=positive, default=32, metavar="N", help="embedding size"
    )
    add("--n-iter", type=positive, default=10, metavar="N", help="epochs to train")
    add(
        "--batch-size",
        type=positive,
        default=256,
        metavar="N",
        help="sequences per minibatch",
    )
    add(
        "--l2",
        type=_parsing.non_negative_float,
        default=0.0,
        metavar="X",
        help="L2 penalty",
    )
    add(
        "--learning-rate",
        type=_parsing.positive_float,
        default=0.01,
        metavar="X",
        help="Adam's step size",
    )
    add("--use-cuda", action="store_true", help="train on the current CUDA device")
    add("--device", help="torch device, such as cuda:1; overrides --use-cuda")
    add("--sparse", action="store_true", help="sparse embedding gradients")
    add(
        "--length-bucketing",
        action="store_true",
        help="batch sequences of similar length and drop their common padding: "
        "faster on padded data, exact for pooling and transformer",
    )
    add(
        "--mixed-precision",
        action="store_true",
        help="train with bfloat16 matrix products (torch.autocast), for GPUs "
        "with bfloat16 and CPUs with AMX",
    )
    add(
        "--repeat-offset",
        action="store_true",
        help="learn a score offset for the items already in the sequence (how "
        "often users come back to an item)",
    )
    add(
        "--compile",
        action="store_true",
        help="compile the training step with torch.compile (falls back to "
        "uncompiled training if compilation fails)",
    )
    add(
        "--random-state",
        type=_parsing.non_negative_int,
        metavar="SEED",
        help="seed of initialisation, shuffling and sampling (default: random)",
    )


def _add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("negative sampling")
    add = group.add_argument
    add(
        "--num-negative-samples",
        type=_parsing.positive_int,
        default=5,
        metavar="N",
        help="negatives per positive (per batch for sampled_softmax)",
    )
    add(
        "--negative-sampling",
        choices=("uniform", "popularity"),
        default="uniform",
        help="how negatives are drawn",
    )
    add(
        "--popularity-alpha",
        type=_parsing.non_negative_float,
        default=0.75,
        metavar="X",
        help="exponent of the item counts in popularity sampling",
    )
    add(
        "--exclude-positive",
        action="store_true",
        help="never draw the positive item as a negative",
    )
    add(
        "--gbce-calibration",
        type=_parsing.unit_interval,
        default=0.75,
        metavar="T",
        help="calibration of the gbce loss",
    )


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "network", "options of one representation; the others ignore them"
    )
    add = group.add_argument
    positive = _parsing.positive_int
    for name, default, text in (
        ("--kernel-width", 3, "kernel width"),
        ("--dilation", 1, "dilation"),
    ):
        add(
            name,
            type=positive,
            nargs="+",
            default=[default],
            metavar="N",
            help=f"cnn: {text}, one for all layers or one per layer",
        )
    add("--cnn-layers", type=positive, default=1, metavar="N", help="cnn: layers")
    add("--num-mixtures", type=positive, default=4, metavar="N", help="mixture: tastes")
    add(
        "--num-layers",
        type=positive,
        default=2,
        metavar="N",
        help="transformer: blocks",
    )
    add(
        "--num-heads",
        type=positive,
        default=1,
        metavar="N",
        help="transformer: attention heads; must divide --embedding-dim",
    )
    add(
        "--dropout",
        type=_parsing.unit_interval,
        default=0.2,
        metavar="X",
        help="transformer: dropout rate",
    )
    add(
        "--attention-dropout",
        type=_parsing.unit_interval,
        default=0.0,
        metavar="X",
        help="transformer: dropout on attention weights (slow on a CPU)",
    )
    add(
        "--block",
        choices=BLOCKS,
        default="pre-norm",
        help="transformer: the blocks' wiring: a pre-norm transformer, or that "
        "of the SASRec authors' code",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("evaluation and output")
    add = group.add_argument
    add(
        "-k",
        "--k",
        type=_parsing.positive_int,
        default=10,
        metavar="K",
        help="cut-off of HR@k and NDCG@k",
    )
    add("--output", metavar="MODEL", help="save the trained model here")
    add(
        "--plot",
        metavar="IMAGE",
        help="draw the loss and validation curves here (.png, .pdf or .svg)",
    )
    add("--checkpoint", metavar="PATH", help="write a checkpoint here every epoch")
    add(
        "--resume",
        metavar="CHECKPOINT",
        help="continue the run that wrote this checkpoint up to its --n-iter; its "
        "model, data, sequence and split options are used, those given here are "
        "ignored",
    )


def model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ImplicitSequenceModel`` arguments given by the model options.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of ``spotlight train``.

    Returns
    -------
    dict
        Keyword arguments of the constructor; ``representation_kwargs`` holds
        only the network options of the chosen representation.
    """
    return {
        "loss": args.loss,
        "representation": args.representation,
        "embedding_dim": args.embedding_dim,
        "n_iter": args.n_iter,
        "batch_size": args.batch_size,
        "l2": args.l2,
        "learning_rate": args.learning_rate,
        "use_cuda": args.use_cuda,
        "sparse": args.sparse,
        "random_state": args.random_state,
        "num_negative_samples": args.num_negative_samples,
        "device": args.device,
        "representation_kwargs": _representation_kwargs(args),
        "negative_sampling": args.negative_sampling,
        "popularity_alpha": args.popularity_alpha,
        "exclude_positive": args.exclude_positive,
        "gbce_calibration": args.gbce_calibration,
        "length_bucketing": args.length_bucketing,
        "mixed_precision": args.mixed_precision,
        "compile": args.compile,
        "repeat_offset": args.repeat_offset,
    }


def _representation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The network options that apply to the chosen representation."""
    if args.representation == "cnn":
        return {
            "kernel_width": _one_or_all(args.kernel_width),
            "dilation": _one_or_all(args.dilation),
            "num_layers": args.cnn_layers,
        }
    if args.representation == "mixture":
        return {"num_mixtures": args.num_mixtures}
    if args.representation == "transformer":
        return {
            "num_layers": args.num_layers,
            "num_heads": args.num_heads,
            "dropout": args.dropout,
            "attention_dropout": args.attention_dropout,
            "block": args.block,
        }
    return {}


def _one_or_all(values: list[int]) -> int | list[int]:
    return values[0] if len(values) == 1 else list(values)


def run(args: argparse.Namespace) -> int:
    """Run ``spotlight train``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the subcommand.

    Returns
    -------
    int
        The exit code: 0, or 130 when training was interrupted by Ctrl-C.
    """
    from spotlight import distributed

    _check_plot_path(args.plot)
    main_process = _join_distributed_run(args)
    try:
        session = _resume(args) if args.resume is not None else _start(args)
        interactions = load_interactions(session.options)
        splits = split_sequences(interactions, session.options)
        if main_process and not args.quiet:
            print(_describe(session.options, interactions, splits))
        interrupted = _train(session, splits, args, main_process)
    finally:
        # The processes need each other no more: rank 0 alone goes on.
        distributed.shutdown()

    if not main_process:
        return 130 if interrupted else 0
    if interrupted:
        return _save_interrupted(session, args)

    if args.output is not None:
        session.model.save(args.output, metadata=session.metadata())
        print(f"model saved to {args.output}")
    if args.plot is not None:
        plot_training_curves(args.plot, session.model.loss_history_, session.history)
        print(f"training curves saved to {args.plot}")

    metrics = compute_metrics(
        session.model,
        splits.test,
        session.k,
        single_target=session.options.split == "leave-last-out",
        warn=False,
    )
    print(f"test metrics ({len(splits.test)} sequences):")
    print(format_metrics(metrics, "test"))
    return 0


def _join_distributed_run(args: argparse.Namespace) -> bool:
    """Join the run of ``torchrun`` if launched by it; return whether rank 0.

    The other processes log errors only.
    """
    from spotlight import distributed

    if args.resume is not None:
        device = "cpu"
    else:
        device = args.device or ("cuda" if args.use_cuda else "cpu")
    distributed.initialize(device)
    if distributed.is_main_process():
        return True
    logging.getLogger("spotlight").setLevel(logging.ERROR)
    return False


def _check_plot_path(plot: str | None) -> None:
    """Refuse an image format before training rather than after."""
    if plot is not None and Path(plot).suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(
            f"--plot must end with one of {', '.join(PLOT_SUFFIXES)}, got {plot!r}"
        )


def _start(args: argparse.Namespace) -> _Session:
    from spotlight.sequence.implicit import ImplicitSequenceModel

    model = ImplicitSequenceModel(**model_kwargs(args))
    options = resolve_data_options(args)
    return _Session(model, options, args.n_iter, args.k, history=[])


def _resume(args: argparse.Namespace) -> _Session:
    """Continue from a checkpoint, with the options recorded in it."""
    model = load_model(args.resume)
    recorded = model.metadata_
    if "data" not in recorded or "training" not in recorded:
        raise ValueError(
            f"{args.resume} was not written by 'spotlight train --checkpoint', so "
            "the options to resume it with are unknown"
        )
    training = recorded["training"]
    return _Session(
        model,
        DataOptions.from_dict(recorded["data"]),
        int(training["n_iter"]),
        int(training["k"]),
        history=list(recorded.get("validation_history", [])),
    )


def _describe(options: DataOptions, interactions: Any, splits: Splits) -> str:
    return (
        f"data: {options.describe()}: {interactions.num_users} users, "
        f"{interactions.num_items - 1} items, {len(interactions)} interactions; "
        f"sequences: {len(splits.train)} train, {len(splits.validation)} "
        f"validation, {len(splits.test)} test ({options.split} split)"
    )


def _train(
    session: _Session, splits: Splits, args: argparse.Namespace, main_process: bool
) -> bool:
    """Train the remaining epochs, one at a time; return whether interrupted.

    Each epoch is followed, on the main process, by the validation metrics
    and, when asked, a checkpoint that resumes exactly where the epoch ended.
    """
    model = session.model
    try:
        while model.epochs_completed_ < session.n_iter:
            started = time.perf_counter()
            model.fit(splits.train, verbose=not args.quiet, epochs=1)
            if model.interrupted_:
                return True
            if not main_process:
                continue

            metrics = _validation_metrics(model, splits, session.k)
            session.history.append({"epoch": model.epochs_completed_, **metrics})
            if not args.quiet:
                print(_epoch_line(session, time.perf_counter() - started))

            if args.checkpoint is not None:
                model.save(
                    args.checkpoint,
                    include_training_state=True,
                    metadata=session.metadata(),
                )
    except KeyboardInterrupt:
        return True
    return False


def _validation_metrics(model: Any, splits: Splits, k: int) -> dict[str, float]:
    from spotlight.evaluation import sequence_metrics

    return sequence_metrics(model, splits.validation, k)


def _epoch_line(session: _Session, seconds: float) -> str:
    model = session.model
    metrics = session.history[-1]
    shown = "  ".join(
        f"{name} {value:.4f}" for name, value in metrics.items() if name != "epoch"
    )
    return (
        f"epoch {model.epochs_completed_}/{session.n_iter}  "
        f"loss {model.loss_history_[-1]:.4f}  validation {shown}  ({seconds:.1f} s)"
    )


def _save_interrupted(session: _Session, args: argparse.Namespace) -> int:
    """Keep the model of an interrupted run and say where; return 130."""
    model = session.model
    done = f"after {model.epochs_completed_} of {session.n_iter} epochs"
    target = args.output if args.output is not None else args.checkpoint
    if target is None or not model.loss_history_:
        print(
            f"spotlight: training interrupted {done}; nothing was saved (pass "
            "--output or --checkpoint to keep the model)",
            file=sys.stderr,
        )
        return 130
    model.save(target, include_training_state=True, metadata=session.metadata())
    print(
        f"spotlight: training interrupted {done}; model saved to {target} "
        f"(continue with: spotlight train --resume {target})",
        file=sys.stderr,
    )
    return 130
