"""The blockwise full-softmax cross-entropy equals PyTorch's, value and gradients."""

import pytest
import torch
from torch.nn import functional as F

from spotlight import _fused
from spotlight._fused import linear_cross_entropy


@pytest.mark.parametrize("rows", [1, 37, 500])
def test_linear_cross_entropy_matches_cross_entropy_and_its_gradients(
    rows, monkeypatch
):
    # Small blocks so that several blocks and a ragged last block are used.
    monkeypatch.setattr(_fused, "_BLOCK_ELEMENTS", 16 * 50)
    generator = torch.Generator().manual_seed(rows)
    hidden = torch.randn(rows, 8, generator=generator, dtype=torch.float64)
    weight = torch.randn(50, 8, generator=generator, dtype=torch.float64)
    bias = torch.randn(50, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, 50, (rows,), generator=generator)
    inputs = [tensor.requires_grad_() for tensor in (hidden, weight, bias)]

    expected = F.cross_entropy(torch.addmm(bias, hidden, weight.T), targets)
    expected_gradients = torch.autograd.grad(expected, inputs)
    loss = linear_cross_entropy(hidden, weight, bias, targets)
    gradients = torch.autograd.grad(loss, inputs)

    # float64 throughout: agreement to 1e-10 is rounding only
    assert torch.allclose(loss, expected, atol=1e-10)
    for got, want in zip(gradients, expected_gradients, strict=True):
        assert torch.allclose(got, want, atol=1e-10)
