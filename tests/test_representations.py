"""Sequence networks (spotlight.sequence.representations and .transformer).

Every network is checked in evaluation mode (no dropout) on a small catalogue;
float32 results that should agree are compared with ``atol=1e-5``.
"""

from __future__ import annotations

import pytest
import torch

from spotlight.layers import BloomEmbedding
from spotlight.sequence.representations import (
    NETWORKS,
    CNNNet,
    GRUNet,
    LSTMNet,
    MixtureLSTMNet,
    PoolNet,
    SequenceNet,
    TransformerNet,
    build_network,
)

pytestmark = pytest.mark.usefixtures("single_thread")

NUM_ITEMS = 20
DIM = 8
ATOL = 1e-5

BUILDERS = {
    "pooling": lambda **kw: PoolNet(NUM_ITEMS, DIM, **kw),
    "cnn": lambda **kw: CNNNet(NUM_ITEMS, DIM, **kw),
    "cnn-wide-dilated": lambda **kw: CNNNet(
        NUM_ITEMS, DIM, kernel_width=[3, 5], dilation=[1, 2], num_layers=2, **kw
    ),
    "cnn-relu-plain": lambda **kw: CNNNet(
        NUM_ITEMS, DIM, nonlinearity="relu", residual_connections=False, **kw
    ),
    "lstm": lambda **kw: LSTMNet(NUM_ITEMS, DIM, **kw),
    "gru": lambda **kw: GRUNet(NUM_ITEMS, DIM, **kw),
    "mixture": lambda **kw: MixtureLSTMNet(NUM_ITEMS, DIM, num_mixtures=3, **kw),
    "transformer": lambda **kw: TransformerNet(
        NUM_ITEMS, DIM, num_layers=2, num_heads=2, max_sequence_length=12, **kw
    ),
    "transformer-sasrec": lambda **kw: TransformerNet(
        NUM_ITEMS,
        DIM,
        num_layers=2,
        num_heads=2,
        max_sequence_length=12,
        block="sasrec",
        **kw,
    ),
}


def representation_dim(net: SequenceNet) -> int:
    if isinstance(net, MixtureLSTMNet):
        return 2 * net.num_mixtures * DIM
    return DIM


def make(name: str, seed: int = 0, **kwargs) -> SequenceNet:
    """A network in evaluation mode with random, non-zero item biases."""
    torch.manual_seed(seed)
    net = BUILDERS[name](**kwargs).eval()
    with torch.no_grad():
        net.item_biases.weight[1:].uniform_(-0.5, 0.5)
    return net


# Three rows of six items, one of them left-padded.
SEQUENCES = torch.tensor(
    [[3, 7, 1, 9, 4, 12], [0, 0, 5, 5, 18, 2], [19, 1, 2, 3, 4, 6]], dtype=torch.long
)


@pytest.fixture(params=list(BUILDERS))
def net(request):
    return make(request.param)


def test_every_model_name_builds_its_network_class():
    for name, class_name in NETWORKS.items():
        network = build_network(class_name, {"num_items": NUM_ITEMS})
        assert type(network).__name__ == class_name, name


def test_representations_have_one_entry_per_position_plus_the_final(net):
    representations = net.representations(SEQUENCES)

    assert representations.shape == (3, 7, representation_dim(net))


@pytest.mark.parametrize("t", range(SEQUENCES.shape[1] + 1))
def test_entry_t_depends_only_on_items_before_position_t(net, t):
    changed = SEQUENCES.clone()
    generator = torch.Generator().manual_seed(t)
    changed[:, t:] = torch.randint(
        1, NUM_ITEMS, changed[:, t:].shape, generator=generator
    )
    assert not torch.equal(changed, SEQUENCES) or t == SEQUENCES.shape[1]

    with torch.no_grad():
        before = net.representations(SEQUENCES)[:, : t + 1]
        after = net.representations(changed)[:, : t + 1]

    assert torch.allclose(before, after, atol=ATOL)


