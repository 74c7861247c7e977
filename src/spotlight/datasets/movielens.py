"""The MovieLens rating datasets released by GroupLens.

:func:`get_movielens_dataset` returns the ratings of one official release as
:class:`~spotlight.interactions.Interactions` (with ratings and timestamps,
users numbered from 0, items from 1, and MovieLens' own ids kept in
``interactions.id_mapping``); :func:`get_movielens_item_titles` returns the
titles of its movies. Both read a local copy (``path=``, an extracted folder
or the zip file), or else the copy in the cache folder, downloading the
release's zip file there the first time.

Reading needs pandas: ``pip install "spotlight-rec[io]"``.

Notes
-----
Downloads are checked against :data:`ARCHIVE_CHECKSUMS` and extracted ratings
files against :data:`RATINGS_MD5`. This project knows the MD5 of the ratings
files of 100K and 1M only, and no digest of the zip files, so the other
releases are checked for being a whole zip file (every member's CRC) that
holds the expected ratings file, not for being byte-identical to the
official release. Add a digest to those tables once it is known.

MovieLens 100K, 1M, 10M and 20M are for research use and may not be
redistributed; read the README of each release. Cite: F. Maxwell Harper and
Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. ACM
Transactions on Interactive Intelligent Systems 5, 4.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spotlight._validation import _show
from spotlight.datasets._download import (
    Checksum,
    DownloadError,
    get_data_home,
)
from spotlight.datasets._download import (
    download as download_file,
)
from spotlight.exceptions import DataFormatError
from spotlight.interactions import Interactions
from spotlight.io import read_interactions, read_item_metadata

__all__ = [
    "ARCHIVE_CHECKSUMS",
    "RATINGS_MD5",
    "RELEASES",
    "DownloadError",
    "MovieLensRelease",
    "get_movielens_dataset",
    "get_movielens_item_titles",
]

logger = logging.getLogger(__name__)

_BASE_URL = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class MovieLensRelease:
    """Where the files of one MovieLens release are and how they are written.

    Parameters
    ----------
    name : str
        The release, as :func:`get_movielens_dataset` names it ("1M").
    url : str
        Address of the official zip file.
    folder : str
        The folder at the top of the zip file ("ml-1m").
    ratings, ratings_format : str
        Name of the ratings file in that folder and its
        :func:`~spotlight.io.read_interactions` format.
    items, items_format : str
        Name of the movies file and its
        :func:`~spotlight.io.read_item_metadata` format.
    """

    name: str
    url: str
    folder: str
    ratings: str
    ratings_format: str
    items: str
    items_format: str

    @property
    def archive(self) -> str:
        """File name of the zip file ("ml-1m.zip")."""
        return self.url.rsplit("/", 1)[-1]


RELEASES = {
    release.name: release
    for release in (
        MovieLensRelease(
            "100K",
            _BASE_URL + "ml-100k.zip",
            "ml-100k",
            "u.data",
            "movielens-100k",
            "u.item",
            "movielens-100k",
        ),
        MovieLensRelease(
            "1M",
            _BASE_URL + "ml-1m.zip",
            "ml-1m",
            "ratings.dat",
            "movielens-1m",
            "movies.dat",
            "movielens-1m",
        ),
        MovieLensRelease(
            "10M",
            _BASE_URL + "ml-10m.zip",
            "ml-10M100K",
            "ratings.dat",
            "movielens-1m",
            "movies.dat",
            "movielens-1m",
        ),
        MovieLensRelease(
            "20M",
            _BASE_URL + "ml-20m.zip",
            "ml-20m",
            "ratings.csv",
            "movielens-latest",
            "movies.csv",
            "movielens-latest",
        ),
        MovieLensRelease(
            "latest-small",
            _BASE_URL + "ml-latest-small.zip",
            "ml-latest-small",
            "ratings.csv",
            "movielens-latest",
            "movies.csv",
            "movielens-latest",
        ),
    )
}
"""The official releases, by name."""

ARCHIVE_CHECKSUMS: dict[str, Checksum | None] = dict.fromkeys(RELEASES)
"""Expected digest of each release's zip file; ``None`` where not known yet."""

RATINGS_MD5: dict[str, str] = {
    "100K": "6e47046882bad158b0efbb84cd5cb987",
    "1M": "a89aa3591bc97d6d4e0c89459ff39362",
}
"""MD5 of the (uncompressed) ratings file of the releases where it is known."""

