"""``spotlight evaluate``: ranking metrics of a saved model on held-out data."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from spotlight.cli import _parsing
from spotlight.cli.data import (
    load_interactions,
    split_sequences,
)
from spotlight.cli.data_arguments import add_data_arguments, resolve_data_options
from spotlight.cli.output import format_metrics, write_json
from spotlight.evaluation import sequence_metrics, sequence_precision_recall_score
from spotlight.interactions import Interactions, SequenceInteractions

__all__ = ["add_arguments", "compute_metrics", "load_model", "run"]

logger = logging.getLogger(__name__)

USAGE = "%(prog)s MODEL [options]"

DESCRIPTION = """\
Evaluate a model saved by 'spotlight train' on held-out sequences: the mean
reciprocal rank of the next item, hit rate and NDCG at k, and precision and
recall at k. By default the data, sequences and split are those the model was
trained with, as recorded in its file; options given here replace them.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``spotlight evaluate`` to its parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    parser.add_argument("model", metavar="MODEL", help="a model file")
    parser.add_argument(
        "--part",
        choices=("test", "validation"),
        default="test",
        help="held-out part to evaluate on",
    )
    parser.add_argument(
        "-k", "--k", type=_parsing.positive_int, default=10, help="ranking cut-off"
    )
    parser.add_argument(
        "--exclude-preceding",
        action="store_true",
        help="never rank the items a sequence already holds (with the "
        "leave-last-out split, any item the user rated before)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the metrics here")
    add_data_arguments(parser, recorded=True)


def load_model(path: str) -> Any:
    """Read a model file written by ``spotlight train``.

    Parameters
    ----------
    path : str

    Returns
    -------
    ImplicitSequenceModel
    """
    from spotlight.sequence.implicit import ImplicitSequenceModel

    model = ImplicitSequenceModel.load(path)
    if "data" not in model.metadata_:
        logger.warning(
            "%s was not written by 'spotlight train': no data options are recorded "
            "in it; using the defaults and those given on the command line",
            path,
        )
    return model


def compute_metrics(
    model: Any,
    rows: SequenceInteractions,
    k: int,
    exclude_preceding: bool = False,
    single_target: bool = False,
    warn: bool = True,
    history: list[Interactions] | None = None,
) -> dict[str, float]:
    """MRR, HR@k, NDCG@k, precision@k and recall@k of the model on ``rows``.

    Parameters
    ----------
    model : ImplicitSequenceModel
    rows : SequenceInteractions
        Each row's last item is the target.
    k : int
    exclude_preceding : bool, default False
        Never rank the items before the target.
    single_target : bool, default False
        Whether each row has one held-out item (leave-last-out rows), whose
        precision at ``k`` is then a hit divided by ``k`` and its recall a
        hit. Otherwise precision and recall count the row's last ``k`` items
        as targets, which needs rows longer than ``k``.
    warn : bool, default True
        Warn when precision and recall are left out for short rows; log it
        as information otherwise.
    history : list of Interactions, optional
        With ``exclude_preceding``, also never rank the items the rows' users
        have in these (see ``exclude_history`` of
        :func:`spotlight.evaluation.sequence_metrics`).

    Returns
    -------
    dict
        Metric names, such as ``"hr@10"``, to their means over the rows.
    """
    history = history if exclude_preceding else None
    metrics = sequence_metrics(model, rows, k, exclude_preceding, history)
    hits = metrics[f"hr@{k}"]
    if single_target:
        metrics[f"precision@{k}"] = hits / k
        metrics[f"recall@{k}"] = hits
    elif rows.max_sequence_length > k:
        precision, recall = sequence_precision_recall_score(
            model, rows, k, exclude_preceding, history
        )
        metrics[f"precision@{k}"] = float(precision.mean())
        metrics[f"recall@{k}"] = float(recall.mean())
    else:
        (logger.warning if warn else logger.info)(
            "precision and recall at %d are left out: they take the last %d items "
            "of a sequence as targets and need sequences longer than that "
            "(--max-sequence-length is %d); pass a smaller -k to get them",
            k,
            k,
            rows.max_sequence_length,
        )
    return metrics


def run(args: argparse.Namespace) -> int:
    """Run ``spotlight evaluate``.

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

    splits = split_sequences(load_interactions(options), options)
    test = args.part == "test"
    rows = splits.test if test else splits.validation
    metrics = compute_metrics(
        model,
        rows,
        args.k,
        args.exclude_preceding,
        single_target=options.split == "leave-last-out",
        history=splits.test_history if test else splits.validation_history,
    )

    print(f"{args.part} sequences: {len(rows)} from {options.describe()}")
    print(format_metrics(metrics, args.part))
    if args.json is not None:
        write_json(
            args.json,
            {
                **metrics,
                "part": args.part,
                "k": args.k,
                "exclude_preceding": args.exclude_preceding,
                "num_sequences": len(rows),
                "model": args.model,
                "data": options.describe(),
            },
        )
    return 0
