"""Governance fixtures: a fresh store (SQLite and PostgreSQL), a clock tests move, a calibrated pack."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.deployments import DeploymentInfo
from openlfr.matching.calibration import Calibration, local_calibration_path, save_calibration
from openlfr.store import Store
from tests.governance.deployment_fields import ASSESSMENTS, SHORT_NOTICE
from tests.store.db_fixtures import *  # noqa: F403

VALIDATED_MIN = 0.40


@pytest.fixture
def calibrated(store: Store) -> float:
    """A calibration for opencv-zoo in the store's data directory (it takes precedence over a shipped one)."""
    save_calibration(
        Calibration(pack="opencv-zoo", validated_min_threshold=VALIDATED_MIN),
        local_calibration_path("opencv-zoo", store.settings.data_dir),
    )
    return VALIDATED_MIN


@pytest.fixture
def make_deployment(store: Store, clock: Any, calibrated: float) -> Callable[..., DeploymentInfo]:
    def make(**kw: Any) -> DeploymentInfo:
        values: dict[str, Any] = {
            "purpose": "find people wanted by the courts",
            "location": "High Street, Cardiff",
            "starts_at": clock() + timedelta(hours=1),
            "ends_at": clock() + timedelta(hours=9),
            "authorising_officer": "Supt. Jones",
            "cameras": ["cam-1", "cam-2"],
            "threshold": 0.5,
            "purpose_category": "wanted_offenders",
            "legal_basis": "Common-law policing powers; DPA 2018 Part 3",
            "authorising_role": "Superintendent",
            **ASSESSMENTS,
            "short_notice_reason": SHORT_NOTICE,
        }
        values.update(kw)
        return create_deployment(store, "planner (supervisor)", clock=clock, **values)

    return make


@pytest.fixture
def ready(store: Store, clock: Any) -> Callable[[str], None]:
    """Make a planned deployment ready to open as issue 15 requires: one real subject on its watchlist and
    the signage recorded in place."""
    from openlfr.governance.deployment_opening import record_signage
    from openlfr.governance.watchlists import enrol_subject
    from tests.governance.faces import entry, lfw_people

    def make_ready(deployment_id: str) -> None:
        person, images = lfw_people()[0]
        enrol_subject(store, "enroller", deployment_id, entry(person, clock()), [images[0]], clock=clock)
        record_signage(store, "pc (officer)", deployment_id, clock=clock)

    return make_ready
