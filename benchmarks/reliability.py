"""Count the malformed inputs and injected faults the reliability tests try.

Usage: ``python benchmarks/reliability.py``

Runs ``tests/test_hostile_input.py`` and ``tests/test_recovery.py`` with
pytest in this process, then prints, per entry point, how many inputs the
hypothesis properties tried and how many of them were refused with a
documented error, followed by the pass/fail summary.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from _common import print_table

TESTS = Path(__file__).resolve().parents[1] / "tests"

FAULTS = [
    ["SIGKILL of a training process mid-epoch, then resume", "test_recovery.py", 1],
    ["Ctrl-C (SIGINT) mid-epoch, then resume", "test_recovery.py", 1],
    ["byte flips and truncations of a model file", "test_hostile_input.py", "60"],
    [
        "damaged CSV files (random bytes, junk spliced in)",
        "test_hostile_input.py",
        "60",
    ],
]


class Outcomes:
    """A pytest plugin that remembers each test's outcome."""

    def __init__(self) -> None:
        self.passed = self.failed = 0

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call":
            self.passed += report.passed
            self.failed += report.failed


def main() -> None:
    outcomes = Outcomes()
    code = pytest.main(
        [
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS / "test_hostile_input.py"),
            str(TESTS / "test_recovery.py"),
        ],
        plugins=[outcomes],
    )
    module = next(
        module
        for name, module in sys.modules.items()
        if name.endswith("test_hostile_input") and hasattr(module, "COUNTS")
    )
    counts = module.COUNTS
    entries = sorted({entry for entry, _ in counts})
    rows = [
        [entry, counts[entry, "inputs"], counts[entry, "errors"]] for entry in entries
    ]
    rows.append(
        [
            "all entry points",
            sum(counts[e, "inputs"] for e in entries),
            sum(counts[e, "errors"] for e in entries),
        ]
    )
    print()
    print_table(
        ["entry point", "malformed inputs tried", "refused with an error"], rows
    )
    print()
    print_table(["fault injected", "test file", "cases"], FAULTS)
    print(f"\ntests: {outcomes.passed} passed, {outcomes.failed} failed")
    sys.exit(code)


if __name__ == "__main__":
    main()
