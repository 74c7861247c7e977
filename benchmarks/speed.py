"""Training, evaluation and recommendation speed, and how they scale.

Usage::

    python benchmarks/speed.py              # everything (about 40 minutes here)
    python benchmarks/speed.py --part train # one part: matmul, train, evaluate,
                                            # recommend, transformer, scale,
                                            # allocator
    python benchmarks/speed.py --part train --networks lstm transformer

Data: MovieLens-1M sequences of Spotlight's protocol (user split with
``RandomState(100)``, ``to_sequence(200, 20, 200)``), at Spotlight's default
settings (``embedding_dim=32``, ``batch_size=256``; adaptive hinge with 5
negatives, and BPR). Training is timed three ways: the straightforward
objective that scores every padded position (as Spotlight does), this
library's default full-length batches, and length bucketing. Each
measurement runs in a fresh process, so that its peak memory is its own;
times are medians of repeats. Figures are noisy on a shared machine: compare
the variants measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import machine, median_time, peak_memory_mb, print_table, require_data
from spotlight import _fused, losses
from spotlight.cross_validation import user_based_train_test_split
from spotlight.datasets.movielens import get_movielens_dataset
from spotlight.evaluation import sequence_mrr_score
from spotlight.interactions import PADDING_IDX, Interactions
from spotlight.sequence import _training
from spotlight.sequence._objectives import Objective
from spotlight.sequence.implicit import ImplicitSequenceModel

REPRESENTATIONS = ["pooling", "cnn", "lstm", "mixture", "gru", "transformer"]
SPOTLIGHT_DEFAULTS = {"embedding_dim": 32, "batch_size": 256}
WIDE_SOFTMAX = {
    "representation": "transformer",
    "loss": "softmax",
    "embedding_dim": 64,
    "batch_size": 64,
    "representation_kwargs": {"num_layers": 2, "num_heads": 1, "dropout": 0.2},
    "length_bucketing": True,
}


def spotlight_sequences() -> dict[str, Any]:
    log = get_movielens_dataset("1M", path=require_data("ml-1m"))
    random_state = np.random.RandomState(100)
    train, rest = user_based_train_test_split(log, random_state=random_state)
    test, _ = user_based_train_test_split(
        rest, test_percentage=0.5, random_state=random_state
    )
    rows = {"max_sequence_length": 200, "min_sequence_length": 20, "step_size": 200}
    return {
        "log": log,
        "train": train.to_sequence(**rows),
        "test": test.to_sequence(**rows),
    }


def matmul_rate(dtype: str = "float32") -> float:
    """Dense matrix-multiply rate of this machine, GFLOP/s."""
    a = torch.randn(2048, 2048, dtype=getattr(torch, dtype))
    b = torch.randn(2048, 2048, dtype=getattr(torch, dtype))
    seconds = median_time(lambda: a @ b, repeats=9)
    return 2 * 2048**3 / seconds / 1e9


def softmax_product_rate(width: int, num_items: int = 3706) -> float:
    """Rate, GFLOP/s in float32, of the full softmax's three matrix products
    on one block of rows at this width (logits, and the gradients of the
    representations and of the item embeddings), as the fused softmax
    computes them over MovieLens-1M's items."""
    rows = _fused._block_rows(num_items)
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(rows, width, generator=generator)
    weight = torch.randn(num_items, width, generator=generator)
    bias = torch.zeros(num_items)
    gradient = torch.randn(rows, num_items, generator=generator)
    grad_weight = torch.zeros_like(weight)

    def products() -> None:
        torch.addmm(bias, hidden, weight.T)
        gradient @ weight
        grad_weight.addmm_(gradient.T, hidden)

    return 3 * 2 * rows * num_items * width / median_time(products, 21) / 1e9


class FullLengthObjective(Objective):
    """The straightforward objective, as Spotlight computes it: every position
    of the padded batch is scored against its negatives, padding included,
    and the loss is masked afterwards (BPR and the adaptive hinge only)."""

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        representations = self.network.representations(sequences)[:, :-1]
        mask = sequences != PADDING_IDX  # (batch, length)
        count = self.num_negative_samples if self.loss == "adaptive_hinge" else 1
        negatives = self.sampler.sample(
            (*sequences.shape, count), device=sequences.device
        )
        candidates = torch.cat((sequences.unsqueeze(-1), negatives), dim=-1)
        scores = self.network.score(representations, candidates)  # (b, l, 1 + n)
        positive, negative = scores[..., 0], scores[..., 1:]
        if self.loss == "adaptive_hinge":
            return losses.adaptive_hinge_loss(
                positive, negative.permute(2, 0, 1), mask=mask
            )
        return losses.bpr_loss(positive, negative.squeeze(-1), mask=mask)


