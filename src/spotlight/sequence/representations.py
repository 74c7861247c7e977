"""Networks that turn a sequence of items into a representation of the user.

Every network here derives from :class:`SequenceNet` and shares the same
shape of computation:

1. :meth:`SequenceNet.representations` maps sequences ``(batch, length)`` to
   ``(batch, length + 1, representation_dim)``: entry ``t`` has seen only the
   items before position ``t``, and the last entry has seen them all;
2. :meth:`SequenceNet.score` scores candidate items against those
   representations; item embeddings are shared between input and output, plus
   a per-item bias; the padding item ``0`` has a zero embedding and bias.

:meth:`SequenceNet.user_representation` and :meth:`SequenceNet.forward` keep
Spotlight's interface and layout (embedding dimension before sequence
length), so code written against Spotlight's networks keeps working.

The networks: :class:`PoolNet` (running mean of the item embeddings),
:class:`CNNNet` (causal convolutions), :class:`LSTMNet`, :class:`GRUNet`,
:class:`MixtureLSTMNet` (several taste vectors mixed by attention on the
candidate item) and :class:`~spotlight.sequence.transformer.TransformerNet`
(causal self-attention, in :mod:`spotlight.sequence.transformer`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from spotlight._validation import check_choice, check_int
from spotlight.interactions import PADDING_IDX
from spotlight.layers import BloomEmbedding, ScaledEmbedding, ZeroEmbedding

__all__ = [
    "NETWORKS",
    "CNNNet",
    "GRUNet",
    "LSTMNet",
    "MixtureLSTMNet",
    "PoolNet",
    "SequenceNet",
    "TransformerNet",  # noqa: F822 (provided by __getattr__)
    "build_network",
]


class SequenceNet(nn.Module):
    """Base class of the sequence networks: item embeddings, biases, scoring.

    Subclasses implement :meth:`representations`. Scoring is the dot product
    of a representation with the item's embedding plus the item's bias;
    subclasses whose representation is not a single vector override
    :meth:`score`, :meth:`score_per_sequence` and :meth:`score_shared`.

    Parameters
    ----------
    num_items : int
        Number of item ids, padding ``0`` included.
    embedding_dim : int
        Size of the item embeddings.
    item_embedding_layer : torch.nn.Module, optional
        Layer mapping item ids ``(*)`` to embeddings ``(*, embedding_dim)``,
        such as :class:`~spotlight.layers.BloomEmbedding`; by default a
        :class:`~spotlight.layers.ScaledEmbedding`.
    sparse : bool, default False
        Sparse gradients for the default embedding and the biases.

    Attributes
    ----------
    item_embeddings : torch.nn.Module
    item_biases : ZeroEmbedding
    """

    def __init__(
        self,
        num_items: int,
        embedding_dim: int,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.num_items = check_int("num_items", num_items, minimum=2)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
        if item_embedding_layer is None:
            item_embedding_layer = ScaledEmbedding(
                num_items, embedding_dim, padding_idx=PADDING_IDX, sparse=sparse
            )
        elif not isinstance(item_embedding_layer, nn.Module):
            raise TypeError(
                "item_embedding_layer must be a torch.nn.Module, got "
                f"{type(item_embedding_layer).__name__}"
            )
        self.item_embeddings = item_embedding_layer
        self.item_biases = ZeroEmbedding(
            num_items, 1, padding_idx=PADDING_IDX, sparse=sparse
        )
        self._arguments: dict[str, Any] = {}

    def _store_arguments(self, arguments: dict[str, Any]) -> None:
        """Remember the constructor's arguments (pass ``locals()``)."""
        self._arguments = {
            name: value
            for name, value in arguments.items()
            if name not in ("self", "__class__")
        }

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments, to rebuild the network from a file.

        Returns
        -------
        dict
            Plain values only; a custom ``item_embedding_layer`` is described
            by its class and arguments.

        Raises
        ------
        NotImplementedError
            If the item embedding layer is not one of :mod:`spotlight.layers`.
        """
        config = dict(self._arguments)
        layer = config.get("item_embedding_layer")
        if layer is not None:
            config["item_embedding_layer"] = _describe_layer(layer)
        return config

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        """Represent the user before each position and after the last.

        Parameters
        ----------
        sequences : torch.Tensor of int64, shape (batch, length)
            Item ids, left-padded with 0.

        Returns
        -------
        torch.Tensor of shape (batch, length + 1, representation_dim)
            Entry ``t`` has seen the items before position ``t``.
        """
        raise NotImplementedError

    def final_representation(self, sequences: torch.Tensor) -> torch.Tensor:
        """Represent the user after the whole sequence, for prediction.

        Parameters
        ----------
        sequences : torch.Tensor of int64, shape (batch, length)

        Returns
        -------
        torch.Tensor of shape (batch, representation_dim)
            The last entry of :meth:`representations`; networks that can
            compute it alone for less work override this.
        """
        return self.representations(sequences)[:, -1]

    @property
    def receptive_field(self) -> int | None:
        """How many of the most recent items the final representation depends
        on; ``None`` (the default) when it depends on the whole sequence.

        Prediction feeds the network only that many items, which gives the
        same final representation for less work.
        """
        return None

    @property
    def ignores_left_padding(self) -> bool:
        """Whether left padding leaves the final representation unchanged
        (``False``, the default, unless a network says so).

        Prediction then drops the columns that are padding in every row of a
        batch and groups rows of similar length, for the same scores with
        less work.
        """
        return False

    def all_item_embeddings(self) -> torch.Tensor:
        """Return the embeddings of every item id.

        Returns
        -------
        torch.Tensor of shape (num_items, embedding_dim)
        """
        layer = self.item_embeddings
        if isinstance(layer, nn.Embedding):
            return layer.weight
        device = self.item_biases.weight.device
        return layer(torch.arange(self.num_items, device=device))

    def output_embeddings(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The item embeddings and biases that scores are dot products with.

        Returns
        -------
        (embeddings, biases) : tuple of torch.Tensor or None
            Shapes ``(num_items, dim)`` and ``(num_items,)``, when a score is
            ``representation @ embedding + bias``; ``None`` for networks that
            score otherwise, such as :class:`MixtureLSTMNet`.
        """
        return self.all_item_embeddings(), self.item_biases.weight.squeeze(-1)

    def score(self, representations: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Score items against the representation they are aligned with.

        Parameters
        ----------
        representations : torch.Tensor of shape (*, representation_dim)
        items : torch.Tensor of int64, shape (*, num_candidates)

        Returns
        -------
        torch.Tensor of shape (*, num_candidates)
        """
        embeddings = self.item_embeddings(items)  # (*, candidates, dim)
        # A product and a sum rather than a batch of (candidates x dim) @ (dim
        # x 1) products: on a CPU those tiny products, backward above all,
        # are about three times slower.
        dot = (embeddings * representations.unsqueeze(-2)).sum(-1)
        return dot + self.item_biases(items).squeeze(-1)

    def score_per_sequence(
        self, representations: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        """Score one set of candidates per sequence at every position.

        Parameters
        ----------
        representations : torch.Tensor of shape (batch, length, representation_dim)
        items : torch.Tensor of int64, shape (batch, num_candidates)

        Returns
        -------
        torch.Tensor of shape (batch, length, num_candidates)
        """
        embeddings = self.item_embeddings(items)  # (batch, candidates, dim)
        dot = torch.bmm(representations, embeddings.transpose(1, 2))
        return dot + self.item_biases(items).transpose(1, 2)

    def score_shared(
        self, representations: torch.Tensor, items: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Score one set of candidates shared by every representation.

        Parameters
        ----------
        representations : torch.Tensor of shape (*, representation_dim)
        items : torch.Tensor of int64, shape (num_candidates,), optional
            By default every item id, padding included.

        Returns
        -------
        torch.Tensor of shape (*, num_candidates)
        """
        if items is None:
            embeddings = self.all_item_embeddings()
            biases = self.item_biases.weight.squeeze(-1)
        else:
            embeddings = self.item_embeddings(items)
            biases = self.item_biases(items).squeeze(-1)
        return F.linear(representations, embeddings, biases)

    def user_representation(
        self, item_sequences: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spotlight's interface: representations in ``(batch, dim, length)``.

        Parameters
        ----------
        item_sequences : torch.Tensor of int64, shape (batch, length)

        Returns
        -------
        steps : torch.Tensor of shape (batch, representation_dim, length)
            Entry ``t`` has seen only the items before position ``t``.
        final : torch.Tensor of shape (batch, representation_dim)
            The representation after the whole sequence.
        """
        representations = self.representations(item_sequences)
        return representations[:, :-1].transpose(1, 2), representations[:, -1]

    def forward(
        self, user_representations: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Spotlight's interface: score ``targets`` against representations.

        Parameters
        ----------
        user_representations : torch.Tensor of shape (batch, representation_dim, *)
            As returned by :meth:`user_representation`.
        targets : torch.Tensor of int64, shape (batch, *)
            Also ``(batch, 1)`` with representations ``(batch, dim)``, as
            Spotlight's ``predict`` passes them.

        Returns
        -------
        torch.Tensor of shape (batch, *)
        """
        if targets.dim() == user_representations.dim() and targets.shape[-1] == 1:
            # Spotlight's predict passes (batch, dim) with (batch, 1) targets.
            targets = targets.squeeze(-1)
        representations = user_representations.movedim(1, -1)
        return self.score(representations, targets.unsqueeze(-1)).squeeze(-1)


def _describe_layer(layer: nn.Module) -> dict[str, Any]:
    """Describe an embedding layer of :mod:`spotlight.layers` by its arguments."""
    if isinstance(layer, BloomEmbedding):
        return {
            "class": "BloomEmbedding",
            "num_embeddings": layer.num_embeddings,
            "embedding_dim": layer.embedding_dim,
            "compression_ratio": layer.compression_ratio,
            "num_hash_functions": layer.num_hash_functions,
            "bag": layer.bag,
            "padding_idx": layer.padding_idx,
            "sparse": layer.embeddings.sparse,
        }
    if type(layer) in (ScaledEmbedding, ZeroEmbedding):
        return {
            "class": type(layer).__name__,
            "num_embeddings": layer.num_embeddings,
            "embedding_dim": layer.embedding_dim,
            "padding_idx": layer.padding_idx,
            "sparse": layer.sparse,
        }
    raise NotImplementedError(
        f"an item_embedding_layer of type {type(layer).__name__} cannot be saved; "
        "use the layers of spotlight.layers, or pickle the whole model with "
        "torch.save(model, path)"
    )


def _build_layer(description: dict[str, Any]) -> nn.Module:
    """Rebuild a layer described by :func:`_describe_layer`."""
    arguments = dict(description)
    layers = {
        "BloomEmbedding": BloomEmbedding,
        "ScaledEmbedding": ScaledEmbedding,
        "ZeroEmbedding": ZeroEmbedding,
    }
    name = arguments.pop("class", None)
    if name not in layers:
        raise ValueError(f"unknown item embedding layer {name!r}")
    return layers[name](**arguments)


def _shift_right(embeddings: torch.Tensor) -> torch.Tensor:
    """Prepend a zero step: ``(batch, length, dim)`` to ``(batch, length + 1, dim)``."""
    return F.pad(embeddings, (0, 0, 1, 0))


class PoolNet(SequenceNet):
    """Represent a user by the mean embedding of the items seen so far.

    Padding is left out of the mean; before any item the representation is
    zero.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
    item_embedding_layer : torch.nn.Module, optional
    sparse : bool, default False

    Notes
    -----
    Shape:
        - Input of :meth:`representations`: ``(batch, length)``.
        - Output: ``(batch, length + 1, embedding_dim)``.
    """

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())

    @property
    def ignores_left_padding(self) -> bool:
        """``True``: the mean is over real items only."""
        return True

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        embeddings = _shift_right(self.item_embeddings(sequences))
        totals = embeddings.cumsum(dim=1)  # (batch, length + 1, dim)
        real = _shift_right((sequences != PADDING_IDX).unsqueeze(-1).float())
        return totals / real.cumsum(dim=1).clamp_min(1.0)


class CNNNet(SequenceNet):
    """Represent a user with a stack of causal, optionally dilated convolutions.

    The input is shifted one step right, so that the output at position ``t``
    has seen only the items before ``t``; each layer pads on the left so that
    no position sees the future.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
    kernel_width : int or list of int, default 3
        Width of each layer's kernel (one value for all layers, or one per
        layer).
    dilation : int or list of int, default 1
        Dilation of each layer.
    num_layers : int, default 1
    nonlinearity : {"tanh", "relu"}, default "tanh"
    residual_connections : bool, default True
        Add each layer's input to its output.
    sparse : bool, default False
    benchmark : bool, default True
        Accepted for compatibility with Spotlight and ignored: this network
        never changes global cuDNN settings.
    item_embedding_layer : torch.nn.Module, optional

    Notes
    -----
    Shape:
        - Input of :meth:`representations`: ``(batch, length)``.
        - Output: ``(batch, length + 1, embedding_dim)``.
    """

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        kernel_width: int | list[int] = 3,
        dilation: int | list[int] = 1,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        residual_connections: bool = True,
        sparse: bool = False,
        benchmark: bool = True,
        item_embedding_layer: nn.Module | None = None,
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())
        num_layers = check_int("num_layers", num_layers, minimum=1)
        self.kernel_widths = _per_layer("kernel_width", kernel_width, num_layers)
        self.dilations = _per_layer("dilation", dilation, num_layers)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        self.residual_connections = bool(residual_connections)
        self.cnn_layers = nn.ModuleList(
            nn.Conv1d(embedding_dim, embedding_dim, width, dilation=step)
            for width, step in zip(self.kernel_widths, self.dilations, strict=True)
        )

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        x = _shift_right(self.item_embeddings(sequences)).transpose(1, 2)
        activation = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        for layer, width, step in zip(
            self.cnn_layers, self.kernel_widths, self.dilations, strict=True
        ):
            # (batch, dim, length + 1): pad the past so no step sees the future
            output = activation(layer(F.pad(x, ((width - 1) * step, 0))))
            x = x + output if self.residual_connections else output
        return x.transpose(1, 2)

    @property
    def receptive_field(self) -> int:
        """The item before the output and ``(width - 1) * dilation`` more
        for each layer: causal convolutions see no further back."""
        return 1 + sum(
            (width - 1) * step
            for width, step in zip(self.kernel_widths, self.dilations, strict=True)
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_widths={self.kernel_widths}, dilations={self.dilations}, "
            f"nonlinearity={self.nonlinearity!r}, "
            f"residual_connections={self.residual_connections}"
        )


