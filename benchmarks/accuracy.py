"""Accuracy on MovieLens-1M under two protocols, with time and memory.

Usage::

    python benchmarks/accuracy.py                 # the full run (about an hour)
    python benchmarks/accuracy.py --budget quick  # the recommended configuration
    python benchmarks/accuracy.py --only NAME ... # some configurations, by name
    python benchmarks/accuracy.py --report        # the table of the saved results

Protocols:

- ``spotlight``: Spotlight's own. ``user_based_train_test_split`` of all
  ratings with ``numpy.random.RandomState(100)`` (20% of users held out, then
  split 50/50 into test and validation with the same generator),
  ``to_sequence(max_sequence_length=200, min_sequence_length=20,
  step_size=200)``, mean ``sequence_mrr_score`` on test. The epoch is chosen
  on validation MRR. Spotlight's published best test MRR: LSTM 0.0764,
  causal CNN 0.0795, pooling 0.0134.
- ``leave-last-out``: the protocol of recent papers. Users and items with at
  least 5 interactions, each user's last item for test, the one before for
  validation, the rest for training (each user's training items cut into
  rows of at most 200, so that every one is trained on; SASRec keeps only
  the most recent 200); ranking over all items; HR@10 and NDCG@10. The
  epoch is chosen on validation NDCG@10. Published: SASRec with full
  softmax NDCG@10 0.182, HR@10 0.315; gSASRec 0.173; BERT4Rec 0.152.

Each configuration runs in a fresh process, so that its peak memory is its
own. Results are printed as a Markdown table and each configuration's result
is written to ``benchmarks/results/accuracy-NAME.json``; ``--report`` prints
the table of the results found there.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

from _common import machine, peak_memory_mb, print_table, require_data
from spotlight.cross_validation import leave_last_out_split, user_based_train_test_split
from spotlight.datasets.movielens import get_movielens_dataset
from spotlight.evaluation import sequence_metrics, target_sequences
from spotlight.interactions import Interactions, SequenceInteractions
from spotlight.sequence import _training
from spotlight.sequence.implicit import ImplicitSequenceModel

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 42
"""The models' seed, unless a configuration names another."""


@dataclass
class Config:
    """One benchmark run: a protocol, model arguments and a training budget."""

    name: str
    protocol: str
    model: dict[str, Any]
    max_epochs: int
    patience: int = 3
    note: str = ""
    budget_seconds: float = field(default=float("inf"))
    snapshot_seconds: float | None = None
    in_full_run: bool = True
    decay_epochs: int | None = None
    """With a value: warm up the learning rate over the first epoch, then
    decay it to zero along a cosine over the rest of this many epochs."""
    seed: int = SEED
    recent_rows_only: bool = False
    """Train on each user's most recent row alone, as SASRec does (leave-last-out)."""


TRANSFORMER = {
    "representation": "transformer",
    "embedding_dim": 64,
    "representation_kwargs": {"num_layers": 2, "num_heads": 1, "dropout": 0.2},
}
SOFTMAX = {
    "loss": "softmax",
    "embedding_dim": 64,
    "batch_size": 64,
    "learning_rate": 5e-3,
    "length_bucketing": True,
}


SMALL_STEPS = {**SOFTMAX, **TRANSFORMER, "batch_size": 32, "learning_rate": 2e-3}
"""The transformer's best steps: batch 32 at a rate of 0.002."""
HALF_DROPOUT = {
    "representation_kwargs": {"num_layers": 2, "num_heads": 1, "dropout": 0.1}
}


def softmax_config(
    name: str,
    minutes: float,
    note: str = "",
    seed: int = SEED,
    in_full_run: bool = True,
    **model: Any,
) -> Config:
    """A Spotlight-protocol run with the full softmax and a time budget."""
    return Config(
        name,
        "spotlight",
        {**SOFTMAX, **model},
        max_epochs=40,
        note=note,
        budget_seconds=60 * minutes,
        in_full_run=in_full_run,
        seed=seed,
    )


