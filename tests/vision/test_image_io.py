"""Every kind of bad or unusual input gives a clear result or a clear ImageError, never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openlfr.vision.image_io import ImageError, load_image
from tests.conftest import require_data


@pytest.fixture(scope="module")
def face_photo() -> Path:
    return require_data("lfw", "images", "Ann_Veneman", "Ann_Veneman_0001.jpg")


def test_missing_empty_and_non_image_files(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "notes.jpg").write_text("this is not a picture\n" * 20)
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "notes.jpg")
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path)


def test_truncated_jpeg_is_reported(face_photo: Path, tmp_path: Path) -> None:
    data = face_photo.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match=r"truncated|cannot be decoded"):
        load_image(cut)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(bomb, max_pixels=60_000_000)


def test_oversized_file_is_refused(face_photo: Path) -> None:
    with pytest.raises(ImageError, match="more than the limit"):
        load_image(face_photo, max_bytes=1024)


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_modes_are_converted_to_bgr(face_photo: Path) -> None:
    rgb = Image.open(face_photo).convert("RGB")
    reference = load_image(face_photo)
    cases = {
        "cmyk": _save(rgb.convert("CMYK"), "JPEG", quality=95),
        "grey": _save(rgb.convert("L"), "PNG"),
        "rgba": _save(rgb.convert("RGBA"), "PNG"),
        "palette": _save(rgb.convert("P"), "PNG"),
        "grey16": _save(Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257), "PNG"),
    }
    for name, data in cases.items():
        out = load_image(data, name=name)
        assert out.shape == reference.shape and out.dtype == np.uint8, name
        # The picture survives conversion (not black, not noise).
        diff = np.abs(out.astype(int).mean(axis=2) - reference.astype(int).mean(axis=2)).mean()
        assert diff < 20, (name, diff)


def test_exif_orientation_is_applied(face_photo: Path) -> None:
    upright = Image.open(face_photo).convert("RGB")
    stored = upright.rotate(90, expand=True)  # pixels stored on their side
    exif = Image.Exif()
    exif[0x0112] = 6  # viewer must rotate the stored pixels 90° clockwise
    data = _save(stored, "JPEG", quality=95, exif=exif.tobytes())
    out = load_image(data)
    assert out.shape[:2] == (upright.height, upright.width)
    ref = np.asarray(upright, dtype=int)[:, :, ::-1]
    assert np.abs(out.astype(int) - ref).mean() < 12