def train_speed(representation: str, loss: str, mode: str) -> dict[str, Any]:
    """Sequences per second of one epoch after a warm-up epoch.

    ``mode``: ``"straightforward"`` (every position of the padded batch scored,
    as Spotlight does), ``"padded"`` (this library without length bucketing:
    full-length batches, padding dropped before scoring) or ``"bucketed"``.
    """
    data = spotlight_sequences()
    model = ImplicitSequenceModel(
        representation=representation,
        loss=loss,
        n_iter=1,
        random_state=0,
        length_bucketing=mode == "bucketed",
        **SPOTLIGHT_DEFAULTS,
    )
    model.fit(data["train"])  # warm-up
    if mode == "straightforward":
        built = model._objective
        model._objective = FullLengthObjective(
            built.network,
            built.loss,
            built.num_items,
            built.num_negative_samples,
            built.sampler,
            built.exclude_positive,
            gbce_calibration=0.75,
        )
        model.fit(data["train"])  # warm-up of the straightforward objective
    seconds = median_time(lambda: model.fit(data["train"]), repeats=2)
    return {
        "sequences_per_second": len(data["train"]) / seconds,
        "epoch_seconds": seconds,
        "peak_memory_mb": peak_memory_mb(),
    }


def per_row_mrr(model: ImplicitSequenceModel, test) -> np.ndarray:
    """The straightforward evaluation: one ``predict`` call per test row."""
    from scipy.stats import rankdata

    reciprocal_ranks = []
    for row in test.sequences:
        scores = -model.predict(row[:-1])[1:]  # rank real items only
        reciprocal_ranks.append(1.0 / rankdata(scores)[row[-1] - 1])
    return np.array(reciprocal_ranks)


def evaluate_speed(representation: str) -> dict[str, Any]:
    data = spotlight_sequences()
    model = ImplicitSequenceModel(
        representation=representation, n_iter=1, random_state=0, **SPOTLIGHT_DEFAULTS
    )
    model.fit(data["train"])
    test = data["test"]
    batched = sequence_mrr_score(model, test)
    batched_seconds = median_time(lambda: sequence_mrr_score(model, test), 3)
    started = time.perf_counter()
    reference = per_row_mrr(model, test)
    reference_seconds = time.perf_counter() - started
    return {
        "rows": len(test),
        "batched_rows_per_second": len(test) / batched_seconds,
        "per_row_rows_per_second": len(test) / reference_seconds,
        "largest_difference": float(np.abs(batched - reference).max()),
    }


def recommend_speed(representation: str) -> dict[str, Any]:
    data = spotlight_sequences()
    model = ImplicitSequenceModel(
        representation=representation, n_iter=1, random_state=0, **SPOTLIGHT_DEFAULTS
    )
    model.fit(data["train"])
    one = data["test"].sequences[0]
    latencies = []
    for _ in range(300):
        started = time.perf_counter()
        model.recommend(one, k=10)
        latencies.append(time.perf_counter() - started)
    latencies = latencies[50:]  # warm-up
    batch = data["test"].sequences[:1000]
    batch_seconds = median_time(lambda: model.recommend(batch, k=10), 5)
    latest = latest_sequences(data["log"])
    all_users_seconds = median_time(lambda: model.recommend(latest, k=10), 3)
    return {
        "median_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "batch_1000_per_second": 1000 / batch_seconds,
        "all_users": len(latest),
        "all_users_seconds": all_users_seconds,
    }


def latest_sequences(log: Interactions) -> np.ndarray:
    """The most recent 200 items of every user, one row per user."""
    rows = log.to_sequence(max_sequence_length=200)
    first_row = np.flatnonzero(np.r_[True, rows.user_ids[1:] != rows.user_ids[:-1]])
    return rows.sequences[first_row]


def transformer_flops(settings: dict[str, Any]) -> dict[str, Any]:
    """Achieved FLOP rate of transformer training against the matmul rate."""
    data = spotlight_sequences()
    model = ImplicitSequenceModel(n_iter=1, random_state=0, **settings)
    model.fit(data["train"])  # warm-up, builds the network
    counter = FlopCounterMode(display=False)
    with counter:
        _one_epoch_of_steps(model, data["train"])
    seconds = median_time(lambda: model.fit(data["train"]), repeats=2)
    flops = counter.get_total_flops()
    return {
        "gflop_per_epoch": flops / 1e9,
        "epoch_seconds": seconds,
        "achieved_gflops": flops / seconds / 1e9,
    }