CONFIGS = [
    softmax_config("pooling", 2, representation="pooling"),
    softmax_config(
        "cnn",
        4,
        representation="cnn",
        representation_kwargs={"kernel_width": 3, "num_layers": 2, "dilation": [1, 2]},
        in_full_run=False,
    ),
    softmax_config("lstm", 5, representation="lstm", in_full_run=False),
    softmax_config(
        "lstm-padded",
        5,
        representation="lstm",
        length_bucketing=False,
        note="as lstm, without length bucketing: does bucketing cost accuracy?",
        in_full_run=False,
    ),
    softmax_config(
        "mixture",
        4,
        representation="mixture",
        loss="sampled_softmax",
        num_negative_samples=128,
        note="the full softmax scores every item against every mixture: too slow here",
    ),
    softmax_config("gru", 4, representation="gru", in_full_run=False),
    softmax_config("transformer", 8, **TRANSFORMER, in_full_run=False),
    softmax_config(
        "cnn-repeats",
        4,
        representation="cnn",
        representation_kwargs={"kernel_width": 3, "num_layers": 2, "dilation": [1, 2]},
        repeat_offset=True,
        note="as cnn, with the repeat offset",
    ),
    softmax_config(
        "gru-repeats",
        4,
        representation="gru",
        repeat_offset=True,
        note="as gru, with the repeat offset",
    ),
    softmax_config(
        "transformer-repeats",
        8,
        **TRANSFORMER,
        repeat_offset=True,
        note="as transformer, with the repeat offset",
        in_full_run=False,
    ),
    Config(
        "transformer-llo",
        "leave-last-out",
        {**SOFTMAX, **TRANSFORMER},
        max_epochs=60,
        budget_seconds=30 * 60,
        snapshot_seconds=15 * 60,
        note="tried first: stops on its validation plateau after 16 epochs",
        in_full_run=False,
    ),
    Config(
        "lstm-llo",
        "leave-last-out",
        {**SOFTMAX, "representation": "lstm"},
        max_epochs=60,
        budget_seconds=10 * 60,
        note="the recommended configuration before the repeat offset",
        in_full_run=False,
    ),
    Config(
        "transformer-llo-b32",
        "leave-last-out",
        SMALL_STEPS,
        max_epochs=60,
        budget_seconds=15 * 60,
        note="the transformer's best constant rate: more, smaller steps",
        in_full_run=False,
    ),
    Config(
        "transformer-llo-dropout-0.1",
        "leave-last-out",
        {**SMALL_STEPS, **HALF_DROPOUT},
        max_epochs=60,
        budget_seconds=15 * 60,
        note="as transformer-llo-b32 with half the dropout",
        in_full_run=False,
    ),
    Config(
        "transformer-llo-cosine",
        "leave-last-out",
        SMALL_STEPS,
        max_epochs=50,
        patience=50,
        decay_epochs=50,
        snapshot_seconds=15 * 60,
        note="as transformer-llo-b32, the rate warmed up and decayed over 50 epochs",
        in_full_run=False,
    ),
    Config(
        "transformer-llo-cosine-dropout-0.1",
        "leave-last-out",
        {**SMALL_STEPS, **HALF_DROPOUT},
        max_epochs=40,
        patience=40,
        decay_epochs=40,
        note="as transformer-llo-cosine with half the dropout, over 40 epochs",
        in_full_run=False,
    ),
]
CONFIGS += [
    Config(
        "lstm-llo-cosine",
        "leave-last-out",
        {**SOFTMAX, "representation": "lstm"},
        max_epochs=15,
        patience=15,
        decay_epochs=15,
        note="as lstm-llo, the rate warmed up and decayed over 15 epochs",
        in_full_run=False,
    ),
    Config(
        "lstm-cosine",
        "spotlight",
        {**SOFTMAX, "representation": "lstm", "length_bucketing": False},
        max_epochs=12,
        patience=12,
        decay_epochs=12,
        note="as lstm-padded, the rate warmed up and decayed over 12 epochs",
        in_full_run=False,
    ),
]
CONFIGS += [
    softmax_config(
        f"{name}-seed-{seed}",
        5,
        representation="lstm",
        length_bucketing=bucketing,
        note="the bucketing comparison with another seed",
        seed=seed,
        in_full_run=False,
    )
    for seed in (7, 13)
    for name, bucketing in (("lstm", True), ("lstm-padded", False))
]

