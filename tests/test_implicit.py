"""ImplicitSequenceModel (spotlight.sequence.implicit): Spotlight's estimator
contract, the extensions, saving and loading, and learning accuracy.

Unless a test says otherwise, models train on the small shared log (items
1..29, 70 rows of 10) with ``embedding_dim=8`` and a fixed ``random_state``;
scores that should agree are compared with ``atol=1e-5``.
"""

from __future__ import annotations

import inspect
import logging
import math
import signal
import threading

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR, StepLR

from spotlight import losses
from spotlight._optim import SparseDenseAdam
from spotlight.cross_validation import user_based_train_test_split
from spotlight.datasets.synthetic import generate_sequential
from spotlight.evaluation import sequence_mrr_score
from spotlight.exceptions import (
    DivergenceError,
    ModelFileError,
    NotFittedError,
    SpotlightError,
)
from spotlight.id_mapping import IdMapping
from spotlight.interactions import Interactions, SequenceInteractions
from spotlight.sampling import PopularitySampler, UniformSampler
from spotlight.sequence._objectives import Objective
from spotlight.sequence.implicit import ImplicitSequenceModel
from spotlight.sequence.representations import CNNNet, PoolNet

pytestmark = pytest.mark.usefixtures("single_thread")

REPRESENTATIONS = ("pooling", "cnn", "lstm", "mixture", "gru", "transformer")
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
NUM_ITEMS = 30
ATOL = 1e-5

no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the error on a machine without CUDA"
)


def small_model(**kwargs) -> ImplicitSequenceModel:
    arguments = {"embedding_dim": 8, "n_iter": 1, "batch_size": 32, "random_state": 0}
    arguments.update(kwargs)
    if arguments.get("representation") == "transformer":
        arguments.setdefault("representation_kwargs", {"num_layers": 1})
    return ImplicitSequenceModel(**arguments)


def parameters(model: ImplicitSequenceModel) -> dict[str, torch.Tensor]:
    return {
        name: tensor.detach().clone()
        for name, tensor in model.network.state_dict().items()
    }


def assert_same_parameters(first, second) -> None:
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def differs(first, second) -> bool:
    return any(not torch.equal(first[name], second[name]) for name in first)


@pytest.fixture(scope="module")
def fitted(small_sequences):
    """A pooling model trained for two epochs; tests must not train it further."""
    return small_model(n_iter=2).fit(small_sequences)


@pytest.fixture
def rows(small_sequences):
    return small_sequences.sequences[:7]


# --- Constructor ---------------------------------------------------------------


def test_constructor_keeps_spotlights_signature():
    signature = inspect.signature(ImplicitSequenceModel)
    positional = [
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
    ]
    defaults = {
        name: parameter.default for name, parameter in signature.parameters.items()
    }

    assert positional == [
        "loss",
        "representation",
        "embedding_dim",
        "n_iter",
        "batch_size",
        "l2",
        "learning_rate",
        "optimizer_func",
        "use_cuda",
        "sparse",
        "random_state",
        "num_negative_samples",
    ]
    assert [defaults[name] for name in positional] == [
        "pointwise",
        "pooling",
        32,
        10,
        256,
        0.0,
        0.01,
        None,
        False,
        False,
        None,
        5,
    ]


def test_extras_are_keyword_only():
    signature = inspect.signature(ImplicitSequenceModel)
    extras = [
        "device",
        "representation_kwargs",
        "negative_sampling",
        "popularity_alpha",
        "exclude_positive",
        "gbce_calibration",
    ]

    for name in extras:
        assert signature.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name


@pytest.mark.parametrize(
    ("arguments", "error", "name"),
    [
        ({"loss": "warp"}, ValueError, "loss"),
        ({"representation": "rnn"}, ValueError, "representation"),
        ({"representation": 3}, TypeError, "representation"),
        ({"embedding_dim": 0}, ValueError, "embedding_dim"),
        ({"embedding_dim": 8.5}, TypeError, "embedding_dim"),
        ({"n_iter": 0}, ValueError, "n_iter"),
        ({"batch_size": -1}, ValueError, "batch_size"),
        ({"l2": -0.1}, ValueError, "l2"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"optimizer_func": "adam"}, TypeError, "optimizer_func"),
        ({"scheduler_func": 0.5}, TypeError, "scheduler_func"),
        ({"random_state": "seed"}, TypeError, "random_state"),
        ({"random_state": -1}, ValueError, "random_state"),
        ({"num_negative_samples": 0}, ValueError, "num_negative_samples"),
        ({"device": "gpu-please"}, ValueError, "device"),
        ({"representation_kwargs": [1]}, TypeError, "representation_kwargs"),
        ({"negative_sampling": "hard"}, ValueError, "negative_sampling"),
        ({"popularity_alpha": -1.0}, ValueError, "popularity_alpha"),
        ({"gbce_calibration": 1.5}, ValueError, "gbce_calibration"),
    ],
)
def test_bad_constructor_argument_is_refused_by_name(arguments, error, name):
    with pytest.raises(error, match=name):
        ImplicitSequenceModel(**arguments)


def test_bad_value_is_shown_in_the_error():
    with pytest.raises(ValueError, match="-3"):
        ImplicitSequenceModel(n_iter=-3)


@no_cuda
def test_use_cuda_without_cuda_raises_a_clear_runtime_error():
    with pytest.raises(RuntimeError, match=r"use_cuda=True.*torch\.cuda\.is_available"):
        ImplicitSequenceModel(use_cuda=True)


@no_cuda
def test_a_cuda_device_without_cuda_raises_a_runtime_error():
    with pytest.raises(RuntimeError, match="CUDA"):
        ImplicitSequenceModel(device="cuda:0")


def test_unknown_representation_kwargs_are_refused_at_fit(small_sequences):
    model = small_model(representation="cnn", representation_kwargs={"kernel": 5})

    with pytest.raises(TypeError, match="representation_kwargs"):
        model.fit(small_sequences)


def test_representation_kwargs_reach_the_network(small_sequences):
    model = small_model(
        representation="cnn", representation_kwargs={"kernel_width": 4, "num_layers": 2}
    ).fit(small_sequences)

    assert model.network.kernel_widths == [4, 4]


# --- fit -----------------------------------------------------------------------------


def test_fit_with_interactions_asks_for_to_sequence(small_log):
    with pytest.raises(TypeError, match=r"to_sequence\(\)"):
        small_model().fit(small_log)


def test_fit_refuses_sequences_of_padding_only():
    with pytest.raises(ValueError, match="padding"):
        small_model().fit(SequenceInteractions(np.zeros((4, 5)), num_items=10))


def test_fit_returns_the_model(small_sequences):
    model = small_model()

    assert model.fit(small_sequences) is model


