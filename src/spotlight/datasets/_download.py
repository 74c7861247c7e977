"""Download data files into a local cache, atomically and checked.

A download streams into a temporary file next to its destination, is checked
(checksum, then an optional validation of the content) and only then moved
into place with :func:`os.replace`. A half-written, truncated or corrupt
download therefore never becomes the cached file: the temporary file is
deleted on any failure.

The cache folder is, in order: the ``data_home`` argument, the environment
variable ``SPOTLIGHT_DATA_HOME``, or ``~/.spotlight_data``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from spotlight._validation import _show, check_choice, check_float
from spotlight.exceptions import DownloadError

__all__ = [
    "DATA_HOME_ENV",
    "Checksum",
    "DownloadError",
    "download",
    "file_digest",
    "get_data_home",
]

logger = logging.getLogger(__name__)

DATA_HOME_ENV = "SPOTLIGHT_DATA_HOME"
"""Environment variable naming the cache folder."""

_DEFAULT_DATA_HOME = Path("~") / ".spotlight_data"
_CHUNK_BYTES = 1 << 20
_ALGORITHMS = ("sha256", "md5")


@dataclass(frozen=True)
class Checksum:
    """The expected digest of a file.

    Parameters
    ----------
    algorithm : {"sha256", "md5"}
        Hash function.
    value : str
        Hexadecimal digest, in any case.

    Raises
    ------
    ValueError
        If ``algorithm`` is not supported or ``value`` is empty.
    """

    algorithm: str
    value: str

    def __post_init__(self) -> None:
        check_choice("algorithm", self.algorithm, _ALGORITHMS)
        if not isinstance(self.value, str) or not self.value:
            raise ValueError(
                f"value must be a hexadecimal digest, got {_show(self.value)}"
            )
        object.__setattr__(self, "value", self.value.lower())


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the cache folder for downloaded data.

    Parameters
    ----------
    data_home : str or os.PathLike, optional
        The folder to use. When omitted, the environment variable
        ``SPOTLIGHT_DATA_HOME`` names it, or else ``~/.spotlight_data``.

    Returns
    -------
    pathlib.Path
        The folder, with ``~`` expanded; it is not created here.
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_DATA_HOME
    return Path(os.fspath(data_home)).expanduser()


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """Return the hexadecimal digest of a file, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    algorithm : {"sha256", "md5"}
        Hash function.

    Returns
    -------
    str
        Lower-case hexadecimal digest.
    """
    check_choice("algorithm", algorithm, _ALGORITHMS)
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    destination: str | os.PathLike,
    checksum: Checksum | None = None,
    validate: Callable[[Path], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``destination`` unless a good copy is already there.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address.
    destination : str or os.PathLike
        Where the file is kept; its folder is created when missing.
    checksum : Checksum, optional
        The expected digest. A cached file that does not match it is
        downloaded again; a download that does not match it is discarded.
    validate : callable, optional
        Called with the path of the complete temporary file before it is
        moved into place; it raises to refuse the file (used when no
        checksum is known, for example to check that a zip file is whole).
    timeout : float, default 60
        Seconds to wait for the server to connect or send data.

    Returns
    -------
    pathlib.Path
        ``destination``.

    Raises
    ------
    DownloadError
        If the server cannot be reached, answers with an error, sends fewer
        bytes than announced, or sends a file with the wrong checksum. The
        message names the URL and the destination path, so that the file
        can be fetched by hand.
    Exception
        Whatever ``validate`` raises to refuse the file.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(
            f"url must be an http:// or https:// address, got {_show(url)}"
        )
    timeout = check_float("timeout", timeout, minimum=0.0, inclusive=False)
    destination = Path(os.fspath(destination)).expanduser()

    if destination.is_file():
        if checksum is None or _matches(destination, checksum):
            return destination
        logger.warning(
            "%s does not match its %s checksum; downloading it again",
            destination,
            checksum.algorithm,
        )

    logger.info("downloading %s to %s", url, destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _stream(url, out, destination, checksum, timeout)
        _check_digest(url, destination, checksum, digest)
        if validate is not None:
            validate(temporary)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return destination


def _matches(path: Path, checksum: Checksum) -> bool:
    """Whether the file at ``path`` has the expected digest."""
    return file_digest(path, checksum.algorithm) == checksum.value


def _stream(
    url: str,
    out: IO[bytes],
    destination: Path,
    checksum: Checksum | None,
    timeout: float,
) -> str | None:
    """Copy the response body into ``out``; return its digest if one is wanted."""
    digest = hashlib.new(checksum.algorithm) if checksum is not None else None
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                received += len(chunk)
                if digest is not None:
                    digest.update(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        # An HTTPError's own text holds the status code; others keep theirs
        # in ``reason`` (a URLError wraps the socket error there).
        reason = error
        if not isinstance(error, urllib.error.HTTPError):
            reason = getattr(error, "reason", None) or error
        raise DownloadError(
            _by_hand(url, destination, f"could not download {url} ({reason})")
        ) from error

    if announced is not None and announced.isdigit() and received != int(announced):
        raise DownloadError(
            _by_hand(
                url,
                destination,
                f"the download of {url} stopped after {received} of {announced} bytes",
            )
        )
    return digest.hexdigest() if digest is not None else None


def _check_digest(
    url: str, destination: Path, checksum: Checksum | None, digest: str | None
) -> None:
    """Refuse a download whose digest differs from the expected one."""
    if checksum is None or digest == checksum.value:
        return
    raise DownloadError(
        f"the file downloaded from {url} has {checksum.algorithm} {digest}, "
        f"expected {checksum.value}; it was discarded and {destination} was not "
        "written. Try again later; if this persists, the file on the server "
        "has changed"
    )


def _by_hand(url: str, destination: Path, problem: str) -> str:
    """Add to ``problem`` how to install the file without network access."""
    return (
        f"{problem}. Without network access, download {url} on another machine "
        f"and save it as {destination}"
    )
