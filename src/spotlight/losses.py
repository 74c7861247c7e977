"""Loss functions for implicit-feedback sequence models.

Spotlight's four losses keep their formulas, so that results carry over:

- :func:`pointwise_loss`: ``(1 - sigmoid(p)) + sigmoid(n)``;
- :func:`bpr_loss`: ``1 - sigmoid(p - n)`` (Rendle et al., "BPR: Bayesian
  personalized ranking from implicit feedback", UAI 2009);
- :func:`hinge_loss`: ``max(0, 1 - p + n)``;
- :func:`adaptive_hinge_loss`: the hinge against the highest-scoring of several
  negatives (Weston et al., "WSABIE: Scaling up to large vocabulary image
  annotation", IJCAI 2011).

For these four, ``negative_predictions`` of :func:`adaptive_hinge_loss` stack
the negatives along the *first* dimension, as in Spotlight.

The losses beyond Spotlight take several negatives along the *last*
dimension, ``(*positive.shape, num_negatives)``:

- :func:`bce_loss`: binary cross-entropy with sampled negatives, the loss of
  SASRec (Kang and McAuley, "Self-attentive sequential recommendation",
  ICDM 2018);
- :func:`gbce_loss`: generalised BCE that corrects the overconfidence caused
  by negative sampling (Petrov and Macdonald, "gSASRec: Reducing
  overconfidence in sequential recommendation trained with negative
  sampling", RecSys 2023);
- :func:`sampled_softmax_loss`: cross-entropy over the positive and sampled
  negatives, with the log-probability correction for non-uniform sampling
  (Jean et al., ACL 2015; Yi et al., RecSys 2019) and accidental hits masked;
- :func:`softmax_loss`: cross-entropy over the whole catalogue.

Every loss is the mean over the positions where ``mask`` is true (all
positions when ``mask`` is ``None``).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = [
    "adaptive_hinge_loss",
    "bce_loss",
    "bpr_loss",
    "gbce_loss",
    "hinge_loss",
    "pointwise_loss",
    "sampled_softmax_loss",
    "softmax_loss",
]


def _masked_mean(loss: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``loss`` over the positions where ``mask`` is true."""
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


def pointwise_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pointwise loss: push positives' sigmoid to 1 and negatives' to 0.

    Parameters
    ----------
    positive_predictions : torch.Tensor of shape (*)
        Scores of the items the users chose.
    negative_predictions : torch.Tensor of shape (*)
        Scores of one sampled negative per position.
    mask : torch.Tensor of bool, shape (*), optional
        Positions that count; padding is false.

    Returns
    -------
    torch.Tensor
        Scalar: mean of ``(1 - sigmoid(p)) + sigmoid(n)``.
    """
    loss = (1.0 - torch.sigmoid(positive_predictions)) + torch.sigmoid(
        negative_predictions
    )
    return _masked_mean(loss, mask)


def bpr_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bayesian personalised ranking loss: ``1 - sigmoid(p - n)``.

    Parameters
    ----------
    positive_predictions, negative_predictions : torch.Tensor of shape (*)
    mask : torch.Tensor of bool, shape (*), optional

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    loss = 1.0 - torch.sigmoid(positive_predictions - negative_predictions)
    return _masked_mean(loss, mask)


def hinge_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinge loss: ``max(0, 1 - p + n)``.

    Parameters
    ----------
    positive_predictions, negative_predictions : torch.Tensor of shape (*)
    mask : torch.Tensor of bool, shape (*), optional

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    loss = torch.clamp(1.0 - positive_predictions + negative_predictions, min=0.0)
    return _masked_mean(loss, mask)


def adaptive_hinge_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinge loss against the highest-scoring of several negatives.

    Approximates WARP: pushing down the hardest negative focuses training on
    the top of the ranking.

    Parameters
    ----------
    positive_predictions : torch.Tensor of shape (*)
    negative_predictions : torch.Tensor of shape (num_negatives, *)
        Negatives stacked along the first dimension.
    mask : torch.Tensor of bool, shape (*), optional

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    highest_negative = negative_predictions.max(dim=0).values
    return hinge_loss(positive_predictions, highest_negative, mask=mask)


def bce_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
    negative_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives.

    ``-log sigmoid(p) - sum_k log(1 - sigmoid(n_k))``, computed stably with
    softplus.

    Parameters
    ----------
    positive_predictions : torch.Tensor of shape (*)
    negative_predictions : torch.Tensor of shape (*, num_negatives)
    mask : torch.Tensor of bool, shape (*), optional
    negative_mask : torch.Tensor of bool, shape (*, num_negatives), optional
        Negatives that count; false for accidental hits on the positive.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    return gbce_loss(
        positive_predictions,
        negative_predictions,
        mask=mask,
        negative_mask=negative_mask,
        beta=1.0,
    )


def gbce_beta(num_negatives: int, num_items: int, calibration: float) -> float:
    """Return gSASRec's exponent ``beta`` of the positive probability.

    With sampling rate ``alpha = num_negatives / (num_items - 1)`` and
    calibration ``t``, ``beta = alpha * (t * (1 - 1 / alpha) + 1 / alpha)``;
    ``t = 0`` gives plain BCE (``beta = 1``), ``t = 1`` the fully calibrated
    loss (``beta = alpha``).

    Parameters
    ----------
    num_negatives : int
        Negatives sampled per positive.
    num_items : int
        Number of item ids, padding included.
    calibration : float
        ``t`` in [0, 1].

    Returns
    -------
    float
    """
    alpha = min(num_negatives / max(num_items - 2, 1), 1.0)
    return alpha * (calibration * (1.0 - 1.0 / alpha) + 1.0 / alpha)


def gbce_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
    negative_mask: torch.Tensor | None = None,
    beta: float = 1.0,
) -> torch.Tensor:
    """Generalised binary cross-entropy of gSASRec.

    ``-beta * log sigmoid(p) - sum_k log(1 - sigmoid(n_k))``: raising the
    positive's probability to the power ``beta`` (see :func:`gbce_beta`)
    undoes the overconfidence that training on few sampled negatives causes.

    Parameters
    ----------
    positive_predictions : torch.Tensor of shape (*)
    negative_predictions : torch.Tensor of shape (*, num_negatives)
    mask : torch.Tensor of bool, shape (*), optional
    negative_mask : torch.Tensor of bool, shape (*, num_negatives), optional
        Negatives that count; false for accidental hits on the positive.
    beta : float, default 1.0
        Exponent of the positive's probability; 1 is plain BCE.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    negative_terms = F.softplus(negative_predictions)
    if negative_mask is not None:
        negative_terms = negative_terms * negative_mask.to(negative_terms.dtype)
    loss = beta * F.softplus(-positive_predictions) + negative_terms.sum(-1)
    return _masked_mean(loss, mask)


