"""``spotlight recommend``: the next items for a history of items or a user."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import numpy as np

from spotlight.cli import _parsing
from spotlight.cli.data import (
    DataOptions,
    load_interactions,
    load_titles,
)
from spotlight.cli.data_arguments import add_data_arguments, resolve_data_options
from spotlight.cli.evaluate import load_model
from spotlight.cli.output import format_table, to_json
from spotlight.id_mapping import IdMapping, UnknownIdError
from spotlight.interactions import PADDING_IDX, Interactions
from spotlight.io import ITEM_FORMATS

__all__ = ["add_arguments", "encode_items", "run"]

logger = logging.getLogger(__name__)

USAGE = "%(prog)s MODEL (--items ID [ID ...] | --user ID) [options]"

DESCRIPTION = """\
Recommend the next items after a history: the items given with --items (in
time order), or the most recent items of a user (--user) in the data the
model was trained on, or in --data / --dataset. Ids are the original ids of
the data, such as MovieLens movie ids; a model trained without an id mapping
(synthetic data) takes its internal item ids.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``spotlight recommend`` to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    parser.add_argument("model", metavar="MODEL", help="a model file")
    history = parser.add_mutually_exclusive_group(required=True)
    history.add_argument(
        "--items", nargs="+", metavar="ID", help="item ids, oldest first"
    )
    history.add_argument("--user", metavar="ID", help="a user id of the data")
    parser.add_argument(
        "-k", "--k", type=_parsing.positive_int, default=10, help="items to show"
    )
    parser.add_argument(
        "--include-seen",
        action="store_true",
        help="also recommend items of the history (of the user's whole history "
        "with --user)",
    )
    parser.add_argument(
        "--item-metadata",
        metavar="FILE",
        help="MovieLens item file with titles (u.item, movies.dat, movies.csv); "
        "by default the titles of the MovieLens data used, when at hand",
    )
    parser.add_argument(
        "--item-metadata-format",
        choices=ITEM_FORMATS,
        help="format of --item-metadata (default: guessed from its name)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_data_arguments(parser, recorded=True)


def run(args: argparse.Namespace) -> int:
    """Run ``spotlight recommend``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of the subcommand.

    Returns
    -------
    int
        The exit code.
    """
    model = load_model(args.model)
    options = resolve_data_options(args, model.metadata_.get("data"))

    if args.items is not None:
        history = encode_items(model, args.items)
    else:
        history = _user_history(model, options, args.user)
    recent = history[-options.max_sequence_length :]
    exclude = history if not args.include_seen else np.array([], dtype=np.int64)
    sequence = _left_pad(recent, options.max_sequence_length)
    items, scores = _top_items(model, sequence, exclude, args.k)

    titles = load_titles(options, args.item_metadata, args.item_metadata_format)
    rows = [
        {"rank": rank, "item": item, "score": float(score)}
        | ({"title": titles.get(item, "")} if titles else {})
        for rank, (item, score) in enumerate(
            zip(_original_ids(model, items), scores, strict=True), 1
        )
    ]
    _print(args, _original_ids(model, recent), rows)
    return 0


def _print(args: argparse.Namespace, history: list[Any], rows: list[dict]) -> None:
    """Print the recommendations as a table, or as JSON with ``--json``."""
    if args.json:
        print(to_json({"user": args.user, "history": history, "recommendations": rows}))
        return
    print("history: " + " ".join(str(item) for item in history))
    header = list(rows[0]) if rows else ["rank", "item", "score"]
    print(format_table(header, [list(row.values()) for row in rows]))


def encode_items(model: Any, values: list[str]) -> np.ndarray:
    """Turn item ids typed on the command line into the model's item ids.

    Parameters
    ----------
    model : ImplicitSequenceModel
    values : list of str
        Original ids when the model has an id mapping (read as integers when
        the mapping's ids are integers), internal ids otherwise.

    Returns
    -------
    numpy.ndarray of int64

    Raises
    ------
    UnknownIdError
        For an id the model does not know.
    """
    mapping = model.id_mapping_
    if mapping is not None:
        return mapping.encode_items(_typed(mapping.item_values, values, "item"))

    ids = np.asarray(_typed(None, values, "item"), dtype=np.int64)
    unknown = (ids < 1) | (ids >= model.num_items)
    if unknown.any():
        raise UnknownIdError(
            f"unknown item id {ids[unknown][0]}: the model has no id mapping, so "
            f"item ids are its internal ids, 1 to {model.num_items - 1}"
        )
    return ids


def _typed(known: np.ndarray | None, values: list[str], kind: str) -> list[Any]:
    """Convert ids typed on the command line to the type of the ``known``
    ids of a mapping: strings, integers or floats; integers without one."""
    dtype = "i" if known is None else known.dtype.kind
    if dtype in "US":
        return list(values)
    convert = int if dtype in "iu" else float
    try:
        return [convert(value) for value in values]
    except ValueError:
        bad = next(value for value in values if not _converts(convert, value))
        raise UnknownIdError(
            f"unknown {kind} id {bad!r}: the model's {kind} ids are numbers"
        ) from None


def _converts(convert: Any, value: str) -> bool:
    try:
        convert(value)
    except ValueError:
        return False
    return True


def _user_history(model: Any, options: DataOptions, user: str) -> np.ndarray:
    """The user's items in the data, oldest first, as the model's item ids."""
    interactions = load_interactions(options)
    internal = _encode_user(interactions, user)
    mine = np.flatnonzero(interactions.user_ids == internal)
    if mine.size == 0:
        raise UnknownIdError(
            f"user {user!r} has no interactions in {options.describe()}"
        )
    if interactions.timestamps is not None:
        mine = mine[np.argsort(interactions.timestamps[mine], kind="stable")]
    return _model_items(model, interactions, interactions.item_ids[mine])


def _encode_user(interactions: Interactions, user: str) -> int:
    mapping = interactions.id_mapping
    if mapping is not None:
        return int(mapping.encode_users(_typed(mapping.user_values, [user], "user"))[0])
    internal = int(_typed(None, [user], "user")[0])
    if not 0 <= internal < interactions.num_users:
        raise UnknownIdError(
            f"unknown user id {internal}: the data has users 0 to "
            f"{interactions.num_users - 1}"
        )
    return internal


def _model_items(
    model: Any, interactions: Interactions, items: np.ndarray
) -> np.ndarray:
    """Translate item ids of the data into those of the model, through the
    original ids; items the model does not know are left out."""
    data_mapping: IdMapping | None = interactions.id_mapping
    model_mapping: IdMapping | None = model.id_mapping_
    if (data_mapping is None) != (model_mapping is None):
        raise ValueError(
            "the model and the data disagree on ids: one was read from a file with "
            "original ids and the other not (such as --dataset synthetic)"
        )
    if data_mapping is None or data_mapping == model_mapping:
        known = items[items < model.num_items]
    else:
        originals = data_mapping.decode_items(items)
        originals = originals[np.isin(originals, model_mapping.item_values)]
        known = model_mapping.encode_items(originals) if originals.size else originals
    if len(known) < len(items):
        logger.warning(
            "%d of the user's %d items are unknown to the model and left out",
            len(items) - len(known),
            len(items),
        )
    if len(known) == 0:
        raise ValueError("none of the user's items is known to the model")
    return np.asarray(known, dtype=np.int64)


def _left_pad(items: np.ndarray, length: int) -> np.ndarray:
    """The sequence the model reads: the items right-aligned, padded with 0."""
    sequence = np.full(length, PADDING_IDX, dtype=np.int64)
    sequence[length - len(items) :] = items
    return sequence


def _top_items(
    model: Any, sequence: np.ndarray, exclude: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best-scored items, best first, leaving out ``exclude``;
    fewer when fewer items remain."""
    scores = model.predict(sequence).astype(np.float64)
    scores[PADDING_IDX] = -np.inf
    scores[exclude] = -np.inf
    best = np.argsort(-scores, kind="stable")[:k]
    best = best[np.isfinite(scores[best])]
    return best, scores[best]


def _original_ids(model: Any, items: np.ndarray) -> list[Any]:
    """Item ids as the user knows them: original ids, or internal ones."""
    if model.id_mapping_ is None:
        return [int(item) for item in items]
    return model.id_mapping_.decode_items(np.asarray(items, dtype=np.int64)).tolist()
