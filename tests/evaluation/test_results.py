"""Typed evaluation results from the analysis to the report: the report page is rendered from them by a Jinja
template (escaped), and their JSON form is what ``results.json`` holds."""

from __future__ import annotations

import dataclasses
import json
import math

from openlfr.evaluation.hygiene import Exclusion
from openlfr.evaluation.report import render_html
from openlfr.evaluation.results import EquitabilityEntry, PackResult, ScalingRow
from openlfr.evaluation.runner import EvaluationOutcome


def _images(results: dict[str, PackResult]) -> dict[str, bytes]:
    images = {"det": b"png"}
    for pack in results:
        for kind in ("hist", "scaling", "groups:validated", "groups:low"):
            images[f"{kind}:{pack}"] = b"png"
    return images


def test_analysis_hands_the_report_typed_results(small_evaluation: EvaluationOutcome) -> None:
    r = small_evaluation.results["opencv-zoo"]
    assert isinstance(r, PackResult)
    assert all(isinstance(row, ScalingRow) for row in r.scaling)
    assert all(isinstance(g, EquitabilityEntry) for g in r.equitability)
    assert {row.method for row in r.scaling} == {"measured", "extrapolated"}
    measured = [row for row in r.scaling if row.method == "measured"]
    assert all(row.repeats and row.extrapolated_threshold is not None for row in measured)
    if r.validated:
        entry = r.at_validated_minimum
        assert entry is not None and not entry.any_significant
        assert math.isclose(entry.threshold, r.validated_min_threshold)


def test_results_json_is_the_typed_results_json_form(small_evaluation: EvaluationOutcome, report_dir) -> None:  # type: ignore[no-untyped-def]
    written = json.loads((report_dir / "results.json").read_text())["results"]["opencv-zoo"]
    typed = small_evaluation.results["opencv-zoo"]
    assert written == json.loads(json.dumps(typed.as_dict(curves=False)))
    assert "det" not in written and "histograms" in typed.as_dict()
    # The keys calibration files and benchmarks/evaluation.py read.
    assert {"scaling", "equitability", "validated_min_threshold", "validated", "rank1"} <= set(written)
    row = written["equitability"][0]
    assert {"groups", "tests", "precision_on_mix", "false_alerts_per_1000"} <= set(row)
    assert {"rate", "ci_low", "ci_high", "k", "n", "conclusive"} <= set(
        next(iter(row["groups"]["sex"].values()))
    )


def test_report_template_escapes_what_comes_from_data(small_evaluation: EvaluationOutcome) -> None:
    results = dict(small_evaluation.results)
    meta = {
        "created_at": "now",
        "dataset": "<b>x</b>",
        "command": "openlfr evaluate <script>alert(1)</script>",
    }
    exclusions = [Exclusion(crowd_rel="crowd/<img src=x>.jpg", subject="A & B", scores={"opencv-zoo": 0.9})]
    page = render_html(results, _images(results), exclusions, {"opencv-zoo": 0.7}, meta)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "crowd/&lt;img src=x&gt;.jpg" in page and "A &amp; B" in page and "<b>x</b>" not in page
    assert "1 crowd faces excluded" in page and "opencv-zoo 0.7000" in page


def test_report_says_when_a_pack_is_not_validated(small_evaluation: EvaluationOutcome) -> None:
    r = small_evaluation.results["opencv-zoo"]
    top = max(r.equitability, key=lambda g: g.threshold)
    beyond = dataclasses.replace(top, threshold=top.threshold + 0.05, crowd_fpir_level=None, beyond_grid=True)
    unvalidated = dataclasses.replace(
        r, validated=False, validated_min_threshold=beyond.threshold, equitability=[*r.equitability, beyond]
    )
    results = {"opencv-zoo": unvalidated}
    page = render_html(results, _images(results), [], {"opencv-zoo": math.inf}, {"alpha": 0.05})
    assert page.count("NOT validated") >= 3  # summary, group table heading, grid row
    assert "minimum, NOT validated (above every crowd score)" in page
    assert "not set (too few known-different comparisons: no hygiene)" in page
    assert "Only one pack was evaluated" in page
    assert unvalidated.as_dict()["equitability"][-1]["beyond_grid"] is True
    assert "beyond_grid" not in unvalidated.as_dict()["equitability"][0]