CONFIGS += [
    softmax_config(
        "lstm-padded-repeats",
        5,
        representation="lstm",
        length_bucketing=False,
        repeat_offset=True,
        note="as lstm-padded, with a learned offset for items already seen",
    ),
    *(
        softmax_config(
            f"lstm-padded-repeats-seed-{seed}",
            5,
            representation="lstm",
            length_bucketing=False,
            repeat_offset=True,
            note="lstm-padded-repeats with another seed",
            seed=seed,
            in_full_run=False,
        )
        for seed in (7, 13)
    ),
    Config(
        "lstm-llo-repeats",
        "leave-last-out",
        {**SOFTMAX, "representation": "lstm", "repeat_offset": True},
        max_epochs=60,
        budget_seconds=10 * 60,
        note="the recommended configuration: lstm-llo with the repeat offset",
    ),
    Config(
        "transformer-llo-repeats",
        "leave-last-out",
        {**SMALL_STEPS, **HALF_DROPOUT, "repeat_offset": True},
        max_epochs=40,
        patience=40,
        decay_epochs=40,
        snapshot_seconds=15 * 60,
        note="as transformer-llo-cosine-dropout-0.1, with a learned offset for "
        "items already seen",
        in_full_run=False,
    ),
    Config(
        "transformer-llo-repeats-dropout-0.2",
        "leave-last-out",
        {**SMALL_STEPS, "repeat_offset": True},
        max_epochs=40,
        patience=40,
        decay_epochs=40,
        note="as transformer-llo-repeats with dropout 0.2",
        in_full_run=False,
    ),
]

CONFIGS += [
    Config(
        "transformer-llo-sasrec-repeats",
        "leave-last-out",
        {
            **SOFTMAX,
            **TRANSFORMER,
            **HALF_DROPOUT,
            "batch_size": 128,
            "learning_rate": 1e-3,
            "repeat_offset": True,
        },
        max_epochs=100,
        patience=10,
        budget_seconds=50 * 60,
        recent_rows_only=True,
        note="the published SASRec-with-softmax recipe (each user's most recent "
        "200 items, batch 128, rate 0.001, dropout 0.1, up to 100 epochs) with "
        "the repeat offset",
        in_full_run=False,
    ),
]


def sasrec_wiring(model: dict[str, Any]) -> dict[str, Any]:
    """A transformer's model arguments with the SASRec code's block wiring."""
    kwargs = {**model["representation_kwargs"], "block": "sasrec"}
    return {**model, "representation_kwargs": kwargs}


def named(name: str) -> Config:
    """The configuration of this name defined so far."""
    return next(config for config in CONFIGS if config.name == name)


CONFIGS += [
    Config(
        "transformer-llo-sasrec-block-repeats",
        "leave-last-out",
        sasrec_wiring({**SMALL_STEPS, **HALF_DROPOUT, "repeat_offset": True}),
        max_epochs=40,
        patience=40,
        decay_epochs=40,
        snapshot_seconds=15 * 60,
        note="as transformer-llo-repeats with the SASRec code's block wiring",
        in_full_run=False,
    ),
    softmax_config(
        "transformer-sasrec-block-repeats",
        8,
        **sasrec_wiring(TRANSFORMER),
        repeat_offset=True,
        note="as transformer-repeats with the SASRec code's block wiring",
    ),
    Config(
        "transformer-llo-sasrec-block-128",
        "leave-last-out",
        sasrec_wiring({**SMALL_STEPS, "embedding_dim": 128, "repeat_offset": True}),
        max_epochs=25,
        patience=25,
        decay_epochs=25,
        snapshot_seconds=15 * 60,
        note="transformer-llo-sasrec-block-repeats at width 128 with dropout 0.2, "
        "the schedule over 25 epochs",
    ),
]
CONFIGS += [
    replace(
        named("transformer-llo-sasrec-block-repeats"),
        name="transformer-llo-sasrec-block-repeats-seed-7",
        note="transformer-llo-sasrec-block-repeats with another seed",
        snapshot_seconds=None,
        seed=7,
    ),
    replace(
        named("transformer-llo-sasrec-block-128"),
        name="transformer-llo-sasrec-block-256",
        model={**named("transformer-llo-sasrec-block-128").model, "embedding_dim": 256},
        max_epochs=20,
        patience=20,
        decay_epochs=20,
        note="transformer-llo-sasrec-block-128 at width 256, the schedule over "
        "20 epochs",
        in_full_run=False,
    ),
]