@pytest.mark.parametrize("t", range(SEQUENCES.shape[1]))
def test_entry_after_position_t_sees_the_item_at_t(net, t):
    changed = SEQUENCES.clone()
    changed[:, t] = torch.where(changed[:, t] == 11, 13, 11)

    with torch.no_grad():
        before = net.representations(SEQUENCES)
        after = net.representations(changed)

    rows = SEQUENCES[:, t] != 0  # a padded position is replaced by a real item
    assert not torch.allclose(before[rows, t + 1], after[rows, t + 1], atol=ATOL)


@pytest.mark.parametrize("name", [name for name in BUILDERS if "cnn" not in name])
@pytest.mark.parametrize("t", range(SEQUENCES.shape[1]))
def test_final_entry_sees_every_item(name, t):
    # Convolutions see only their receptive field: see the CNN tests below.
    net = make(name)
    changed = SEQUENCES.clone()
    changed[:, t] = torch.where(changed[:, t] == 11, 13, 11)

    with torch.no_grad():
        before = net.representations(SEQUENCES)[:, -1]
        after = net.representations(changed)[:, -1]

    rows = SEQUENCES[:, t] != 0
    assert not torch.allclose(before[rows], after[rows], atol=ATOL)


def test_padding_item_has_zero_embedding_and_bias(net):
    padding = torch.tensor([0])

    assert torch.equal(net.item_embeddings(padding), torch.zeros(1, DIM))
    assert torch.equal(net.item_biases(padding), torch.zeros(1, 1))


def test_padding_item_scores_zero(net):
    with torch.no_grad():
        representations = net.representations(SEQUENCES)
        shared = net.score_shared(representations)
        aligned = net.score(representations, torch.zeros(3, 7, 1, dtype=torch.long))

    assert torch.equal(shared[..., 0], torch.zeros(3, 7))
    assert torch.equal(aligned, torch.zeros(3, 7, 1))


def test_user_representation_uses_spotlights_layout(net):
    with torch.no_grad():
        representations = net.representations(SEQUENCES)
        steps, final = net.user_representation(SEQUENCES)

    if isinstance(net, MixtureLSTMNet):
        mixtures = 2 * net.num_mixtures
        assert steps.shape == (3, mixtures, DIM, 6)
        assert final.shape == (3, mixtures, DIM, 1)
        flat = torch.cat((steps, final), dim=-1).permute(0, 3, 1, 2).flatten(2)
        assert torch.allclose(flat, representations, atol=ATOL)
    else:
        assert steps.shape == (3, DIM, 6)
        assert final.shape == (3, DIM)
        assert torch.allclose(steps, representations[:, :-1].transpose(1, 2))
        assert torch.allclose(final, representations[:, -1])


def test_forward_scores_targets_like_score(net):
    targets = torch.randint(
        1, NUM_ITEMS, (3, 6), generator=torch.Generator().manual_seed(1)
    )

    with torch.no_grad():
        steps, _ = net.user_representation(SEQUENCES)
        scores = net(steps, targets)
        expected = net.score(
            net.representations(SEQUENCES)[:, :-1], targets.unsqueeze(-1)
        ).squeeze(-1)

    assert scores.shape == (3, 6)
    assert torch.allclose(scores, expected, atol=ATOL)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_forward_accepts_spotlights_predict_call(name):
    # Spotlight's predict: net(final.expand(num_items, ...), item_ids (n, 1))
    net = make(name)
    items = torch.arange(NUM_ITEMS).reshape(-1, 1)

    with torch.no_grad():
        _, final = net.user_representation(SEQUENCES[:1])
        scores = net(final.expand(NUM_ITEMS, *final.shape[1:]), items)
        expected = net.score_shared(net.representations(SEQUENCES[:1])[0, -1])

    assert scores.numel() == NUM_ITEMS
    assert torch.allclose(scores.reshape(-1), expected, atol=ATOL)


def test_score_per_sequence_agrees_with_score(net):
    candidates = torch.tensor([[1, 4, 0, 19], [2, 2, 7, 3], [5, 6, 7, 8]])

    with torch.no_grad():
        representations = net.representations(SEQUENCES)  # (3, 7, R)
        per_sequence = net.score_per_sequence(representations, candidates)
        aligned = net.score(representations, candidates.unsqueeze(1).expand(3, 7, 4))

    assert per_sequence.shape == (3, 7, 4)
    assert torch.allclose(per_sequence, aligned, atol=ATOL)


