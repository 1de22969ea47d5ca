"""The API's errors: an openlfr error answers with its message; a bug answers 500 "internal error" in
JSON, with the traceback in the server log and its message kept from the caller."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from openlfr.governance import deployments
from openlfr.governance.errors import GovernanceError
from openlfr.store.auth_models import Role
from openlfr.vision.image_io import ImageError
from tests.api.conftest import World


def _failing(exc: Exception):  # type: ignore[no-untyped-def]
    def fail(*_args: object, **_kw: object) -> None:
        raise exc

    return fail


@pytest.fixture
def client(world: World) -> TestClient:
    # raise_server_exceptions=False: answer as the server would, rather than re-raise into the test.
    return TestClient(world.client.app, raise_server_exceptions=False)


def test_a_bug_is_an_internal_error_with_the_traceback_logged(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/api/deployments", headers=world.headers(Role.ADMIN)).status_code == 200
    monkeypatch.setattr(deployments, "list_deployments", _failing(ValueError("secret internals 42")))
    with caplog.at_level(logging.ERROR, logger="openlfr.api.app"):
        r = client.get("/api/deployments", headers=world.headers(Role.ADMIN))
    assert r.status_code == 500
    assert r.json()["detail"].startswith("internal error")
    assert "secret internals" not in r.text
    logged = [rec for rec in caplog.records if rec.name == "openlfr.api.app"]
    assert logged and "/api/deployments" in logged[0].getMessage()
    assert logged[0].exc_info is not None and "secret internals 42" in str(logged[0].exc_info[1])


def test_openlfr_errors_answer_with_their_message(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deployments, "list_deployments", _failing(ImageError("not an image: x.png")))
    r = client.get("/api/deployments", headers=world.headers(Role.ADMIN))
    assert (r.status_code, r.json()) == (422, {"detail": "not an image: x.png"})
    monkeypatch.setattr(deployments, "list_deployments", _failing(GovernanceError("refused")))
    r = client.get("/api/deployments", headers=world.headers(Role.ADMIN))
    assert (r.status_code, r.json()) == (409, {"detail": "refused"})
    r = client.get("/api/deployments/no-such-id", headers=world.headers(Role.ADMIN))
    assert r.status_code == 404 and "no-such-id" in r.json()["detail"]
