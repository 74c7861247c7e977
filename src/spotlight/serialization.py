"""Safe, atomic model and checkpoint files.

A file is a :func:`torch.save` archive that :func:`torch.load` reads with
``weights_only=True``: it holds only tensors, numbers, strings, lists and
dicts, never pickled code, so loading a file cannot run code. The payload is
stored as bytes together with its SHA-256 digest, so that a truncated or
tampered file is refused instead of half-loaded. Files are written to a
temporary file in the target folder and renamed into place, so a crash never
leaves a half-written file under the target name.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from spotlight.exceptions import ModelFileError

__all__ = ["FORMAT_VERSION", "atomic_write_bytes", "read_state", "write_state"]

_MAGIC = "spotlight-rec"
FORMAT_VERSION = 1
"""Version of the file layout; files from a newer layout are refused."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        # mkstemp creates the file readable by its owner only; give it the
        # permissions an ordinary new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _to_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def write_state(path: str | os.PathLike, kind: str, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain Python values) as a ``kind`` file.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str
        What the file holds, such as ``"model"`` or ``"checkpoint"``; checked
        again by :func:`read_state`.
    state : dict
        Only tensors, numbers, strings, bools, None, lists, tuples and dicts.
    """
    payload = _to_bytes(state)
    envelope = {
        "format": _MAGIC,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
    }
    atomic_write_bytes(path, _to_bytes(envelope))


def read_state(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Read a file written by :func:`write_state`, refusing anything else.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str
        The kind the file must hold.

    Returns
    -------
    dict
        The state, tensors on the CPU.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is truncated, tampered with, not a spotlight-rec file, of
        another kind, or written by a newer, incompatible version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    envelope = _load(path, path.read_bytes(), "it is not a spotlight-rec file")
    if not isinstance(envelope, dict) or envelope.get("format") != _MAGIC:
        raise ModelFileError(f"{str(path)!r} is not a spotlight-rec file")
    version = envelope.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written in file format {version!r}, newer than this "
            f"version of spotlight-rec reads ({FORMAT_VERSION}); upgrade the library"
        )
    if envelope.get("kind") != kind:
        raise ModelFileError(
            f"{str(path)!r} holds a {envelope.get('kind')!r}, not a {kind!r}"
        )
    payload = envelope.get("payload")
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8:
        raise ModelFileError(f"{str(path)!r} is damaged: it has no payload")
    data = payload.numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != envelope.get("sha256"):
        raise ModelFileError(
            f"{str(path)!r} is damaged or was modified: its checksum does not match"
        )
    state = _load(path, data, "its payload is damaged")
    if not isinstance(state, dict):
        raise ModelFileError(f"{str(path)!r} is damaged: its payload is not a dict")
    return state


def _load(path: Path, data: bytes, problem: str) -> Any:
    """``torch.load`` with ``weights_only=True``, turning failures into
    :class:`~spotlight.exceptions.ModelFileError`."""
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for bad archives
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "Weights only load failed" in reason:
            reason = "it holds pickled objects, which are not loaded for safety"
        raise ModelFileError(
            f"cannot read {str(path)!r}: {problem} ({reason[:200]})"
        ) from error
