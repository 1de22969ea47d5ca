"""The RFR/OIFR/gallery endpoints: every route, every role (401/403/allowed), the two-reviewer rule and
the OIFR deletion through the API, on a real store, real users and a real gallery."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from openlfr.api.users import login
from openlfr.store import Store, open_store
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry, RetroProbe
from openlfr.web.app import create_server_app
from tests.api.conftest import PASSWORD, add_users, server_settings
from tests.retro.helpers import CELEB, celeb, small_gallery

A, AO, OP, EO, RV, AU = (
    Role.ADMIN,
    Role.AUTHORISING_OFFICER,
    Role.OPERATOR,
    Role.ENGAGEMENT_OFFICER,
    Role.REVIEWER,
    Role.AUDITOR,
)
SCENE = f"{CELEB}/knn_examples/test/obama_and_biden.jpg"
PROBE = f"{CELEB}/knn_examples/test/obama1.jpg"


@dataclass
class World:
    client: TestClient
    store: Store
    tokens: dict[Role, str]
    candidate: str
    probe: str
    template: int

    def h(self, role: Role | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


@pytest.fixture(scope="module")
def world(tmp_path_factory, engine_factory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    settings = server_settings(tmp_path_factory.mktemp("retro-api"))
    settings.retro.policy_ref, settings.retro.dpia_ref = "POL-RFR/1", "DPIA-RFR/1"
    store = open_store(settings)
    add_users(store)
    small_gallery(store, engine_factory("opencv-zoo"))
    tokens = {
        r: login(store, r.value.replace("_", "-"), PASSWORD, "127.0.0.1", kind="bearer")[0] for r in Role
    }
    app = create_server_app(settings, store=store, background=[])
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {tokens[OP]}"}
        assert (
            client.post(
                "/api/retro/cases",
                json={"reference": "CASE-0", "reason": "robbery", "crime_category": "robbery"},
                headers=h,
            ).status_code
            == 201
        )
        r = client.post(
            "/api/retro/cases/CASE-0/search",
            data={"reason": "cctv still", "provenance": "cctv"},
            files={"media": ("scene.jpg", celeb(SCENE).read_bytes(), "image/jpeg")},
            headers=h,
        )
        assert r.status_code == 200 and r.json()["status"] == "choose", r.text
        people = r.json()["people"]
        assert len(people) >= 2 and all(p["thumbnail"].startswith("data:image/jpeg;base64,") for p in people)
        r = client.post(
            f"/api/retro/cases/CASE-0/search/{r.json()['selection']}",
            json={"reason": "cctv still", "provenance": "cctv", "person": [p["person"] for p in people]},
            headers=h,
        )
        assert r.status_code == 200 and r.json()["status"] == "searched", r.text
        face = next(f for f in r.json()["faces"] if f["candidates"][0]["record_id"] == "OB-1")
        with store.session() as s:
            from openlfr.store.models import RetroCandidate

            tid = s.get(RetroCandidate, face["candidates"][0]["id"]).template_id  # type: ignore[union-attr]
        yield World(client, store, tokens, face["candidates"][0]["id"], face["probe_id"], tid)
    store.close()


_n = itertools.count()


def _case() -> dict[str, Any]:
    return {"json": {"reference": f"CASE-R{next(_n)}", "reason": "role test", "crime_category": "fraud"}}


def _search() -> dict[str, Any]:
    return {
        "data": {"reason": "role test", "provenance": "cctv"},
        "files": {"media": ("p.jpg", celeb(PROBE).read_bytes(), "image/jpeg")},
    }


def _oifr() -> dict[str, Any]:
    return {
        "data": {"reason": "unconscious"},
        "files": {"photo": ("p.jpg", celeb(PROBE).read_bytes(), "image/jpeg")},
    }


# (name, method, path, request kwargs factory, allowed roles): written out, not read from the code.
ENDPOINTS: list[tuple[str, str, str, Any, tuple[Role, ...]]] = [
    ("open case", "POST", "/api/retro/cases", _case, (AO, OP)),
    ("view case", "GET", "/api/retro/cases/CASE-0", None, (AO, OP, RV, AU)),
    ("rfr search", "POST", "/api/retro/cases/CASE-0/search", _search, (OP,)),
    (
        "review",
        "POST",
        "/api/retro/candidates/{cand}/review",
        lambda: {"json": {"decision": "inconclusive"}},
        (RV,),
    ),
    ("probe image", "GET", "/api/retro/probes/{probe}/image", None, (OP, RV)),
    ("oifr", "POST", "/api/oifr", _oifr, (OP, EO)),
    ("gallery image", "GET", "/api/gallery/images/{tid}", None, (OP, RV, EO)),
    ("gallery stats", "GET", "/api/gallery/stats", None, (A, AO, AU)),
    ("remove record", "DELETE", "/api/gallery/records/LFW-4?reason=not+charged", None, (AO,)),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "allowed"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_roles_per_route(
    world: World, name: str, method: str, path: str, body: Any, allowed: tuple[Role, ...]
) -> None:
    url = path.format(cand=world.candidate, probe=world.probe, tid=world.template)
    assert world.client.request(method, url, **(body() if body else {})).status_code == 401
    for role in Role:
        r = world.client.request(method, url, headers=world.h(role), **(body() if body else {}))
        if role in allowed:
            assert r.status_code < 400, f"{name}: {role} got {r.status_code} {r.text}"
        else:
            assert r.status_code == 403, f"{name}: {role} got {r.status_code}"


def test_two_reviewers_through_the_api(world: World) -> None:
    c, h = world.client, world.h
    r = c.post(
        "/api/retro/cases",
        json={"reference": "CASE-2R", "reason": "burglary", "crime_category": "burglary_theft"},
        headers=h(OP),
    )
    assert r.status_code == 201
    r = c.post(
        "/api/retro/cases/CASE-2R/search",
        data={"reason": "", "provenance": "cctv"},
        files={"media": ("s.jpg", celeb(SCENE).read_bytes(), "image/jpeg")},
        headers=h(OP),
    )
    assert r.status_code == 409 and "needs a reason" in r.json()["detail"]
    r = c.post(
        "/api/retro/cases/CASE-2R/search",
        data={"reason": "doorbell camera", "provenance": "phone_victim_witness", "all_faces_reason": "both"},
        files={"media": ("s.jpg", celeb(SCENE).read_bytes(), "image/jpeg")},
        headers=h(OP),
    )
    cand = next(f for f in r.json()["faces"] if f["candidates"][0]["record_id"] == "BI-1")["candidates"][0][
        "id"
    ]
    r = c.post(f"/api/retro/candidates/{cand}/review", json={"decision": "possible_match"}, headers=h(RV))
    assert r.json()["status"] == "awaiting second review"
    assert c.get("/api/retro/cases/CASE-2R", headers=h(AU)).json()["reported"] == []
    r = c.post(f"/api/retro/candidates/{cand}/review", json={"decision": "possible_match"}, headers=h(RV))
    assert r.status_code == 409 and "another reviewer" in r.json()["detail"]  # the same account twice
    # A second reviewer account (one role per account: a second person).
    from openlfr.api.users import create_user

    create_user(world.store, "reviewer-2", PASSWORD, RV, display_name="Second reviewer", actor="test setup")
    tok = login(world.store, "reviewer-2", PASSWORD, "127.0.0.1", kind="bearer")[0]
    r = c.post(
        f"/api/retro/candidates/{cand}/review",
        json={"decision": "possible_match"},
        headers={"Authorization": f"Bearer {tok}"},
    )
    assert r.json()["status"] == "reported possible match"
    rep = c.get("/api/retro/cases/CASE-2R", headers=h(AU)).json()["reported"]
    assert [x["record_id"] for x in rep] == ["BI-1"]
    assert c.get("/api/retro/cases/NOPE", headers=h(AU)).status_code == 404


def test_oifr_through_the_api_leaves_nothing(world: World) -> None:
    st = world.store
    root = st.settings.data_dir

    def files() -> set[str]:
        return {
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "openlfr.db" not in p.name
        }

    with st.session() as s:
        probes_before = s.scalar(select(func.count(RetroProbe.id)))
    before = files()
    original = celeb(PROBE).read_bytes()
    r = world.client.post(
        "/api/oifr",
        data={"reason": "false_details"},
        files={"photo": ("photo.jpg", original, "image/jpeg")},
        headers=world.h(EO),
    )
    assert r.status_code == 200, r.text
    cands = r.json()["faces"][0]["candidates"]
    assert len(cands) == 6 and cands[0]["record_id"] == "OB-1"
    assert files() == before
    with st.session() as s:
        assert s.scalar(select(func.count(RetroProbe.id))) == probes_before
        e = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "oifr.search").order_by(AuditEntry.seq.desc())
        ).first()
        assert e is not None and e.actor == "engagement-officer" and "false_details" in e.details
    raw = b"".join(p.read_bytes() for p in Path(root).glob("openlfr.db*"))
    assert original[200:264] not in raw
    # The custody image of a candidate is served to the engagement officer, and audited.
    img = world.client.get(cands[0]["image_url"], headers=world.h(EO))
    assert img.status_code == 200 and img.headers["cache-control"].startswith("no-store")
    r = world.client.post(
        "/api/oifr",
        data={"reason": "curiosity"},
        files={"photo": ("photo.jpg", original, "image/jpeg")},
        headers=world.h(EO),
    )
    assert r.status_code == 409 and "not one of the OIFR reasons" in r.json()["detail"]


def test_switched_off_refused_on_the_api_and_close_early(world: World) -> None:
    c, h, rs = world.client, world.h, world.store.settings.retro
    rs.oifr_enabled = False
    try:
        r = c.post("/api/oifr", headers=h(OP), **_oifr())
        assert r.status_code == 403 and "switched off" in r.json()["detail"]
        assert (
            c.post("/api/oifr/x/outcome", json={"outcome": "inconclusive"}, headers=h(OP)).status_code == 403
        )
        public = c.get("/public").text
        assert "Operator-initiated facial recognition" in public
        assert public.count("<strong>in use</strong>") == 1 and "<strong>not in use</strong>" in public
    finally:
        rs.oifr_enabled = True
    r = c.post("/api/oifr", headers=h(OP), **_oifr())
    assert r.status_code == 200
    r = c.post(
        f"/api/oifr/{r.json()['id']}/outcome",
        json={"outcome": "identified", "record_id": "OB-1"},
        headers=h(OP),
    )
    assert r.status_code == 200 and r.json()["outcome"] == "identified"
    rs.rfr_enabled = False
    try:
        r = c.post("/api/retro/cases/CASE-0/search", headers=h(OP), **_search())
        assert r.status_code == 403 and "RFR" in r.json()["detail"]
    finally:
        rs.rfr_enabled = True
    r = c.post("/api/retro/cases", headers=h(OP), **_case())
    ref = r.json()["reference"]
    r = c.post(f"/api/retro/cases/{ref}/close", json={"reason": "charged"}, headers=h(AO))
    assert r.status_code == 200 and r.json()["closed_at"]
    assert "closed and purged" in c.get(f"/api/retro/cases/{ref}", headers=h(AU)).json()["detail"]
    totals = c.get("/public/totals.json").json()
    assert totals["rfr_searches"] >= 2 and totals["oifr_searches"] >= 1 and totals["oifr_identified"] >= 1
    assert totals["oifr_enabled"] is True
    for secret in ("OB-1", "CASE-0", "CASE-R", "operator"):
        assert secret not in json.dumps(totals), secret
    page = c.get("/public/totals").text
    assert 'id="rfr-searches"' in page and 'id="oifr-outcomes"' in page
