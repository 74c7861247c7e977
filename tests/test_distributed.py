"""Data-parallel training over torch.distributed, with two gloo processes.

The tests that need several processes start them as subprocesses of this
very file (``python tests/test_distributed.py SCENARIO FOLDER``) with the
variables a launcher such as ``torchrun`` sets, on 127.0.0.1 and a free port;
each process writes what it learned to FOLDER, and the tests compare the
files. One launch (the ``trained`` fixture) serves several tests, since
starting two Python processes with PyTorch takes seconds on a small machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spotlight import distributed
from spotlight.datasets.synthetic import generate_sequential
from spotlight.interactions import SequenceInteractions
from spotlight.sequence.implicit import ImplicitSequenceModel

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="this build of PyTorch has no torch.distributed with the gloo backend",
)

LOSSES = (
    "pointwise",
    "bpr",
    "hinge",
    "adaptive_hinge",
    "bce",
    "gbce",
    "sampled_softmax",
    "softmax",
)
BATCH_SIZE = 4
"""Sequences per process and batch; one process trains with twice as many."""

EQUIVALENT = {
    "loss": "softmax",
    "representation": "pooling",
    "embedding_dim": 8,
    "n_iter": 4,
    "learning_rate": 0.05,
    "random_state": 7,
}
"""A model with no random draw in training: the full softmax samples no
negatives and pooling has no dropout, so only the shuffle (shared) differs
from run to run."""

TOLERANCE = 1e-5
"""Largest difference allowed between the parameters of two processes at
``BATCH_SIZE`` and one at ``2 * BATCH_SIZE``. Every row is full (no padding),
so each process's mean loss covers the same number of positions and their
average equals the single process's mean over all positions; what differs is
the order of the float32 sums (two half-batch sums averaged by the all-reduce,
against one sum), a relative error near 1e-7 that Adam carries through 4
epochs of 10 steps."""

PEER_TIMEOUT = 5
"""Seconds the surviving process may wait for a killed one, in the kill test."""


# The processes' side: data and scenarios.


def full_rows() -> SequenceInteractions:
    """40 rows of 8 real items (no padding): 5 global batches of 8 exactly."""
    log = generate_sequential(
        num_users=40, num_items=25, num_interactions=1600, order=2, random_state=0
    )
    rows = log.to_sequence(max_sequence_length=8, min_sequence_length=8).sequences
    assert len(rows) >= 40
    return SequenceInteractions(rows[:40], num_items=25)


def padded_rows() -> SequenceInteractions:
    """Rows of every length, as ``to_sequence`` makes them."""
    log = generate_sequential(
        num_users=30, num_items=25, num_interactions=600, random_state=1
    )
    return log.to_sequence(max_sequence_length=8)


def parameters(model: ImplicitSequenceModel) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.network.state_dict().items()}


def scenario_train(folder: Path) -> None:
    """Train the equivalence model, every loss, sparse embeddings; save all."""
    results: dict[str, object] = {}
    model = ImplicitSequenceModel(batch_size=BATCH_SIZE, **EQUIVALENT)
    model.fit(full_rows())
    results["equivalent"] = parameters(model)
    results["equivalent_loss"] = list(model.loss_history_)

    for loss in LOSSES:
        model = ImplicitSequenceModel(
            loss=loss, representation="cnn", embedding_dim=8, n_iter=1, random_state=3
        )
        model.fit(padded_rows())
        results[loss] = parameters(model)

    model = ImplicitSequenceModel(
        loss="bpr", representation="lstm", sparse=True, n_iter=2, random_state=4
    )
    model.fit(padded_rows())
    results["sparse"] = parameters(model)
    results["sparse_loss"] = list(model.loss_history_)

    rank = torch.tensor([float(distributed.get_rank())])
    results["mean_rank"] = distributed.mean_across_processes(rank).item()

    different = padded_rows()
    different.sequences[0, -1] = distributed.get_rank() + 1
    try:
        ImplicitSequenceModel(n_iter=1).fit(different)
    except ValueError as error:
        results["different_data"] = str(error)

    torch.save(results, folder / f"rank{distributed.get_rank()}.pt")


def scenario_kill(folder: Path) -> None:
    """Train for long, checkpointing; record each finished epoch."""
    rank = distributed.get_rank()

    def mark(epoch: int, elapsed: float, loss: float) -> None:
        (folder / f"rank{rank}-epoch{epoch}").touch()

    model = ImplicitSequenceModel(n_iter=10_000, embedding_dim=8, random_state=5)
    model.fit(padded_rows(), callback=mark, checkpoint_path=folder / "checkpoint.pt")


SCENARIOS = {"train": scenario_train, "kill": scenario_kill}


# The tests' side: starting processes.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(argv: list[str], cwd: Path, world_size: int = 2) -> list[subprocess.Popen]:
    """Start ``python argv`` once per rank, as a launcher would."""
    port = str(free_port())
    processes = []
    for rank in range(world_size):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "OMP_NUM_THREADS": "1",
            distributed.TIMEOUT_VARIABLE: str(PEER_TIMEOUT),
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, *argv],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return processes


def finish(processes: list[subprocess.Popen], timeout: float = 60) -> list[tuple]:
    """Wait for every process; return (exit code, stdout, stderr) of each."""
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def run_scenario(name: str, folder: Path) -> list[tuple]:
    return finish(start([__file__, name, str(folder)], cwd=folder))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """What each of two processes learned in ``scenario_train``."""
    folder = tmp_path_factory.mktemp("trained")
    for code, _, err in run_scenario("train", folder):
        assert code == 0, err
    return [torch.load(folder / f"rank{rank}.pt") for rank in range(2)]


# Training with two processes.


@pytest.mark.slow
def test_processes_end_with_identical_parameters(trained):
    first, second = trained

    for name, value in first["equivalent"].items():
        assert torch.equal(value, second["equivalent"][name]), name


@pytest.mark.slow
def test_the_loss_falls_every_epoch(trained):
    losses = trained[0]["equivalent_loss"]

    assert (np.diff(losses) < 0).all()


@pytest.mark.slow
def test_the_reported_loss_is_the_same_in_every_process(trained):
    assert trained[0]["equivalent_loss"] == trained[1]["equivalent_loss"]


@pytest.mark.slow
def test_two_processes_train_like_one_with_twice_the_batch(trained):
    single = ImplicitSequenceModel(batch_size=2 * BATCH_SIZE, **EQUIVALENT)
    single.fit(full_rows())

    for name, value in parameters(single).items():
        torch.testing.assert_close(
            trained[0]["equivalent"][name], value, rtol=0, atol=TOLERANCE
        )
    np.testing.assert_allclose(
        trained[0]["equivalent_loss"], single.loss_history_, rtol=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_with_identical_parameters(trained, loss):
    first, second = trained

    for name, value in first[loss].items():
        assert torch.isfinite(value).all(), name
        assert torch.equal(value, second[loss][name]), name


@pytest.mark.slow
def test_sparse_embeddings_train_with_gloo(trained):
    first, second = trained

    assert all(np.isfinite(trained[0]["sparse_loss"]))
    for name, value in first["sparse"].items():
        assert torch.equal(value, second["sparse"][name]), name


@pytest.mark.slow
def test_processes_given_different_data_refuse_to_train(trained):
    for results in trained:
        assert (
            "every process must train on the same sequences"
            in (results["different_data"])
        )
        assert "rank(s) [1]" in results["different_data"]


@pytest.mark.slow
def test_a_tensor_is_averaged_across_processes(trained):
    assert [results["mean_rank"] for results in trained] == [0.5, 0.5]


# A process that dies.


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_process_ends_the_other_with_a_clear_error(tmp_path):
    processes = start([__file__, "kill", str(tmp_path)], cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "rank1-epoch1").exists():
        assert time.monotonic() < deadline, finish(processes, timeout=1)
        assert all(process.poll() is None for process in processes)
        time.sleep(0.05)

    processes[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    (code, _, err), _ = finish(processes, timeout=PEER_TIMEOUT + 30)

    assert code != 0
    assert time.monotonic() - killed < PEER_TIMEOUT + 10
    assert "PeerFailureError" in err
    assert "a peer process of the distributed run failed" in err
    assert f"the timeout of {PEER_TIMEOUT} s" in err
    checkpoint = ImplicitSequenceModel.load(tmp_path / "checkpoint.pt")
    assert checkpoint.epochs_completed_ >= 1


# The command line.


@pytest.mark.slow
def test_the_command_line_writes_its_output_from_rank_0_only(tmp_path):
    pytest.importorskip("pandas")
    argv = [
        "-m", "spotlight", "train",
        "--synthetic-users", "40",
        "--synthetic-items", "20",
        "--synthetic-interactions", "1200",
        "--max-sequence-length", "6",
        "--embedding-dim", "8",
        "--n-iter", "2",
        "--output", "model.pt",
        "--checkpoint", "checkpoint.pt",
    ]  # fmt: skip

    (code0, out0, err0), (code1, out1, err1) = finish(start(argv, cwd=tmp_path))

    assert (code0, code1) == (0, 0), err0 + err1
    assert out0.count("model saved to model.pt") == 1
    assert "test metrics" in out0
    assert out1 == ""
    assert ImplicitSequenceModel.load(tmp_path / "model.pt").epochs_completed_ == 2


# One process: nothing changes.


def test_without_the_launcher_variables_training_stays_in_one_process(
    monkeypatch, small_sequences
):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)

    ImplicitSequenceModel(n_iter=1, random_state=0).fit(small_sequences)

    assert type(distributed.training_group()) is distributed.TrainingGroup
    assert not torch.distributed.is_initialized()


def test_a_world_of_one_process_is_not_distributed(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")

    assert not distributed.is_launched()
    assert type(distributed.training_group()) is distributed.TrainingGroup


def test_a_group_of_one_changes_nothing():
    group = distributed.TrainingGroup()
    batches = [np.arange(3), np.arange(3, 4)]
    module = nn.Linear(2, 1)

    assert group.shard(batches) is batches
    assert group.wrap(module) is module
    assert group.process_seed(12) == 12
    assert group.agree(torch.tensor(0.5), False) == (0.5, False)
    assert group.any(True)


def test_outside_a_distributed_run_a_tensor_is_its_own_mean():
    tensor = torch.tensor([1.0, 2.0])

    assert distributed.mean_across_processes(tensor) is tensor


def test_the_rank_comes_from_the_environment_before_the_group_exists(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")

    assert distributed.get_rank() == 1
    assert distributed.get_world_size() == 2
    assert not distributed.is_main_process()


# Sharding, seeds and settings.


def test_each_rank_gets_a_contiguous_part_of_every_batch():
    batches = [np.arange(0, 5), np.arange(5, 10)]

    parts = [distributed.shard_batches(batches, rank, 2) for rank in range(2)]

    assert [part.tolist() for part in parts[0]] == [[0, 1, 2], [5, 6, 7]]
    assert [part.tolist() for part in parts[1]] == [[3, 4], [8, 9]]


def test_a_batch_too_small_for_every_rank_is_dropped_by_all():
    batches = [np.arange(0, 6), np.arange(6, 8)]

    parts = [distributed.shard_batches(batches, rank, 3) for rank in range(3)]

    assert [len(part) for part in parts] == [1, 1, 1]


def test_a_rank_outside_the_world_is_refused():
    with pytest.raises(ValueError, match="rank=2 and world_size=2"):
        distributed.shard_batches([np.arange(4)], rank=2, world_size=2)


def test_the_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(distributed.TIMEOUT_VARIABLE, "12.5")

    assert distributed.timeout_seconds() == 12.5
    assert distributed.timeout_seconds(3) == 3.0


@pytest.mark.parametrize("text", ["soon", "0", "-1", "nan"])
def test_a_bad_timeout_is_refused_with_its_value(monkeypatch, text):
    monkeypatch.setenv(distributed.TIMEOUT_VARIABLE, text)

    with pytest.raises(ValueError, match=distributed.TIMEOUT_VARIABLE):
        distributed.timeout_seconds()


def test_sparse_gradients_are_refused_with_nccl():
    group = object.__new__(distributed._DataParallelGroup)
    group.backend = "nccl"

    with pytest.raises(NotImplementedError, match="sparse=True is not supported"):
        group.wrap(nn.Embedding(5, 2, sparse=True))


def test_transport_errors_become_peer_failures():
    group = object.__new__(distributed._DataParallelGroup)
    group.rank, group.timeout = 1, 30.0
    error = RuntimeError("[gloo/transport/tcp/pair.cc] Connection reset by peer")

    failure = pytest.raises(distributed.PeerFailureError, match="timeout of 30 s")
    with failure, group:
        raise error


if __name__ == "__main__":
    torch.set_num_threads(1)
    SCENARIOS[sys.argv[1]](Path(sys.argv[2]))
    distributed.shutdown()