_ALIASES = {
    "100k": "100K",
    "1m": "1M",
    "10m": "10M",
    "10m100k": "10M",
    "20m": "20M",
    "latest-small": "latest-small",
    "latest_small": "latest-small",
}


def get_movielens_dataset(
    variant: str = "100K",
    data_home: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    download: bool = True,
) -> Interactions:
    """Return the ratings of a MovieLens release as interactions.

    Parameters
    ----------
    variant : {"100K", "1M", "10M", "20M", "latest-small"}, default "100K"
        The release; case does not matter and an ``ml-`` prefix is allowed
        ("ml-1m").
    data_home : str or os.PathLike, optional
        Cache folder for downloads; by default ``$SPOTLIGHT_DATA_HOME`` or
        ``~/.spotlight_data``.
    path : str or os.PathLike, optional
        A local copy to read instead of the cache: the release's zip file,
        its extracted folder, or a folder that directly holds the ratings
        file, plain or gzip-compressed (``ratings.dat`` or
        ``ratings.dat.gz``).
    download : bool, default True
        Download the zip file into the cache when it is not there.

    Returns
    -------
    Interactions
        With ratings and timestamps; ``id_mapping`` maps MovieLens' user and
        movie ids to the internal ones.

    Raises
    ------
    ValueError
        If ``variant`` names no release.
    FileNotFoundError
        If the data is neither at ``path`` nor in the cache and
        ``download`` is false; the message says where to put it.
    DownloadError
        If the download fails; the message names the URL and the path to
        save the file as.
    DataFormatError
        If a file is damaged or differs from the official release.
    ImportError
        If pandas is not installed.

    Examples
    --------
    >>> interactions = get_movielens_dataset("100K")  # doctest: +SKIP
    >>> interactions  # doctest: +SKIP
    <Interactions dataset (943 users x 1683 items x 100000 interactions)>
    """
    release = _release(variant)
    with _release_file(release, release.ratings, data_home, path, download) as file:
        _check_ratings_md5(release, file)
        return read_interactions(file, format=release.ratings_format)


def get_movielens_item_titles(
    variant: str = "100K",
    data_home: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    download: bool = True,
) -> dict[int, str]:
    """Return the movie titles of a MovieLens release.

    Parameters
    ----------
    variant, data_home, path, download
        As for :func:`get_movielens_dataset`.

    Returns
    -------
    dict of int to str
        Title of each movie, keyed by MovieLens' movie id, so that
        ``titles[interactions.id_mapping.decode_items([i])[0]]`` names
        internal item ``i``.

    Raises
    ------
    ValueError, FileNotFoundError, DownloadError, DataFormatError, ImportError
        As for :func:`get_movielens_dataset`.
    """
    release = _release(variant)
    with _release_file(release, release.items, data_home, path, download) as file:
        return read_item_metadata(file, format=release.items_format)


def _release(variant: Any) -> MovieLensRelease:
    """Return the release a variant name stands for."""
    if isinstance(variant, str):
        key = variant.strip().lower().removeprefix("ml-").removeprefix("ml_")
        if key in _ALIASES:
            return RELEASES[_ALIASES[key]]
    names = ", ".join(repr(name) for name in RELEASES)
    raise ValueError(
        f"variant must be one of {names} (any case, 'ml-' prefix allowed), "
        f"got {_show(variant)}"
    )


@contextlib.contextmanager
def _release_file(
    release: MovieLensRelease,
    name: str,
    data_home: str | os.PathLike | None,
    path: str | os.PathLike | None,
    download: bool,
) -> Iterator[Path]:
    """Yield a readable copy of one file of a release.

    A file of a zip given as ``path`` is extracted into a temporary folder,
    removed afterwards; one of the cached zip file is extracted next to it
    and kept.
    """
    if path is None:
        yield _cached_file(release, name, data_home, download)
        return

    path = Path(os.fspath(path)).expanduser()
    if path.is_dir():
        yield _find_in_folder(path, release, name)
    elif zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as folder:
            yield _extract(path, release, name, Path(folder))
    elif path.exists():
        raise ValueError(
            f"path must be a folder or the zip file of MovieLens {release.name}, "
            f"got '{path}', which is neither"
        )
    else:
        raise FileNotFoundError(f"path='{path}' does not exist")


