"""Rank-k identification (RFR/OIFR) in ``openlfr evaluate``: ranks checked against the gallery index's own
exact search on real templates, the growing galleries, the groups that can and cannot be measured, and the
report (HTML section, Markdown file, PNG plots, results.json) through the real command."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from openlfr.config import Settings
from openlfr.evaluation.embeddings import embed_records
from openlfr.evaluation.identification import (
    IdentificationData,
    build_identification,
    evaluate_identification,
    real_ranks,
    synthetic_distractors,
)
from openlfr.evaluation.runner import EvaluationOutcome, select_records
from openlfr.matching.gallery_index import ExactGalleryIndex
from openlfr.vision import load_engine
from tests.cli_login import cli_env
from tests.evaluation.conftest import SUBSET

AGE_EDGES = [0, 18, 25, 35, 45, 55, 65]


@pytest.fixture(scope="module")
def real_data(eval_settings: Settings, small_evaluation: EvaluationOutcome) -> IdentificationData:
    """Real opencv-zoo templates of the evaluation subset (read from the cache the evaluation filled)."""
    lfw, crowd = select_records(eval_settings, **SUBSET)
    es = embed_records(load_engine("opencv-zoo", eval_settings), lfw + crowd, eval_settings)
    excluded = {x.crowd_rel for x in small_evaluation.exclusions}
    return build_identification(es.subset("lfw"), es.subset("utkface"), excluded)


def _index_rank(gallery: np.ndarray, mate_row: int, probe: np.ndarray) -> int:
    """The mate's position in the gallery index's own exact search over the whole gallery (1 = first)."""
    ids = ExactGalleryIndex(gallery.shape[1])
    ids.add(np.arange(len(gallery)), gallery)
    _, order = ids.search_arrays(probe[None, :], len(gallery))
    return int(np.flatnonzero(order[0] == mate_row)[0]) + 1


def test_ranks_match_the_gallery_index_search(real_data: IdentificationData) -> None:
    d = real_data
    assert len(d.probes) >= 10 and len(d.distractors) > 50
    real = d.real_gallery
    size = real + 2500
    result = evaluate_identification(
        d, [size, 10 * size], [1, 6, 20], max_gallery=size, age_edges=AGE_EDGES, seed=11
    )
    assert result.sizes == [real, size]
    assert result.skipped_sizes == [10 * size]
    # Rebuild the same gallery (the synthetic distractors come again from the seed) and rank each mate by
    # sorting the gallery index's exact search: an independent computation of the same ranks.
    synthetic = np.concatenate(list(synthetic_distractors(d.distractors, size - real, 11)))
    gallery = np.concatenate([d.mates, d.distractors, synthetic])
    assert len(gallery) == size
    expected = [_index_rank(gallery, i, p) for i, p in enumerate(d.probes)]
    assert result.mate_ranks == expected
    # The real-gallery ranks likewise, without the synthetic rows.
    real_only = np.concatenate([d.mates, d.distractors])
    assert real_ranks(d).tolist() == [_index_rank(real_only, i, p) for i, p in enumerate(d.probes)]
    # Rates are the share of searches whose mate is within the first k, counted from those ranks.
    ranks = np.asarray(expected)
    for k in (1, 6, 20):
        row = result.row(size, k)
        assert (row.overall.k, row.overall.n) == (int((ranks <= k).sum()), len(ranks))
        assert row.overall_incl_ftd.n == len(ranks) + len(d.failed_to_detect)
    assert result.row(size, 1).overall.k <= result.row(real, 1).overall.k  # nested: never better


def test_a_better_distractor_moves_exactly_its_mate_down_one_rank(real_data: IdentificationData) -> None:
    """Each of the first five probes put into the gallery as a distractor scores 1.0 with itself, so its
    mate falls exactly one rank and no other search moves."""
    d = real_data
    before = real_ranks(d)
    planted = IdentificationData(
        d.pack, d.probe_records, d.probes, d.mates, np.concatenate([d.distractors, d.probes[:5]])
    )
    after = real_ranks(planted)
    assert (after[:5] == before[:5] + 1).all()
    assert (after[5:] == before[5:]).all()


def test_groups_measured_and_not_measured(real_data: IdentificationData) -> None:
    result = evaluate_identification(real_data, [], [1, 20], max_gallery=0, age_edges=AGE_EDGES)
    # LFW labels sex only; nobody with an identity has a race or an age label in the shared data.
    assert set(result.not_measurable) == {"race", "age"}
    assert "UTKFace" in result.not_measurable["race"]
    row = result.row(result.real_gallery, 1)
    assert set(row.groups) == {"sex"}
    sexes = row.groups["sex"]
    assert sum(q.n for q in sexes.values()) == sum(
        n for g, n in result.group_counts["sex"].items() if g != "unknown"
    )
    assert sum(q.k for q in sexes.values()) <= row.overall.k
    assert result.sizes == [result.real_gallery]


def test_evaluation_report_has_identification(small_evaluation: EvaluationOutcome) -> None:
    out = small_evaluation.report_path.parent
    ident = small_evaluation.identification["opencv-zoo"]
    # The default sizes up to the default bound (1M) were all built on top of the small real gallery.
    assert ident.sizes == [ident.real_gallery, 10_000, 100_000, 1_000_000]
    rank1 = [ident.row(s, 1).overall.value for s in ident.sizes]
    assert all(a >= b for a, b in itertools.pairwise(rank1))  # nested galleries: never better
    html = small_evaluation.report_path.read_text()
    assert "Rank-k identification" in html
    assert html.count("Not measurable") == 2
    md = (out / "identification.md").read_text()
    assert "| 1,000,000 |" in md and "**Not measurable**: no mated person has a race label" in md
    for name in ("ident_ranks_opencv-zoo.png", "ident_groups_sex_opencv-zoo.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in md
    saved = json.loads((out / "results.json").read_text())["identification"]["opencv-zoo"]
    assert saved["sizes"] == ident.sizes and saved["not_measurable"].keys() == {"race", "age"}


def test_evaluate_command_bounds_the_gallery(
    eval_settings: Settings, small_evaluation: EvaluationOutcome
) -> None:
    out = eval_settings.data_dir / "cli-report"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from openlfr.cli import app; app()",
            "evaluate",
            "--no-calibration",
            "--max-lfw-people",
            str(SUBSET["max_lfw_people"]),
            "--max-crowd",
            str(SUBSET["max_crowd"]),
            "--max-gallery",
            "20000",
            "-o",
            str(out),
        ],
        env=cli_env(eval_settings, OPENLFR_DATA=str(eval_settings.dataset_dir)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert "identification (opencv-zoo" in done.stdout
    saved = json.loads((out / "results.json").read_text())["identification"]["opencv-zoo"]
    assert saved["sizes"][-1] == 10_000 and saved["skipped_sizes"] == [100_000, 1_000_000]
    assert (out / "identification.md").is_file()
