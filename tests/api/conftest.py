"""API fixtures: a real store (SQLite in a tmp dir), one user per role, a deployment with a real enrolled
watchlist entry and a real alert raised through governance's gateway."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest
from fastapi.testclient import TestClient

from openlfr.api.users import create_user, login
from openlfr.config import Settings
from openlfr.governance.deployment_opening import open_deployment, record_signage
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.governance.watchlists import SubjectEntry, enrol_subject
from openlfr.store import Store, open_store
from openlfr.store.auth_models import Role
from openlfr.vision import load_image
from openlfr.web.app import create_server_app
from tests.authorisers import authoriser
from tests.conftest import demo_reference
from tests.governance.deployment_fields import ASSESSMENTS

PASSWORD = "correct horse battery staple"
EXAMPLES = ("small_celeb_examples", "face_recognition", "examples")
MIRANDA = (*EXAMPLES, "lin-manuel-miranda.png")
THRESHOLD = 0.4


def server_settings(tmp_path: Path, **server: object) -> Settings:
    s = Settings(data_dir=tmp_path / "openlfr")
    s.server.secure_cookies = False  # the test client speaks plain HTTP
    s.server.run_live = False
    s.server.run_purge = False
    for k, v in server.items():
        setattr(s.server, k, v)
    return s


@dataclass
class World:
    client: TestClient
    store: Store
    tokens: dict[Role, str]
    deployment_id: str
    alert_id: str

    def headers(self, role: Role | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


def add_users(store: Store) -> None:
    for role in Role:
        create_user(
            store,
            role.value.replace("_", "-"),
            PASSWORD,
            role,
            display_name=f"Test {role.label}",
            actor="test setup",
            # Opening a deployment authorises it: the authorising officer holds the minimum rank (issue 25).
            rank="superintendent" if role == Role.AUTHORISING_OFFICER else None,
        )


def enrolled_open_deployment(store: Store, cameras: tuple[str, ...] = ("cam-1",), hours: float = 4) -> str:
    now = datetime.now(UTC)
    dep = create_deployment(
        store,
        "planner",
        purpose="Find people wanted by the courts",
        location="Queen Street, Cardiff",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=hours),
        authorising_officer="Supt. Jones",
        cameras=list(cameras),
        threshold=THRESHOLD,
        purpose_category="wanted_offenders",
        legal_basis="Common-law policing powers; DPA 2018 Part 3",
        authorising_role="Superintendent",
        threshold_override_reason="test deployment: no calibration in a fresh data directory",
        **ASSESSMENTS,
        short_notice_reason="test deployment: opened at once",
    )
    entry = SubjectEntry(
        subject_id="W-001",
        category="wanted_by_court",
        reason="Failed to appear at Cardiff Crown Court",
        image_source="custody",
        offence_seriousness="indictable_only",
        legal_basis="warrant",
        approved_by="Insp. Evans",
        expires_at=now + timedelta(days=2),
        name="Test Subject (demonstration)",
    )
    # The generated demo sample's reference photo (public domain): the API suites need no shared data.
    enrol_subject(store, "planner", dep.id, entry, [demo_reference()])
    record_signage(store, "PC Signs", dep.id)
    # The authorising officer of add_users when there is one (issue 25: whoever opens authorises).
    open_deployment(store, authoriser(store, "authorising-officer"), dep.id)
    return dep.id


def jpeg_of(path: Path) -> bytes:
    ok, buf = cv2.imencode(".jpg", load_image(path))
    assert ok
    return buf.tobytes()


def raise_test_alert(store: Store, deployment_id: str, camera: str = "cam-1") -> str:
    """A real alert through governance's gateway (as the live pipeline raises them)."""
    crop = jpeg_of(demo_reference())
    gateway = DeploymentGateway(store, deployment_id)
    return gateway.raise_alert(
        camera_id=camera,
        track_id="t1",
        subject_id="W-001",
        template_index=0,
        score=0.55,
        threshold=THRESHOLD,
        probe_crop=crop,
        frame_crop=crop,
        observed_at=datetime.now(UTC),
    )


@dataclass
class Seed:
    data_dir: Path
    deployment_id: str
    alert_id: str
    tokens: dict[Role, str]


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    """Built once (users, a real enrolment, a real alert, one token per role); each test gets a copy."""
    root = tmp_path_factory.mktemp("api-seed")
    settings = server_settings(root)
    store = open_store(settings)
    add_users(store)
    dep = enrolled_open_deployment(store)
    alert = raise_test_alert(store, dep)
    tokens = {
        role: login(store, role.value.replace("_", "-"), PASSWORD, "127.0.0.1", kind="bearer")[0]
        for role in Role
    }
    store.close()
    return Seed(settings.data_dir, dep, alert, tokens)


@pytest.fixture
def world(tmp_path: Path, seed: Seed) -> Iterator[World]:
    settings = server_settings(tmp_path)
    shutil.copytree(seed.data_dir, settings.data_dir)
    store = open_store(settings)
    app = create_server_app(settings, store=store, background=[])
    with TestClient(app) as client:
        yield World(client, store, dict(seed.tokens), seed.deployment_id, seed.alert_id)
    store.close()
