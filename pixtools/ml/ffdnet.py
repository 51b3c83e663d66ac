"""FFDNet colour network (KAIR's ``FFDNet(in_nc=3, out_nc=3, nc=96, nb=12)`` layout).

FFDNet (Zhang, Zuo, Zhang, IEEE TIP 2018) is told the noise level: a map of sigma/255 is
concatenated to the image after a 2x pixel-unshuffle, so the 12 convolutions work on a
quarter of the pixels. Its output is the denoised image itself, not a residual.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn import functional

from pixtools.ml import weights
from pixtools.ml.dncnn import load_strict

SCALE = 2  # pixel-unshuffle factor
DEPTH = 12  # conv layers, all 3x3, at half resolution
CHANNELS = 96
# Twelve 3x3 convs at half resolution see 12 half-pixels per side, i.e. 24 pixels, plus
# one for the 2x2 block a pixel sits in.
RECEPTIVE_RADIUS = SCALE * DEPTH + 1
# Sigma is on the 0-255 scale; the networks were trained up to 75.
MAX_SIGMA = 75.0


class FFDNet(nn.Module):
    """Non-blind denoiser taking the image (N x 3 x H x W in [0, 1]) and sigma/255.

    Layer indices follow KAIR's flattened ``nn.Sequential`` (conv, ReLU, ..., conv), so
    the released state dict loads strictly with keys ``model.0`` .. ``model.22``.
    """

    def __init__(self, in_nc: int = 3, out_nc: int = 3, nc: int = CHANNELS, nb: int = DEPTH):
        super().__init__()
        self.m_down = nn.PixelUnshuffle(SCALE)
        layers: list[nn.Module] = [nn.Conv2d(in_nc * SCALE * SCALE + 1, nc, 3, padding=1),
                                   nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers += [nn.Conv2d(nc, nc, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(nc, out_nc * SCALE * SCALE, 3, padding=1))
        self.model = nn.Sequential(*layers)
        self.m_up = nn.PixelShuffle(SCALE)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """``sigma``: noise level as a fraction of the range (sigma/255), a number or an
        N x 1 x 1 x 1 tensor."""
        h, w = x.shape[-2:]
        # Odd sizes: replicate the last row / column, as the reference code does.
        x = functional.pad(x, (0, w % 2, 0, h % 2), mode="replicate") if h % 2 or w % 2 else x
        x = self.m_down(x)
        n, _, hh, ww = x.shape
        level = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        noise_map = level.expand(n, 1, hh, ww)
        x = torch.cat((x, noise_map.contiguous(memory_format=_format_of(x))), dim=1)
        return self.m_up(self.model(x))[..., :h, :w]


def _format_of(x: torch.Tensor) -> torch.memory_format:
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def load_model(path: str | os.PathLike[str], spec: weights.WeightsSpec,
               device: str | torch.device = "cpu") -> FFDNet:
    """Verify the weights file against ``spec``, load it strictly, return it in eval mode."""
    weights.verify(path, spec)
    return load_strict(FFDNet(), path, device)
