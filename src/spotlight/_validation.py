"""Private helpers that check arguments and build clear error messages.

Every message names the argument, says what was expected and shows the value
that was given, so that a user can act on it without reading the source.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

RandomStateLike = None | int | np.random.RandomState | np.random.Generator

_MAX_SEED = np.iinfo(np.int64).max


def _show(value: Any, limit: int = 80) -> str:
    """Return a short ``repr`` of ``value`` for an error message."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def check_random_state(
    random_state: RandomStateLike,
) -> np.random.RandomState | np.random.Generator:
    """Turn ``random_state`` into a NumPy random generator.

    ``None`` gives a freshly seeded ``RandomState``; an int seeds a new
    ``RandomState`` (so that ``42`` and ``RandomState(42)`` draw the same
    numbers); a ``RandomState`` or ``Generator`` is returned as it is.
    """
    if random_state is None:
        return np.random.RandomState()
    if isinstance(random_state, np.random.RandomState | np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        if random_state < 0 or random_state >= 2**32:
            raise ValueError(
                f"random_state must be an int in [0, 2**32), got {random_state!r}"
            )
        return np.random.RandomState(int(random_state))
    raise TypeError(
        "random_state must be None, an int, a numpy.random.RandomState or a "
        f"numpy.random.Generator, got {_show(random_state)} "
        f"of type {type(random_state).__name__}"
    )


def draw_integers(
    random_state: np.random.RandomState | np.random.Generator,
    low: int,
    high: int,
    size: int | tuple[int, ...] | None = None,
) -> Any:
    """Draw int64 integers in ``[low, high)`` from either kind of generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state.integers(low, high, size=size, dtype=np.int64)
    return random_state.randint(low, high, size=size, dtype=np.int64)


def draw_seed(random_state: np.random.RandomState | np.random.Generator) -> int:
    """Draw one non-negative 63-bit seed, for example to seed torch."""
    return int(draw_integers(random_state, 0, _MAX_SEED))


def check_int(
    name: str,
    value: Any,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Check that ``value`` is an integer within ``[minimum, maximum]``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int, got {_show(value)} of type {type(value).__name__}"
        )
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    inclusive: bool = True,
) -> float:
    """Check that ``value`` is a finite real number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {_show(value)} "
            f"of type {type(value).__name__}"
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    low_bad = minimum is not None and (
        value < minimum if inclusive else value <= minimum
    )
    high_bad = maximum is not None and (
        value > maximum if inclusive else value >= maximum
    )
    if low_bad or high_bad:
        low = "[" if inclusive else "("
        high = "]" if inclusive else ")"
        bounds = f"{low}{minimum}, {maximum}{high}"
        raise ValueError(f"{name} must lie in {bounds}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Check that ``value`` is one of the strings in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {options}; got {_show(value)}")
    return value


def as_id_array(name: str, values: Any) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array of non-negative ids.

    Floats are accepted only when every value is a whole number; booleans,
    strings, objects, NaN and negative values are refused.
    """
    array = as_1d_array(name, values)
    if array.dtype.kind == "b":
        raise ValueError(f"{name} must hold integer ids, got booleans: {_show(array)}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} must hold integer ids, got {array[position]!r} "
                f"at position {position}"
            )
        if array.size and np.abs(array).max() >= 2**53:
            raise ValueError(f"{name} holds ids too large to be exact: {_show(array)}")
    elif array.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer ids, got an array of dtype {array.dtype}: "
            f"{_show(array)}; map arbitrary ids to integers with "
            "spotlight.id_mapping.IdMapping or Interactions.from_dataframe"
        )
    if array.dtype.kind == "u" and array.size and array.max() > _MAX_SEED:
        raise ValueError(f"{name} holds ids too large for int64: {_show(array)}")
    array = array.astype(np.int64, copy=False)
    if array.size and array.min() < 0:
        position = int(np.argmin(array))
        raise ValueError(
            f"{name} must be non-negative, got {array[position]} at position {position}"
        )
    return array


def as_1d_array(name: str, values: Any) -> np.ndarray:
    """Return ``values`` as a 1-D NumPy array, refusing other shapes."""
    if values is None:
        raise TypeError(f"{name} must be an array, got None")
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be an array, got a string: {_show(values)}")
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be array-like, got {_show(values)}") from error
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional, got an array of shape {array.shape}"
        )
    return array


def as_number_array(name: str, values: Any) -> np.ndarray:
    """Return ``values`` as a 1-D numeric array, refusing NaN and infinities.

    Integers (and booleans) come back as int64 so that large timestamps keep
    every digit; floats come back as float64; datetimes as int64 nanoseconds.
    """
    array = as_1d_array(name, values)
    if array.dtype.kind == "M":
        array = array.astype("datetime64[ns]")
        if np.isnat(array).any():
            position = int(np.flatnonzero(np.isnat(array))[0])
            raise ValueError(
                f"{name} must not hold NaT, found one at position {position}"
            )
        return array.view(np.int64)
    if array.dtype.kind not in "iufb":
        raise ValueError(
            f"{name} must hold numbers, got an array of dtype {array.dtype}: "
            f"{_show(array)}"
        )
    if array.dtype.kind in "iub":
        return array.astype(np.int64, copy=False)
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be finite, got {array[position]} at position {position}"
        )
    return array