def _per_layer(name: str, value: int | list[int], num_layers: int) -> list[int]:
    """Expand an int to one value per layer, or check a list's length."""
    if isinstance(value, list | tuple):
        if len(value) != num_layers:
            raise ValueError(
                f"{name} must have one entry per layer ({num_layers}), got {value!r}"
            )
        return [check_int(name, item, minimum=1) for item in value]
    return [check_int(name, value, minimum=1)] * num_layers


class _RecurrentNet(SequenceNet):
    """A recurrent network run over the item embeddings shifted one step."""

    cell: type[nn.RNNBase]

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
        hidden_dim: int | None = None,
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())
        hidden_dim = embedding_dim if hidden_dim is None else hidden_dim
        self.recurrent = self.cell(embedding_dim, hidden_dim, batch_first=True)

    def _run(self, sequences: torch.Tensor) -> torch.Tensor:
        """Hidden state before each item and after the last."""
        outputs, _ = self.recurrent(_shift_right(self.item_embeddings(sequences)))
        return outputs  # (batch, length + 1, hidden_dim)

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        return self._run(sequences)


class LSTMNet(_RecurrentNet):
    """Represent a user by the hidden state of an LSTM over the items seen.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
        Size of the item embeddings and of the LSTM's hidden state.
    item_embedding_layer : torch.nn.Module, optional
    sparse : bool, default False

    Notes
    -----
    Shape:
        - Input of :meth:`representations`: ``(batch, length)``.
        - Output: ``(batch, length + 1, embedding_dim)``.
    """

    cell = nn.LSTM

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())


