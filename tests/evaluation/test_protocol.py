"""The protocol and its figures on a small real subset, checked against brute-force recomputation."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from openlfr.config import Settings
from openlfr.evaluation.analysis import analyse_pack
from openlfr.evaluation.embeddings import cache_path, embed_records
from openlfr.evaluation.protocol import build_scores
from openlfr.evaluation.runner import EvaluationOutcome, select_records
from openlfr.vision import load_engine
from tests.evaluation.conftest import SUBSET


@pytest.fixture(scope="module")
def embedded(eval_settings: Settings, small_evaluation: EvaluationOutcome):  # type: ignore[no-untyped-def]
    lfw, crowd = select_records(eval_settings, **SUBSET)
    engine = load_engine("opencv-zoo", eval_settings)
    es = embed_records(engine, lfw + crowd, eval_settings)  # all from the cache the evaluation filled
    return es.subset("lfw"), es.subset("utkface")


def test_cache_holds_every_image_and_reruns_give_the_same_templates(
    eval_settings: Settings,
    embedded,  # type: ignore[no-untyped-def]
) -> None:
    lfw, crowd = embedded
    with sqlite3.connect(cache_path(eval_settings)) as db:
        rows = db.execute("SELECT COUNT(*) FROM template WHERE pack='opencv-zoo'").fetchone()[0]
    assert rows == len(lfw.records) + len(crowd.records)
    engine = load_engine("opencv-zoo", eval_settings)
    fresh = embed_records(engine, lfw.records[:3], eval_settings, use_cache=False)
    np.testing.assert_allclose(fresh.embeddings, lfw.embeddings[:3], atol=1e-6)


def test_split_enrols_one_image_per_person_and_never_searches_it(
    eval_settings: Settings,
    embedded,  # type: ignore[no-untyped-def]
) -> None:
    lfw, crowd = embedded
    data = build_scores(lfw, crowd, eval_settings.evaluation)
    enrolled = {r.rel for r in data.enrolment}
    assert len(enrolled) == data.watchlist_size == len(set(data.subjects))
    assert not enrolled & {r.rel for r in data.mated.records}
    assert all(r.subject in set(data.subjects) for r in data.mated.records)
    held = {r.subject for r in data.lfw_nonmated.records + data.lfw_nonmated.undetected}
    assert held and not held & set(data.subjects)
    # Every LFW image is accounted for exactly once.
    accounted = (
        len(data.enrolment)
        + len(data.mated.records)
        + len(data.mated.undetected)
        + len(data.lfw_nonmated.records)
        + len(data.lfw_nonmated.undetected)
    )
    fte_images = sum(1 for r in lfw.records if r.subject in set(data.failed_to_enrol))
    assert accounted + fte_images == len(lfw.records)
    assert len(data.crowd.records) + len(data.crowd.undetected) == len(crowd.records)


def test_fnir_and_fpir_match_brute_force(eval_settings: Settings, embedded) -> None:  # type: ignore[no-untyped-def]
    lfw, crowd = embedded
    cfg = eval_settings.evaluation
    data = build_scores(lfw, crowd, cfg)
    keep = np.ones(len(data.crowd.records), bool)
    result = analyse_pack(data, keep, cfg)

    emb = {r.rel: lfw.embeddings[i] for i, r in enumerate(lfw.records)}
    emb.update({r.rel: crowd.embeddings[i] for i, r in enumerate(crowd.records)})
    gallery = {r.subject: emb[r.rel] for r in data.enrolment}
    names = list(gallery)
    g = np.stack([gallery[n] for n in names])

    def best(rel: str) -> tuple[str, float]:
        s = g @ emb[rel]
        return names[int(np.argmax(s))], float(np.max(s))

    def _misses(t: float) -> int:
        return sum(
            1
            for r in data.mated.records
            if not (best(r.rel)[0] == r.subject and float(gallery[r.subject] @ emb[r.rel]) >= t)
        )

    def _alerts(t: float) -> int:
        return sum(1 for r in data.crowd.records + data.lfw_nonmated.records if best(r.rel)[1] >= t)

    eps = 1e-5  # the index renormalises and multiplies in float32: allow for rounding at the boundary
    for row in result.full_watchlist:
        t = row.threshold
        for name, count in (("fnir", _misses), ("fpir", _alerts)):
            strict, lax = count(t + eps), count(t - eps)
            got = getattr(row, name).k
            assert min(strict, lax) <= got <= max(strict, lax), (name, strict, got, lax)
        assert row.fnir.n == len(data.mated.records)
        nonmated = data.crowd.records + data.lfw_nonmated.records
        assert row.fpir.n == len(nonmated)
        assert row.fpir.k <= row.fpir_target * len(nonmated) + 1e-9
    r1 = sum(1 for r in data.mated.records if best(r.rel)[0] == r.subject)
    assert result.rank1.k == r1


def test_group_rates_add_up_to_the_overall_crowd_rate(
    eval_settings: Settings,
    embedded,  # type: ignore[no-untyped-def]
) -> None:
    lfw, crowd = embedded
    data = build_scores(lfw, crowd, eval_settings.evaluation)
    result = analyse_pack(data, np.ones(len(data.crowd.records), bool), eval_settings.evaluation)
    for entry in result.equitability:
        for groups in entry.groups.values():
            assert sum(v.rate.k for v in groups.values()) == entry.crowd_fpir.k
            assert sum(v.rate.n for v in groups.values()) == entry.crowd_fpir.n
        assert "0-17" in entry.groups["age"]  # children are their own band
        fa = entry.false_alerts_per_1000
        assert fa.value == pytest.approx(1000 * fa.k / fa.n)