QUICK = "lstm-llo-repeats"
"""The configuration of ``--budget quick``, run for at most 15 minutes."""


def configs_for(budget: str) -> list[Config]:
    """Every configuration, or for ``quick`` the recommended one cut to 15
    minutes of training and validation. (Without ``--only``, :func:`main`
    runs only those with ``in_full_run``.)"""
    if budget == "full":
        return CONFIGS
    quick = copy.deepcopy(next(c for c in CONFIGS if c.name == QUICK))
    quick.budget_seconds, quick.snapshot_seconds = 15 * 60, None
    return [quick]


def spotlight_protocol() -> dict[str, Any]:
    """Train, validation and test sequences of Spotlight's protocol."""
    log = get_movielens_dataset("1M", path=require_data("ml-1m"))
    random_state = np.random.RandomState(100)
    train, rest = user_based_train_test_split(log, random_state=random_state)
    test, validation = user_based_train_test_split(
        rest, test_percentage=0.5, random_state=random_state
    )

    def rows(part: Interactions):
        return part.to_sequence(
            max_sequence_length=200, min_sequence_length=20, step_size=200
        )

    return {"train": rows(train), "validation": rows(validation), "test": rows(test)}


def five_core(log: Interactions) -> Interactions:
    """Keep users and items with at least 5 interactions, until stable."""
    while True:
        users = np.bincount(log.user_ids, minlength=log.num_users) >= 5
        items = np.bincount(log.item_ids, minlength=log.num_items) >= 5
        keep = users[log.user_ids] & items[log.item_ids]
        if keep.all():
            return log
        log = log.subset(keep)


def leave_last_out_protocol() -> dict[str, Any]:
    """Training rows and evaluation rows of the leave-last-out protocol."""
    log = five_core(get_movielens_dataset("1M", path=require_data("ml-1m")))
    train, validation, test = leave_last_out_split(log)
    return {
        "train": train.to_sequence(max_sequence_length=200),
        "validation": target_sequences(train, validation, 201),
        "test": target_sequences([train, validation], test, 201),
        "validation history": [train],
        "test history": [train, validation],
    }


def most_recent_rows(rows: SequenceInteractions) -> SequenceInteractions:
    """Each user's first row: ``to_sequence`` puts the most recent first."""
    first = np.append(True, rows.user_ids[1:] != rows.user_ids[:-1])
    return SequenceInteractions(
        rows.sequences[first],
        user_ids=rows.user_ids[first],
        num_items=rows.num_items,
        id_mapping=rows.id_mapping,
    )


def select(model: ImplicitSequenceModel, data, protocol: str) -> dict[str, float]:
    """Validation metrics and the one that selects the epoch: MRR for
    Spotlight's protocol (its own default, seen items ranked), NDCG@10 with
    every item the user rated before excluded for leave-last-out (as the
    published full-ranking results filter them)."""
    if protocol == "spotlight":
        metrics = sequence_metrics(model, data["validation"], k=10)
        return {**metrics, "selection": metrics["mrr"]}
    metrics = sequence_metrics(
        model,
        data["validation"],
        k=10,
        exclude_preceding=True,
        exclude_history=data["validation history"],
    )
    return {**metrics, "selection": metrics["ndcg@10"]}