def test_fit_refuses_a_larger_catalogue_than_it_was_fitted_with(small_sequences):
    model = small_model().fit(small_sequences)
    larger = SequenceInteractions(small_sequences.sequences, num_items=NUM_ITEMS + 5)

    with pytest.raises(ValueError, match=str(NUM_ITEMS + 5)):
        model.fit(larger)


# One case per loss, spreading the networks (dropout in the transformer).
SEED_CASES = [
    ("pointwise", "pooling"),
    ("bpr", "cnn"),
    ("hinge", "lstm"),
    ("adaptive_hinge", "mixture"),
    ("bce", "gru"),
    ("gbce", "transformer"),
    ("sampled_softmax", "lstm"),
    ("softmax", "transformer"),
]


@pytest.mark.parametrize(("loss", "representation"), SEED_CASES)
def test_same_int_seed_gives_identical_parameters(
    small_sequences, loss, representation
):
    first = small_model(loss=loss, representation=representation, random_state=3)
    second = small_model(loss=loss, representation=representation, random_state=3)

    first.fit(small_sequences)
    second.fit(small_sequences)

    assert_same_parameters(parameters(first), parameters(second))
    assert first.loss_history_ == second.loss_history_


def test_different_seeds_give_different_parameters(small_sequences):
    first = small_model(random_state=1).fit(small_sequences)
    second = small_model(random_state=2).fit(small_sequences)

    assert differs(parameters(first), parameters(second))


@pytest.mark.parametrize(
    "make_state",
    [lambda: np.random.RandomState(5), lambda: np.random.default_rng(5)],
    ids=["RandomState", "Generator"],
)
def test_numpy_generators_as_random_state_are_reproducible(small_sequences, make_state):
    first = small_model(random_state=make_state(), negative_sampling="popularity")
    second = small_model(random_state=make_state(), negative_sampling="popularity")

    first.fit(small_sequences)
    second.fit(small_sequences)

    assert_same_parameters(parameters(first), parameters(second))


@pytest.mark.parametrize("random_state", [0, None])
def test_fit_leaves_the_global_generators_alone(small_sequences, random_state):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global state)

    small_model(representation="transformer", random_state=random_state).fit(
        small_sequences
    )

    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_fitting_again_resumes_training(small_sequences):
    model = small_model(n_iter=2).fit(small_sequences)
    network, before = model.network, parameters(model)

    model.fit(small_sequences)

    assert model.network is network
    assert model.epochs_completed_ == 4
    assert len(model.loss_history_) == 4
    assert differs(before, parameters(model))


def test_fit_epochs_overrides_n_iter(small_sequences):
    model = small_model(n_iter=5).fit(small_sequences, epochs=2)

    assert model.epochs_completed_ == 2


def test_training_in_two_calls_equals_training_in_one(small_sequences):
    once = small_model(n_iter=2, loss="bce", representation="gru")
    twice = small_model(n_iter=1, loss="bce", representation="gru")

    once.fit(small_sequences)
    twice.fit(small_sequences)
    twice.fit(small_sequences)

    assert_same_parameters(parameters(once), parameters(twice))


def test_loss_history_has_one_finite_positive_mean_per_epoch(small_sequences):
    model = small_model(n_iter=3).fit(small_sequences)

    assert len(model.loss_history_) == 3
    assert all(math.isfinite(loss) and loss > 0 for loss in model.loss_history_)


def test_callback_receives_epoch_time_and_the_recorded_loss(small_sequences):
    calls = []
    model = small_model(n_iter=2)

    model.fit(small_sequences, callback=lambda *arguments: calls.append(arguments))
    model.fit(small_sequences, epochs=1, callback=lambda *a: calls.append(a))

    assert [epoch for epoch, _, _ in calls] == [0, 1, 2]
    assert all(elapsed >= 0 for _, elapsed, _ in calls)
    assert [loss for _, _, loss in calls] == model.loss_history_


@pytest.mark.parametrize("representation", ["pooling", "cnn"])
def test_sparse_training_uses_sparse_and_dense_adam_and_lowers_the_loss(
    small_sequences, representation
):
    model = small_model(sparse=True, representation=representation, n_iter=5)

    model.fit(small_sequences)

    optimizer = model._optimizer
    assert isinstance(optimizer, SparseDenseAdam)
    expected_parts = {"sparse"} if representation == "pooling" else {"sparse", "dense"}
    assert set(optimizer.optimizers) == expected_parts
    assert isinstance(optimizer.optimizers["sparse"], torch.optim.SparseAdam)
    assert model.network.item_embeddings.sparse
    assert model.loss_history_[-1] < model.loss_history_[0]


def test_sparse_is_refused_with_the_full_softmax():
    with pytest.raises(ValueError, match="sparse=True cannot be used with loss="):
        ImplicitSequenceModel(loss="softmax", sparse=True)


def test_sparse_training_gives_the_repeat_offset_to_dense_adam(small_sequences):
    model = small_model(sparse=True, repeat_offset=True, n_iter=2)

    model.fit(small_sequences)

    dense = model._optimizer.optimizers["dense"].param_groups[0]["params"]
    assert any(parameter is model.network.repeat_offset for parameter in dense)


def test_sparse_with_l2_warns_that_embeddings_are_not_decayed(small_sequences, caplog):
    with caplog.at_level(logging.WARNING, logger="spotlight.sequence.implicit"):
        small_model(sparse=True, representation="cnn", l2=1e-4).fit(small_sequences)

    assert "dense parameters only" in caplog.text


class PoisonedSGD(torch.optim.SGD):
    """Plain SGD that fills the parameters with NaN from a given step on."""

    def __init__(self, params, poison_at: int):
        super().__init__(params, lr=0.01)
        self.steps, self.poison_at = 0, poison_at

    def step(self, closure=None):
        super().step(closure)
        self.steps += 1
        if self.steps >= self.poison_at:
            with torch.no_grad():
                for group in self.param_groups:
                    for parameter in group["params"]:
                        parameter.fill_(float("nan"))


def test_nan_parameters_raise_divergence_and_restore_the_epoch_start(
    small_sequences,
):
    # 70 rows in batches of 32: three steps per epoch; poisoned in epoch 1
    model = small_model(optimizer_func=lambda params: PoisonedSGD(params, 4))
    model.fit(small_sequences)
    after_first_epoch = parameters(model)

    with pytest.raises(DivergenceError, match=r"epoch 1.*learning_rate"):
        model.fit(small_sequences)

    assert_same_parameters(parameters(model), after_first_epoch)
    assert model.epochs_completed_ == 1
    assert len(model.loss_history_) == 1


def test_a_huge_learning_rate_raises_divergence_error(small_sequences):
    model = small_model(learning_rate=1e20, n_iter=3)

    with pytest.raises(DivergenceError, match="lower learning_rate") as error:
        model.fit(small_sequences)

    assert isinstance(error.value, SpotlightError)
    assert isinstance(error.value, ValueError)
    predictions = model.predict(small_sequences.sequences[0])
    assert np.isfinite(predictions).all()