def _find_in_folder(folder: Path, release: MovieLensRelease, name: str) -> Path:
    """Find a file of the release in an extracted folder, plain or gzipped."""
    candidates = [
        place / file
        for place in (folder, folder / release.folder)
        for file in (name, name + ".gz")
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise FileNotFoundError(
        f"no {name} of MovieLens {release.name} in '{folder}'; looked for {looked}"
    )


def _cached_file(
    release: MovieLensRelease,
    name: str,
    data_home: str | os.PathLike | None,
    download_missing: bool,
) -> Path:
    """Return a file of the release from the cache, extracting or downloading."""
    home = get_data_home(data_home)
    extracted = home / release.folder / name
    if extracted.is_file():
        return extracted

    archive = home / release.archive
    if not archive.is_file() and not download_missing:
        raise FileNotFoundError(
            f"MovieLens {release.name} is not in the cache folder {home}: neither "
            f"{extracted} nor {archive} exists. Pass download=True, download "
            f"{release.url} and save it as {archive}, or pass path= to a local copy"
        )
    download_file(
        release.url,
        archive,
        checksum=ARCHIVE_CHECKSUMS.get(release.name),
        validate=lambda file: _check_archive(file, release),
    )
    return _extract(archive, release, name, home / release.folder)


def _check_archive(archive: Path, release: MovieLensRelease) -> None:
    """Refuse a zip file that is damaged or lacks the release's ratings file."""
    try:
        with zipfile.ZipFile(archive) as opened:
            _member(opened, archive, release, release.ratings)
            damaged = opened.testzip()
    except zipfile.BadZipFile as error:
        raise DataFormatError(
            f"{release.url} did not give a valid zip file ({error})"
        ) from error
    if damaged is not None:
        raise DataFormatError(
            f"{release.url} gave a damaged zip file: {damaged!r} fails its CRC check"
        )


def _member(
    opened: zipfile.ZipFile, archive: Path, release: MovieLensRelease, name: str
) -> str:
    """Return the zip member holding ``name``: in the release folder, or alone."""
    members = opened.namelist()
    expected = f"{release.folder}/{name}"
    if expected in members:
        return expected
    found = [member for member in members if member.rsplit("/", 1)[-1] == name]
    if len(found) == 1:
        return found[0]
    raise DataFormatError(
        f"{archive}: the zip file does not hold {expected}; is it MovieLens "
        f"{release.name} ({release.url})?"
    )


def _extract(archive: Path, release: MovieLensRelease, name: str, folder: Path) -> Path:
    """Extract one file of the release into ``folder``, atomically.

    An extracted ratings file is checked against :data:`RATINGS_MD5` before
    it is moved into place, so that a wrong one never reaches the cache.
    """
    target = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, zipfile.ZipFile(archive) as opened:
            member = _member(opened, archive, release, name)
            with opened.open(member) as source:
                shutil.copyfileobj(source, out)
        if name == release.ratings:
            _check_ratings_md5(release, Path(temporary), f"{member} of {archive}")
        os.replace(temporary, target)
    except zipfile.BadZipFile as error:
        raise DataFormatError(
            f"{archive} is not a valid zip file ({error}); delete it and download "
            f"{release.url} again"
        ) from error
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def _check_ratings_md5(
    release: MovieLensRelease, file: Path, shown: str | None = None
) -> None:
    """Refuse a ratings file whose content differs from the official one.

    ``shown`` names the file in the message, when ``file`` is a temporary
    copy of it.
    """
    expected = RATINGS_MD5.get(release.name)
    if expected is None:
        return
    actual = _content_md5(file)
    if actual != expected:
        raise DataFormatError(
            f"{shown or file}: the content has md5 {actual}, but the ratings of "
            f"MovieLens {release.name} have md5 {expected}; the file is damaged or "
            "from another release. Delete it and try again, or pass the right path="
        )


def _content_md5(file: Path) -> str:
    """MD5 of a file's content, decompressed first when it is gzip data."""
    with open(file, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    digest = hashlib.md5()
    try:
        with opener(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except (EOFError, OSError) as error:
        raise DataFormatError(
            f"{file}: the gzip data is truncated or corrupt ({error})"
        ) from error
    return digest.hexdigest()
