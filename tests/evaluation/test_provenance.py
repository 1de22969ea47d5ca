"""Calibration files name their data by name and content hash, not by a path of the machine (issue 18)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from openlfr.evaluation.datasets import load_utkface
from openlfr.evaluation.provenance import fingerprint
from openlfr.evaluation.runner import EvaluationOutcome
from openlfr.matching.calibration import packaged_calibration_path
from tests.conftest import require_data


def _copy(records, dest: Path):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    out = []
    for r in records:
        target = dest / r.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(r.path, target)
        out.append(replace(r, path=target))
    return out


def test_fingerprint_follows_the_content_not_the_folder(tmp_path: Path) -> None:
    records = load_utkface(require_data("utkface", "manifest.csv").parents[1])[:20]
    a = _copy(records, tmp_path / "machine-a" / "utkface")
    b = _copy(list(reversed(records)), tmp_path / "elsewhere" / "b")
    assert fingerprint("UTKFace", a) == fingerprint("UTKFace", b)
    assert fingerprint("UTKFace", a).images == 20
    # One changed byte in one image is different data.
    data = bytearray(a[3].path.read_bytes())
    data[-1] ^= 1
    a[3].path.write_bytes(bytes(data))
    assert fingerprint("UTKFace", a).content_sha256 != fingerprint("UTKFace", b).content_sha256


def test_a_new_calibration_names_its_data_by_hash(small_evaluation: EvaluationOutcome) -> None:
    for path in small_evaluation.calibrations.values():
        text = path.read_text()
        cal = json.loads(text)
        assert str(Path(require_data()).resolve()) not in text
        names = [d["name"] for d in cal["extra"]["data"]]
        assert names == ["LFW", "UTKFace"]
        assert all(len(d["content_sha256"]) == 64 and d["images"] > 0 for d in cal["extra"]["data"])
        assert cal["extra"]["data"][0]["content_sha256"][:16] in cal["dataset"]


def test_shipped_calibrations_name_no_machine_path() -> None:
    for pack in ("opencv-zoo", "insightface-s"):
        text = packaged_calibration_path(pack).read_text()
        cal = json.loads(text)
        assert "/work/" not in text and "/home/" not in text and not cal["dataset"].startswith("/")
        assert {d["name"] for d in cal["extra"]["data"]} == {"LFW", "UTKFace"}
