"""Training throughput of one process against two data-parallel processes.

Usage: ``python benchmarks/distributed.py [--epochs N] [--repeats N]``

Trains a CNN with the BPR loss on MovieLens-1M sequences (Spotlight's
protocol: user-based split with ``RandomState(100)``, rows of at most 200
items, at least 20, step 200) in fresh processes: one process with two
threads and with one, then two gloo processes on 127.0.0.1 with one thread
each, first at 128 sequences each (the same global batch of 256 as the single
process, so the same training), then at 256 each (a global batch of 512).
Each run is repeated and the fastest kept, as the machine may be shared.
Prints a Markdown table of training sequences per second and the final
training loss (the same in every repeat: the runs are seeded).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _common import machine, print_table, require_data
from spotlight import distributed
from spotlight.cross_validation import user_based_train_test_split
from spotlight.datasets.movielens import get_movielens_dataset
from spotlight.sequence.implicit import ImplicitSequenceModel

# (processes, threads per process, batch size per process)
RUNS = [(1, 2, 256), (1, 1, 256), (2, 1, 128), (2, 1, 256)]


def training_sequences():
    """MovieLens-1M training rows, cut as in Spotlight's sequence experiments."""
    interactions = get_movielens_dataset("1M", path=require_data("ml-1m"))
    train, _ = user_based_train_test_split(
        interactions, random_state=np.random.RandomState(100)
    )
    return train.to_sequence(
        max_sequence_length=200, min_sequence_length=20, step_size=200
    )


def worker(batch_size: int, epochs: int, threads: int, result: Path) -> None:
    """Train in this process (one rank of a run, or the only one); time it."""
    torch.set_num_threads(threads)
    sequences = training_sequences()
    distributed.initialize()
    model = ImplicitSequenceModel(
        loss="bpr",
        representation="cnn",
        batch_size=batch_size,
        n_iter=epochs,
        random_state=100,
    )
    started = time.perf_counter()
    model.fit(sequences)
    seconds = time.perf_counter() - started
    if distributed.is_main_process():
        summary = {
            "sequences": len(sequences),
            "seconds": seconds,
            "losses": model.loss_history_,
        }
        result.write_text(json.dumps(summary))
    distributed.shutdown()


def launch(processes: int, threads: int, batch_size: int, epochs: int) -> dict:
    """Run :func:`worker` in ``processes`` fresh processes; return rank 0's result."""
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "result.json"
        argv = [
            sys.executable,
            __file__,
            "--worker",
            f"--batch-size={batch_size}",
            f"--epochs={epochs}",
            f"--threads={threads}",
            f"--result={result}",
        ]
        environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        if processes > 1:
            environment.update(
                WORLD_SIZE=str(processes), MASTER_ADDR="127.0.0.1", MASTER_PORT=_port()
            )
        running = [
            subprocess.Popen(
                argv, env={**environment, "RANK": str(rank), "LOCAL_RANK": str(rank)}
            )
            for rank in range(processes)
        ]
        if any(process.wait() != 0 for process in running):
            sys.exit("a benchmark process failed; its error is above")
        return json.loads(result.read_text())


def _port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.batch_size, args.epochs, args.threads, args.result)
        return

    print(
        f"MovieLens-1M training sequences, cnn + bpr, {args.epochs} epochs, best "
        f"of {args.repeats}; {machine()}\n"
    )
    rows, baseline = [], None
    for processes, threads, batch_size in RUNS:
        results = [
            launch(processes, threads, batch_size, args.epochs)
            for _ in range(args.repeats)
        ]
        result = min(results, key=lambda result: result["seconds"])
        speed = result["sequences"] * args.epochs / result["seconds"]
        baseline = baseline or speed
        rows.append(
            [
                f"{processes} x {threads} thread(s)",
                batch_size,
                processes * batch_size,
                f"{result['seconds']:.1f}",
                f"{speed:.0f}",
                f"{speed / baseline:.2f}x",
                f"{result['losses'][-1]:.4f}",
            ]
        )
    print_table(
        [
            "processes",
            "batch per process",
            "global batch",
            "training (s)",
            "sequences/s",
            "speed-up",
            "final loss",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
