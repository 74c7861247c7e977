"""Where the command line's data comes from and how it is split.

The data source (a dataset or a file), the sequence options and the split
are one :class:`DataOptions`. ``spotlight train`` records them in the model
file, so that ``evaluate`` and ``recommend`` rebuild the same data and the
same test users by default; options given on their command line win.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from spotlight.cross_validation import leave_last_out_split, user_based_train_test_split
from spotlight.evaluation import target_sequences
from spotlight.exceptions import SpotlightError
from spotlight.interactions import Interactions, SequenceInteractions

__all__ = [
    "DATASETS",
    "DataOptions",
    "Splits",
    "load_interactions",
    "load_titles",
    "split_sequences",
]

logger = logging.getLogger(__name__)

DATASETS = (
    "synthetic",
    "movielens-100k",
    "movielens-1m",
    "movielens-10m",
    "movielens-20m",
    "movielens-latest-small",
)
"""Names accepted by ``--dataset``."""

# Item files that sit next to a MovieLens ratings file, for titles.
_SIBLING_TITLES = {
    "u.data": "u.item",
    "ratings.dat": "movies.dat",
    "ratings.dat.gz": "movies.dat",
    "ratings.csv": "movies.csv",
}


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """How to build the training and evaluation sequences.

    The defaults give a synthetic demo that trains in seconds and is easy to
    learn: 1000 users walk a second-order Markov chain over 99 items whose
    transitions are nearly deterministic (concentration 0.001).

    Parameters
    ----------
    dataset : str or None
        One of :data:`DATASETS`; ``None`` when ``data`` names a file.
    data : str or None
        A data file read by :func:`spotlight.io.read_interactions`.
    format, user_col, item_col, timestamp_col, rating_col, sep, skip_bad_rows
        Passed to :func:`spotlight.io.read_interactions`.
    data_home, dataset_path : str or None
        Cache folder and local copy of a MovieLens release.
    synthetic_users, synthetic_items, synthetic_interactions : int
    synthetic_concentration : float
    synthetic_order, synthetic_seed : int
        Passed to :func:`spotlight.datasets.synthetic.generate_sequential`.
    max_sequence_length : int
    min_sequence_length, step_size : int or None
        Passed to :meth:`spotlight.interactions.Interactions.to_sequence`.
    split : {"user", "leave-last-out"}
    test_fraction : float
        Fraction of users held out by the user split, half of them for
        validation and half for testing.
    split_seed : int
        Seed of the user split.
    """

    dataset: str | None = "synthetic"
    data: str | None = None
    format: str | None = None
    user_col: str = "user_id"
    item_col: str = "item_id"
    timestamp_col: str = "timestamp"
    rating_col: str | None = None
    sep: str | None = None
    skip_bad_rows: bool = False
    data_home: str | None = None
    dataset_path: str | None = None
    synthetic_users: int = 1000
    synthetic_items: int = 100
    synthetic_interactions: int = 50000
    synthetic_concentration: float = 0.001
    synthetic_order: int = 2
    synthetic_seed: int = 42
    max_sequence_length: int = 50
    min_sequence_length: int | None = None
    step_size: int | None = None
    split: str = "user"
    test_fraction: float = 0.2
    split_seed: int = 100

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataOptions:
        """Rebuild options written by :meth:`to_dict`, ignoring unknown keys.

        Parameters
        ----------
        values : dict

        Returns
        -------
        DataOptions
        """
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in names})

    def to_dict(self) -> dict[str, Any]:
        """Return the options as plain values, for a model's metadata.

        Returns
        -------
        dict
        """
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """Return the data source in a few words, such as ``synthetic``.

        Returns
        -------
        str
        """
        return self.data if self.data is not None else str(self.dataset)


class Splits(NamedTuple):
    """The training, validation and test sequences of one split.

    Parameters
    ----------
    train : SequenceInteractions
        Sequences to fit on.
    validation : SequenceInteractions
        Sequences to watch during training.
    test : SequenceInteractions
        Sequences to report on at the end.
    validation_history, test_history : list of Interactions, optional
        For the leave-last-out split, everything each user rated before the
        validation and the test item (rows keep only the most recent items).
    """

    train: SequenceInteractions
    validation: SequenceInteractions
    test: SequenceInteractions
    validation_history: list[Interactions] | None = None
    test_history: list[Interactions] | None = None


def load_interactions(options: DataOptions) -> Interactions:
    """Read, download or generate the interactions the options name.

    Parameters
    ----------
    options : DataOptions

    Returns
    -------
    Interactions
    """
    if options.data is not None:
        from spotlight.io import read_interactions

        return read_interactions(
            options.data,
            format=options.format,
            user_col=options.user_col,
            item_col=options.item_col,
            timestamp_col=options.timestamp_col,
            rating_col=options.rating_col,
            sep=options.sep,
            skip_bad_rows=options.skip_bad_rows,
        )
    if options.dataset == "synthetic":
        from spotlight.datasets.synthetic import generate_sequential

        return generate_sequential(
            num_users=options.synthetic_users,
            num_items=options.synthetic_items,
            num_interactions=options.synthetic_interactions,
            concentration_parameter=options.synthetic_concentration,
            order=options.synthetic_order,
            random_state=options.synthetic_seed,
        )
    from spotlight.datasets.movielens import get_movielens_dataset

    return get_movielens_dataset(
        _movielens_variant(options.dataset),
        data_home=options.data_home,
        path=options.dataset_path,
    )


def _movielens_variant(dataset: str) -> str:
    """The release name of a ``--dataset`` value: movielens-1m gives 1m."""
    if dataset not in DATASETS[1:]:
        raise ValueError(
            f"--dataset must be one of {', '.join(DATASETS)}, got {dataset!r}"
        )
    return dataset.removeprefix("movielens-")


def split_sequences(interactions: Interactions, options: DataOptions) -> Splits:
    """Split the interactions and cut each part into sequences.

    The user split follows Spotlight's experiments: one
    ``numpy.random.RandomState(split_seed)`` holds out ``test_fraction`` of
    the users, then splits them half and half into test and validation.
    The leave-last-out split holds out each user's last item (test) and the
    one before (validation); their rows end with that item, preceded by the
    user's earlier items.

    Parameters
    ----------
    interactions : Interactions
    options : DataOptions

    Returns
    -------
    Splits
    """
    length = options.max_sequence_length
    if options.split == "leave-last-out":
        train, validation, test = leave_last_out_split(interactions)
        return Splits(
            _to_sequence(train, options),
            target_sequences(train, validation, length),
            target_sequences([train, validation], test, length),
            validation_history=[train],
            test_history=[train, validation],
        )

    random_state = np.random.RandomState(options.split_seed)
    train, rest = user_based_train_test_split(
        interactions, test_percentage=options.test_fraction, random_state=random_state
    )
    test, validation = user_based_train_test_split(
        rest, test_percentage=0.5, random_state=random_state
    )
    return Splits(*(_to_sequence(part, options) for part in (train, validation, test)))


def _to_sequence(part: Interactions, options: DataOptions) -> SequenceInteractions:
    return part.to_sequence(
        max_sequence_length=options.max_sequence_length,
        min_sequence_length=options.min_sequence_length,
        step_size=options.step_size,
    )


def load_titles(
    options: DataOptions, path: str | None = None, format: str | None = None
) -> dict[Any, str]:
    """Return item titles: from ``path``, or those of the MovieLens data used.

    Without ``path``, titles come from the MovieLens ``--dataset`` (from the
    cache or ``--dataset-path``, never downloaded) or from the item file next
    to a MovieLens ratings file given as ``--data``; when there are none, the
    result is empty.

    Parameters
    ----------
    options : DataOptions
    path : str, optional
        An item file read by :func:`spotlight.io.read_item_metadata`.
    format : str, optional
        Its format; guessed from its name by default.

    Returns
    -------
    dict
        Title by original item id.
    """
    from spotlight.io import read_item_metadata

    if path is not None:
        return read_item_metadata(path, format=format)
    try:
        if options.dataset not in (None, "synthetic"):
            from spotlight.datasets.movielens import get_movielens_item_titles

            return get_movielens_item_titles(
                _movielens_variant(options.dataset),
                data_home=options.data_home,
                path=options.dataset_path,
                download=False,
            )
        sibling = _sibling_titles(options.data)
        return read_item_metadata(sibling) if sibling is not None else {}
    except (OSError, SpotlightError, ValueError) as error:
        logger.info("no item titles: %s", error)
        return {}


def _sibling_titles(data: str | None) -> Path | None:
    """The MovieLens item file next to a MovieLens ratings file, if any."""
    if data is None:
        return None
    path = Path(data)
    sibling = _SIBLING_TITLES.get(path.name)
    if sibling is None or not (path.parent / sibling).is_file():
        return None
    return path.parent / sibling
