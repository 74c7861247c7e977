"""Nothing lost: a killed or interrupted training run resumes exactly.

Training runs in a child process (a short script below), so that the tests
can kill it with SIGKILL or interrupt it with SIGINT as a user would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spotlight.sequence.implicit import ImplicitSequenceModel

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="sends POSIX signals to a child process"
)

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from spotlight.datasets.synthetic import generate_sequential
    from spotlight.sequence.implicit import ImplicitSequenceModel

    mode, checkpoint, output, epochs = sys.argv[1:5]
    rows = generate_sequential(num_users=200, num_items=50,
                               num_interactions=10000,
                               random_state=3).to_sequence(20, step_size=5)
    if mode == "resume":
        model = ImplicitSequenceModel.load(checkpoint)
        epochs = int(epochs) - model.epochs_completed_
    else:
        model = ImplicitSequenceModel(representation="lstm", batch_size=16,
                                      n_iter=1, random_state=7)
        epochs = int(epochs)

    def slow_down(epoch, elapsed, loss):
        print(f"epoch {epoch} done", flush=True)

    model.fit(rows, epochs=epochs, checkpoint_path=checkpoint,
              callback=slow_down)
    model.save(output)
    print("interrupted" if model.interrupted_ else "finished", flush=True)
    """
)


def start(
    tmp_path: Path, mode: str, epochs: int, checkpoint: str = "checkpoint.pt"
) -> subprocess.Popen:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            mode,
            str(tmp_path / checkpoint),
            str(tmp_path / f"{mode}.pt"),
            str(epochs),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return
        if not line and process.poll() is not None:
            break
    pytest.fail(f"the training process never printed {text!r}")


def same_parameters(first: Path, second: Path) -> bool:
    a = ImplicitSequenceModel.load(first).network.state_dict()
    b = ImplicitSequenceModel.load(second).network.state_dict()
    return all(torch.equal(a[name], b[name]) for name in a)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The model file of a run of 3 epochs that nobody interrupts."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    process = start(folder, "full", 3, checkpoint="unused.pt")
    assert process.wait(timeout=120) == 0, process.stderr.read()
    return folder / "full.pt"


def test_sigkill_leaves_the_checkpoint_intact_and_resuming_matches(
    tmp_path, uninterrupted
):
    victim = start(tmp_path, "killed", 3)
    wait_for_line(victim, "epoch 0 done")
    time.sleep(0.3)  # well inside epoch 1, which takes seconds
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    checkpoint = ImplicitSequenceModel.load(tmp_path / "checkpoint.pt")
    assert checkpoint.epochs_completed_ in (1, 2)
    assert sorted(path.name for path in tmp_path.glob("*.tmp")) == []

    resumed = start(tmp_path, "resume", 3)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    assert same_parameters(uninterrupted, tmp_path / "resume.pt")


def test_ctrl_c_keeps_the_model_and_the_checkpoint_resumes_exactly(
    tmp_path, uninterrupted
):
    interrupted = start(tmp_path, "interrupted", 3)
    wait_for_line(interrupted, "epoch 0 done")
    time.sleep(0.3)
    interrupted.send_signal(signal.SIGINT)
    output, errors = interrupted.communicate(timeout=60)
    assert interrupted.returncode == 0
    assert "interrupted" in output
    assert "training interrupted" in errors  # the warning
    partial = ImplicitSequenceModel.load(tmp_path / "interrupted.pt")
    assert np.isfinite(partial.predict([1, 2, 3])).all()

    resumed = start(tmp_path, "resume", 3)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    assert same_parameters(uninterrupted, tmp_path / "resume.pt")
