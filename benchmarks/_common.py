"""Shared helpers of the benchmark scripts: data location, timing, tables."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

DATA = Path(
    os.environ.get(
        "SPOTLIGHT_BENCHMARK_DATA",
        Path(__file__).resolve().parents[2] / "shared" / "data",
    )
)


def require_data(folder: str) -> Path:
    """Return ``DATA / folder`` or exit with a clear message when absent."""
    path = DATA / folder
    if not path.exists():
        sys.exit(
            f"benchmark data {path} is absent: point SPOTLIGHT_BENCHMARK_DATA at a "
            "folder holding the MovieLens releases (ml-100k, ml-1m, ...)"
        )
    return path


def median_time(function: Callable[[], Any], repeats: int = 5) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``function``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """One line describing the machine and library versions."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}"
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a Markdown table."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        + " |"
    )
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print(
            "| "
            + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            + " |"
        )
