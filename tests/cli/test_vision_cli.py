"""``openlfr models``, ``faces`` and ``compare`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openlfr.cli import app
from tests.conftest import require_data

runner = CliRunner()


def test_models_lists_packs_licences_and_verification() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["pack"]: r for r in json.loads(result.output)}
    assert set(rows) == {"opencv-zoo", "insightface-s", "dlib"}
    assert all(r["verified"] for r in rows.values())
    assert rows["insightface-s"]["commercial_use"] is False
    assert rows["opencv-zoo"]["default"] is True


def test_faces_json_and_annotation(tmp_path: Path) -> None:
    img = require_data("deepface_testset", "images", "couple.jpg")
    out = tmp_path / "annotated.png"
    result = runner.invoke(app, ["faces", str(img), "--json", "--annotate", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[: result.output.rindex("]") + 1])
    assert len(data[0]["faces"]) == 2
    assert all("reasons" in f["quality"] for f in data[0]["faces"])
    assert out.is_file() and out.stat().st_size > 10_000


def test_compare_same_and_different_people() -> None:
    a = require_data("lfw", "images", "Abel_Pacheco", "Abel_Pacheco_0001.jpg")
    b = require_data("lfw", "images", "Abel_Pacheco", "Abel_Pacheco_0002.jpg")
    c = require_data("lfw", "images", "Ann_Veneman", "Ann_Veneman_0001.jpg")
    same = json.loads(runner.invoke(app, ["compare", str(a), str(b), "--json"]).output)
    diff = json.loads(runner.invoke(app, ["compare", str(a), str(c), "--json"]).output)
    assert same["same_person"] is True and diff["same_person"] is False
    assert same["similarity"] > diff["similarity"]


def test_insightface_pack_prints_its_non_commercial_licence() -> None:
    img = require_data("lfw", "images", "Ann_Veneman", "Ann_Veneman_0001.jpg")
    result = runner.invoke(app, ["faces", str(img), "--pack", "insightface-s"])
    assert result.exit_code == 0
    assert "NON-COMMERCIAL" in result.output


def test_bad_inputs_give_one_line_errors_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    for path, expected in [
        (tmp_path / "empty.jpg", "empty"),
        (tmp_path / "text.png", "not an image"),
        (tmp_path / "missing.jpg", "file not found"),
    ]:
        result = runner.invoke(app, ["faces", str(path)])
        assert result.exit_code == 2, result.output
        assert expected in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["faces", str(tmp_path / "empty.jpg"), "--pack", "bogus"])
    assert result.exit_code == 2 and "unknown model pack" in result.output


def test_no_face_image_reports_zero_faces(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[:240, :320]
    Image.fromarray(np.stack([xx % 256, yy % 256, (xx + yy) % 256], 2).astype("uint8")).save(
        tmp_path / "wall.png"
    )
    result = runner.invoke(app, ["faces", str(tmp_path / "wall.png"), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)[0]["faces"] == []
    result = runner.invoke(app, ["compare", str(tmp_path / "wall.png"), str(tmp_path / "wall.png")])
    assert result.exit_code == 1 and "no face found" in result.output