def _one_epoch_of_steps(model: ImplicitSequenceModel, train) -> None:
    """Forward and backward over the epoch's batches, as fit runs them."""
    lengths = _training.real_lengths(train.sequences)
    sequences = torch.from_numpy(train.sequences.astype(np.int64))
    batches = _training.epoch_batches(
        lengths, model._batch_size, model._length_bucketing, np.random.RandomState(0)
    )
    for rows in batches:
        batch = sequences[torch.from_numpy(rows)]
        if model._length_bucketing:
            batch = _training.trim(batch, lengths[rows])
        model._objective(batch).backward()
    model._optimizer.zero_grad()


def synthetic_log(num_interactions: int, num_items: int = 100_000) -> Interactions:
    """Users with about 100 interactions each, Zipf-like item popularity."""
    generator = np.random.default_rng(0)
    num_users = max(num_interactions // 100, 1)
    users = np.sort(generator.integers(0, num_users, num_interactions))
    popularity = 1.0 / np.arange(1, num_items) ** 0.8
    items = generator.choice(
        np.arange(1, num_items), size=num_interactions, p=popularity / popularity.sum()
    )
    return Interactions(
        users, items, timestamps=np.arange(num_interactions), num_items=num_items
    )


def scale(num_interactions: int, loss: str) -> dict[str, Any]:
    log = synthetic_log(num_interactions)
    started = time.perf_counter()
    rows = log.to_sequence(max_sequence_length=50, step_size=50)
    to_sequence_seconds = time.perf_counter() - started
    del log
    model = ImplicitSequenceModel(
        representation="pooling",
        loss=loss,
        n_iter=1,
        batch_size=1024,
        num_negative_samples=1000 if loss == "sampled_softmax" else 5,
        length_bucketing=True,
        random_state=0,
    )
    started = time.perf_counter()
    model.fit(rows)
    return {
        "to_sequence_seconds": to_sequence_seconds,
        "epoch_seconds": time.perf_counter() - started,
        "peak_memory_mb": peak_memory_mb(),
    }


TASKS = {
    "matmul": lambda: {
        "gflops": matmul_rate(),
        "bfloat16_gflops": matmul_rate("bfloat16"),
        "softmax_gflops": {width: softmax_product_rate(width) for width in (64, 128)},
    },
    "train": train_speed,
    "evaluate": evaluate_speed,
    "recommend": recommend_speed,
    "transformer": transformer_flops,
    "scale": scale,
}


# glibc's malloc hands large blocks back to the system and maps new ones as
# batch shapes change; these keep them in the heap instead.
KEEP_FREED_MEMORY = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 32),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 32),
}


