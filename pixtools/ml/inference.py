"""Tiled DnCNN and FFDNet inference on PIL images, with bounded memory and progress
reports."""

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

from pixtools.ml import dncnn, ffdnet, weights
from pixtools.ml import grey as grey_input
from pixtools.ml.pixels import normalise_mode, white_of

Precision = Literal["auto", "bf16", "fp32", "fp16"]
# dncnn: blind (sigma is ignored); ffdnet: trained on unclipped Gaussian noise;
# ffdnet_clip: on noise clipped to [0, 1], what an 8-bit photo holds.
Kind = Literal["dncnn", "ffdnet", "ffdnet_clip"]
KINDS: tuple[Kind, ...] = ("dncnn", "ffdnet", "ffdnet_clip")
_FFDNET_SPECS = {"ffdnet": weights.FFDNET, "ffdnet_clip": weights.FFDNET_CLIP}
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


def _native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX): elsewhere bf16 is
    emulated and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Denoiser:
    """Holds one loaded network (``kind``) and denoises images tile by tile.

    Build it once per worker process: loading verifies the weights' sha256
    and sets torch's thread count, which is process-wide. FFDNet is told the
    noise level (``sigma`` on the 0-255 scale); DnCNN estimates it itself.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | Path,
        precision: Precision = "auto",
        threads: int | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        device: str | None = None,
        kind: Kind = "dncnn",
    ) -> None:
        if tile < 1:
            raise ValueError(f"tile must be >= 1, got {tile}")
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {overlap}")
        if precision not in ("auto", "bf16", "fp32", "fp16"):
            raise ValueError(f"precision must be auto, bf16, fp32 or fp16, got {precision!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.threads = threads or available_cores()
        torch.set_num_threads(self.threads)
        self.kind = kind
        if kind == "dncnn":
            model: torch.nn.Module = dncnn.load_model(weights_path, self.device)
            self.radius = dncnn.RECEPTIVE_RADIUS
        else:
            model = ffdnet.load_model(weights_path, _FFDNET_SPECS[kind], self.device)
            self.radius = ffdnet.RECEPTIVE_RADIUS
            # Tiles must start on the 2x2 grid of the whole image's pixel-unshuffle.
            tile, overlap = tile + tile % 2, overlap + overlap % 2
        self.tile = tile
        self.overlap = overlap
        # channels_last lets oneDNN (and cuDNN) use their fast NHWC kernels:
        # 1.5-1.75x faster in fp32 and 4-6x in bf16 on CPU than NCHW. (torch's
        # stubs for Module.to omit memory_format, which it accepts.)
        self.model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.precision = self._resolve_precision(precision)

    @property
    def exact_tiling(self) -> bool:
        """Whether the overlap covers the receptive field, so tiles join exactly."""
        return self.overlap >= self.radius

    def _resolve_precision(self, requested: Precision) -> str:
        if requested != "auto":
            if requested != "fp32" and not self._reduced_works(requested):
                raise ValueError(f"precision {requested} is not supported on {self.device}")
            return requested
        if self.device.type == "cuda":
            return "fp16" if self._reduced_works("fp16") else "fp32"
        # DnCNN: bf16 autocast is 2-3x faster on the CPU but costs 0.10 dB PSNR on CBSD68
        # at sigma 25 (bench/denoise_quality.py), more than the 0.05 dB a default may lose:
        # it is there for those who ask for it (PIXTOOLS_DNCNN_PRECISION=bf16). FFDNet
        # loses at most 0.02 dB in bf16 (bench/RESULTS.md), so where the CPU has native
        # bf16 it is the default.
        if self.kind != "dncnn" and _native_bf16() and self._reduced_works("bf16"):
            return "bf16"
        return "fp32"

    def _reduced_works(self, precision: str) -> bool:
        """Run a small input in ``precision`` and compare it with fp32."""
        x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        try:
            with torch.inference_mode():
                ref = self._forward(x, 25 / 255)
                with torch.autocast(self.device.type, dtype=_DTYPES[precision]):
                    low = self._forward(x, 25 / 255)
        except (RuntimeError, TypeError):
            return False
        return bool(torch.isfinite(low).all()) and float((low.float() - ref).abs().max()) < 0.05

    def _forward(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """One pass; ``sigma`` (a fraction of the range) is FFDNet's noise map."""
        return self.model(x) if self.kind == "dncnn" else self.model(x, sigma)

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
        sigma: float = 0.0,
    ) -> None:
        """Denoise tile by tile: ``read`` gives float32 HxWx3 for a region,
        ``write`` gets each tile's core as (y0, y1, x0, x1, input, output);
        ``sigma``: FFDNet's noise level as a fraction of the range.
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
                y = self._forward(x, sigma).float()
                core = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
                out = y[0].permute(1, 2, 0)[core].cpu().numpy()
                write(y0, y1, x0, x1, ctx[core], out)
                del x, y
                if progress is not None:
                    progress(done / total)

    def denoise_array(self, x: np.ndarray, progress: ProgressFn | None = None,
                      sigma: float = 0.0) -> np.ndarray:
        """Denoise float32 HxWx3 RGB in [0, 1] (values outside are allowed and
        not clipped, as the benchmark protocol feeds raw noisy input); ``sigma``:
        FFDNet's noise level on the 0-255 scale.

        Returns float32 HxWx3, unclipped.
        """
        if x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 array, got shape {x.shape}")
        height, width = x.shape[:2]
        result = np.empty((height, width, 3), dtype=np.float32)

        def write(y0: int, y1: int, x0: int, x1: int, _src: np.ndarray, out: np.ndarray) -> None:
            result[y0:y1, x0:x1] = out

        self._run(height, width, lambda a, b, c, d: x[a:b, c:d], write, progress, sigma / 255)
        return result

    def denoise(
        self,
        image: Image.Image,
        strength: float = 1.0,
        progress: ProgressFn | None = None,
        sigma: float | None = None,
    ) -> Image.Image:
        """Denoise a PIL image; ``strength`` in [0, 1] blends with the input.

        ``sigma``: the noise level on the 0-255 scale (of the grey level for greyscale),
        which FFDNet needs and DnCNN ignores. RGB, RGBA (alpha kept as is), L, LA and
        16-bit greyscale keep their mode; any other mode is converted to RGBA if it has
        transparency, else RGB.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        if self.kind != "dncnn" and sigma is None:
            raise ValueError("FFDNet needs the noise level sigma")
        image = normalise_mode(image)
        if strength == 0.0:
            if progress is not None:
                progress(1.0)
            return image.copy()

        alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
        base = image.convert("RGB" if image.mode == "RGBA" else "L") if alpha is not None else image
        pixels = self._denoise_pixels(np.asarray(base), strength, progress, sigma or 0.0)
        out_img = Image.fromarray(pixels)
        if alpha is not None:
            out_img.putalpha(alpha)
        out_img.info.update(image.info)
        return out_img

    def _sigmas(self, src: np.ndarray, sigma: float) -> tuple[float, float]:
        """(chroma noise added to greyscale, the network's sigma), as fractions of the
        range. Greyscale gets chroma noise matching its own noise level, see grey.py."""
        if src.ndim == 3:
            return 0.0, sigma / 255
        if self.kind == "dncnn":
            grey_sigma = grey_input.estimate_sigma(src) / white_of(src)
            return grey_input.channel_sigma(grey_sigma), 0.0
        # Grey noise copied into three channels equals colour noise sqrt(3) times stronger
        # per channel once the chroma is added (grey.channel_sigma); FFDNet is told that.
        channel = min(math.sqrt(3.0) * sigma, ffdnet.MAX_SIGMA) / 255
        return channel, channel

    def _denoise_pixels(self, src: np.ndarray, strength: float,
                        progress: ProgressFn | None, sigma: float) -> np.ndarray:
        """``src``: uint8/uint16, HxWx3 or HxW; converted to float one tile at a time so
        memory stays bounded by the tile size, not the image size."""
        grey = src.ndim == 2
        scale = np.float32(white_of(src))
        result = np.empty_like(src)
        chroma, network_sigma = self._sigmas(src, sigma)

        def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            region = src[y0:y1, x0:x1] / scale
            if not grey:
                return region
            return region[:, :, None] + grey_input.chroma_noise(y0, y1, x0, x1, chroma)

        def write(y0: int, y1: int, x0: int, x1: int, inp: np.ndarray, out: np.ndarray) -> None:
            if grey:  # the added chroma averages out over the channels
                inp, out = inp.mean(axis=2), out.mean(axis=2)
            blended = np.clip(inp + strength * (out - inp), 0.0, 1.0)
            result[y0:y1, x0:x1] = np.rint(blended * scale).astype(src.dtype)

        self._run(src.shape[0], src.shape[1], read, write, progress, network_sigma)
        return result  # as an image, its mode follows dtype and shape
