"""How long ``Interactions.to_sequence`` takes on MovieLens-1M.

Usage: ``python benchmarks/to_sequence.py``

Compares the vectorised implementation with a straightforward loop over users
(one Python iteration per user and window, as Spotlight does) on the same
data, checks that both give the same rows, and prints a Markdown table of
median times over 5 runs.
"""

from __future__ import annotations

import numpy as np

from _common import machine, median_time, print_table, require_data
from spotlight.datasets.movielens import get_movielens_dataset

SETTINGS = [
    {"max_sequence_length": 200, "min_sequence_length": 20, "step_size": 200},
    {"max_sequence_length": 50, "min_sequence_length": None, "step_size": 1},
]


def loop_to_sequence(interactions, max_sequence_length, min_sequence_length, step_size):
    """Reference: per user, windows backwards from the end, in Python."""
    order = np.lexsort((interactions.timestamps, interactions.user_ids))
    users, items = interactions.user_ids[order], interactions.item_ids[order]
    rows = []
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(users)], strict=True):
        history = items[start:end]
        for window_end in range(len(history), 0, -step_size):
            window = history[max(window_end - max_sequence_length, 0) : window_end]
            if min_sequence_length and len(window) < min_sequence_length:
                continue
            row = np.zeros(max_sequence_length, dtype=np.int32)
            row[max_sequence_length - len(window) :] = window
            rows.append(row)
    return np.array(rows)


def main() -> None:
    interactions = get_movielens_dataset("1M", path=require_data("ml-1m"))
    print(f"MovieLens-1M: {len(interactions):,} interactions; {machine()}\n")
    table = []
    for settings in SETTINGS:
        rows = interactions.to_sequence(**settings)
        assert np.array_equal(
            rows.sequences, loop_to_sequence(interactions, **settings)
        )
        fast = median_time(lambda s=settings: interactions.to_sequence(**s))
        loop = median_time(lambda s=settings: loop_to_sequence(interactions, **s), 3)
        described = ", ".join(f"{k}={v}" for k, v in settings.items())
        table.append(
            [
                described,
                f"{len(rows):,}",
                f"{fast:.3f}",
                f"{loop:.3f}",
                f"{loop / fast:.0f}x",
            ]
        )
    print_table(
        ["settings", "rows", "vectorised (s)", "Python loop (s)", "speed-up"], table
    )


if __name__ == "__main__":
    main()