def test_a_mean_loss_of_exactly_zero_is_reported_as_degenerate():
    # As in Spotlight, an epoch whose mean loss is exactly 0 stops training:
    # with sampled negatives it means the model can no longer learn.
    # Every row is 1..8 and the positive is never a negative, so a CNN can
    # score every target a margin of 1 above every negative: hinge loss 0.
    # Measured: the loss is exactly 0.0 in epoch 11 (seed 0).
    rows = SequenceInteractions(np.tile(np.arange(1, 9), (64, 1)), num_items=10)
    model = ImplicitSequenceModel(
        loss="hinge",
        representation="cnn",
        embedding_dim=16,
        n_iter=15,
        learning_rate=0.05,
        exclude_positive=True,
        random_state=0,
    )

    with pytest.raises(DivergenceError, match="exactly 0") as error:
        model.fit(rows)

    assert "epoch 11" in str(error.value)
    assert model.epochs_completed_ == 11


def test_verbose_fit_logs_each_epochs_loss(small_sequences, caplog):
    with caplog.at_level(logging.INFO, logger="spotlight.sequence.implicit"):
        model = small_model(n_iter=2).fit(small_sequences, verbose=True)

    for epoch, loss in enumerate(model.loss_history_):
        assert f"epoch {epoch}: loss {loss:.5f}" in caplog.text


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="Ctrl-C is only handled in the main thread",
)
def test_ctrl_c_stops_after_the_current_batch_and_keeps_the_model(small_sequences):
    model = small_model(n_iter=5)

    model.fit(small_sequences, callback=lambda *_: signal.raise_signal(signal.SIGINT))

    assert model.interrupted_
    assert model.epochs_completed_ == 1
    assert np.isfinite(model.predict(small_sequences.sequences[0])).all()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="Ctrl-C is only handled in the main thread",
)
def test_ctrl_c_within_an_epoch_does_not_count_or_checkpoint_it(
    small_sequences, tmp_path
):
    # 70 rows in batches of 32: three batches; Ctrl-C during the second. The
    # item embeddings run twice a batch (representations, then scoring).
    torch.manual_seed(0)
    network = PoolNet(NUM_ITEMS, 8)
    before = {name: value.clone() for name, value in network.state_dict().items()}
    calls = []

    def interrupt_in_second_batch(*_):
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)

    network.item_embeddings.register_forward_hook(interrupt_in_second_batch)
    model = small_model(representation=network, n_iter=3)
    path = tmp_path / "checkpoint.pt"

    model.fit(small_sequences, checkpoint_path=path)

    assert model.interrupted_
    assert model.epochs_completed_ == 0
    assert model.loss_history_ == []
    assert not path.exists()
    assert differs(before, network.state_dict()), "the model keeps what it learned"


# --- The representation as a module --------------------------------------------


def test_a_network_instance_is_trained_as_given(small_sequences):
    torch.manual_seed(0)
    network = CNNNet(NUM_ITEMS, embedding_dim=8, kernel_width=5)
    model = small_model(representation=network, n_iter=5)

    model.fit(small_sequences)

    assert model.network is network
    assert network.cnn_layers[0].kernel_size == (5,)
    assert model.loss_history_[-1] < model.loss_history_[0]


def test_a_network_instance_with_too_few_items_is_refused(small_sequences):
    model = small_model(representation=PoolNet(NUM_ITEMS - 5, 8))

    with pytest.raises(ValueError, match=str(NUM_ITEMS - 5)):
        model.fit(small_sequences)


class SpotlightStylePool(nn.Module):
    """A network written for Spotlight: running mean, embedding dim before
    sequence length, ``forward`` scoring targets laid out like the steps."""

    def __init__(self, num_items: int, embedding_dim: int = 8) -> None:
        super().__init__()
        self.item_embeddings = nn.Embedding(num_items, embedding_dim, padding_idx=0)
        self.item_biases = nn.Embedding(num_items, 1, padding_idx=0)
        nn.init.normal_(self.item_embeddings.weight, std=1.0 / embedding_dim)
        nn.init.zeros_(self.item_biases.weight)

    def user_representation(self, item_sequences):
        embeddings = self.item_embeddings(item_sequences).permute(0, 2, 1)
        embeddings = F.pad(embeddings, (1, 0))  # (batch, dim, length + 1)
        steps = torch.arange(1, embeddings.shape[-1] + 1, dtype=embeddings.dtype)
        user = embeddings.cumsum(-1) / steps
        return user[:, :, :-1], user[:, :, -1]

    def forward(self, user_representations, targets):
        target_embedding = self.item_embeddings(targets).permute(0, 2, 1)
        target_bias = self.item_biases(targets).squeeze(-1)
        return target_bias + (user_representations * target_embedding).sum(1)


@pytest.mark.parametrize("loss", ["bpr", "gbce", "sampled_softmax", "softmax"])
def test_a_spotlight_style_module_trains_through_the_adapter(small_sequences, loss):
    torch.manual_seed(0)
    module = SpotlightStylePool(NUM_ITEMS)
    model = small_model(representation=module, loss=loss, n_iter=6)

    model.fit(small_sequences)

    sequence = small_sequences.sequences[:1]
    with torch.no_grad():
        _, final = module.user_representation(torch.from_numpy(sequence).long())
        items = torch.arange(NUM_ITEMS).unsqueeze(0)
        expected = module(final.unsqueeze(-1).expand(-1, -1, NUM_ITEMS), items)
    assert model.loss_history_[-1] < model.loss_history_[0]
    assert np.allclose(model.predict(sequence[0]), expected[0].numpy(), atol=ATOL)


def test_a_module_without_user_representation_is_refused(small_sequences):
    model = small_model(representation=nn.Linear(3, 3))

    with pytest.raises(TypeError, match="user_representation"):
        model.fit(small_sequences)


# --- predict -------------------------------------------------------------------


def test_predict_before_fit_raises_not_fitted_error():
    model = small_model()

    for call in (
        lambda: model.predict([1, 2, 3]),
        lambda: model.recommend([1, 2, 3]),
        lambda: model.save("unused.pt"),
        lambda: model.network,
    ):
        with pytest.raises(NotFittedError, match="fit"):
            call()


def test_predict_one_sequence_gives_one_score_per_item(fitted, rows):
    scores = fitted.predict(rows[0])

    assert scores.shape == (NUM_ITEMS,)
    assert scores.dtype == np.float32


def test_predict_a_one_row_batch_gives_one_score_per_item(fitted, rows):
    assert fitted.predict(rows[:1]).shape == (NUM_ITEMS,)


