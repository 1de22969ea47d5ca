"""Watchlists: enrolment with the real engine and real faces, its refusals, CSV import, and rule 5."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openlfr.governance.audit import entries
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_opening import open_deployment, record_signage
from openlfr.governance.errors import GovernanceError
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.governance.watchlists import (
    EnrolmentError,
    enrol_subject,
    import_watchlist,
    list_subjects,
    parse_category,
)
from openlfr.store import Store
from openlfr.store.crypto import CryptoError, KeyDestroyed
from openlfr.store.models import WatchlistSubject, WatchlistTemplate
from tests.authorisers import authoriser
from tests.governance.faces import blank_png, entry, lfw_people, shrunk, two_people_scene


def _counts(store: Store, dep_id: str) -> tuple[int, int, int]:
    with store.session() as s:
        subjects = s.scalar(select(func.count()).where(WatchlistSubject.deployment_id == dep_id)) or 0
        templates = s.scalar(select(func.count()).where(WatchlistTemplate.deployment_id == dep_id)) or 0
    return subjects, templates, store.blobs.count(dep_id)


def test_enrol_several_images_per_subject(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    (p1, imgs1), (p2, imgs2) = lfw_people()[:2]
    r = enrol_subject(store, "enroller", dep.id, entry(p1, clock()), list(imgs1), clock=clock)
    assert (r.subjects_enrolled, r.images_enrolled, r.refused) == (1, 2, [])
    enrol_subject(
        store, "enroller", dep.id, entry(p2, clock(), category="missing_at_risk"), [imgs2[0]], clock=clock
    )
    assert _counts(store, dep.id) == (2, 3, 3)
    subjects = {s.subject_id: s for s in list_subjects(store, dep.id)}
    assert subjects[p1].templates == 2 and subjects[p2].category == "missing_at_risk"
    # Images and templates are stored encrypted: no blob file holds the enrolled JPEG's bytes.
    raw = imgs1[0].read_bytes()
    for blob in (store.blobs.root / dep.id).iterdir():
        assert raw[:64] not in blob.read_bytes()
    with store.session() as s:
        tmpl = s.scalars(select(WatchlistTemplate).limit(1)).one()
        assert len(tmpl.template) == 1 + 12 + 128 * 4 + 16  # header, nonce, float32 x 128, tag
    enrolled = [e for e in entries(store, deployment_id=dep.id) if e.action == "watchlist.enrol"]
    assert [e.target for e in enrolled] == [p1, p2]


@pytest.mark.parametrize(
    ("make_image", "reason"),
    [
        (lambda: ("blank.png", blank_png()), "no face found"),
        (lambda: ("scene.jpg", two_people_scene().read_bytes()), "faces of similar size"),
        (lambda: ("tiny.png", shrunk(lfw_people()[0][1][0])), "below the quality bar: face too small"),
        (lambda: ("notes.txt", b"this is not an image"), "not an image"),
    ],
)
def test_refused_images_say_why_and_store_nothing(store, make_deployment, clock, make_image, reason) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    with pytest.raises(EnrolmentError, match=reason) as err:
        enrol_subject(store, "enroller", dep.id, entry("S1", clock()), [make_image()], clock=clock)
    assert err.value.refusals[0].subject_id == "S1"
    assert _counts(store, dep.id) == (0, 0, 0)


def test_duplicates_are_refused(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    (_person, imgs), _ = lfw_people()[:2]
    enrol_subject(store, "enroller", dep.id, entry("A", clock()), [imgs[0]], clock=clock)
    # The same image again, under another id.
    with pytest.raises(EnrolmentError, match="same image is already enrolled"):
        enrol_subject(store, "enroller", dep.id, entry("B", clock()), [imgs[0]], clock=clock)
    # Another photo of the same person, under another id.
    with pytest.raises(EnrolmentError, match=r"looks like subject A, already enrolled \(similarity"):
        enrol_subject(store, "enroller", dep.id, entry("B", clock()), [imgs[1]], clock=clock)
    # The same subject id twice.
    with pytest.raises(GovernanceError, match="already on this watchlist: A"):
        enrol_subject(store, "enroller", dep.id, entry("A", clock()), [imgs[1]], clock=clock)
    assert _counts(store, dep.id) == (1, 1, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "anyone of interest"}, "unknown category 'anyone of interest'"),
        ({"legal_basis": ""}, "legal basis is required"),
        ({"approved_by": " "}, "approved by is required"),
    ],
)
def test_entry_fields_are_checked(store, make_deployment, clock, change, message) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    with pytest.raises(GovernanceError, match=message):
        enrol_subject(store, "e", dep.id, entry("S", clock(), **change), [lfw_people()[0][1][0]], clock=clock)


def test_expiry_in_the_past_is_refused(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    with pytest.raises(GovernanceError, match=r"expiry .* is in the past"):
        enrol_subject(
            store,
            "e",
            dep.id,
            entry("S", clock(), expires_at=clock() - timedelta(days=1)),
            [lfw_people()[0][1][0]],
            clock=clock,
        )


def test_categories_are_a_closed_list() -> None:
    assert parse_category("Wanted by a court") == "wanted_by_court"
    assert parse_category("risk_of_harm") == "risk_of_harm"
    for bad in ("", "other", "person of interest", "suspected"):
        with pytest.raises(GovernanceError, match="unknown category"):
            parse_category(bad)


def test_one_category_parser_serves_watchlists_and_deployments() -> None:
    """Issue 17 item 6: the watchlist and purpose categories are read by the same parser."""
    from openlfr.governance.categories import parse_choice
    from openlfr.governance.deployment_planning import parse_purpose_category
    from openlfr.store.models import DEPLOYMENT_PURPOSE_CATEGORIES, WATCHLIST_CATEGORIES

    for key, label in WATCHLIST_CATEGORIES.items():
        assert parse_category(label.upper()) == parse_choice(label, WATCHLIST_CATEGORIES, "category") == key
    for key, label in DEPLOYMENT_PURPOSE_CATEGORIES.items():
        assert parse_purpose_category(f"  {label.upper()} ") == key
        assert parse_purpose_category(key.replace("_", "-")) == key
    with pytest.raises(GovernanceError, match="unknown purpose category ''"):
        parse_purpose_category("")


# --- CSV import -----------------------------------------------------------------------------------------

HEADER = [
    "subject_id",
    "category",
    "reason",
    "image_source",
    "legal_basis",
    "approved_by",
    "expires_at",
    "images",
    "date_of_birth",
    "offence_seriousness",
]


def _write_csv(folder: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path = folder / "watchlist.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _row(
    sid: str, images: str, expires: str = "2031-01-01", category: str = "wanted by a court", dob: str = ""
) -> list[str]:
    return [
        sid,
        category,
        "warrant",
        "custody",
        "PACE s64A",
        "Insp. Smith",
        expires,
        images,
        dob,
        "either_way",
    ]


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for person, imgs in lfw_people()[:4]:
        for i, p in enumerate(imgs):
            (folder / f"{person}_{i}.jpg").write_bytes(p.read_bytes())
    (folder / "blank.png").write_bytes(blank_png())
    return folder


def test_import_with_progress_and_age_flag(store, make_deployment, clock, image_folder) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    people = [p for p, _ in lfw_people()[:3]]
    csv_path = _write_csv(
        image_folder,
        [
            _row("S1", f"{people[0]}_0.jpg;{people[0]}_1.jpg", dob="2015-03-01"),
            _row("S2", f"{people[1]}_0.jpg", category="missing and at increased risk"),
            _row("S3", f"{people[2]}_1.jpg", category="risk of harm to self or others", dob="1980-01-01"),
        ],
    )
    seen: list[tuple[int, int]] = []
    report = import_watchlist(
        store, "enroller", dep.id, csv_path, progress=lambda d, t: seen.append((d, t)), clock=clock
    )
    assert (report.subjects_enrolled, report.images_enrolled) == (3, 4)
    assert seen[-1] == (4, 4) and len(seen) == 4
    assert _counts(store, dep.id) == (3, 4, 4)


@pytest.mark.parametrize(
    ("rows", "message"),
    [  # line 2 is a valid row; these start at line 3
        ([["S1", "wanted by a court"]], "line 3: 2 fields, the header has 10"),
        ([_row("S1", "nope.jpg")], "line 3: image nope.jpg not found"),
        ([_row("S1", "OTHER_0.jpg", category="gang member")], "line 3: unknown category 'gang member'"),
        ([_row("S1", "OTHER_0.jpg", expires="2020-01-01")], "line 3: subject S1: expiry .* is in the past"),
        ([_row("S1", "OTHER_0.jpg"), _row("S1", "OTHER_1.jpg")], "line 4: subject id S1 repeats line 3"),
        ([_row("S1", "OTHER_0.jpg", expires="soon")], "line 3: expiry 'soon' is not an ISO date"),
        ([_row("S1", "../outside.jpg")], "line 3: image ../outside.jpg is outside the image folder"),
    ],
)
def test_bad_csv_imports_nothing(store, make_deployment, clock, image_folder, rows, message) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    good = _row("S0", f"{lfw_people()[0][0]}_0.jpg")  # a valid row first: it must not be imported either
    rows = [[c.replace("OTHER", lfw_people()[1][0]) for c in r] for r in rows]
    csv_path = _write_csv(image_folder, [good, *rows])
    with pytest.raises(GovernanceError, match=message):
        import_watchlist(store, "enroller", dep.id, csv_path, clock=clock)
    assert _counts(store, dep.id) == (0, 0, 0)


def test_malformed_csv_files(store, make_deployment, clock, image_folder) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    bad_header = _write_csv(image_folder, [], header=["subject_id", "images"])
    with pytest.raises(GovernanceError, match="header lacks column"):
        import_watchlist(store, "e", dep.id, bad_header, clock=clock)
    quoted = image_folder / "quoted.csv"
    quoted.write_text(",".join(HEADER) + '\nS1,"unterminated,quote\n')
    with pytest.raises(GovernanceError, match=r"malformed CSV|fields"):
        import_watchlist(store, "e", dep.id, quoted, clock=clock)
    binary = image_folder / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(GovernanceError, match="not UTF-8"):
        import_watchlist(store, "e", dep.id, binary, clock=clock)
    with pytest.raises(GovernanceError, match="file not found"):
        import_watchlist(store, "e", dep.id, image_folder / "missing.csv", clock=clock)
    assert _counts(store, dep.id) == (0, 0, 0)


def test_refused_image_aborts_the_import_unless_partial(store, make_deployment, clock, image_folder) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    people = [p for p, _ in lfw_people()[:2]]
    csv_path = _write_csv(
        image_folder,
        [
            _row("S1", f"{people[0]}_0.jpg"),
            _row("S2", "blank.png"),
            _row("S3", f"{people[1]}_0.jpg"),
        ],
    )
    with pytest.raises(EnrolmentError, match=r"(?s)nothing enrolled: 1 image.*S2: blank.png: no face found"):
        import_watchlist(store, "e", dep.id, csv_path, clock=clock)
    assert _counts(store, dep.id) == (0, 0, 0)
    report = import_watchlist(store, "e", dep.id, csv_path, allow_partial=True, clock=clock)
    assert report.subjects_enrolled == 2 and report.subjects_refused == ["S2"]
    assert _counts(store, dep.id) == (2, 2, 2)
    refusal = [e for e in entries(store, deployment_id=dep.id) if e.action == "watchlist.refuse"]
    assert json.loads(refusal[0].details)["reason"] == "no face found"


# --- Rule 5 ---------------------------------------------------------------------------------------------


def test_rule5_close_destroys_the_watchlist_its_images_and_its_key(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    (p1, imgs1), (p2, imgs2) = lfw_people()[:2]
    enrol_subject(
        store,
        "e",
        dep.id,
        entry(p1, clock(), date_of_birth=clock().date().replace(year=2020)),
        list(imgs1),
        clock=clock,
    )
    enrol_subject(store, "e", dep.id, entry(p2, clock()), [imgs2[0]], clock=clock)
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    open_deployment(store, authoriser(store), dep.id, clock=clock)
    gateway = DeploymentGateway(store, dep.id, store.settings, clock=clock)
    index, _ = gateway.watchlist()
    assert index.subject_count == 2
    # Keep what an attacker (or a backup) might keep: the key as it was, and the blob files.
    with store.session() as s:
        old_key = store.keys.get(s, dep.id, "watchlist")
    saved = {p.name: p.read_bytes() for p in (store.blobs.root / dep.id).iterdir()}
    assert saved and store.blobs.get(dep.id, next(iter(saved)).removesuffix(".bin"), old_key)

    result = close_deployment(store, "sup", dep.id, clock=clock)
    assert (result.subjects_destroyed, result.templates_destroyed, result.blobs_deleted) == (2, 3, 3)
    assert _counts(store, dep.id) == (0, 0, 0)
    assert not (store.blobs.root / dep.id).exists() or not any((store.blobs.root / dep.id).iterdir())
    with store.session() as s, pytest.raises(KeyDestroyed):
        store.keys.get(s, dep.id, "watchlist")
    # A restored copy of a blob cannot be opened with what the store holds now.
    (store.blobs.root / dep.id).mkdir(parents=True, exist_ok=True)
    for name, data in saved.items():
        (store.blobs.root / dep.id / name).write_bytes(data)
    with store.session() as s, pytest.raises(KeyDestroyed):
        store.blobs.get(
            dep.id, next(iter(saved)).removesuffix(".bin"), store.keys.get(s, dep.id, "watchlist")
        )
    with pytest.raises(CryptoError):
        store.blobs.get(dep.id, next(iter(saved)).removesuffix(".bin"), b"\x00" * 32)
    # Nothing more can be enrolled; the record keeps the size and the under-18 count.
    with pytest.raises(GovernanceError, match="closed"):
        enrol_subject(store, "e", dep.id, entry("late", clock()), [imgs2[1]], clock=clock)
    from openlfr.governance.report import deployment_record

    rec = deployment_record(store, dep.id)
    assert rec["watchlist_size"] == 2 and rec["watchlist_holds_under_18"] is True


def test_a_lookalike_can_be_enrolled_with_a_stated_reason(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    """Different people can look alike (children especially): an approver may say so; it is audited."""
    dep = make_deployment()
    (_person, imgs), _ = lfw_people()[:2]
    enrol_subject(store, "enroller", dep.id, entry("A", clock()), [imgs[0]], clock=clock)
    report = enrol_subject(
        store,
        "enroller",
        dep.id,
        entry("B", clock()),
        [imgs[1]],
        lookalike_reason="twin brother, separate warrant",
        clock=clock,
    )
    assert report.subjects_enrolled == 1 and "looks like subject A" in str(report.lookalikes[0])
    override = entries(store, action="watchlist.lookalike_override")
    assert (
        len(override) == 1 and json.loads(override[0].details)["reason"] == "twin brother, separate warrant"
    )
    # The same image twice is never a lookalike: still refused.
    with pytest.raises(EnrolmentError, match="same image"):
        enrol_subject(
            store, "enroller", dep.id, entry("C", clock()), [imgs[1]], lookalike_reason="x", clock=clock
        )


def test_csv_rows_come_back_as_named_records_with_several_images(clock, image_folder) -> None:  # type: ignore[no-untyped-def]
    """Issue 17 item 6: a parsed row is a named record (entry, image files), several images per subject."""
    from openlfr.governance.watchlists import CsvSubject, ImageFile, read_watchlist_csv

    person = lfw_people()[0][0]
    path = _write_csv(image_folder, [_row("S1", f"{person}_0.jpg; {person}_1.jpg")])
    rows = read_watchlist_csv(path, image_folder, clock())
    assert len(rows) == 1 and isinstance(rows[0], CsvSubject)
    assert rows[0].entry.subject_id == "S1" and rows[0].entry.category == "wanted_by_court"
    assert rows[0].images == [
        ImageFile(f"{person}_0.jpg", (image_folder / f"{person}_0.jpg").resolve()),
        ImageFile(f"{person}_1.jpg", (image_folder / f"{person}_1.jpg").resolve()),
    ]


def test_after_close_the_audit_log_cannot_tell_whether_a_photo_was_enrolled(
    store, make_deployment, clock
) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: enrolled photos' digests in the audit log are keyed with the deployment key, so after close
    (key destroyed) anyone holding a photo cannot test whether it was on the watchlist."""
    import hashlib

    from openlfr.store.models import AuditEntry

    dep = make_deployment()
    (p1, imgs1), _ = lfw_people()[:2]
    enrol_subject(store, "e", dep.id, entry(p1, clock()), list(imgs1), clock=clock)
    with store.session() as s:
        key = store.keys.get(s, dep.id, "watchlist").first  # digests are keyed with the first generation
    photos = [p.read_bytes() for p in imgs1]
    enrol_row = next(e for e in entries(store, deployment_id=dep.id) if e.action == "watchlist.enrol")
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    open_deployment(store, authoriser(store), dep.id, clock=clock)
    close_deployment(store, "sup", dep.id, clock=clock)
    with store.session() as s:
        everything = " ".join(f"{a.target} {a.details}" for a in s.query(AuditEntry).all())
    for data in photos:
        assert hashlib.sha256(data).hexdigest() not in everything
        assert hashlib.md5(data).hexdigest() not in everything
    # The log holds digests keyed with the (now destroyed) key, which only that key reproduces; another
    # deployment's key gives another digest, so digests do not link watchlists either.
    from openlfr.governance.watchlists import image_digest

    assert json.loads(enrol_row.details)["image_digest"] == [image_digest(key, d) for d in photos]
    assert image_digest(b"\x01" * 32, photos[0]) != image_digest(key, photos[0])


