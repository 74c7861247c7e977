"""Training curves: the loss and the validation metrics of each epoch.

matplotlib is imported only when a plot is drawn, and through its Agg
canvas, so that plotting needs no display and leaves pyplot's state alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PLOT_SUFFIXES", "plot_training_curves"]

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
"""File name endings ``--plot`` accepts; the ending chooses the format."""


def plot_training_curves(
    path: str | Path,
    losses: Sequence[float],
    validation: Sequence[Mapping[str, float]],
) -> None:
    """Draw the loss and the validation metrics against the epoch.

    Parameters
    ----------
    path : str or pathlib.Path
        The image to write; its ending (one of :data:`PLOT_SUFFIXES`) sets
        the format. Missing folders are created.
    losses : sequence of float
        Mean training loss of each epoch.
    validation : sequence of mapping
        Validation metrics after each epoch, such as ``{"epoch": 1, "mrr":
        0.3, "hr@10": 0.5}``; every mapping has the same keys, and
        ``"epoch"`` (counted from 1) is optional.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"--plot needs matplotlib ({error})") from error

    figure = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, metric_axes = figure.subplots(1, 2)

    epochs = range(1, len(losses) + 1)
    loss_axes.plot(epochs, losses, marker="o")
    loss_axes.set(title="training loss", xlabel="epoch", ylabel="mean loss")

    names = [name for name in (validation[0] if validation else {}) if name != "epoch"]
    validated = [metrics.get("epoch", at) for at, metrics in enumerate(validation, 1)]
    for name in names:
        values = [metrics[name] for metrics in validation]
        metric_axes.plot(validated, values, marker="o", label=name)
    metric_axes.set(title="validation", xlabel="epoch", ylim=(0, 1))
    if names:
        metric_axes.legend()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