def test_predict_a_batch_gives_one_row_of_scores_per_sequence(fitted, rows):
    assert fitted.predict(rows).shape == (7, NUM_ITEMS)


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_batch_predict_equals_row_by_row_predict(small_sequences, representation):
    model = small_model(representation=representation).fit(small_sequences)
    rows = small_sequences.sequences[:6]

    batch = model.predict(rows)
    single = np.stack([model.predict(row) for row in rows])

    assert np.allclose(batch, single, atol=ATOL)
    assert np.array_equal(batch[:, 0], np.zeros(6)), "padding scores 0"


@pytest.mark.parametrize("representation", REPRESENTATIONS)
@pytest.mark.parametrize("length", [1, 3, 25])
def test_predict_accepts_sequences_shorter_or_longer_than_in_training(
    small_sequences, representation, length
):
    model = small_model(representation=representation).fit(small_sequences)
    sequences = np.random.default_rng(length).integers(1, NUM_ITEMS, (2, length))

    scores = model.predict(sequences)

    assert scores.shape == (2, NUM_ITEMS)
    assert np.isfinite(scores).all()


def test_predict_item_ids_select_columns_in_any_layout(fitted, rows):
    everything = fitted.predict(rows[0])
    items = np.array([5, 1, 29, 5])

    for layout in (items, items.reshape(-1, 1), items.tolist(), torch.tensor(items)):
        assert np.allclose(
            fitted.predict(rows[0], layout), everything[items], atol=ATOL
        )
    assert np.allclose(fitted.predict(rows, items), fitted.predict(rows)[:, items])


def test_predict_accepts_tensors_and_sequence_interactions(fitted, small_sequences):
    expected = fitted.predict(small_sequences.sequences)

    assert np.array_equal(fitted.predict(small_sequences), expected)
    assert np.array_equal(
        fitted.predict(torch.from_numpy(small_sequences.sequences)), expected
    )


@pytest.mark.parametrize(
    ("sequences", "item_ids", "shown"),
    [
        ([1, 2, NUM_ITEMS + 7], None, str(NUM_ITEMS + 7)),
        ([1, 2, -4], None, "-4"),
        ([1, 2, 3], [4, NUM_ITEMS], str(NUM_ITEMS)),
        ([1, 2, 3], [[4], [1000]], "1000"),
    ],
)
def test_predict_refuses_an_item_id_outside_the_catalogue(
    fitted, sequences, item_ids, shown
):
    with pytest.raises(ValueError, match=shown):
        fitted.predict(sequences, item_ids)


@pytest.mark.parametrize("sequences", [[1.5, 2.0], [["a", "b"]], [[[1, 2]]], []])
def test_predict_refuses_malformed_sequences(fitted, sequences):
    with pytest.raises(ValueError, match="sequences"):
        fitted.predict(sequences)


@pytest.mark.parametrize("training", [True, False])
def test_predict_leaves_the_network_in_the_mode_it_found(fitted, rows, training):
    network = fitted.network
    network.train(training)
    try:
        fitted.predict(rows)
        fitted.recommend(rows, k=3)
        assert network.training is training
    finally:
        network.eval()


def test_predict_runs_in_evaluation_mode_without_autograd(fitted, rows):
    network = fitted.network
    seen = []
    hook = network.item_embeddings.register_forward_hook(
        lambda *_: seen.append((torch.is_grad_enabled(), network.training))
    )
    network.train()
    try:
        fitted.predict(rows)
    finally:
        hook.remove()
        network.eval()

    assert seen == [(False, False)]


@pytest.mark.parametrize("representation", ["pooling", "transformer"])
def test_length_bucketing_predicts_every_row_as_on_its_own(
    small_sequences, representation
):
    model = small_model(representation=representation, length_bucketing=True)
    model.fit(small_sequences)
    rows = small_sequences.sequences[-12:]  # windows of several lengths
    assert len(set((rows != 0).sum(axis=1).tolist())) > 2

    batch = model.predict(rows)
    single = np.stack([model.predict(row) for row in rows])
    items, _ = model.recommend(rows, k=3)

    assert np.allclose(batch, single, atol=ATOL)
    for row, row_items in zip(rows, items, strict=True):
        assert row_items.tolist() == model.recommend(row, k=3)[0].tolist()


@pytest.mark.parametrize(
    ("representation", "trimmed"),
    [("pooling", True), ("transformer", True), ("lstm", False)],
)
def test_prediction_drops_padding_only_for_networks_that_ignore_it(
    small_sequences, representation, trimmed, monkeypatch
):
    model = small_model(representation=representation).fit(small_sequences)
    rows = np.pad(small_sequences.sequences[-12:], ((0, 0), (5, 0)))  # more padding
    longest = int((rows != 0).sum(axis=1).max())
    network = model.network
    with torch.no_grad():
        expected = network.eval().score_shared(
            network.representations(torch.from_numpy(rows))[:, -1]
        )
    widths = []
    final = network.final_representation
    monkeypatch.setattr(
        network,
        "final_representation",
        lambda sequences: widths.append(sequences.shape[1]) or final(sequences),
    )

    scores = model.predict(rows)

    assert max(widths) == (longest if trimmed else rows.shape[1])
    assert np.allclose(scores, expected.numpy(), atol=ATOL)


def test_length_bucketing_trains(small_sequences):
    model = small_model(length_bucketing=True, n_iter=5).fit(small_sequences)

    assert model.loss_history_[-1] < model.loss_history_[0]


# --- recommend -----------------------------------------------------------------


def test_recommend_returns_the_top_k_unseen_items_best_first(fitted, rows):
    items, scores = fitted.recommend(rows[0], k=5)

    expected = fitted.predict(rows[0]).astype(np.float64)
    expected[0] = -np.inf
    expected[rows[0]] = -np.inf
    assert items.shape == scores.shape == (5,)
    assert items.tolist() == np.argsort(-expected, kind="stable")[:5].tolist()
    assert np.allclose(scores, expected[items], atol=ATOL)
    assert (np.diff(scores) <= 0).all()


def test_cnn_predicts_from_its_receptive_field_and_excludes_every_seen_item(
    small_sequences,
):
    model = small_model(representation="cnn").fit(small_sequences)
    sequence = np.arange(1, 21)  # far longer than the receptive field of 3

    with torch.no_grad():
        network = model.network.eval()
        final = network.representations(torch.from_numpy(sequence)[None])[:, -1]
        expected = network.score_shared(final)[0].numpy()
    items, _ = model.recommend(sequence, k=5)

    assert np.allclose(model.predict(sequence), expected, atol=ATOL)
    assert set(items.tolist()).isdisjoint(sequence.tolist())


def test_recommend_a_batch_matches_single_recommendations(fitted, rows):
    items, scores = fitted.recommend(rows, k=4)

    assert items.shape == scores.shape == (7, 4)
    for row, row_items in zip(rows, items, strict=True):
        assert row_items.tolist() == fitted.recommend(row, k=4)[0].tolist()


