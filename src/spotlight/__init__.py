"""Sequential recommendation with Spotlight's API on current PyTorch.

The package keeps the module layout of Spotlight's sequence models:

- :mod:`spotlight.interactions`: :class:`~spotlight.interactions.Interactions`
  and :class:`~spotlight.interactions.SequenceInteractions`;
- :mod:`spotlight.cross_validation`: train/test splits;
- :mod:`spotlight.sequence.implicit`: the
  :class:`~spotlight.sequence.implicit.ImplicitSequenceModel` estimator;
- :mod:`spotlight.sequence.representations`: the sequence networks;
- :mod:`spotlight.losses`, :mod:`spotlight.evaluation`, :mod:`spotlight.layers`,
  :mod:`spotlight.sampling`, :mod:`spotlight.torch_utils`;
- :mod:`spotlight.datasets`: synthetic and MovieLens data.

Importing the package imports only NumPy; PyTorch is imported by the modules
that need it, and pandas, matplotlib and tqdm only by the optional readers and
the command line.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
