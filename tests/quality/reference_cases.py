"""Scores of libjxl's ``ssimulacra2`` tool on generated image pairs, and the generators.

The scores and the SHA-256 of each generated image (raw RGB bytes) were published with
the Rust ``ssimulacra2`` crate's parity tests (``src/reference_data.rs``, captured from the
C++ tool, printed to 8 decimals). The images are rebuilt here byte for byte: the hashes
prove it. Identical pairs (gradients, checkerboards, noise, edges) all score 100 there.
"""

from __future__ import annotations

import numpy as np

SIZES = (32, 64, 128, 256)
SHIFTS = (1, 5, 10, 20, 50)

# (width = height, shift) → score: a flat grey 128 against a flat grey 128 + shift.
UNIFORM_SHIFT = {
    (32, 1): 97.7492143, (32, 5): 98.80827382, (32, 10): 96.5311409,
    (32, 20): 93.7982322, (32, 50): 85.01409588,
    (64, 1): 97.98672126, (64, 5): 91.52357693, (64, 10): 80.24289393,
    (64, 20): 56.05855584, (64, 50): -8.75942256,
    (128, 1): 96.78920738, (128, 5): 88.54070876, (128, 10): 77.84296299,
    (128, 20): 54.27883917, (128, 50): -9.82383315,
    (256, 1): 96.15027098, (256, 5): 89.73209436, (256, 10): 80.29149136,
    (256, 20): 59.77892918, (256, 50): -0.39085784,
}
GRADIENT_VS_UNIFORM_64 = -64.56872148
NOISE_VS_UNIFORM_64 = -47.33572558

# Hashes of the generated images, as published beside the scores.
HASHES = {
    "uniform_128_64": "2203a98fd84adfbd3cbbfda33c94fcc2d33f0e1d6ebfa4e0ced17c5469ba54e5",
    "uniform_178_256": "ebf9afb21c2447887ac397990d539d9369aca02485bbac3af760da7f4132a2fc",
    "gradient_h_64": "bfcfaa0618d282841d4469793253649ea6ddab2f1d0351548cb6f05a8fd79b87",
    "noise_42_64": "7f6be7f433ccb0a006e888f827df518a15c560c44b89852441183c2f61ea59f2",
    "checkerboard_8_128": "de56bd98607690ac290917e04b90437c38d2415cc491b6fa6d91efba31dc6fe3",
    "edge_vertical_256": "ef6a7a3a6dd6460c0f211781f0a8b418b9b6fc9c9a114ddce4c025975eb59e96",
}


def uniform(size: int, value: int) -> np.ndarray:
    return np.full((size, size, 3), value, np.uint8)


def gradient_h(size: int) -> np.ndarray:
    row = (np.arange(size) * 255 // (size - 1)).astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], size, axis=0), 3, axis=2)


def checkerboard(size: int, cell: int) -> np.ndarray:
    y, x = np.indices((size, size))
    grey = np.where(((x // cell) + (y // cell)) % 2 == 0, 255, 0).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def edge_vertical(size: int) -> np.ndarray:
    grey = np.where(np.arange(size) < size // 2, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(grey[None, :, None], size, axis=0), 3, axis=2)


def noise(size: int, seed: int) -> np.ndarray:
    """Bytes from the 64-bit LCG the published cases use (bits 33..40 of each state)."""
    mask = (1 << 64) - 1
    state = seed
    out = bytearray(size * size * 3)
    for index in range(len(out)):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        out[index] = (state >> 33) & 0xFF
    return np.frombuffer(bytes(out), np.uint8).reshape(size, size, 3)