def test_recommend_without_exclusion_ranks_every_real_item(fitted, rows):
    items, scores = fitted.recommend(rows[0], k=NUM_ITEMS - 1, exclude_seen=False)

    assert sorted(items.tolist()) == list(range(1, NUM_ITEMS))
    assert np.isfinite(scores).all()


def test_recommend_marks_missing_items_with_minus_infinity(fitted):
    sequence = np.arange(1, 21)  # 20 of the 29 real items seen

    items, scores = fitted.recommend(sequence, k=NUM_ITEMS - 1)

    assert np.isfinite(scores[:9]).all()
    assert set(items[:9].tolist()) == set(range(21, NUM_ITEMS))
    assert np.isneginf(scores[9:]).all()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sequence=st.lists(st.integers(0, NUM_ITEMS - 1), min_size=1, max_size=12),
    k=st.integers(1, 10),
)
def test_recommend_never_returns_seen_or_padding_items(fitted, sequence, k):
    unseen = set(range(1, NUM_ITEMS)) - set(sequence)
    k = min(k, len(unseen))

    items, scores = fitted.recommend(sequence, k=k)

    assert not set(items.tolist()) & (set(sequence) | {0})
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("k", [0, NUM_ITEMS])
def test_recommend_refuses_k_outside_the_real_items(fitted, rows, k):
    with pytest.raises(ValueError, match="k must"):
        fitted.recommend(rows[0], k=k)


# --- The training objective ----------------------------------------------------


class RecordingSampler(UniformSampler):
    """A uniform sampler that records what it was asked for and returned."""

    def __init__(self, num_items: int) -> None:
        super().__init__(num_items)
        self.calls = []

    def sample(self, shape, device="cpu", exclude=None):
        negatives = super().sample(shape, device, exclude)
        self.calls.append((tuple(shape), exclude, negatives))
        return negatives


class FixedSampler(UniformSampler):
    """Returns the given negatives, whatever the shape asked for."""

    def __init__(self, num_items: int, negatives: torch.Tensor) -> None:
        super().__init__(num_items)
        self.negatives = negatives

    def sample(self, shape, device="cpu", exclude=None):
        assert tuple(shape) == tuple(self.negatives.shape)
        return self.negatives


BATCH = torch.tensor([[0, 0, 3, 5, 9], [1, 2, 3, 4, 5], [0, 7, 7, 8, 2]])
POSITIONS = int((BATCH != 0).sum())  # 12 real positions


def objective_value(
    net, loss, sampler, sequences, num_negative_samples=4, exclude_positive=False
):
    """The training objective's loss of ``sequences`` (10 item ids, t = 0.75)."""
    objective = Objective(
        net, loss, 10, num_negative_samples, sampler, exclude_positive, 0.75
    )
    return objective(sequences)


@pytest.mark.parametrize(
    ("loss", "shape"),
    [
        ("pointwise", (POSITIONS, 1)),
        ("bpr", (POSITIONS, 1)),
        ("hinge", (POSITIONS, 1)),
        ("adaptive_hinge", (POSITIONS, 4)),
        ("bce", (POSITIONS, 4)),
        ("gbce", (3, 4)),
        ("sampled_softmax", (4,)),
    ],
)
def test_negatives_are_drawn_per_position_sequence_or_batch(loss, shape):
    sampler = RecordingSampler(10)

    with torch.random.fork_rng():
        torch.manual_seed(0)
        objective_value(PoolNet(10, 4), loss, sampler, BATCH)

    assert [call[0] for call in sampler.calls] == [shape]


def test_softmax_objective_draws_no_negatives():
    sampler = RecordingSampler(10)

    objective_value(PoolNet(10, 4), "softmax", sampler, BATCH)

    assert sampler.calls == []


@pytest.mark.parametrize("loss", ["bpr", "adaptive_hinge", "bce"])
def test_exclude_positive_keeps_each_target_out_of_its_negatives(loss):
    sampler = RecordingSampler(10)

    with torch.random.fork_rng():
        torch.manual_seed(0)
        objective_value(PoolNet(10, 4), loss, sampler, BATCH, 50, exclude_positive=True)

    _, exclude, negatives = sampler.calls[0]
    targets = BATCH[BATCH != 0].unsqueeze(-1)
    assert torch.equal(exclude, targets)
    assert (negatives != targets).all()


def test_gbce_objective_scores_each_position_against_its_rows_negatives():
    torch.manual_seed(0)
    net = PoolNet(10, 4)
    with torch.no_grad():
        net.item_biases.weight[1:].uniform_(-1, 1)
    negatives = torch.tensor([[3, 6, 1, 2], [9, 8, 7, 6], [5, 5, 4, 1]])
    beta = losses.gbce_beta(4, 10, 0.75)

    value = objective_value(net, "gbce", FixedSampler(10, negatives), BATCH)

    representations = net.representations(BATCH)
    terms = []
    for row in range(3):
        for position in range(5):
            target = int(BATCH[row, position])
            if target == 0:
                continue
            step = representations[row, position]
            positive = net.score(step, torch.tensor([target]))[0]
            kept = [n for n in negatives[row].tolist() if n != target]
            negative = net.score(step, torch.tensor(kept))
            terms.append(beta * F.softplus(-positive) + F.softplus(negative).sum())
    assert value.item() == pytest.approx(torch.stack(terms).mean().item(), abs=ATOL)


def test_sampled_softmax_objective_corrects_by_the_sampling_probability():
    torch.manual_seed(0)
    net = PoolNet(10, 4)
    negatives = torch.tensor([1, 9, 9, 3])  # 3 is also a target: masked there

    class FixedPopularity(PopularitySampler):
        def sample(self, shape, device="cpu", exclude=None):
            return negatives

    sampler = FixedPopularity(np.arange(10) * 10, alpha=1.0)
    value = objective_value(net, "sampled_softmax", sampler, BATCH)

    steps = net.representations(BATCH)[:, :-1][BATCH != 0]
    targets = BATCH[BATCH != 0]
    log_q = sampler.log_probabilities(torch.arange(10))
    terms = []
    for step, target in zip(steps, targets.tolist(), strict=True):
        logits = [net.score(step, torch.tensor([target]))[0] - log_q[target]]
        logits += [
            net.score(step, torch.tensor([n]))[0] - log_q[n]
            for n in negatives.tolist()
            if n != target
        ]
        terms.append(torch.logsumexp(torch.stack(logits), 0) - logits[0])
    assert value.item() == pytest.approx(torch.stack(terms).mean().item(), abs=ATOL)


def test_softmax_objective_is_cross_entropy_over_the_real_items():
    torch.manual_seed(0)
    net = PoolNet(10, 4)

    value = objective_value(net, "softmax", RecordingSampler(10), BATCH)

    steps = net.representations(BATCH)[:, :-1][BATCH != 0]
    logits = net.score_shared(steps)[:, 1:]
    expected = F.cross_entropy(logits, BATCH[BATCH != 0] - 1)
    assert value.item() == pytest.approx(expected.item(), abs=ATOL)


