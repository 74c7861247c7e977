"""The exceptions raised by the library.

Every error the library raises on purpose derives from :class:`SpotlightError`,
so that one ``except`` clause catches them all. Errors about bad arguments also
derive from :class:`ValueError` (or :class:`TypeError`), as code written for
Spotlight expects.
"""

__all__ = [
    "DataFormatError",
    "DivergenceError",
    "DownloadError",
    "ModelFileError",
    "NotFittedError",
    "SpotlightError",
]


class SpotlightError(Exception):
    """Base class of the errors raised by this library."""


class NotFittedError(SpotlightError, ValueError):
    """A model was used before ``fit`` was called."""


class DivergenceError(SpotlightError, ValueError):
    """Training produced a loss that is not a finite, positive number.

    The model keeps the parameters it had at the start of the epoch in which
    the loss went bad, so it stays usable.
    """


class ModelFileError(SpotlightError, ValueError):
    """A model or checkpoint file is damaged, foreign or from another version."""


class DataFormatError(SpotlightError, ValueError):
    """A data file could not be read: bad rows, bad encoding or missing columns."""


class DownloadError(SpotlightError, OSError):
    """A file could not be downloaded, or what arrived was not the file expected.

    The message says which URL to fetch by hand and the exact path to save it
    as, so that data can be installed on a machine without network access.
    """