def test_score_shared_agrees_with_score(net):
    candidates = torch.tensor([4, 0, 11, 19, 1])

    with torch.no_grad():
        representations = net.representations(SEQUENCES)
        shared = net.score_shared(representations, candidates)
        everything = net.score_shared(representations)
        aligned = net.score(representations, candidates.expand(3, 7, 5))

    assert shared.shape == (3, 7, 5)
    assert everything.shape == (3, 7, NUM_ITEMS)
    assert torch.allclose(shared, aligned, atol=ATOL)
    assert torch.allclose(everything[..., candidates], aligned, atol=ATOL)


def test_pooling_representation_is_the_mean_of_the_real_items_before():
    net = make("pooling")
    sequence = torch.tensor([[0, 0, 3, 5, 9]])
    embeddings = net.item_embeddings.weight

    with torch.no_grad():
        representations = net.representations(sequence)[0]

    assert torch.equal(representations[0], torch.zeros(DIM))
    assert torch.equal(representations[2], torch.zeros(DIM))  # only padding seen
    assert torch.allclose(representations[3], embeddings[3], atol=ATOL)
    assert torch.allclose(representations[5], embeddings[[3, 5, 9]].mean(0), atol=ATOL)


def test_mixture_score_mixes_tastes_by_attention_on_the_candidate():
    # Spotlight's formula: the first num_mixtures vectors are tastes, the rest
    # attention; weights are the softmax over mixtures of attention . item.
    net = make("mixture")
    targets = torch.tensor([[4, 9, 1, 2, 3, 11]] * 3)

    with torch.no_grad():
        steps, _ = net.user_representation(SEQUENCES)  # (3, 6, DIM, 6)
        tastes, attention = steps[:, :3], steps[:, 3:]
        items = net.item_embeddings(targets).permute(0, 2, 1).unsqueeze(1)
        weights = torch.softmax((attention * items).sum(2), dim=1)  # (3, 3, 6)
        dots = (tastes * items).sum(2)
        expected = (weights * dots).sum(1) + net.item_biases(targets).squeeze(-1)
        scores = net(steps, targets)

    assert torch.allclose(scores, expected, atol=ATOL)


@pytest.mark.parametrize("name", ["pooling", "transformer"])
def test_left_padding_does_not_change_the_final_representation(name):
    net = make(name)

    with torch.no_grad():
        short = net.representations(torch.tensor([[4, 8, 15]]))[:, -1]
        padded = net.representations(torch.tensor([[0, 0, 0, 4, 8, 15]]))[:, -1]

    assert torch.allclose(short, padded, atol=ATOL)


def test_transformer_cuts_long_sequences_to_the_most_recent_items():
    net = make("transformer")  # max_sequence_length=12
    generator = torch.Generator().manual_seed(2)
    long = torch.randint(1, NUM_ITEMS, (2, 20), generator=generator)

    with torch.no_grad():
        representations = net.representations(long)
        recent = net.representations(long[:, -12:])

    assert representations.shape == (2, 21, DIM)
    assert torch.allclose(representations[:, -1], recent[:, -1], atol=ATOL)


def test_transformer_dropout_is_active_only_in_training_mode():
    net = make("transformer")

    with torch.no_grad():
        first, second = net.representations(SEQUENCES), net.representations(SEQUENCES)
        net.train()
        noisy = net.representations(SEQUENCES)

    assert torch.equal(first, second)
    assert not torch.allclose(first, noisy, atol=ATOL)


def sasrec_block_by_hand(block, x: torch.Tensor) -> torch.Tensor:
    """One ``block="sasrec"`` block on unpadded rows, one head, written out."""
    dim = x.shape[-1]
    weight, bias = block.query_key_value.weight, block.query_key_value.bias
    normed = block.attention_norm(x)
    query = normed @ weight[:dim].T + bias[:dim]
    key = x @ weight[dim : 2 * dim].T + bias[dim : 2 * dim]
    value = x @ weight[2 * dim :].T + bias[2 * dim :]
    scores = query @ key.transpose(1, 2) / dim**0.5
    later = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
    weights = scores.masked_fill(later, float("-inf")).softmax(dim=-1)
    attended = normed + block.attention_output(weights @ value)
    normed = block.feed_forward_norm(attended)
    first, _, _, second = block.feed_forward
    return normed + second(torch.relu(first(normed)))


