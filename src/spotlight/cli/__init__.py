"""The ``spotlight`` command line: train, evaluate and recommend.

Run ``spotlight --help`` (or ``python -m spotlight --help``) for the
subcommands and ``spotlight SUBCOMMAND --help`` for their options and
defaults. Results go to standard output; progress, warnings and errors to
standard error. A mistake a user can make (a missing file, a wrong column,
an unknown id, a damaged model file) ends with one ``spotlight: error: ...``
line and exit code 1; a wrong option with exit code 2; Ctrl-C with 130.

The command line needs pandas, tqdm and matplotlib:
``pip install "spotlight-rec[cli]"``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from spotlight import __version__
from spotlight.cli import _parsing, evaluate, recommend, train
from spotlight.exceptions import SpotlightError

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    'install the command line\'s dependencies: pip install "spotlight-rec[cli]"'
)
# What a user's mistake raises (RuntimeError: no CUDA, for one); anything else
# is a bug and keeps its traceback.
_USER_ERRORS = (SpotlightError, OSError, ValueError, TypeError, KeyError, RuntimeError)
_SUBCOMMANDS = {
    "train": (train, "train a model and report its accuracy"),
    "evaluate": (evaluate, "evaluate a saved model on held-out data"),
    "recommend": (recommend, "recommend the next items of a history or a user"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of the ``spotlight`` command and its subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _parsing.ArgumentParser(
        prog="spotlight",
        description="Sequential recommendation: train next-item models, evaluate "
        "them and recommend with them.",
        formatter_class=_parsing.HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    _add_verbosity(parser, default=True)

    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in _SUBCOMMANDS.items():
        subparser = subparsers.add_parser(
            name,
            help=summary,
            usage=module.USAGE,
            description=module.DESCRIPTION,
            formatter_class=_parsing.HelpFormatter,
        )
        module.add_arguments(subparser)
        _add_verbosity(subparser, default=False)
        subparser.set_defaults(run=module.run)
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, default: bool) -> None:
    """Add --verbose and --quiet; a subcommand's set them only when given."""
    group = parser.add_argument_group("messages")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if default else argparse.SUPPRESS,
        help="log more: -v for information, -vv for debugging",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if default else argparse.SUPPRESS,
        help="no progress bar, no per-epoch lines, no warnings: results and errors "
        "only",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``spotlight`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments, without the program name; by default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0 on success, 1 for an error, 2 for a wrong option,
        130 when interrupted by Ctrl-C.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:
        return _exit_code(stop)
    _configure_logging(args.verbose, args.quiet)

    try:
        return args.run(args)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except ImportError as error:
        _error(f"{error}; {_INSTALL_HINT}")
        return 1
    except _USER_ERRORS as error:
        logger.debug("the error came from here:", exc_info=True)
        _error(_message(error))
        return 1


def _silence_stdout() -> None:
    """Send what is left of stdout nowhere once its reader has gone (``| head``),
    so that Python does not complain again when it flushes at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _exit_code(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    return stop.code if isinstance(stop.code, int) else 1


def _message(error: BaseException) -> str:
    """The error's message on one line."""
    if isinstance(error, KeyError) and type(error) is KeyError and error.args:
        text = f"unknown key {error.args[0]!r}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def _error(message: str) -> None:
    print(f"spotlight: error: {message}", file=sys.stderr)


class _StderrHandler(logging.StreamHandler):
    """Log to whatever ``sys.stderr`` is at the time of each message."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Formatter(logging.Formatter):
    """``spotlight: warning: message``, like the error lines."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"spotlight: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _configure_logging(verbose: int, quiet: bool) -> None:
    """Send the library's log to stderr at the level the flags ask for."""
    if quiet:
        level = logging.ERROR
    elif verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    else:
        level = logging.WARNING
    package = logging.getLogger("spotlight")
    package.setLevel(level)
    if not any(isinstance(handler, _StderrHandler) for handler in package.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        package.addHandler(handler)
