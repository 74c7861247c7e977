"""MurmurHash3 (x86, 32-bit) of 32-bit integer keys, vectorised with NumPy.

Used wherever a seeded hash of ids is needed (user-based splits, Bloom
embeddings). For a 32-bit key it gives the same value as the reference
``MurmurHash3_x86_32`` of the key's four little-endian bytes.
"""

from __future__ import annotations

import numpy as np

_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def murmurhash3_32(keys: np.ndarray, seed: int) -> np.ndarray:
    """Hash each 32-bit integer in ``keys`` with ``seed``; returns uint32."""
    with np.errstate(over="ignore"):
        k = np.asarray(keys).astype(np.int64).astype(np.uint32)
        k = _rotl(k * _C1, 15) * _C2
        h = _rotl(np.uint32(seed & 0xFFFFFFFF) ^ k, 13)
        h = h * np.uint32(5) + np.uint32(0xE6546B64)
        h ^= np.uint32(4)
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return h
