"""Pieces of argparse shared by the subcommands: parser, help, value types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults in ``--help``, except ``None``: its help says what it means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr.

    argparse prints the whole usage before the error; a single line with a
    pointer to ``--help`` is easier to read, and the exit code stays 2.
    """

    def error(self, message: str) -> NoReturn:
        print(
            f"spotlight: error: {message} (see '{self.prog} --help')",
            file=sys.stderr,
        )
        raise SystemExit(2)


def _checked_number(
    convert: Callable[[str], float], test: Callable[[float], bool], expected: str
) -> Callable[[str], float]:
    """Build an argparse type that converts a value and checks its range."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {expected}, got {text!r}"
            ) from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected
    return parse


positive_int = _checked_number(int, lambda value: value >= 1, "a positive integer")
non_negative_int = _checked_number(
    int, lambda value: value >= 0, "a non-negative integer"
)
positive_float = _checked_number(
    float, lambda value: 0 < value < float("inf"), "a positive number"
)
non_negative_float = _checked_number(
    float, lambda value: 0 <= value < float("inf"), "a non-negative number"
)
fraction = _checked_number(float, lambda value: 0 < value < 1, "a number in (0, 1)")
unit_interval = _checked_number(
    float, lambda value: 0 <= value <= 1, "a number in [0, 1]"
)