def sampled_softmax_loss(
    positive_predictions: torch.Tensor,
    negative_predictions: torch.Tensor,
    mask: torch.Tensor | None = None,
    positive_log_probabilities: torch.Tensor | None = None,
    negative_log_probabilities: torch.Tensor | None = None,
    negative_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of the positive against sampled negatives.

    With log-probabilities of sampling given, each score ``s`` becomes
    ``s - log q``, which makes the sampled softmax an unbiased estimate of the
    full one when negatives are not drawn uniformly (the "logQ" correction).

    Parameters
    ----------
    positive_predictions : torch.Tensor of shape (*)
    negative_predictions : torch.Tensor of shape (*, num_negatives)
        Scores of the negatives; a shared set broadcast over positions works.
    mask : torch.Tensor of bool, shape (*), optional
    positive_log_probabilities : torch.Tensor of shape (*), optional
        Log-probability of sampling each positive item.
    negative_log_probabilities : torch.Tensor, broadcastable to
        ``negative_predictions``, optional
        Log-probability of sampling each negative item.
    negative_mask : torch.Tensor of bool, broadcastable to
        ``negative_predictions``, optional
        Negatives that count; false for accidental hits (a negative equal to
        the positive), which are left out of the softmax.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    if positive_log_probabilities is not None:
        positive_predictions = positive_predictions - positive_log_probabilities
    if negative_log_probabilities is not None:
        negative_predictions = negative_predictions - negative_log_probabilities
    if negative_mask is not None:
        negative_predictions = negative_predictions.masked_fill(
            ~negative_mask, -math.inf
        )
    logits = torch.cat(
        (
            positive_predictions.unsqueeze(-1),
            negative_predictions.expand(*positive_predictions.shape, -1),
        ),
        dim=-1,
    )
    loss = torch.logsumexp(logits, dim=-1) - positive_predictions
    return _masked_mean(loss, mask)


def softmax_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor | None = None,
    padding_column: bool = True,
) -> torch.Tensor:
    """Cross-entropy over the whole catalogue.

    Parameters
    ----------
    logits : torch.Tensor of shape (*, num_columns)
        Scores of every item.
    targets : torch.Tensor of int64, shape (*)
        Column of the item chosen at each position.
    mask : torch.Tensor of bool, shape (*), optional
    padding_column : bool, default True
        Column 0 holds the padding item and is left out of the softmax. Pass
        ``False`` when the columns hold only real items (column ``j`` being
        item ``j + 1``), which spares a copy of ``logits``.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    if padding_column:
        logits = logits.index_fill(-1, logits.new_zeros(1, dtype=torch.long), -math.inf)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    ).reshape(targets.shape)
    return _masked_mean(loss, mask)
