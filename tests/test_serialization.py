"""Safe state files (spotlight.serialization): round trip and refusals."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
import torch

from spotlight import serialization
from spotlight.exceptions import ModelFileError
from spotlight.serialization import (
    FORMAT_VERSION,
    atomic_write_bytes,
    read_state,
    write_state,
)

STATE = {
    "weights": torch.arange(6, dtype=torch.float32).reshape(2, 3),
    "counts": [1, 2, 3],
    "name": "pooling",
    "nothing": None,
    "flag": True,
    "rate": 0.25,
    "nested": {"ids": torch.tensor([1, 5, 9]), "pair": (1, "a")},
}


def write_envelope(path, **changes) -> None:
    """Write a file shaped like write_state's, with some fields changed."""
    buffer = io.BytesIO()
    torch.save({"x": 1}, buffer)
    payload = buffer.getvalue()
    envelope = {
        "format": "spotlight-rec",
        "format_version": FORMAT_VERSION,
        "kind": "model",
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
        **changes,
    }
    torch.save(envelope, path)


def test_write_state_then_read_state_gives_back_the_state(tmp_path):
    path = tmp_path / "state.pt"

    write_state(path, "model", STATE)
    state = read_state(path, "model")

    assert torch.equal(state["weights"], STATE["weights"])
    assert torch.equal(state["nested"]["ids"], STATE["nested"]["ids"])
    assert state["nested"]["pair"] == (1, "a")
    plain = ("counts", "name", "nothing", "flag", "rate")
    assert {key: state[key] for key in plain} == {key: STATE[key] for key in plain}


def test_written_file_loads_with_torch_load_weights_only(tmp_path):
    path = tmp_path / "state.pt"
    write_state(path, "model", STATE)

    envelope = torch.load(path, weights_only=True)

    assert envelope["kind"] == "model"
    assert envelope["format_version"] == FORMAT_VERSION


def test_read_state_refuses_another_kind(tmp_path):
    path = tmp_path / "state.pt"
    write_state(path, "checkpoint", STATE)

    with pytest.raises(ModelFileError, match=r"'checkpoint'.*'model'"):
        read_state(path, "model")


def test_read_state_refuses_a_newer_format_version(tmp_path):
    path = tmp_path / "future.pt"
    write_envelope(path, format_version=FORMAT_VERSION + 1)

    with pytest.raises(ModelFileError, match="newer") as error:
        read_state(path, "model")
    assert str(path) in str(error.value)


def test_read_state_accepts_a_hand_built_envelope_of_the_current_version(tmp_path):
    # The helper above builds valid files; the refusals below are not caused by
    # the helper itself.
    path = tmp_path / "current.pt"
    write_envelope(path)

    assert read_state(path, "model") == {"x": 1}


def test_read_state_refuses_a_checksum_mismatch(tmp_path):
    path = tmp_path / "tampered.pt"
    write_envelope(path, sha256="0" * 64)

    with pytest.raises(ModelFileError, match="checksum"):
        read_state(path, "model")


def test_read_state_refuses_a_foreign_torch_file(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"a": 1}, path)

    with pytest.raises(ModelFileError, match="not a spotlight-rec file"):
        read_state(path, "model")


def test_read_state_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        read_state(tmp_path / "missing.pt", "model")


def test_atomic_write_creates_folders_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a" / "b" / "data.bin"

    atomic_write_bytes(path, b"hello")

    assert path.read_bytes() == b"hello"
    assert os.listdir(path.parent) == ["data.bin"]


def test_atomic_write_gives_the_permissions_of_an_ordinary_new_file(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "data.bin", b"x")
    finally:
        os.umask(umask)

    assert (tmp_path / "data.bin").stat().st_mode & 0o777 == 0o644


def test_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")

    def fail(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")

    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["data.bin"]
