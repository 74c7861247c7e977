"""The blockwise full-softmax cross-entropy equals PyTorch's, value and gradients."""

import pytest
import torch
from torch.nn import functional as F

from spotlight import _fused
from spotlight._fused import linear_cross_entropy


def _problem(rows: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(rows, 8, generator=generator, dtype=torch.float64)
    weight = torch.randn(50, 8, generator=generator, dtype=torch.float64)
    bias = torch.randn(50, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, 50, (rows,), generator=generator)
    return hidden, weight, bias, targets


@pytest.mark.parametrize("rows", [1, 37, 500])
@pytest.mark.parametrize("output_scale", [1.0, -2.5])
def test_linear_cross_entropy_matches_cross_entropy_and_its_gradients(
    rows, output_scale, monkeypatch
):
    # Small blocks so that several blocks and a ragged last block are used.
    monkeypatch.setattr(_fused, "_BLOCK_ELEMENTS", 16 * 50)
    hidden, weight, bias, targets = _problem(rows, seed=rows)
    inputs = [tensor.requires_grad_() for tensor in (hidden, weight, bias)]

    # A factor after the loss checks that the backward pass scales the
    # gradients computed in the forward pass by the output's gradient.
    expected = F.cross_entropy(torch.addmm(bias, hidden, weight.T), targets)
    expected_gradients = torch.autograd.grad(output_scale * expected, inputs)
    loss = linear_cross_entropy(hidden, weight, bias, targets)
    gradients = torch.autograd.grad(output_scale * loss, inputs)

    # float64 throughout: agreement to 1e-10 is rounding only
    assert torch.allclose(loss, expected, atol=1e-10)
    for got, want in zip(gradients, expected_gradients, strict=True):
        assert torch.allclose(got, want, atol=1e-10)


def test_linear_cross_entropy_gives_gradients_only_to_inputs_that_need_them():
    hidden, weight, bias, targets = _problem(20, seed=0)
    weight.requires_grad_()

    loss = linear_cross_entropy(hidden, weight, bias, targets)
    (gradient,) = torch.autograd.grad(loss, [weight])
    with torch.no_grad():
        without_gradients = linear_cross_entropy(hidden, weight, bias, targets)

    expected = F.cross_entropy(torch.addmm(bias, hidden, weight.T), targets)
    (expected_gradient,) = torch.autograd.grad(expected, [weight])
    assert torch.allclose(gradient, expected_gradient, atol=1e-10)
    assert not without_gradients.requires_grad
    assert torch.allclose(without_gradients, expected, atol=1e-10)


def test_under_bfloat16_autocast_the_products_round_and_the_softmax_does_not():
    generator = torch.Generator().manual_seed(1)
    hidden = torch.randn(300, 16, generator=generator, requires_grad=True)
    weight = torch.randn(200, 16, generator=generator, requires_grad=True)
    bias = torch.randn(200, generator=generator, requires_grad=True)
    targets = torch.randint(0, 200, (300,), generator=generator)
    inputs = [hidden, weight, bias]

    expected = F.cross_entropy(torch.addmm(bias, hidden, weight.T), targets)
    expected_gradients = torch.autograd.grad(expected, inputs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = linear_cross_entropy(hidden, weight, bias, targets)
    gradients = torch.autograd.grad(loss, inputs)

    # bfloat16 keeps 8 bits of mantissa (a relative rounding of 0.4%): the
    # loss and each gradient, as a whole, stay within 2% of float32's.
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected.item(), rel=1e-3)
    for got, want in zip(gradients, expected_gradients, strict=True):
        assert got.dtype == torch.float32
        assert (got - want).norm() < 0.02 * want.norm()


def test_an_offset_at_the_entries_given_matches_cross_entropy_and_its_gradients(
    monkeypatch,
):
    monkeypatch.setattr(_fused, "_BLOCK_ELEMENTS", 16 * 50)
    hidden, weight, bias, targets = _problem(70, seed=3)
    where = torch.rand(70, 50, generator=torch.Generator().manual_seed(4)) < 0.3
    offset = torch.tensor(-1.5, dtype=torch.float64)
    inputs = [tensor.requires_grad_() for tensor in (hidden, weight, bias, offset)]

    logits = torch.addmm(bias, hidden, weight.T) + offset * where
    expected = F.cross_entropy(logits, targets)
    expected_gradients = torch.autograd.grad(expected, inputs)
    loss = linear_cross_entropy(
        hidden,
        weight,
        bias,
        targets,
        offset=offset,
        offset_entries=lambda block: where[block].nonzero(as_tuple=True),
    )
    gradients = torch.autograd.grad(loss, inputs)

    # float64 throughout: agreement to 1e-10 is rounding only
    assert torch.allclose(loss, expected, atol=1e-10)
    for got, want in zip(gradients, expected_gradients, strict=True):
        assert torch.allclose(got, want, atol=1e-10)


def test_an_offset_needs_its_entries():
    hidden, weight, bias, targets = _problem(5, seed=0)

    with pytest.raises(ValueError, match="together"):
        linear_cross_entropy(hidden, weight, bias, targets, offset=torch.tensor(1.0))