def test_the_sasrec_block_reads_keys_from_the_unnormalised_input():
    torch.manual_seed(3)
    net = TransformerNet(NUM_ITEMS, DIM, num_layers=1, block="sasrec").eval()
    x = torch.randn(2, 5, DIM) * 3 + 1

    with torch.no_grad():
        real = torch.ones(2, 1, 5, 5, dtype=torch.bool).tril()
        output = net.blocks[0](x, real)
        expected = sasrec_block_by_hand(net.blocks[0], x)

    assert torch.allclose(output, expected, atol=ATOL)


def test_the_two_block_wirings_give_different_representations():
    torch.manual_seed(4)
    pre_norm = TransformerNet(NUM_ITEMS, DIM).eval()
    sasrec = TransformerNet(NUM_ITEMS, DIM, block="sasrec").eval()
    sasrec.load_state_dict(pre_norm.state_dict())

    with torch.no_grad():
        first, second = (net.representations(SEQUENCES) for net in (pre_norm, sasrec))

    assert not torch.allclose(first, second, atol=1e-2)


def test_transformer_refuses_an_unknown_block():
    with pytest.raises(ValueError, match=r"block must be one of.*'post-norm'"):
        TransformerNet(NUM_ITEMS, DIM, block="post-norm")


def test_transformer_refuses_a_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerNet(NUM_ITEMS, embedding_dim=10, num_heads=3)


@pytest.mark.parametrize(
    ("dilation", "first_seen"),
    [(1, 6), ([1, 2, 4], 2)],
    ids=["no-dilation", "dilation-1-2-4"],
)
def test_cnn_receptive_field_grows_with_dilation(dilation, first_seen):
    # three layers of width 2: the final entry sees 1 + 1 + 1 + 1 = 4 shifted
    # steps without dilation, 1 + 1 + 2 + 4 = 8 with dilations 1, 2, 4; the
    # shifted input at step j holds item j - 1 of the ten.
    torch.manual_seed(0)
    net = CNNNet(NUM_ITEMS, DIM, kernel_width=2, dilation=dilation, num_layers=3).eval()
    sequence = torch.arange(1, 11).unsqueeze(0)

    def final_after_changing(position: int) -> torch.Tensor:
        changed = sequence.clone()
        changed[0, position] = 15
        return net.representations(changed)[0, -1]

    with torch.no_grad():
        final = net.representations(sequence)[0, -1]
        assert torch.allclose(final, final_after_changing(first_seen - 1), atol=ATOL)
        assert not torch.allclose(final, final_after_changing(first_seen), atol=ATOL)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({}, 3), ({"kernel_width": [3, 5], "dilation": [1, 2], "num_layers": 2}, 11)],
    ids=["default", "wide-dilated"],
)
def test_cnn_final_representation_needs_only_its_receptive_field(arguments, field):
    torch.manual_seed(0)
    net = CNNNet(NUM_ITEMS, DIM, **arguments).eval()
    sequences = torch.randint(1, NUM_ITEMS, (4, 30))
    sequences[0, :25] = 0  # mostly padding

    with torch.no_grad():
        full = net.representations(sequences)[:, -1]
        recent = net.representations(sequences[:, -field:])[:, -1]
        fewer = net.representations(sequences[:, -field + 1 :])[:, -1]

    assert net.receptive_field == field
    assert torch.allclose(recent, full, atol=ATOL)
    assert not torch.allclose(fewer[1:], full[1:], atol=ATOL)


@pytest.mark.parametrize("name", ["pooling", "lstm", "gru", "mixture", "transformer"])
def test_other_networks_depend_on_the_whole_sequence(name):
    assert make(name).receptive_field is None