@pytest.mark.parametrize("loss", LOSSES)
def test_padding_positions_do_not_count_in_the_objective(loss):
    torch.manual_seed(0)
    net = PoolNet(10, 4)  # pooling ignores padding, so the steps are equal
    padded = torch.tensor([[0, 0, 0, 4, 2, 7]])
    short = torch.tensor([[4, 2, 7]])

    with torch.random.fork_rng():
        torch.manual_seed(1)
        with_padding = objective_value(net, loss, UniformSampler(10), padded)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        without = objective_value(net, loss, UniformSampler(10), short)

    assert with_padding.item() == pytest.approx(without.item(), abs=ATOL)


@pytest.mark.parametrize(
    "arguments",
    [{"negative_sampling": "popularity"}, {"exclude_positive": True}],
    ids=["popularity", "exclude-positive"],
)
def test_sampling_options_train(small_sequences, arguments):
    model = small_model(loss="bce", n_iter=5, **arguments).fit(small_sequences)

    assert model.loss_history_[-1] < model.loss_history_[0]


def test_popularity_sampling_counts_the_training_items(small_sequences):
    model = small_model(negative_sampling="popularity", popularity_alpha=0.5)

    model.fit(small_sequences)

    sampler = model._objective.sampler
    sequences = small_sequences.sequences
    expected = np.bincount(sequences[sequences != 0], minlength=NUM_ITEMS)
    assert isinstance(sampler, PopularitySampler)
    assert sampler.alpha == 0.5
    assert np.array_equal(sampler.item_counts, expected)


# --- save and load -------------------------------------------------------------


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_loaded_model_predicts_the_same(small_sequences, tmp_path, representation):
    model = small_model(representation=representation, n_iter=2).fit(small_sequences)
    path = tmp_path / "model.pt"

    model.save(path)
    loaded = ImplicitSequenceModel.load(path)

    rows = small_sequences.sequences[:5]
    assert np.array_equal(loaded.predict(rows), model.predict(rows))
    assert loaded.epochs_completed_ == 2
    assert loaded.loss_history_ == model.loss_history_
    assert repr(loaded) == repr(model)


def test_a_model_built_on_a_network_instance_saves_and_loads(small_sequences, tmp_path):
    torch.manual_seed(0)
    network = CNNNet(NUM_ITEMS, embedding_dim=8, kernel_width=5, dilation=2)
    model = small_model(representation=network).fit(small_sequences)
    path = tmp_path / "model.pt"

    model.save(path)
    loaded = ImplicitSequenceModel.load(path)

    rows = small_sequences.sequences[:5]
    assert loaded.network.kernel_widths == [5]
    assert loaded.network.dilations == [2]
    assert np.array_equal(loaded.predict(rows), model.predict(rows))


@pytest.mark.parametrize(
    "arguments",
    [
        {"loss": "bpr"},
        {"loss": "gbce", "representation": "transformer"},
        {
            "loss": "sampled_softmax",
            "representation": "lstm",
            "negative_sampling": "popularity",
        },
        {"loss": "bce", "representation": "cnn", "sparse": True},
        {"loss": "bce", "random_state": np.random.default_rng(4)},
    ],
    ids=["bpr", "transformer-gbce", "lstm-popularity", "sparse-cnn", "generator"],
)
def test_a_checkpoint_resumes_training_exactly(small_sequences, tmp_path, arguments):
    original = small_model(n_iter=2, **arguments).fit(small_sequences)
    path = tmp_path / "checkpoint.pt"
    original.save(path, include_training_state=True)
    copy = ImplicitSequenceModel.load(path)

    original.fit(small_sequences, epochs=1)
    copy.fit(small_sequences, epochs=1)

    assert_same_parameters(parameters(copy), parameters(original))
    assert copy.loss_history_ == original.loss_history_
    assert copy.epochs_completed_ == 3


def test_checkpoint_path_is_written_after_every_epoch(small_sequences, tmp_path):
    path = tmp_path / "run" / "checkpoint.pt"
    epochs_on_disk = []

    small_model(n_iter=2).fit(
        small_sequences,
        checkpoint_path=path,
        callback=lambda *_: epochs_on_disk.append(
            ImplicitSequenceModel.load(path).epochs_completed_
        ),
    )

    assert epochs_on_disk == [1, 2]


def test_checkpoint_with_optimizer_func_is_refused(small_sequences, tmp_path):
    model = small_model(optimizer_func=lambda params: torch.optim.SGD(params, lr=0.1))
    model.fit(small_sequences)

    with pytest.raises(NotImplementedError, match=r"torch\.save"):
        model.save(tmp_path / "model.pt", include_training_state=True)


def test_checkpoint_with_scheduler_func_is_refused(small_sequences, tmp_path):
    model = small_model(scheduler_func=lambda opt: StepLR(opt, step_size=1))
    model.fit(small_sequences)

    with pytest.raises(NotImplementedError, match="scheduler_func"):
        model.save(tmp_path / "model.pt", include_training_state=True)


