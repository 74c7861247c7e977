"""Layers (spotlight.layers): scaled, zero and Bloom embeddings; fast dropout."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from spotlight._hashing import murmurhash3_32
from spotlight.layers import BloomEmbedding, FastDropout, ScaledEmbedding, ZeroEmbedding

pytestmark = pytest.mark.usefixtures("single_thread")


def test_scaled_embedding_has_standard_deviation_one_over_dim():
    torch.manual_seed(0)
    layer = ScaledEmbedding(2000, 16)

    # 32000 draws: the sample std is within 2% of 1/16 with overwhelming odds
    assert layer.weight.std().item() == pytest.approx(1 / 16, rel=0.02)


def test_scaled_embedding_padding_row_is_zero():
    torch.manual_seed(0)
    layer = ScaledEmbedding(50, 8, padding_idx=0)

    assert torch.equal(layer.weight[0], torch.zeros(8))
    assert layer.weight[1:].abs().sum() > 0


def test_scaled_embedding_padding_row_stays_zero_after_training():
    torch.manual_seed(0)
    layer = ScaledEmbedding(10, 4, padding_idx=0)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, weight_decay=0.1)

    for _ in range(3):
        optimizer.zero_grad()
        layer(torch.tensor([[0, 1, 2, 0]])).pow(2).sum().neg().backward()
        optimizer.step()

    assert torch.equal(layer.weight[0], torch.zeros(4))


def test_zero_embedding_starts_at_zero():
    layer = ZeroEmbedding(30, 1, padding_idx=0)

    assert torch.equal(layer.weight, torch.zeros(30, 1))


def test_bloom_embedding_output_shape_follows_input_shape():
    layer = BloomEmbedding(100, 8)

    assert layer(torch.tensor([[0, 5, 99], [1, 2, 3]])).shape == (2, 3, 8)
    assert layer(torch.tensor(7)).shape == (8,)


def test_bloom_embedding_table_is_compressed_by_the_ratio():
    layer = BloomEmbedding(1000, 8, compression_ratio=0.1)

    assert layer.embeddings.weight.shape == (100, 8)


def test_bloom_embedding_padding_id_is_zero():
    torch.manual_seed(0)
    layer = BloomEmbedding(100, 8, padding_idx=0)

    assert torch.equal(layer(torch.tensor([0])), torch.zeros(1, 8))


@pytest.mark.parametrize("bag", [False, True])
def test_bloom_embedding_is_the_sum_of_hashed_rows(bag):
    torch.manual_seed(0)
    layer = BloomEmbedding(100, 8, compression_ratio=0.3, num_hash_functions=3, bag=bag)
    ids = torch.tensor([1, 17, 99])
    num_rows = layer.embeddings.weight.shape[0]
    expected = torch.zeros(3, 8)
    for seed in range(3):
        # row 0 of the table is reserved for padding, so hashes map to 1..rows-1
        rows = murmurhash3_32(ids.numpy(), seed=seed).astype("int64") % (num_rows - 1)
        expected += layer.embeddings.weight[torch.from_numpy(rows + 1)]

    assert torch.allclose(layer(ids), expected, atol=1e-6)


def test_bloom_embedding_bag_and_gather_agree():
    torch.manual_seed(0)
    gather = BloomEmbedding(200, 8, bag=False)
    bag = BloomEmbedding(200, 8, bag=True)
    bag.load_state_dict(gather.state_dict())
    ids = torch.tensor([[0, 3, 150], [199, 42, 0]])

    assert torch.allclose(gather(ids), bag(ids), atol=1e-6)


def test_bloom_embedding_hashing_is_the_same_in_every_instance():
    first, second = BloomEmbedding(500, 4), BloomEmbedding(500, 4)

    assert torch.equal(first.hash_rows, second.hash_rows)


def test_bloom_embedding_gives_distinct_ids_distinct_rows():
    layer = BloomEmbedding(1000, 8, compression_ratio=0.2, num_hash_functions=4)
    rows = {tuple(sorted(row)) for row in layer.hash_rows[1:].tolist()}

    # 999 ids over 199 rows, 4 hashes each: collisions of all four are rare
    assert len(rows) >= 990


@pytest.mark.parametrize("bag", [False, True])
def test_bloom_embedding_sparse_gives_sparse_gradients(bag):
    layer = BloomEmbedding(100, 4, sparse=True, bag=bag)

    layer(torch.tensor([1, 2, 3])).sum().backward()

    assert layer.embeddings.weight.grad.is_sparse


@pytest.mark.parametrize("bag", [False, True])
def test_bloom_embedding_padding_stays_zero_after_training(bag):
    torch.manual_seed(0)
    layer = BloomEmbedding(50, 4, bag=bag)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.5)

    for _ in range(3):
        optimizer.zero_grad()
        layer(torch.tensor([0, 1, 2, 0])).pow(2).sum().neg().backward()
        optimizer.step()

    assert torch.equal(layer(torch.tensor([0])), torch.zeros(1, 4))


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"compression_ratio": 0.0}, "compression_ratio"),
        ({"compression_ratio": 1.5}, "compression_ratio"),
        ({"num_hash_functions": 0}, "num_hash_functions"),
        ({"padding_idx": 100}, "padding_idx"),
        ({"num_embeddings": 1}, "num_embeddings"),
        ({"embedding_dim": 0}, "embedding_dim"),
    ],
)
def test_bloom_embedding_bad_argument_names_the_argument(arguments, name):
    kwargs = {"num_embeddings": 100, "embedding_dim": 4, **arguments}

    with pytest.raises(ValueError, match=name):
        BloomEmbedding(**kwargs)


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_fast_dropout_zeroes_a_fraction_p_and_keeps_the_mean(p):
    torch.manual_seed(0)
    x = torch.ones(1_000_000)

    output = FastDropout(p)(x)

    # a million draws: the standard error of both is below 1e-3
    assert (output == 0).float().mean().item() == pytest.approx(p, abs=3e-3)
    assert output.mean().item() == pytest.approx(1.0, abs=3e-3)


def test_fast_dropout_passes_gradients_through_the_kept_elements_only():
    torch.manual_seed(0)
    x = torch.full((1000,), 2.0, requires_grad=True)

    output = FastDropout(0.3)(x)
    output.sum().backward()

    assert torch.allclose(x.grad, output.detach() / 2.0)


def test_fast_dropout_is_the_identity_in_evaluation_and_at_zero():
    x = torch.randn(50)

    assert torch.equal(FastDropout(0.5).eval()(x), x)
    assert torch.equal(FastDropout(0.0)(x), x)
    assert torch.equal(FastDropout(1.0)(x), torch.zeros(50))


def test_fast_dropout_masks_repeat_with_the_seed():
    x = torch.ones(100)

    torch.manual_seed(3)
    first = FastDropout(0.5)(x)
    torch.manual_seed(3)
    second = FastDropout(0.5)(x)

    assert torch.equal(first, second)


@pytest.mark.parametrize("p", [-0.1, 1.5, "half"])
def test_fast_dropout_rejects_a_probability_outside_zero_to_one(p):
    with pytest.raises((ValueError, TypeError), match="p"):
        FastDropout(p)


@pytest.mark.parametrize("layer_class", [ScaledEmbedding, ZeroEmbedding])
def test_embedding_lookups_give_torchs_embedding_gradients(layer_class):
    torch.manual_seed(0)
    layer = layer_class(12, 4, padding_idx=0)
    ids = torch.tensor([[0, 3, 3, 7], [0, 0, 11, 3]])  # repeats and padding
    upstream = torch.randn(2, 4, 4)

    output = layer(ids)
    (gradient,) = torch.autograd.grad(output, [layer.weight], upstream)
    expected_output = F.embedding(ids, layer.weight, padding_idx=0)
    (expected,) = torch.autograd.grad(expected_output, [layer.weight], upstream)

    assert torch.equal(output, expected_output)
    assert torch.allclose(gradient, expected, atol=1e-6)
    assert torch.equal(gradient[0], torch.zeros(4))