def test_cnn_builds_one_layer_per_kernel_width():
    net = CNNNet(
        NUM_ITEMS, DIM, kernel_width=[3, 5, 2], dilation=[1, 2, 1], num_layers=3
    )

    assert [layer.kernel_size[0] for layer in net.cnn_layers] == [3, 5, 2]
    assert [layer.dilation[0] for layer in net.cnn_layers] == [1, 2, 1]


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"kernel_width": [3, 5], "num_layers": 3}, "kernel_width"),
        ({"dilation": [1, 2], "num_layers": 1}, "dilation"),
        ({"kernel_width": 0}, "kernel_width"),
        ({"num_layers": 0}, "num_layers"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity"),
    ],
)
def test_cnn_bad_argument_names_the_argument(arguments, name):
    with pytest.raises(ValueError, match=name):
        CNNNet(NUM_ITEMS, DIM, **arguments)


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("bag", [False, True])
def test_bloom_embedding_plugs_into_every_network(name, bag):
    torch.manual_seed(0)
    layer = BloomEmbedding(NUM_ITEMS, DIM, compression_ratio=0.5, bag=bag)
    net = make(name, item_embedding_layer=layer)

    with torch.no_grad():
        representations = net.representations(SEQUENCES)
        scores = net.score_shared(representations)

    assert net.item_embeddings is layer
    assert representations.shape == (3, 7, representation_dim(net))
    assert torch.equal(scores[..., 0], torch.zeros(3, 7))
    assert torch.allclose(net.all_item_embeddings(), layer(torch.arange(NUM_ITEMS)))


def is_plain(value) -> bool:
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and is_plain(item) for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return all(is_plain(item) for item in value)
    return value is None or isinstance(value, bool | int | float | str)


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("bloom", [False, True], ids=["default-embedding", "bloom"])
def test_get_config_and_build_network_round_trip(name, bloom):
    layer = BloomEmbedding(NUM_ITEMS, DIM, compression_ratio=0.5) if bloom else None
    net = make(name, item_embedding_layer=layer)
    config = net.get_config()

    rebuilt = build_network(type(net).__name__, config).eval()
    rebuilt.load_state_dict(net.state_dict())

    assert is_plain(config), config
    with torch.no_grad():
        expected = net.representations(SEQUENCES)
        representations = rebuilt.representations(SEQUENCES)
        assert torch.equal(representations, expected)
        assert torch.equal(
            rebuilt.score_shared(representations), net.score_shared(expected)
        )


def test_get_config_refuses_an_embedding_layer_it_cannot_describe():
    net = PoolNet(
        NUM_ITEMS, DIM, item_embedding_layer=torch.nn.Embedding(NUM_ITEMS, DIM)
    )

    with pytest.raises(NotImplementedError, match="Embedding"):
        net.get_config()


def test_build_network_refuses_an_unknown_class():
    with pytest.raises(ValueError, match="NoSuchNet"):
        build_network("NoSuchNet", {"num_items": NUM_ITEMS})


def test_sequence_net_refuses_an_embedding_layer_that_is_not_a_module():
    with pytest.raises(TypeError, match="item_embedding_layer"):
        PoolNet(NUM_ITEMS, DIM, item_embedding_layer="bloom")


def test_sparse_network_gives_sparse_embedding_gradients():
    net = LSTMNet(NUM_ITEMS, DIM, sparse=True)

    representations = net.representations(SEQUENCES)
    net.score_shared(representations[:, -1], torch.tensor([1, 2])).sum().backward()

    assert net.item_embeddings.weight.grad.is_sparse
    assert net.item_biases.weight.grad.is_sparse
    assert not net.recurrent.weight_ih_l0.grad.is_sparse


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_final_representation_is_the_last_entry_of_the_representations(name):
    net = make(name)
    generator = torch.Generator().manual_seed(5)
    # Rows padded to different lengths, one empty, one past the transformer's
    # maximum length of 12.
    sequences = torch.randint(1, NUM_ITEMS, (4, 15), generator=generator)
    sequences[0, :10] = 0
    sequences[1, :] = 0
    sequences[2, :3] = 0

    with torch.no_grad():
        final = net.final_representation(sequences)
        expected = net.representations(sequences)[:, -1]

    assert final.shape == (4, representation_dim(net))
    assert torch.allclose(final, expected, atol=ATOL)