def score(model: ImplicitSequenceModel, data) -> dict[str, float]:
    """Test metrics with the context's items ranked; with them excluded
    ("unseen"); and, where the protocol keeps each user's history, with
    everything the user rated before excluded ("unrated"). The two exclusions
    differ for users whose history is longer than a row."""
    rows = data["test"]
    metrics = sequence_metrics(model, rows, k=10)
    variants = {"unseen": sequence_metrics(model, rows, k=10, exclude_preceding=True)}
    if "test history" in data:
        variants["unrated"] = sequence_metrics(
            model,
            rows,
            k=10,
            exclude_preceding=True,
            exclude_history=data["test history"],
        )
    for variant, values in variants.items():
        metrics.update({f"{name} {variant}": value for name, value in values.items()})
    return metrics


def run(config: Config) -> dict[str, Any]:
    """Train one configuration epoch by epoch, keeping the best on validation."""
    started = time.perf_counter()
    data = (
        spotlight_protocol()
        if config.protocol == "spotlight"
        else (leave_last_out_protocol())
    )
    if config.recent_rows_only:
        data["train"] = most_recent_rows(data["train"])
    prepare_seconds = time.perf_counter() - started
    model = ImplicitSequenceModel(
        n_iter=1,
        random_state=config.seed,
        **config.model,
        **schedule(config, data["train"]),
    )
    best, best_state, best_epoch, history = -1.0, None, -1, []
    train_seconds = evaluation_seconds = 0.0
    snapshot = None
    for epoch in range(config.max_epochs):
        started = time.perf_counter()
        model.fit(data["train"])
        train_seconds += time.perf_counter() - started

        started = time.perf_counter()
        validation = select(model, data, config.protocol)
        evaluation_seconds += time.perf_counter() - started
        history.append({"epoch": epoch, "loss": model.loss_history_[-1], **validation})
        print(f"  {config.name} epoch {epoch}: {history[-1]}", file=sys.stderr)

        if validation["selection"] > best:
            best, best_epoch = validation["selection"], epoch
            best_state = copy.deepcopy(model.network.state_dict())
        spent = train_seconds + evaluation_seconds
        if snapshot is None and spent > (config.snapshot_seconds or float("inf")):
            snapshot = snapshot_score(model, best_state, best_epoch, data, spent)
            snapshot["epochs"] = epoch + 1
        if epoch - best_epoch >= config.patience or spent > config.budget_seconds:
            break

    model.network.load_state_dict(best_state)
    test = score(model, data)
    return {
        "config": asdict(config),
        "seed": config.seed,
        "epochs_trained": len(history),
        "best_epoch": best_epoch,
        "train_seconds": train_seconds,
        "evaluation_seconds": evaluation_seconds,
        "prepare_seconds": prepare_seconds,
        "peak_memory_mb": peak_memory_mb(),
        "validation": history[best_epoch],
        "test": test,
        "history": history,
        "torch_threads": torch.get_num_threads(),
        "snapshot": snapshot,
        "repeat_offset": learned_offset(model),
    }


def learned_offset(model: ImplicitSequenceModel) -> float | None:
    """The model's learned repeat offset, if it has one."""
    offset = getattr(model.network, "repeat_offset", None)
    return None if offset is None else offset.item()


def schedule(config: Config, train) -> dict[str, Any]:
    """The ``scheduler_func`` argument of a configuration with ``decay_epochs``."""
    if config.decay_epochs is None:
        return {}
    lengths = _training.real_lengths(train.sequences)
    per_epoch = len(
        _training.epoch_batches(
            lengths,
            config.model["batch_size"],
            config.model.get("length_bucketing", False),
            np.random.RandomState(0),
        )
    )
    warmup, total = per_epoch, per_epoch * config.decay_epochs

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return {"scheduler_func": lambda optimizer: LambdaLR(optimizer, factor)}


def snapshot_score(model, best_state, best_epoch, data, spent) -> dict[str, Any]:
    """Test metrics of the best epoch so far, as a shorter budget would give."""
    current = copy.deepcopy(model.network.state_dict())
    model.network.load_state_dict(best_state)
    test = score(model, data)
    model.network.load_state_dict(current)
    return {"seconds": spent, "best_epoch": best_epoch, "test": test}