def test_the_scheduler_steps_once_per_minibatch_over_all_fits(small_sequences):
    model = small_model(
        learning_rate=0.01, scheduler_func=lambda opt: StepLR(opt, 1, gamma=0.5)
    )
    batches = -(-len(small_sequences.sequences) // 32)

    model.fit(small_sequences)
    model.fit(small_sequences)

    (group,) = model._optimizer.param_groups
    assert group["lr"] == pytest.approx(0.01 * 0.5 ** (2 * batches), rel=1e-12)


def test_a_schedule_at_zero_leaves_the_parameters_unchanged(small_sequences):
    model = small_model(scheduler_func=lambda opt: LambdaLR(opt, lambda step: 0.0))
    model.fit(small_sequences, epochs=1)
    before = parameters(model)

    model.fit(small_sequences, epochs=2)

    for name, tensor in parameters(model).items():
        assert torch.equal(tensor, before[name]), name


def test_the_id_mapping_survives_save_and_load(tmp_path):
    users = np.repeat(["ann", "bob", "cy"], 8)
    items = np.array([f"song-{i % 6}" for i in range(24)])
    mapping, user_ids, item_ids = IdMapping.from_values(users, items)
    log = Interactions(
        user_ids,
        item_ids,
        timestamps=np.arange(24),
        num_items=mapping.num_items,
        id_mapping=mapping,
    )
    model = small_model().fit(log.to_sequence(max_sequence_length=5))
    path = tmp_path / "model.pt"

    model.save(path)
    loaded = ImplicitSequenceModel.load(path)

    recommended, _ = loaded.recommend(np.array([1, 2]), k=2)
    assert loaded.id_mapping_ == mapping
    assert set(loaded.id_mapping_.decode_items(recommended).tolist()) <= set(items)


def test_metadata_is_saved_with_the_model(fitted, tmp_path):
    path = tmp_path / "model.pt"
    metadata = {"data": "synthetic", "max_sequence_length": 10, "k": [1, 5.5, None]}

    fitted.save(path, metadata=metadata)

    assert ImplicitSequenceModel.load(path).metadata_ == metadata


def test_metadata_that_is_not_plain_is_refused(fitted, tmp_path):
    with pytest.raises(TypeError, match="metadata"):
        fitted.save(tmp_path / "model.pt", metadata={"when": object()})


def test_model_file_loads_with_torch_weights_only(fitted, tmp_path):
    path = tmp_path / "model.pt"
    fitted.save(path)

    assert isinstance(torch.load(path, weights_only=True), dict)


def damaged_files(original: bytes) -> dict[str, bytes]:
    middle = len(original) // 2
    flipped = bytearray(original)
    flipped[middle] ^= 0xFF
    return {
        "truncated": original[: len(original) // 2],
        "flipped-byte": bytes(flipped),
        "random-bytes": np.random.default_rng(0).bytes(len(original)),
        "empty": b"",
    }


@pytest.mark.parametrize(
    "damage", ["truncated", "flipped-byte", "random-bytes", "empty"]
)
def test_a_damaged_model_file_is_refused_by_name(fitted, tmp_path, damage):
    path = tmp_path / "model.pt"
    fitted.save(path)
    damaged = tmp_path / f"{damage}.pt"
    damaged.write_bytes(damaged_files(path.read_bytes())[damage])

    with pytest.raises(ModelFileError, match=damage):
        ImplicitSequenceModel.load(damaged)


def test_a_foreign_torch_file_is_refused_by_name(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"a": 1}, path)

    with pytest.raises(ModelFileError, match=r"foreign\.pt"):
        ImplicitSequenceModel.load(path)


def test_loading_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ImplicitSequenceModel.load(tmp_path / "nothing.pt")


def test_saving_a_custom_module_is_refused_with_a_hint(small_sequences, tmp_path):
    torch.manual_seed(0)
    model = small_model(representation=SpotlightStylePool(NUM_ITEMS)).fit(
        small_sequences
    )

    with pytest.raises(NotImplementedError, match=r"torch\.save"):
        model.save(tmp_path / "model.pt")


@pytest.mark.parametrize("custom", [False, True], ids=["pooling", "spotlight-module"])
def test_a_pickled_model_keeps_predicting_and_training(
    small_sequences, tmp_path, custom
):
    torch.manual_seed(0)
    representation = SpotlightStylePool(NUM_ITEMS) if custom else "pooling"
    model = small_model(representation=representation).fit(small_sequences)
    path = tmp_path / "pickled.pt"

    torch.save(model, path)
    loaded = torch.load(path, weights_only=False)

    rows = small_sequences.sequences[:4]
    assert np.array_equal(loaded.predict(rows), model.predict(rows))
    loaded.fit(small_sequences)
    model.fit(small_sequences)
    assert_same_parameters(parameters(loaded), parameters(model))


# --- Learning accuracy -----------------------------------------------------------
#
# How the floors were chosen. Every combination was trained with the settings
# below on generate_sequential(num_users=100, num_items=100,
# num_interactions=10000, concentration_parameter=0.001, order=2,
# random_state=s), split by user_based_train_test_split(random_state=s) and cut
# with to_sequence(max_sequence_length=10), for s in 0, 1, 2, 3 (the model's
# random_state was s too; one PyTorch thread). MEASURED_MRR holds the mean test
# MRR of each seed. The floor is 0.75 x the worst seed, but never below
# RANDOM_CEILING: on the near-random data (concentration_parameter=100) the
# same settings gave at most 0.073 over 96 fits (every combination, seeds 0
# and 1), against about 0.05 for a random ranking of 99 items. The test runs
# seed 0 only, to stay within its time budget (about 20 s for the 48 fits).
#
# Settings: Spotlight's defaults learn too little in a few epochs of 4
# batches, so batches are smaller and the rate higher. Two losses need other
# negatives. gbce with 5 negatives per sequence stays at random level for the
# recurrent networks within 5 epochs: its positive term is weighted by
# beta = 0.29 against 5 unit-weight negatives, and the networks sit on the
# plateau where every score is pushed down. With 1 negative (beta = 0.26) it
# learns; with calibration 0 (beta = 1) it learns like bce. The sampled softmax
# shares its negatives across a batch: 5 per batch learn slowly, 50 do not.

ACCURACY_SETTINGS = {"n_iter": 5, "batch_size": 64, "learning_rate": 0.05}
LOSS_SETTINGS = {
    "gbce": {"num_negative_samples": 1},
    "sampled_softmax": {"num_negative_samples": 50},
}
COMBINATION_SETTINGS = {
    # seeds 0-3 with the common settings: 0.090 0.141 0.098 0.122 (too close to
    # random); with these: 0.247 0.191 0.159 0.203
    ("lstm", "pointwise"): {"n_iter": 8, "batch_size": 32},
    # seed 1 with the common settings: 0.112
    ("gru", "bce"): {"n_iter": 6, "learning_rate": 0.03},
}
MEASURED_MRR = {
    ("pooling", "pointwise"): (0.257, 0.133, 0.168, 0.127),
    ("pooling", "bpr"): (0.268, 0.153, 0.176, 0.154),
    ("pooling", "hinge"): (0.253, 0.128, 0.169, 0.138),
    ("pooling", "adaptive_hinge"): (0.277, 0.146, 0.170, 0.139),
    ("pooling", "bce"): (0.273, 0.140, 0.174, 0.144),
    ("pooling", "gbce"): (0.257, 0.142, 0.168, 0.127),
    ("pooling", "sampled_softmax"): (0.273, 0.143, 0.172, 0.145),
    ("pooling", "softmax"): (0.261, 0.132, 0.176, 0.138),
    ("cnn", "pointwise"): (0.317, 0.327, 0.294, 0.285),
    ("cnn", "bpr"): (0.584, 0.542, 0.462, 0.491),
    ("cnn", "hinge"): (0.606, 0.532, 0.477, 0.469),
    ("cnn", "adaptive_hinge"): (0.670, 0.557, 0.599, 0.567),
    ("cnn", "bce"): (0.642, 0.597, 0.533, 0.553),
    ("cnn", "gbce"): (0.587, 0.521, 0.486, 0.484),
    ("cnn", "sampled_softmax"): (0.687, 0.607, 0.573, 0.638),
    ("cnn", "softmax"): (0.713, 0.630, 0.631, 0.649),
    ("lstm", "pointwise"): (0.247, 0.191, 0.159, 0.203),
    ("lstm", "bpr"): (0.414, 0.385, 0.353, 0.404),
    ("lstm", "hinge"): (0.473, 0.479, 0.400, 0.457),
    ("lstm", "adaptive_hinge"): (0.678, 0.615, 0.567, 0.581),
    ("lstm", "bce"): (0.368, 0.383, 0.407, 0.244),
    ("lstm", "gbce"): (0.318, 0.362, 0.297, 0.230),
    ("lstm", "sampled_softmax"): (0.695, 0.605, 0.573, 0.612),
    ("lstm", "softmax"): (0.687, 0.644, 0.595, 0.659),
    ("mixture", "pointwise"): (0.124, 0.144, 0.176, 0.119),
    ("mixture", "bpr"): (0.194, 0.167, 0.128, 0.141),
    ("mixture", "hinge"): (0.440, 0.388, 0.356, 0.402),
    ("mixture", "adaptive_hinge"): (0.581, 0.574, 0.502, 0.512),
    ("mixture", "bce"): (0.416, 0.328, 0.330, 0.358),
    ("mixture", "gbce"): (0.324, 0.304, 0.238, 0.237),
    ("mixture", "sampled_softmax"): (0.614, 0.548, 0.477, 0.547),
    ("mixture", "softmax"): (0.691, 0.600, 0.570, 0.592),
    ("gru", "pointwise"): (0.112, 0.126, 0.137, 0.156),
    ("gru", "bpr"): (0.526, 0.429, 0.329, 0.418),
    ("gru", "hinge"): (0.612, 0.523, 0.470, 0.501),
    ("gru", "adaptive_hinge"): (0.646, 0.587, 0.566, 0.574),
    ("gru", "bce"): (0.455, 0.345, 0.367, 0.406),
    ("gru", "gbce"): (0.341, 0.416, 0.342, 0.280),
    ("gru", "sampled_softmax"): (0.666, 0.623, 0.538, 0.590),
    ("gru", "softmax"): (0.719, 0.635, 0.612, 0.653),
    ("transformer", "pointwise"): (0.524, 0.443, 0.426, 0.398),
    ("transformer", "bpr"): (0.552, 0.456, 0.454, 0.419),
    ("transformer", "hinge"): (0.556, 0.478, 0.447, 0.451),
    ("transformer", "adaptive_hinge"): (0.614, 0.534, 0.495, 0.503),
    ("transformer", "bce"): (0.630, 0.536, 0.501, 0.511),
    ("transformer", "gbce"): (0.566, 0.485, 0.455, 0.401),
    ("transformer", "sampled_softmax"): (0.639, 0.522, 0.524, 0.575),
    ("transformer", "softmax"): (0.659, 0.623, 0.541, 0.607),
}
RANDOM_CEILING = 0.09
# Near-random checks: each network twice and each loss at least once, chosen
# among the lowest floors (20 s for all 48 would exceed the time budget).
NEAR_RANDOM_CASES = [
    ("pooling", "pointwise"),
    ("pooling", "gbce"),
    ("cnn", "pointwise"),
    ("cnn", "sampled_softmax"),
    ("lstm", "pointwise"),
    ("lstm", "bpr"),
    ("mixture", "pointwise"),
    ("mixture", "bpr"),
    ("gru", "pointwise"),
    ("gru", "bce"),
    ("transformer", "hinge"),
    ("transformer", "softmax"),
    ("mixture", "adaptive_hinge"),
]


def accuracy_floor(representation: str, loss: str) -> float:
    return max(RANDOM_CEILING, 0.75 * min(MEASURED_MRR[representation, loss]))


@pytest.fixture(scope="module")
def synthetic_splits():
    """Train and test sequences of the accuracy data, by concentration."""
    splits = {}
    for concentration in (0.001, 100.0):
        log = generate_sequential(
            num_users=100,
            num_items=100,
            num_interactions=10000,
            concentration_parameter=concentration,
            order=2,
            random_state=0,
        )
        train, test = user_based_train_test_split(log, random_state=0)
        splits[concentration] = (
            train.to_sequence(max_sequence_length=10),
            test.to_sequence(max_sequence_length=10),
        )
    return splits


def mrr_of(representation, loss, train, test) -> float:
    arguments = {
        **ACCURACY_SETTINGS,
        **LOSS_SETTINGS.get(loss, {}),
        **COMBINATION_SETTINGS.get((representation, loss), {}),
    }
    if representation == "transformer":
        arguments["representation_kwargs"] = {"num_layers": 1}
    model = ImplicitSequenceModel(
        loss=loss, representation=representation, random_state=0, **arguments
    )
    return float(sequence_mrr_score(model.fit(train), test).mean())


def test_every_combination_has_a_measured_floor():
    assert set(MEASURED_MRR) == {
        (representation, loss) for representation in REPRESENTATIONS for loss in LOSSES
    }
    assert all(len(values) == 4 for values in MEASURED_MRR.values())


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_every_network_learns_with_every_loss(synthetic_splits, representation, loss):
    mrr = mrr_of(representation, loss, *synthetic_splits[0.001])

    floor = accuracy_floor(representation, loss)
    assert mrr >= floor, f"MRR {mrr:.3f} below the floor {floor:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize(("representation", "loss"), NEAR_RANDOM_CASES)
def test_near_random_data_stays_below_the_floor(synthetic_splits, representation, loss):
    mrr = mrr_of(representation, loss, *synthetic_splits[100.0])

    floor = accuracy_floor(representation, loss)
    assert mrr < floor, f"MRR {mrr:.3f} on near-random data reaches {floor:.3f}"


def test_compile_falls_back_to_uncompiled_training_when_compilation_fails(
    small_sequences, monkeypatch, caplog
):
    def broken_compile(*args, **kwargs):
        raise RuntimeError("no C++ compiler here")

    monkeypatch.setattr(torch, "compile", broken_compile)
    with caplog.at_level(logging.WARNING, logger="spotlight.sequence.implicit"):
        compiled = small_model(n_iter=2, compile=True).fit(small_sequences)
    eager = small_model(n_iter=2).fit(small_sequences)

    assert "torch.compile failed (no C++ compiler here)" in caplog.text
    for name, value in eager.network.state_dict().items():
        assert torch.equal(compiled.network.state_dict()[name], value)


@pytest.mark.parametrize("representation", ["lstm", "transformer"])
def test_mixed_precision_training_follows_float32_training(
    small_sequences, representation
):
    def losses_of(mixed_precision: bool) -> list[float]:
        model = small_model(
            representation=representation,
            loss="softmax",
            mixed_precision=mixed_precision,
        )
        return model.fit(small_sequences, epochs=3).loss_history_

    float32, bfloat16 = losses_of(False), losses_of(True)

    # Same seed, same batches: bfloat16 rounding (0.4% per product) moved the
    # epoch losses by at most 0.07% here; allow 0.5%. Both runs learn.
    assert bfloat16 == pytest.approx(float32, rel=0.005)
    assert bfloat16 != float32
    assert bfloat16[-1] < bfloat16[0]
