"""An independent FFDNet forward pass over the authors' MatConvNet weights (float64 numpy).

It follows the MatConvNet code, not the PyTorch port: weights read with h5py from the
MATLAB 7.3 file as stored, MATLAB's (kh, kw, cin, cout) layout, correlation, and the
sub-pixel layer's own channel order (row offset fastest: channel 4c + dy + 2dx), so a
mistake in the conversion to PyTorch's order cannot cancel out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_layers(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (weights in MATLAB order kh x kw x cin x cout, bias) of each conv layer."""
    import h5py

    convs = []
    with h5py.File(path, "r") as mat:
        layers = mat["net"]["layers"]
        for index in range(layers.shape[0]):
            layer = mat[layers[index, 0]]
            kind = "".join(map(chr, layer["type"][()].ravel()))
            if kind != "conv":
                continue
            refs = layer["weights"]
            # h5py sees MATLAB's column-major arrays with their axes reversed.
            weight = np.asarray(mat[refs[0, 0]][()], dtype=np.float64).transpose(3, 2, 1, 0)
            bias = np.asarray(mat[refs[1, 0]][()], dtype=np.float64).ravel()
            convs.append((weight, bias))
    return convs


def _subp_down(x: np.ndarray) -> np.ndarray:
    """H x W x C -> H/2 x W/2 x 4C, channel 4c + dy + 2dx (vl_nnSubP, scale 1/2)."""
    h, w, c = x.shape
    out = np.empty((h // 2, w // 2, 4 * c))
    for ch in range(c):
        for dx in range(2):
            for dy in range(2):
                out[:, :, 4 * ch + dy + 2 * dx] = x[dy::2, dx::2, ch]
    return out


def _subp_up(x: np.ndarray) -> np.ndarray:
    """The inverse of ``_subp_down`` (vl_nnSubP, scale 2)."""
    h, w, c4 = x.shape
    out = np.empty((2 * h, 2 * w, c4 // 4))
    for ch in range(c4 // 4):
        for dx in range(2):
            for dy in range(2):
                out[dy::2, dx::2, ch] = x[:, :, 4 * ch + dy + 2 * dx]
    return out


def _conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3 correlation with zero padding 1 (vl_nnconv)."""
    h, w, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.broadcast_to(bias, (h, w, bias.size)).copy()
    for ky in range(3):
        for kx in range(3):
            out += padded[ky : ky + h, kx : kx + w] @ weight[ky, kx]
    return out


def forward(convs: list[tuple[np.ndarray, np.ndarray]], image: np.ndarray,
            sigma: float) -> np.ndarray:
    """Denoise H x W x 3 ``image`` in [0, 1] at noise level ``sigma`` (0-255 scale)."""
    h, w, _ = image.shape
    # Odd sizes: the demos replicate the last row / column.
    x = np.pad(image.astype(np.float64), ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    x = _subp_down(x)
    x = np.concatenate([x, np.full((*x.shape[:2], 1), sigma / 255)], axis=2)
    for index, (weight, bias) in enumerate(convs):
        x = _conv(x, weight, bias)
        if index < len(convs) - 1:
            x = np.maximum(x, 0)
    return _subp_up(x)[:h, :w]