def run_in_subprocess(config: Config, budget: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--run-one", config.name, "--budget", budget],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(output.stdout)


HEADERS = [
    "config",
    "protocol",
    "network",
    "loss",
    "MRR",
    "MRR unseen",
    "HR@10 unseen",
    "NDCG@10 unseen",
    "HR@10 unrated",
    "NDCG@10 unrated",
    "NDCG@10",
    "best/epochs",
    "train min",
    "peak MB",
]


def _row(
    result: dict[str, Any],
    name: str,
    test: dict[str, float],
    best_epoch: int,
    epochs: int,
    train_seconds: float,
) -> list[str]:
    config = result["config"]
    return [
        name,
        config["protocol"],
        config["model"].get("representation"),
        config["model"].get("loss"),
        f"{test['mrr']:.4f}",
        f"{test['mrr unseen']:.4f}",
        f"{test['hr@10 unseen']:.4f}",
        f"{test['ndcg@10 unseen']:.4f}",
        _figure(test, "hr@10 unrated"),
        _figure(test, "ndcg@10 unrated"),
        f"{test['ndcg@10']:.4f}",
        f"{best_epoch + 1}/{epochs}",
        f"{train_seconds / 60:.1f}",
        f"{result['peak_memory_mb']:.0f}",
    ]


def _figure(test: dict[str, float], name: str) -> str:
    """A metric to four places, or a dash for results that lack it."""
    return f"{test[name]:.4f}" if name in test else "-"


def report(results: list[dict[str, Any]]) -> None:
    """Print one row per configuration (and per snapshot of a shorter budget)."""
    rows = []
    for result in results:
        rows.append(
            _row(
                result,
                result["config"]["name"],
                result["test"],
                result["best_epoch"],
                result["epochs_trained"],
                result["train_seconds"],
            )
        )
        snapshot = result.get("snapshot")
        if snapshot:
            # Its time is of training and validation: training alone is not
            # recorded per epoch.
            minutes = round(snapshot["seconds"] / 60)
            rows.append(
                _row(
                    result,
                    f"(after {minutes} min)",
                    snapshot["test"],
                    snapshot["best_epoch"],
                    snapshot.get("epochs", snapshot["best_epoch"] + 1),
                    snapshot["seconds"],
                )
            )
    print_table(HEADERS, rows)


def result_files() -> list[Path]:
    """The per-configuration result files, in the order of CONFIGS."""
    paths = [RESULTS / f"accuracy-{config.name}.json" for config in CONFIGS]
    return [path for path in paths if path.exists()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=["full", "quick"], default="full")
    parser.add_argument("--only", nargs="+", help="names of configurations to run")
    parser.add_argument(
        "--report",
        action="store_true",
        help="print the table of the results already in benchmarks/results",
    )
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    by_name = {config.name: config for config in configs_for(arguments.budget)}

    if arguments.run_one:
        result = run(by_name[arguments.run_one])
        RESULTS.mkdir(exist_ok=True)
        suffix = "" if arguments.budget == "full" else f"-{arguments.budget}"
        path = RESULTS / f"accuracy-{arguments.run_one}{suffix}.json"
        path.write_text(json.dumps(result, indent=1))
        json.dump(result, sys.stdout)
        return
    if arguments.report:
        report([json.loads(path.read_text()) for path in result_files()])
        return

    chosen = (
        [by_name[name] for name in arguments.only]
        if arguments.only
        else [config for config in by_name.values() if config.in_full_run]
    )
    print(f"MovieLens-1M accuracy; seed {SEED} unless named; {machine()}\n")
    started = time.perf_counter()
    results = []
    for config in chosen:
        results.append(run_in_subprocess(config, arguments.budget))
        report(results[-1:])
    print(f"\nAll configurations: {(time.perf_counter() - started) / 60:.1f} min\n")
    report(results)


if __name__ == "__main__":
    main()