class GRUNet(_RecurrentNet):
    """Represent a user by the hidden state of a GRU over the items seen
    (as in GRU4Rec, Hidasi et al., ICLR 2016).

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
        Size of the item embeddings and of the GRU's hidden state.
    item_embedding_layer : torch.nn.Module, optional
    sparse : bool, default False

    Notes
    -----
    Shape:
        - Input of :meth:`representations`: ``(batch, length)``.
        - Output: ``(batch, length + 1, embedding_dim)``.
    """

    cell = nn.GRU

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())


class MixtureLSTMNet(_RecurrentNet):
    """An LSTM whose state is projected to several taste vectors, mixed by
    attention on the candidate item (Kula, "Mixture-of-tastes models for
    representing users with diverse interests", 2017).

    The representation at each step holds ``num_mixtures`` taste vectors and
    as many attention vectors; a candidate's score is its dot product with
    the tastes weighted by the softmax of its dot products with the attention
    vectors, plus its bias.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
    num_mixtures : int, default 4
    item_embedding_layer : torch.nn.Module, optional
    sparse : bool, default False

    Notes
    -----
    Shape:
        - Input of :meth:`representations`: ``(batch, length)``.
        - Output: ``(batch, length + 1, 2 * num_mixtures * embedding_dim)``.
    """

    cell = nn.LSTM

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        num_mixtures: int = 4,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())
        self.num_mixtures = check_int("num_mixtures", num_mixtures, minimum=1)
        self.projection = nn.Linear(embedding_dim, 2 * num_mixtures * embedding_dim)

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        return self.projection(self._run(sequences))

    def output_embeddings(self) -> None:
        """``None``: a mixture's score is not one dot product."""
        return None

    def _mix(self, representations: torch.Tensor, dots_with: Any) -> torch.Tensor:
        """Score with tastes and attention: ``dots_with(vectors)`` gives the
        dot products of ``(*, mixtures, dim)`` vectors with the candidates as
        ``(*, candidates, mixtures)``."""
        vectors = representations.unflatten(-1, (2, self.num_mixtures, -1))
        tastes = dots_with(vectors.select(-3, 0))
        attention = torch.softmax(dots_with(vectors.select(-3, 1)), dim=-1)
        return (attention * tastes).sum(-1)

    def score(self, representations: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        embeddings = self.item_embeddings(items)  # (*, candidates, dim)

        def dots_with(vectors: torch.Tensor) -> torch.Tensor:
            return torch.matmul(embeddings, vectors.transpose(-1, -2))

        return self._mix(representations, dots_with) + self.item_biases(items).squeeze(
            -1
        )

    def score_per_sequence(
        self, representations: torch.Tensor, items: torch.Tensor
    ) -> torch.Tensor:
        embeddings = self.item_embeddings(items)  # (batch, candidates, dim)

        def dots_with(vectors: torch.Tensor) -> torch.Tensor:
            # vectors (batch, length, mixtures, dim) -> (batch, length, cand, mix)
            return torch.einsum("bcd,blmd->blcm", embeddings, vectors)

        return self._mix(representations, dots_with) + self.item_biases(
            items
        ).transpose(1, 2)

    def score_shared(
        self, representations: torch.Tensor, items: torch.Tensor | None = None
    ) -> torch.Tensor:
        if items is None:
            embeddings = self.all_item_embeddings()
            biases = self.item_biases.weight.squeeze(-1)
        else:
            embeddings = self.item_embeddings(items)
            biases = self.item_biases(items).squeeze(-1)

        def dots_with(vectors: torch.Tensor) -> torch.Tensor:
            return torch.matmul(vectors, embeddings.T).transpose(-1, -2)

        return self._mix(representations, dots_with) + biases

    def user_representation(
        self, item_sequences: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spotlight's interface: representations in Spotlight's layout.

        Parameters
        ----------
        item_sequences : torch.Tensor of int64, shape (batch, length)

        Returns
        -------
        steps : torch.Tensor of shape (batch, 2 * num_mixtures, dim, length)
            Entry ``t`` has seen only the items before position ``t``.
        final : torch.Tensor of shape (batch, 2 * num_mixtures, dim, 1)
            The representation after the whole sequence.
        """
        representations = self.representations(item_sequences)
        layout = representations.unflatten(-1, (2 * self.num_mixtures, -1))
        layout = layout.permute(0, 2, 3, 1)  # (batch, 2 * mixtures, dim, length + 1)
        return layout[..., :-1], layout[..., -1:]

    def forward(
        self, user_representations: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Score ``targets`` against representations in Spotlight's layout.

        Parameters
        ----------
        user_representations : torch.Tensor of shape (batch, 2 * mixtures, dim, *)
        targets : torch.Tensor of int64, shape (batch, *)

        Returns
        -------
        torch.Tensor of shape (batch, *)
        """
        representations = user_representations.flatten(1, 2).movedim(1, -1)
        return self.score(representations, targets.unsqueeze(-1)).squeeze(-1)

    def extra_repr(self) -> str:
        return f"num_mixtures={self.num_mixtures}"


NETWORKS = {
    "pooling": "PoolNet",
    "cnn": "CNNNet",
    "lstm": "LSTMNet",
    "gru": "GRUNet",
    "mixture": "MixtureLSTMNet",
    "transformer": "TransformerNet",
}
"""Names accepted by ``ImplicitSequenceModel(representation=...)`` and the
classes they build."""


def _network_class(class_name: str) -> type[SequenceNet]:
    if class_name == "TransformerNet":
        from spotlight.sequence.transformer import TransformerNet

        return TransformerNet
    if class_name not in NETWORKS.values():
        raise ValueError(f"unknown network class {class_name!r}")
    return globals()[class_name]


def build_network(class_name: str, config: dict[str, Any]) -> SequenceNet:
    """Build a network of one of the classes of :data:`NETWORKS`.

    Parameters
    ----------
    class_name : str
        Such as ``"CNNNet"``.
    config : dict
        Constructor arguments, as returned by :meth:`SequenceNet.get_config`.

    Returns
    -------
    SequenceNet
    """
    arguments = dict(config)
    layer = arguments.get("item_embedding_layer")
    if isinstance(layer, dict):
        arguments["item_embedding_layer"] = _build_layer(layer)
    return _network_class(class_name)(**arguments)


def __getattr__(name: str) -> Any:
    # TransformerNet lives in its own module, which imports this one.
    if name == "TransformerNet":
        return _network_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
