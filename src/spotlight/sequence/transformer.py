"""A causal self-attention sequence network in the spirit of SASRec.

Kang and McAuley, "Self-attentive sequential recommendation", ICDM 2018: item
embeddings plus learned positions pass through pre-norm transformer blocks
whose attention only looks at earlier positions; the output after item ``t``
represents the user when predicting item ``t + 1``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from spotlight._validation import check_choice, check_float, check_int
from spotlight.interactions import PADDING_IDX
from spotlight.layers import FastDropout
from spotlight.sequence.representations import SequenceNet

__all__ = ["TransformerNet"]


BLOCKS = ("pre-norm", "sasrec")
"""The block wirings :class:`TransformerNet` accepts."""


class _Block(nn.Module):
    """Causal multi-head attention, then a feed-forward layer.

    ``"pre-norm"``: each branch reads a normalised copy of the residual stream
    and adds its output to the stream itself; GELU in the feed-forward layer.
    ``"sasrec"``: the wiring of the SASRec paper's code. Queries come from the
    normalised input, keys and values from the input as it is; the attention
    output is added to the normalised queries, the result normalised again
    before the feed-forward layer and added to it; ReLU.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dropout: float,
        attention_dropout: float,
        wiring: str = "pre-norm",
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.wiring = wiring
        self.attention_norm = nn.LayerNorm(dim)
        self.query_key_value = nn.Linear(dim, 3 * dim)
        self.attention_output = nn.Linear(dim, dim)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, dim),
            nn.GELU() if wiring == "pre-norm" else nn.ReLU(),
            FastDropout(dropout),
            nn.Linear(dim, dim),
        )
        self.residual_dropout = FastDropout(dropout)

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        normed = self.attention_norm(x)
        if self.wiring == "pre-norm":
            query, key, value = self._project(normed)
            return self._attend_and_feed_forward(x, query, key, value, attend)

        query, key, value = self._project(normed, x)
        return self._attend_and_feed_forward(normed, query, key, value, attend)

    def forward_last(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """The block's output at the last position only, shape (batch, 1, dim):
        keys and values for every position, a query for the last one."""
        dim = x.shape[-1]
        normed = self.attention_norm(x)
        weight, bias = self.query_key_value.weight, self.query_key_value.bias
        query = F.linear(normed[:, -1:], weight[:dim], bias[:dim])  # (batch, 1, dim)
        keys_from = normed if self.wiring == "pre-norm" else x
        key, value = F.linear(keys_from, weight[dim:], bias[dim:]).chunk(2, dim=-1)
        query, key, value = (self._split_heads(t) for t in (query, key, value))
        residual = x if self.wiring == "pre-norm" else normed
        return self._attend_and_feed_forward(
            residual[:, -1:], query, key, value, attend[:, :, -1:]
        )

    def _project(
        self, normed: torch.Tensor, unnormed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Queries, keys and values, each (batch, heads, length, head_dim): all
        from ``normed``, or keys and values from ``unnormed`` when given."""
        batch, length, dim = normed.shape
        if unnormed is None:
            qkv = self.query_key_value(normed)  # (batch, length, 3 * dim)
        else:
            weight, bias = self.query_key_value.weight, self.query_key_value.bias
            qkv = torch.cat(
                [
                    F.linear(normed, weight[:dim], bias[:dim]),
                    F.linear(unnormed, weight[dim:], bias[dim:]),
                ],
                dim=-1,
            )
        # (batch, length, 3 * dim) -> 3 x (batch, heads, length, head_dim)
        heads = qkv.view(batch, length, 3, self.num_heads, dim // self.num_heads)
        return heads.permute(2, 0, 3, 1, 4).unbind(0)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """(batch, positions, dim) -> (batch, heads, positions, head_dim)"""
        batch, positions = t.shape[:2]
        return t.view(batch, positions, self.num_heads, -1).transpose(1, 2)

    def _attend_and_feed_forward(
        self,
        x: torch.Tensor,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attend: torch.Tensor,
    ) -> torch.Tensor:
        batch, length, dim = x.shape
        attended = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attend,
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        attended = attended.transpose(1, 2).reshape(batch, length, dim)
        x = x + self.residual_dropout(self.attention_output(attended))
        normed = self.feed_forward_norm(x)
        if self.wiring == "sasrec":
            x = normed
        return x + self.residual_dropout(self.feed_forward(normed))


class TransformerNet(SequenceNet):
    """Causal self-attention over the sequence with learned positions.

    Positions are counted from the end of the sequence, so that the most
    recent item always has the same position whatever the padding; sequences
    longer than ``max_sequence_length`` are cut to their most recent items.
    Attention never looks at padding or at later positions.

    Parameters
    ----------
    num_items : int
    embedding_dim : int, default 32
        Model width; must be divisible by ``num_heads``.
    num_layers : int, default 2
        Number of transformer blocks.
    num_heads : int, default 1
    dropout : float, default 0.2
        Dropout on the input embeddings, the feed-forward layers and the
        residual branches.
    attention_dropout : float, default 0.0
        Dropout on the attention weights. Off by default: on a CPU it makes
        PyTorch's fused attention fall back to a path over ten times slower,
        for no measured gain in accuracy.
    max_sequence_length : int, default 200
        Number of learned positions.
    item_embedding_layer : torch.nn.Module, optional
    sparse : bool, default False
    block : {"pre-norm", "sasrec"}, default "pre-norm"
        How each block's attention and feed-forward layers are wired.
        ``"pre-norm"``: the usual pre-norm transformer, each layer reading a
        normalised copy of the residual stream and adding its output to the
        stream, GELU between the feed-forward layers. ``"sasrec"``: the wiring
        of the SASRec authors' code: queries from the normalised input, keys
        and values from the input itself, the attention output added to the
        normalised queries, then normalisation again, the feed-forward layer
        (ReLU) and its residual.

    Notes
    -----
    Shape:
        - Input of :meth:`representations`: ``(batch, length)``.
        - Output: ``(batch, length + 1, embedding_dim)``.

    Examples
    --------
    >>> net = TransformerNet(100, embedding_dim=16, max_sequence_length=20)
    >>> net.representations(torch.tensor([[0, 3, 5, 7]])).shape
    torch.Size([1, 5, 16])
    """

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 32,
        num_layers: int = 2,
        num_heads: int = 1,
        dropout: float = 0.2,
        max_sequence_length: int = 200,
        item_embedding_layer: nn.Module | None = None,
        sparse: bool = False,
        attention_dropout: float = 0.0,
        block: str = "pre-norm",
    ) -> None:
        super().__init__(num_items, embedding_dim, item_embedding_layer, sparse)
        self._store_arguments(locals())
        self.num_layers = check_int("num_layers", num_layers, minimum=1)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        if embedding_dim % num_heads:
            raise ValueError(
                f"embedding_dim ({embedding_dim}) must be divisible by num_heads "
                f"({num_heads})"
            )
        self.dropout = check_float("dropout", dropout, 0.0, 1.0)
        self.attention_dropout = check_float(
            "attention_dropout", attention_dropout, 0.0, 1.0
        )
        self.max_sequence_length = check_int(
            "max_sequence_length", max_sequence_length, minimum=1
        )
        self.block = check_choice("block", block, BLOCKS)
        self.positions = nn.Embedding(max_sequence_length, embedding_dim)
        nn.init.normal_(self.positions.weight, std=1.0 / embedding_dim)
        self.input_dropout = FastDropout(dropout)
        self.blocks = nn.ModuleList(
            _Block(embedding_dim, num_heads, dropout, self.attention_dropout, block)
            for _ in range(num_layers)
        )
        self.output_norm = nn.LayerNorm(embedding_dim)

    def representations(self, sequences: torch.Tensor) -> torch.Tensor:
        cut = max(sequences.shape[1] - self.max_sequence_length, 0)
        x, attend, real = self._inputs(sequences[:, cut:])
        for block in self.blocks:
            x = block(x, attend) * real.unsqueeze(-1)

        # Entry t + 1 has seen the items up to t. Entry 0, having seen nothing,
        # and the entries of positions cut off the front are normalised zeros,
        # like the outputs at padding.
        return self.output_norm(F.pad(x, (0, 0, 1 + cut, 0)))

    @property
    def ignores_left_padding(self) -> bool:
        """``True``: attention skips padding and positions count from the end."""
        return True

    def final_representation(self, sequences: torch.Tensor) -> torch.Tensor:
        # As representations(sequences)[:, -1] (the docstring is inherited),
        # for less work: the last block computes the last position only.
        x, attend, real = self._inputs(sequences[:, -self.max_sequence_length :])
        for block in self.blocks[:-1]:
            x = block(x, attend) * real.unsqueeze(-1)
        last = self.blocks[-1].forward_last(x, attend) * real[:, -1:, None]
        return self.output_norm(last[:, 0])

    def _inputs(
        self, sequences: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The first block's input, the attention mask and the real positions."""
        length = sequences.shape[1]
        real = sequences != PADDING_IDX  # (batch, length)

        # Scaled item embeddings plus positions counted from the end.
        positions = torch.arange(
            self.max_sequence_length - length,
            self.max_sequence_length,
            device=sequences.device,
        )
        x = self.item_embeddings(sequences) * math.sqrt(self.embedding_dim)
        x = self.input_dropout(x + self.positions(positions))
        x = x * real.unsqueeze(-1)

        # Attend to real, earlier positions; a padding query attends to itself
        # alone so that its softmax stays finite (its output is zeroed).
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        diagonal = torch.eye(length, dtype=torch.bool, device=x.device)
        attend = (causal & real.unsqueeze(1)) | diagonal  # (batch, length, length)
        attend = attend.unsqueeze(1)  # (batch, 1, length, length)
        return x, attend, real

    def extra_repr(self) -> str:
        return (
            f"num_layers={self.num_layers}, num_heads={self.num_heads}, "
            f"dropout={self.dropout}, attention_dropout={self.attention_dropout}, "
            f"max_sequence_length={self.max_sequence_length}, block={self.block!r}"
        )