def test_the_officer_sees_the_reference_image_that_matched(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    """Issue 17 item 7: with several references per subject, the candidate's template row leads to the
    very reference image whose template matched (the one shown beside the probe)."""
    from openlfr.governance.watchlists import analyse_reference
    from openlfr.vision import load_engine

    dep = make_deployment()
    people = lfw_people()[:3]
    for person, imgs in people:
        enrol_subject(store, "e", dep.id, entry(person, clock()), list(imgs), clock=clock)
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    open_deployment(store, authoriser(store), dep.id, clock=clock)
    gateway = DeploymentGateway(store, dep.id, store.settings, clock=clock)
    index, _ = gateway.watchlist()
    assert index.template_count == 6
    engine = load_engine("opencv-zoo", store.settings)
    for person, imgs in people:
        for img in imgs:
            data = img.read_bytes()
            face = analyse_reference(engine, data, img.name, store)
            (best,) = index.search(face.embedding, k=1)[0]
            assert best.subject_id == person  # its score is the fused template's (several references)
            assert gateway.reference_image(person, best.template_index) == data


def test_a_template_that_attracts_the_reference_crowd_gets_its_own_threshold(
    store, make_deployment, clock
) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 item 2: the attraction check at enrolment. A reference crowd in which many strangers resemble
    one reference image flags that image for the approver with the evidence, gives its template its own
    higher threshold (an offset the live index applies) and audits it; the other images are untouched."""
    import numpy as np

    from openlfr.governance.watchlists import analyse_reference
    from openlfr.matching.reference_crowd import ReferenceCrowd, save_reference_crowd
    from openlfr.store.models import WatchlistTemplate
    from openlfr.vision import load_engine

    dep = make_deployment()
    (p1, imgs1), (p2, imgs2) = lfw_people()[:2]
    # Without a reference crowd the check cannot run, and says so.
    r0 = enrol_subject(store, "e", dep.id, entry(p2, clock()), [imgs2[0]], clock=clock)
    assert not r0.attraction_checked and r0.attractors == []

    engine = load_engine("opencv-zoo", store.settings)
    attractor = analyse_reference(engine, imgs1[0].read_bytes(), "a", store).embedding
    rng = np.random.default_rng(0)
    strangers = rng.standard_normal((3000, attractor.size)).astype(np.float32)
    # 60 strangers close to the first image of p1 (think: babies resembling an infant photo).
    strangers[:60] = attractor + 0.6 * rng.standard_normal((60, attractor.size)).astype(np.float32) / np.sqrt(
        attractor.size
    )
    save_reference_crowd(
        ReferenceCrowd("opencv-zoo", strangers, reference_threshold=0.7, fmr=1e-3, source="test crowd"),
        store.settings.data_dir,
    )
    report = enrol_subject(store, "e", dep.id, entry(p1, clock()), list(imgs1), clock=clock)
    assert report.attraction_checked
    assert [(a.subject_id, a.image) for a in report.attractors] == [(p1, str(imgs1[0]))]
    assert "attracts strangers" in report.attractors[0].reason
    with store.session() as s:
        offsets = {
            t.position: t.attraction_offset
            for t in s.query(WatchlistTemplate).filter_by(deployment_id=dep.id).all()
        }
    assert offsets[0] is None  # enrolled before a reference crowd existed: not checked
    assert offsets[2] == 0.0 and offsets[1] > 0.1
    rows = [e for e in entries(store, deployment_id=dep.id) if e.action == "watchlist.attractor"]
    assert len(rows) == 1 and json.loads(rows[0].details)["evidence"]["hits"] >= 50
    # The live index applies it: the subject's score (its fused template, as strict as its strictest
    # reference) is lowered by the offset.
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    open_deployment(store, authoriser(store), dep.id, clock=clock)
    assert store.settings.governance.template_fusion == "mean"
    index, _ = DeploymentGateway(store, dep.id, store.settings, clock=clock).watchlist()
    own = index.subject_scores(attractor)[0][index.subjects.index(p1)]
    other_ref = analyse_reference(engine, imgs1[1].read_bytes(), "b", store).embedding
    unit = [v / np.linalg.norm(v) for v in (attractor, other_ref)]
    fused = (unit[0] + unit[1]) / np.linalg.norm(unit[0] + unit[1])
    assert own == pytest.approx(float(unit[0] @ fused) - offsets[1], abs=1e-4)


def test_a_minimum_validated_with_the_attraction_check_needs_a_checked_watchlist(
    store, make_deployment, clock
) -> None:  # type: ignore[no-untyped-def]
    """Rule 2 with the attraction check: where the calibration's minimum assumes the check, a watchlist with
    an unchecked template cannot open below the minimum validated without it (unless overridden)."""
    import numpy as np

    from openlfr.matching.calibration import Calibration, local_calibration_path, save_calibration
    from openlfr.matching.reference_crowd import ReferenceCrowd, save_reference_crowd

    cal = Calibration(
        pack="opencv-zoo",
        validated_min_threshold=0.45,
        extra={"power": {"validated_min_without_attraction_check": 0.6}},
    )
    assert (cal.minimum_for({"attractors"}), cal.minimum_for({None})) == (0.45, 0.6)
    save_calibration(cal, local_calibration_path("opencv-zoo", store.settings.data_dir))
    (p1, imgs1) = lfw_people()[0]
    unchecked = make_deployment(threshold=0.5)
    enrol_subject(store, "e", unchecked.id, entry(p1, clock()), [imgs1[0]], clock=clock)
    record_signage(store, "pc (officer)", unchecked.id, clock=clock)
    with pytest.raises(GovernanceError, match=r"without the attraction check 0\.600"):
        open_deployment(store, authoriser(store), unchecked.id, clock=clock)
    rng = np.random.default_rng(0)
    save_reference_crowd(
        ReferenceCrowd("opencv-zoo", rng.standard_normal((500, 128)).astype(np.float32), 0.5, 1e-3, "test"),
        store.settings.data_dir,
    )
    checked = make_deployment(threshold=0.5)
    enrol_subject(store, "e", checked.id, entry(p1, clock()), [imgs1[0]], clock=clock)
    record_signage(store, "pc (officer)", checked.id, clock=clock)
    assert open_deployment(store, authoriser(store), checked.id, clock=clock).status == "open"


def test_a_watchlist_is_held_to_the_minimum_validated_for_the_offset_rule_its_templates_got(
    store, make_deployment, clock
) -> None:  # type: ignore[no-untyped-def]
    """A calibration validates a minimum under each offset rule; enrolment applies the rule the reference
    crowd carries, records it per template, and opening (or enrolling into an open deployment) is held to
    the minimum of the rules the templates got."""
    import numpy as np

    from openlfr.matching.calibration import Calibration, local_calibration_path, save_calibration
    from openlfr.matching.reference_crowd import ReferenceCrowd, save_reference_crowd

    by_rule = {"none": 0.6, "attractors": 0.52, "normalised": 0.47}
    cal = Calibration(
        pack="opencv-zoo",
        validated_min_threshold=0.47,
        extra={
            "power": {
                "offset_rule": "normalised",
                "validated_min_by_rule": by_rule,
                "validated_min_without_attraction_check": 0.6,
            }
        },
    )
    assert [cal.minimum_for({r}) for r in (None, "attractors", "normalised")] == [0.6, 0.52, 0.47]
    assert cal.minimum_for({"attractors", "normalised"}) == 0.52 and cal.minimum_for(set()) == 0.47
    save_calibration(cal, local_calibration_path("opencv-zoo", store.settings.data_dir))
    (p1, imgs1), (p2, imgs2) = lfw_people()[:2]
    rng = np.random.default_rng(0)
    strangers = rng.standard_normal((4000, 128)).astype(np.float32)

    def crowd(rule: str) -> None:
        save_reference_crowd(
            ReferenceCrowd("opencv-zoo", strangers, 0.5, 1e-3, "test", rule=rule, max_lowering=0.1),
            store.settings.data_dir,
        )

    crowd("attractors")
    old_rule = make_deployment(threshold=0.5)
    enrol_subject(store, "e", old_rule.id, entry(p1, clock()), [imgs1[0]], clock=clock)
    record_signage(store, "pc (officer)", old_rule.id, clock=clock)
    with pytest.raises(GovernanceError, match=r"templates given attractor offsets 0\.520"):
        open_deployment(store, authoriser(store), old_rule.id, clock=clock)

    crowd("normalised")
    dep = make_deployment(threshold=0.5)
    enrol_subject(store, "e", dep.id, entry(p1, clock()), [imgs1[0]], clock=clock)
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    assert open_deployment(store, authoriser(store), dep.id, clock=clock).status == "open"
    with store.session() as s:
        (tmpl,) = s.query(WatchlistTemplate).filter_by(deployment_id=dep.id).all()
        rule, offset = tmpl.offset_rule, tmpl.attraction_offset
    # Random strangers sit far below a real face's crowd quantile: the template is eased, by at most the cap.
    assert rule == "normalised" and offset == pytest.approx(-0.1)
    (row,) = [e for e in entries(store, deployment_id=dep.id) if e.action == "watchlist.enrol"]
    details = json.loads(row.details)
    assert details["offset_rule"] == "normalised" and details["offsets"] == [pytest.approx(-0.1)]
    # Into the open deployment, templates under the old rule would need a stricter minimum than it runs at.
    crowd("attractors")
    with pytest.raises(GovernanceError, match=r"below pack opencv-zoo's validated minimum 0\.520"):
        enrol_subject(store, "e", dep.id, entry(p2, clock()), [imgs2[0]], clock=clock)