def in_subprocess(
    task: str, *arguments: Any, environment: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one measurement in a fresh Python process."""
    output = subprocess.run(
        [sys.executable, __file__, "--task", task, json.dumps(arguments)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(environment or {})},
    )
    return json.loads(output.stdout)


def report_train(networks: list[str]) -> None:
    rows = []
    for representation in networks:
        for loss in ("adaptive_hinge", "bpr"):
            results = {
                mode: in_subprocess("train", representation, loss, mode)
                for mode in ("straightforward", "padded", "bucketed")
            }
            rates = {
                mode: result["sequences_per_second"] for mode, result in results.items()
            }
            memory = " / ".join(
                f"{result['peak_memory_mb']:.0f}" for result in results.values()
            )
            rows.append(
                [
                    representation,
                    loss,
                    *(f"{rate:.0f}" for rate in rates.values()),
                    f"{rates['bucketed'] / rates['straightforward']:.2f}x",
                    f"{rates['bucketed'] / rates['padded']:.2f}x",
                    memory,
                ]
            )
    print_table(
        [
            "network",
            "loss",
            "straightforward seq/s",
            "padded seq/s",
            "bucketed seq/s",
            "bucketed / straightforward",
            "bucketed / padded",
            "peak MB (each)",
        ],
        rows,
    )


def report_evaluate(networks: list[str]) -> None:
    rows = []
    for representation in networks:
        result = in_subprocess("evaluate", representation)
        batched = result["batched_rows_per_second"]
        per_row = result["per_row_rows_per_second"]
        rows.append(
            [
                representation,
                f"{batched:.0f}",
                f"{per_row:.0f}",
                f"{batched / per_row:.0f}x",
                f"{result['largest_difference']:.1e}",
            ]
        )
    print_table(
        ["network", "batched rows/s", "per-row rows/s", "speed-up", "max |MRR diff|"],
        rows,
    )


def report_recommend(networks: list[str]) -> None:
    rows = []
    for representation in networks:
        result = in_subprocess("recommend", representation)
        rows.append(
            [
                representation,
                f"{result['median_ms']:.2f}",
                f"{result['p99_ms']:.2f}",
                f"{result['batch_1000_per_second']:.0f}",
                f"{result['all_users_seconds']:.2f}",
            ]
        )
    print_table(
        [
            "network",
            "one sequence median ms",
            "p99 ms",
            "batch of 1000: seq/s",
            "top-10 for all 6,040 users (s)",
        ],
        rows,
    )


def report_transformer(
    gflops: float, bfloat16_gflops: float, softmax_gflops: dict[str, float]
) -> None:
    rows = []
    spotlight = {
        "representation": "transformer",
        "loss": "adaptive_hinge",
        "length_bucketing": True,
        **SPOTLIGHT_DEFAULTS,
    }
    for name, settings in [
        ("Spotlight defaults", spotlight),
        ("width 64, full softmax", WIDE_SOFTMAX),
        ("the same, compile=True", {**WIDE_SOFTMAX, "compile": True}),
        ("the same, mixed_precision=True", {**WIDE_SOFTMAX, "mixed_precision": True}),
        ("width 128, full softmax", {**WIDE_SOFTMAX, "embedding_dim": 128}),
    ]:
        result = in_subprocess("transformer", settings)
        rate = result["achieved_gflops"]
        rows.append(
            [
                name,
                f"{result['gflop_per_epoch']:.0f}",
                f"{result['epoch_seconds']:.1f}",
                f"{rate:.1f}",
                f"{100 * rate / gflops:.0f}%",
                f"{100 * rate / bfloat16_gflops:.0f}%",
            ]
        )
    print_table(
        [
            "transformer",
            "GFLOP/epoch",
            "epoch s",
            "GFLOP/s",
            "of float32 matmul rate",
            "of bfloat16 matmul rate",
        ],
        rows,
    )
    for width, rate in softmax_gflops.items():
        print(
            f"\nThe full softmax's own matrix products at width {width} (one block "
            f"of rows against 3,706 items): {rate:.0f} GFLOP/s, "
            f"{100 * rate / gflops:.0f}% of the 2048 x 2048 float32 rate."
        )


def report_allocator(networks: list[str]) -> None:
    """Training under glibc's default allocator settings and with freed
    memory kept in the heap (:data:`KEEP_FREED_MEMORY`)."""
    rows = []
    for representation in networks:
        for mode in ("padded", "bucketed"):
            rates = [
                in_subprocess(
                    "train", representation, "adaptive_hinge", mode, environment=env
                )["sequences_per_second"]
                for env in (None, KEEP_FREED_MEMORY)
            ]
            rows.append(
                [
                    representation,
                    mode,
                    *(f"{rate:.0f}" for rate in rates),
                    f"{rates[1] / rates[0]:.2f}x",
                ]
            )
    print_table(
        ["network (adaptive hinge)", "batches", "default seq/s", "kept seq/s", "gain"],
        rows,
    )


def report_scale() -> None:
    rows = []
    for size in (1_000_000, 5_000_000, 20_000_000):
        for loss in ("bpr", "sampled_softmax"):
            result = in_subprocess("scale", size, loss)
            rows.append(
                [
                    f"{size:,}",
                    loss,
                    f"{result['to_sequence_seconds']:.2f}",
                    f"{result['epoch_seconds']:.1f}",
                    f"{result['peak_memory_mb']:.0f}",
                ]
            )
    print_table(["interactions", "loss", "to_sequence s", "epoch s", "peak MB"], rows)


DEFAULT_PARTS = ["matmul", "train", "evaluate", "recommend", "transformer", "scale"]
"""The parts of a run without ``--part``."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part",
        choices=[*DEFAULT_PARTS, "allocator"],
        nargs="+",
    )
    parser.add_argument(
        "--networks",
        choices=REPRESENTATIONS,
        nargs="+",
        default=REPRESENTATIONS,
        help="the networks of the train, evaluate and recommend parts",
    )
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("arguments", nargs="?", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.task:
        json.dump(TASKS[arguments.task](*json.loads(arguments.arguments)), sys.stdout)
        return

    parts = arguments.part or DEFAULT_PARTS
    print(f"{machine()}\n")
    rates = in_subprocess("matmul")
    gflops, bfloat16_gflops = rates["gflops"], rates["bfloat16_gflops"]
    softmax_gflops = rates["softmax_gflops"]
    print(
        f"matrix multiply (2048 x 2048): float32 {gflops:.0f} GFLOP/s, "
        f"bfloat16 {bfloat16_gflops:.0f} GFLOP/s\n"
    )
    reports = {
        "train": lambda: report_train(arguments.networks),
        "evaluate": lambda: report_evaluate(arguments.networks),
        "recommend": lambda: report_recommend(arguments.networks),
        "transformer": lambda: report_transformer(
            gflops, bfloat16_gflops, softmax_gflops
        ),
        "scale": report_scale,
        "allocator": lambda: report_allocator(arguments.networks),
    }
    for part in parts:
        if part in reports:
            print(f"## {part}\n")
            reports[part]()
            print()


if __name__ == "__main__":
    main()
