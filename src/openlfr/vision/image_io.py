"""Reading images safely: every way an input can be bad becomes an ``ImageError`` that names the problem."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from openlfr.errors import OpenLFRError

BGRImage = npt.NDArray[np.uint8]

DEFAULT_MAX_PIXELS = 60_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


class ImageError(OpenLFRError, ValueError):
    """An input that is not a usable image; the message says which input and why."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB: 16-bit and float greyscale are rescaled, alpha is flattened on white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0 if hi > 255 else 255.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return img.convert("RGB")
    return img


def load_image(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> BGRImage:
    """Decode a file path or bytes into an upright BGR uint8 array (OpenCV's layout).

    EXIF orientation is applied; CMYK, greyscale, palette, 16-bit and alpha images are converted. Raises
    ``ImageError`` for a missing, empty, oversized, truncated, non-image or decompression-bomb input.
    """
    if isinstance(source, bytes):
        label = name or "uploaded image"
        data = source
    else:
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise ImageError(f"{label}: file not found")
        if not path.is_file():
            raise ImageError(f"{label}: not a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(f"{label}: file is {size:,} bytes, more than the limit of {max_bytes:,}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"{label}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) == 0:
        raise ImageError(f"{label}: file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageError(f"{label}: {len(data):,} bytes, more than the limit of {max_bytes:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width <= 0 or height <= 0:
                raise ImageError(f"{label}: image has no pixels ({width}x{height})")
            if width * height > max_pixels:
                raise ImageError(
                    f"{label}: {width}x{height} = {width * height:,} pixels is more than the limit of "
                    f"{max_pixels:,} (possible decompression bomb)"
                )
            img.load()
            upright: Image.Image = ImageOps.exif_transpose(img) or img
            rgb = _to_rgb(upright)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{label}: not an image, or a format that cannot be read") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{label}: too many pixels (possible decompression bomb)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc) or exc.__class__.__name__
        if "truncated" in message.lower():
            raise ImageError(f"{label}: image file is truncated or damaged") from exc
        raise ImageError(f"{label}: image cannot be decoded ({message})") from exc
    arr = np.asarray(rgb, dtype=np.uint8)
    return np.ascontiguousarray(arr[:, :, ::-1])


def encode_jpeg(image: BGRImage, quality: int = 90) -> bytes:
    """A face crop as JPEG bytes (RFR probe crops, kept encrypted under their case key)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("could not encode image as JPEG")
    return bytes(buf)
