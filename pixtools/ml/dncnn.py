"""DnCNN colour blind network (CDnCNN-B layout as released in KAIR)."""

from __future__ import annotations

import os
from typing import TypeVar

import torch
from torch import nn

from pixtools.ml import weights

M = TypeVar("M", bound=nn.Module)

DEPTH = 20  # conv layers
CHANNELS = 64
# Each 3x3 conv widens the receptive field by one pixel per side.
RECEPTIVE_RADIUS = DEPTH


class DnCNN(nn.Module):
    """Residual denoiser: predicts the noise and subtracts it from the input.

    Layer indices follow KAIR's ``nn.Sequential`` (conv, ReLU, conv, ReLU, ...)
    so the released state dict loads with keys ``model.0`` .. ``model.38``.
    """

    def __init__(self, in_channels: int = 3, channels: int = CHANNELS, depth: int = DEPTH):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(channels, channels, 3, padding=1, bias=True),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(channels, in_channels, 3, padding=1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.model(x)


def load_strict(model: M, path: str | os.PathLike[str], device: str | torch.device) -> M:
    """Load a verified weights file into ``model`` strictly (every tensor named and shaped
    as the network expects) and return it on ``device`` in eval mode, without gradients."""
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state, strict=True)
    model.to(device)
    model.eval()
    model.requires_grad_(False)
    return model


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> DnCNN:
    """Verify the weights file, load it strictly and return the model in eval mode."""
    weights.verify(path)
    return load_strict(DnCNN(), path, device)
