"""Feeding greyscale images to the colour blind DnCNN.

The network was trained on noise that is independent in R, G and B. A grey
image copied into three channels has identical noise in each, which the
network reads as image detail and leaves alone (measured on CBSD68 converted
to grey, sigma 25: +0.2 dB). Adding noise along the two chroma directions,
orthogonal to grey so the channel mean is unchanged, makes the input look like
what the network was trained on; it then removes the luminance noise too and
the chroma is discarded by averaging the channels (+8 dB on the same images).

The added noise must match the image's own: its level is estimated from the
image, and its values depend only on pixel position, so overlapping tiles see
the same input and tiled output equals untiled output.
"""

from __future__ import annotations

import math

import numpy as np

# Orthonormal chroma directions, both orthogonal to grey (1, 1, 1).
_CHROMA = np.array(
    [
        [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
        [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)],
    ],
    dtype=np.float32,
)
# Beyond its training range (sigma up to 55/255 per channel) the network does
# better with less chroma than the estimate asks for. Gains measured on four
# CBSD68 images in grey, sigma 5/15/25/50/70: +2.3/+6.3/+8.0/+8.0/+5.3 dB with
# this cap; at sigma 50, +4.0 dB with a cap of 50/255 and +8.0 with none.
MAX_CHANNEL_SIGMA = 85 / 255
_BLOCK = 64
_SEED = 0x5EED


def estimate_sigma(grey: np.ndarray) -> float:
    """Noise standard deviation of a 2-D image, in the image's units.

    Median absolute deviation of the finest diagonal Haar detail band
    (Donoho and Johnstone): robust to edges, slightly high on fine texture.
    """
    h, w = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    if h == 0 or w == 0:
        return 0.0
    g = grey.astype(np.float32, copy=False)
    detail = (g[0:h:2, 0:w:2] - g[0:h:2, 1:w:2] - g[1:h:2, 0:w:2] + g[1:h:2, 1:w:2]) / 2
    return float(np.median(np.abs(detail))) / 0.6745


def channel_sigma(grey_sigma: float) -> float:
    """Per-channel sigma of the colour noise equivalent to grey noise copied
    into three channels: its grey component has sqrt(3) times the variance."""
    return min(math.sqrt(3.0) * grey_sigma, MAX_CHANNEL_SIGMA)


def chroma_noise(y0: int, y1: int, x0: int, x1: int, sigma: float) -> np.ndarray:
    """Float32 (y1-y0)x(x1-x0)x3 chroma noise of per-component std ``sigma``.

    Drawn in fixed 64x64 blocks, each from its own seeded generator, so any
    pixel gets the same value whichever region it is read in.
    """
    out = np.empty((y1 - y0, x1 - x0, 2), dtype=np.float32)
    for by in range(y0 // _BLOCK, (y1 - 1) // _BLOCK + 1):
        for bx in range(x0 // _BLOCK, (x1 - 1) // _BLOCK + 1):
            rng = np.random.default_rng([_SEED, by, bx])
            block = rng.standard_normal((_BLOCK, _BLOCK, 2), dtype=np.float32)
            ty0, tx0 = by * _BLOCK, bx * _BLOCK
            sy0, sy1 = max(y0, ty0), min(y1, ty0 + _BLOCK)
            sx0, sx1 = max(x0, tx0), min(x1, tx0 + _BLOCK)
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = block[
                sy0 - ty0 : sy1 - ty0, sx0 - tx0 : sx1 - tx0
            ]
    return (out @ _CHROMA) * np.float32(sigma)
