"""Tiled DnCNN inference on PIL images, with bounded memory and progress reports."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from pixtools.ml import grey as grey_input
from pixtools.ml.dncnn import RECEPTIVE_RADIUS, DnCNN, load_model

Precision = Literal["auto", "bf16", "fp32", "fp16"]
ProgressFn = Callable[[float], None]

# Larger tiles recompute less overlap: on a 4000x3000 image with 32 px overlap,
# 9.3% extra pixels at 1024 against 15% at 768 and 23% at 512. Peak RSS with
# 1024 (bench/denoise_speed.py): 1.13 GB in fp32 at 12 MP, 1.06 GB in bf16 at
# 24 MP; 512 saves about 0.2-0.45 GB.
DEFAULT_TILE = 1024
# DnCNN's receptive radius is 20 px, so 20 is already exact; the margin costs
# little once tiles are large.
DEFAULT_OVERLAP = 32

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Reads the float32 HxWx3 pixels of the region (y0, y1, x0, x1).
ReadFn = Callable[[int, int, int, int], np.ndarray]
# Receives a tile's core: (y0, y1, x0, x1, network input, network output).
WriteFn = Callable[[int, int, int, int, np.ndarray, np.ndarray], None]


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity and cgroup pinning)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Denoiser:
    """Holds one loaded DnCNN and denoises images tile by tile.

    Build it once per worker process: loading verifies the weights' sha256
    and sets torch's thread count, which is process-wide.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | Path,
        precision: Precision = "auto",
        threads: int | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        device: str | None = None,
    ) -> None:
        if tile < 1:
            raise ValueError(f"tile must be >= 1, got {tile}")
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {overlap}")
        if precision not in ("auto", "bf16", "fp32", "fp16"):
            raise ValueError(f"precision must be auto, bf16, fp32 or fp16, got {precision!r}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.threads = threads or available_cores()
        torch.set_num_threads(self.threads)
        self.tile = tile
        self.overlap = overlap
        model: DnCNN = load_model(weights_path, self.device)
        # channels_last lets oneDNN (and cuDNN) use their fast NHWC kernels:
        # 1.5-1.75x faster in fp32 and 4-6x in bf16 on CPU than NCHW. (torch's
        # stubs for Module.to omit memory_format, which it accepts.)
        self.model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.precision = self._resolve_precision(precision)

    @property
    def exact_tiling(self) -> bool:
        """Whether the overlap covers the receptive field, so tiles join exactly."""
        return self.overlap >= RECEPTIVE_RADIUS

    def _resolve_precision(self, requested: Precision) -> str:
        if requested != "auto":
            if requested != "fp32" and not self._reduced_works(requested):
                raise ValueError(f"precision {requested} is not supported on {self.device}")
            return requested
        if self.device.type == "cuda":
            return "fp16" if self._reduced_works("fp16") else "fp32"
        # On the CPU, bf16 autocast is 2-3x faster but costs 0.10 dB PSNR on CBSD68 at
        # sigma 25 (bench/denoise_quality.py), more than the 0.05 dB a default may lose:
        # it is there for those who ask for it (PIXTOOLS_DNCNN_PRECISION=bf16).
        return "fp32"

    def _reduced_works(self, precision: str) -> bool:
        """Run a small input in ``precision`` and compare it with fp32."""
        x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        try:
            with torch.inference_mode():
                ref = self.model(x)
                with torch.autocast(self.device.type, dtype=_DTYPES[precision]):
                    low = self.model(x)
        except (RuntimeError, TypeError):
            return False
        return bool(torch.isfinite(low).all()) and float((low.float() - ref).abs().max()) < 0.05

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    def _tiles(self, height: int, width: int) -> Iterator[tuple[int, int, int, int]]:
        for y0 in range(0, height, self.tile):
            for x0 in range(0, width, self.tile):
                yield y0, min(y0 + self.tile, height), x0, min(x0 + self.tile, width)

    def tile_count(self, height: int, width: int) -> int:
        """Number of tiles (and so of progress calls) for an image of this size."""
        return math.ceil(height / self.tile) * math.ceil(width / self.tile)

    def _run(
        self,
        height: int,
        width: int,
        read: ReadFn,
        write: WriteFn,
        progress: ProgressFn | None,
    ) -> None:
        """Denoise tile by tile: ``read`` gives float32 HxWx3 for a region,
        ``write`` gets each tile's core as (y0, y1, x0, x1, input, output).
        An exception raised by ``progress`` stops the work (cancellation).

        Each tile runs with ``overlap`` pixels of real context on each side
        (clamped at the image border, where the network's zero padding is
        what an untiled pass sees too) and only its core is kept.
        """
        total = self.tile_count(height, width)
        o = self.overlap
        with torch.inference_mode(), self._autocast():
            for done, (y0, y1, x0, x1) in enumerate(self._tiles(height, width), start=1):
                cy0, cy1 = max(0, y0 - o), min(height, y1 + o)
                cx0, cx1 = max(0, x0 - o), min(width, x1 + o)
                ctx = np.ascontiguousarray(read(cy0, cy1, cx0, cx1), dtype=np.float32)
                # HWC memory permuted to NCHW is already channels_last: no copy.
                x = torch.from_numpy(ctx).permute(2, 0, 1).unsqueeze(0).to(self.device)
                y = self.model(x).float()
                core = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
                out = y[0].permute(1, 2, 0)[core].cpu().numpy()
                write(y0, y1, x0, x1, ctx[core], out)
                del x, y
                if progress is not None:
                    progress(done / total)

    def denoise_array(self, x: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        """Denoise float32 HxWx3 RGB in [0, 1] (values outside are allowed and
        not clipped, as the benchmark protocol feeds raw noisy input).

        Returns float32 HxWx3, unclipped.
        """
        if x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 array, got shape {x.shape}")
        height, width = x.shape[:2]
        result = np.empty((height, width, 3), dtype=np.float32)

        def write(y0: int, y1: int, x0: int, x1: int, _src: np.ndarray, out: np.ndarray) -> None:
            result[y0:y1, x0:x1] = out

        self._run(height, width, lambda a, b, c, d: x[a:b, c:d], write, progress)
        return result

    def denoise(
        self,
        image: Image.Image,
        strength: float = 1.0,
        progress: ProgressFn | None = None,
    ) -> Image.Image:
        """Denoise a PIL image; ``strength`` in [0, 1] blends with the input.

        RGB, RGBA (alpha kept as is), L, LA and 16-bit greyscale keep their
        mode; any other mode is converted to RGBA if it has transparency,
        else RGB.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        image = _normalise_mode(image)
        if strength == 0.0:
            if progress is not None:
                progress(1.0)
            return image.copy()

        alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
        base = image.convert("RGB" if image.mode == "RGBA" else "L") if alpha is not None else image
        out_img = Image.fromarray(self._denoise_pixels(np.asarray(base), strength, progress))
        if alpha is not None:
            out_img.putalpha(alpha)
        out_img.info.update(image.info)
        return out_img

    def _denoise_pixels(self, src: np.ndarray, strength: float,
                        progress: ProgressFn | None) -> np.ndarray:
        """``src``: uint8/uint16, HxWx3 or HxW; converted to float one tile at a time so
        memory stays bounded by the tile size, not the image size."""
        grey = src.ndim == 2
        scale = np.float32(65535.0 if src.dtype == np.uint16 else 255.0)
        result = np.empty_like(src)

        # Greyscale gets chroma noise matching its own noise level, see grey.py.
        sigma = (
            grey_input.channel_sigma(grey_input.estimate_sigma(src) / float(scale)) if grey else 0.0
        )

        def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            region = src[y0:y1, x0:x1] / scale
            if not grey:
                return region
            return region[:, :, None] + grey_input.chroma_noise(y0, y1, x0, x1, sigma)

        def write(y0: int, y1: int, x0: int, x1: int, inp: np.ndarray, out: np.ndarray) -> None:
            if grey:  # the added chroma averages out over the channels
                inp, out = inp.mean(axis=2), out.mean(axis=2)
            blended = np.clip(inp + strength * (out - inp), 0.0, 1.0)
            result[y0:y1, x0:x1] = np.rint(blended * scale).astype(src.dtype)

        self._run(src.shape[0], src.shape[1], read, write, progress)
        return result  # as an image, its mode follows dtype and shape


# Modes whose ICC profile no longer describes the pixels once converted to RGB.
_NON_RGB_PROFILE_MODES = ("CMYK", "LAB", "HSV", "YCbCr")


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Return the image in a mode ``denoise`` handles natively."""
    if image.mode in ("RGB", "RGBA", "L", "LA", "I;16"):
        return image
    if image.mode.startswith("I;16"):
        # Byte-order variants; Pillow's own conversion to I;16 clips at 255.
        converted = Image.fromarray(np.asarray(image).astype(np.uint16))
        converted.info.update(image.info)
        return converted
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    converted = image.convert("RGBA" if has_alpha else "RGB")
    converted.info.pop("transparency", None)
    if image.mode in _NON_RGB_PROFILE_MODES:
        converted.info.pop("icc_profile", None)
    return converted
