"""PyTorch helpers (spotlight.torch_utils): devices, minibatches, shuffling, seeds."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from spotlight.torch_utils import cpu, gpu, minibatch, set_seed, shuffle, to_device

no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the error on a machine without CUDA"
)


def test_to_device_moves_tensors_inside_nested_structures():
    value = {"a": [torch.ones(2), (torch.zeros(1), "label")], "b": 3}

    moved = to_device(value, "cpu")

    assert moved["b"] == 3
    assert moved["a"][1][1] == "label"
    assert isinstance(moved["a"][1], tuple)
    assert moved["a"][0].device.type == "cpu"
    assert torch.equal(moved["a"][0], torch.ones(2))


def test_cpu_returns_tensors_on_the_cpu():
    assert cpu(torch.arange(3)).device.type == "cpu"


def test_gpu_false_returns_the_same_object():
    tensor = torch.arange(3)

    assert gpu(tensor, gpu=False) is tensor


@no_cuda
def test_gpu_true_without_cuda_raises_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA"):
        gpu(torch.arange(3), gpu=True)


def test_minibatch_yields_consecutive_slices():
    batches = list(minibatch(np.arange(10), batch_size=4))

    assert [batch.tolist() for batch in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_minibatch_of_several_arrays_yields_aligned_tuples():
    first, second = np.arange(5), np.arange(5) * 10

    batches = list(minibatch(first, second, batch_size=2))

    assert len(batches) == 3
    for left, right in batches:
        assert np.array_equal(left * 10, right)


def test_minibatch_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"\[3, 4\]"):
        list(minibatch(np.arange(3), np.arange(4)))


def test_minibatch_refuses_a_non_positive_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatch(np.arange(3), batch_size=0))


def test_shuffle_applies_one_permutation_to_every_array():
    first = np.arange(20)
    second = torch.arange(20) * 2

    shuffled_first, shuffled_second = shuffle(first, second, random_state=0)

    assert sorted(shuffled_first.tolist()) == list(range(20))
    assert not np.array_equal(shuffled_first, first)
    assert np.array_equal(shuffled_second.numpy(), shuffled_first * 2)


def test_shuffle_is_reproducible_and_leaves_numpy_global_state_alone():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (checking global state)

    first = shuffle(np.arange(50), random_state=3)
    second = shuffle(np.arange(50), random_state=3)

    assert np.array_equal(first, second)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_shuffle_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        shuffle(np.arange(3), np.arange(4))


def test_set_seed_makes_python_numpy_and_torch_reproducible():
    with torch.random.fork_rng():
        state = random.getstate(), np.random.get_state()  # noqa: NPY002
        try:
            set_seed(11)
            first = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
            set_seed(11)
            second = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])  # noqa: NPY002

    assert first == second


def test_set_seed_refuses_a_negative_seed():
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)
