"""The command-line options that choose the data, sequences and split.

``spotlight train`` declares them with the defaults of
:class:`~spotlight.cli.data.DataOptions`; ``evaluate`` and ``recommend``
declare them without defaults, so that options not given fall back on those
recorded in the model file.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from spotlight.cli import _parsing
from spotlight.cli.data import DATASETS, DataOptions
from spotlight.io import FORMATS

__all__ = ["add_data_arguments", "resolve_data_options"]

_SPLITS = ("user", "leave-last-out")
_RECORDED_NOTE = (
    "Options not given take the values recorded in the model file by 'spotlight "
    "train', or else its defaults."
)
_SYNTHETIC_OPTIONS = (
    ("users", _parsing.positive_int, "number of users"),
    ("items", _parsing.positive_int, "number of item ids, padding 0 included"),
    ("interactions", _parsing.positive_int, "number of interactions"),
    (
        "concentration",
        _parsing.positive_float,
        "Dirichlet concentration of the transitions: low is predictable, high "
        "near-random",
    ),
    ("order", _parsing.positive_int, "how many previous items the next depends on"),
    ("seed", _parsing.non_negative_int, "seed of the generator"),
)


def add_data_arguments(parser: argparse.ArgumentParser, recorded: bool) -> None:
    """Add the data, sequence and split options to a subcommand's parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    recorded : bool
        Whether unset options fall back on those recorded in a model file
        (``evaluate``, ``recommend``) rather than on the defaults (``train``).
    """
    defaults = DataOptions() if not recorded else None

    def default(name: str) -> Any:
        return None if defaults is None else getattr(defaults, name)

    note = _RECORDED_NOTE if recorded else None
    _add_source_arguments(parser, default, note)
    _add_synthetic_arguments(parser, default, note)
    _add_sequence_arguments(parser, default, note)


def _add_source_arguments(parser, default, note: str | None) -> None:
    group = parser.add_argument_group("data", note)
    source = group.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        choices=DATASETS,
        default=default("dataset"),
        help="dataset to use",
    )
    source.add_argument(
        "--data",
        metavar="FILE",
        help="a CSV, Parquet or MovieLens ratings file (u.data, ratings.dat[.gz], "
        "ratings.csv) instead of --dataset",
    )
    group.add_argument(
        "--format",
        choices=FORMATS,
        help="format of --data (default: guessed from the file name)",
    )
    for flag, name in (("--user-col", "user_col"), ("--item-col", "item_col")):
        group.add_argument(
            flag, default=default(name), metavar="COLUMN", help="column of --data"
        )
    group.add_argument(
        "--timestamp-col",
        default=default("timestamp_col"),
        metavar="COLUMN",
        help="column of --data that orders each user's interactions",
    )
    group.add_argument(
        "--rating-col", metavar="COLUMN", help="column of ratings in --data, if any"
    )
    group.add_argument(
        "--sep", help="field separator of --data (default: guessed from its header)"
    )
    group.add_argument(
        "--skip-bad-rows",
        action="store_true",
        default=default("skip_bad_rows"),
        help="drop malformed rows of --data instead of stopping",
    )
    group.add_argument(
        "--data-home",
        metavar="DIR",
        help="cache folder of downloaded MovieLens data (default: "
        "$SPOTLIGHT_DATA_HOME or ~/.spotlight_data)",
    )
    group.add_argument(
        "--dataset-path",
        metavar="PATH",
        help="a local copy of the MovieLens --dataset: its zip file or folder",
    )


def _add_synthetic_arguments(parser, default, note: str | None) -> None:
    group = parser.add_argument_group("synthetic data (--dataset synthetic)", note)
    for name, kind, text in _SYNTHETIC_OPTIONS:
        group.add_argument(
            f"--synthetic-{name}",
            type=kind,
            default=default(f"synthetic_{name}"),
            metavar="X" if kind is _parsing.positive_float else "N",
            help=text,
        )


def _add_sequence_arguments(parser, default, note: str | None) -> None:
    group = parser.add_argument_group("sequences and split", note)
    group.add_argument(
        "--max-sequence-length",
        type=_parsing.positive_int,
        metavar="N",
        default=default("max_sequence_length"),
        help="length of the sequences the model reads",
    )
    group.add_argument(
        "--min-sequence-length",
        type=_parsing.positive_int,
        metavar="N",
        help="drop sequences with fewer items",
    )
    group.add_argument(
        "--step-size",
        type=_parsing.positive_int,
        metavar="N",
        help="distance between the ends of a user's sequences (default: "
        "--max-sequence-length, no overlap)",
    )
    group.add_argument(
        "--split",
        choices=_SPLITS,
        default=default("split"),
        help="'user': hold out whole users, half for validation and half for "
        "testing; 'leave-last-out': hold out each user's last item for testing "
        "and the one before for validation",
    )
    group.add_argument(
        "--test-fraction",
        type=_parsing.fraction,
        metavar="X",
        default=default("test_fraction"),
        help="fraction of users held out by the user split",
    )
    group.add_argument(
        "--split-seed",
        type=_parsing.non_negative_int,
        metavar="SEED",
        default=default("split_seed"),
        help="seed of the user split",
    )


def resolve_data_options(
    args: argparse.Namespace, recorded: dict[str, Any] | None = None
) -> DataOptions:
    """Combine the command line's options with those recorded in a model.

    An option given on the command line wins, then the recorded one, then
    the default. ``--data`` and ``--dataset`` replace the recorded source as
    a whole. Paths are made absolute, so that a model trained in one folder
    can be evaluated from another.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options; ``None`` stands for "not given".
    recorded : dict, optional
        Options recorded by ``spotlight train`` (:meth:`DataOptions.to_dict`).

    Returns
    -------
    DataOptions
    """
    recorded = dict(recorded or {})
    if args.data is not None:
        recorded["dataset"] = None
    elif args.dataset is not None:
        recorded["data"] = None
    values = {}
    for field in dataclasses.fields(DataOptions):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
        elif field.name in recorded:
            values[field.name] = recorded[field.name]
    if values.get("data") is not None:
        values["dataset"] = None
    for name in ("data", "data_home", "dataset_path"):
        if values.get(name) is not None:
            values[name] = str(Path(values[name]).expanduser().absolute())
    return DataOptions(**values)
