"""Every page and form, every role (issue 14 item 2): the pages follow the same role table as the API.

Written out here, as in ``tests/api/test_roles.py``, so a change to who may open a page must change this
test too. A refused role gets 403; nobody logged in is sent to the login page; an allowed role gets past
the role check (its answer may still be a refusal by governance, e.g. 409 for a decision already taken).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openlfr.api import roles
from openlfr.api.users import login
from openlfr.store.auth_models import Role
from tests.api.conftest import PASSWORD, World

A, AO, OP, EO, RV, AU = (
    Role.ADMIN,
    Role.AUTHORISING_OFFICER,
    Role.OPERATOR,
    Role.ENGAGEMENT_OFFICER,
    Role.REVIEWER,
    Role.AUDITOR,
)
EVERYONE = tuple(Role)

# (name, method, path, form fields or None, allowed roles)
PAGES: list[tuple[str, str, str, Callable[[], dict[str, Any]] | None, tuple[Role, ...]]] = [
    ("console", "GET", "/console", None, (AO, OP, EO)),
    ("alert page", "GET", "/alerts/{alert}", None, (AO, OP, EO, AU)),
    ("deployments", "GET", "/deployments", None, (A, AO, OP, AU)),
    ("supervisor page", "GET", "/deployments/{dep}", None, (A, AO, OP, AU)),
    ("audit log", "GET", "/audit", None, (A, AO, AU)),
    ("users", "GET", "/admin/users", None, (A,)),
    ("watchlists", "GET", "/watchlists", None, (AO, OP, RV)),
    ("watchlist page", "GET", "/deployments/{dep}/watchlist", None, (AO, OP, RV)),
    ("review form", "POST", "/alerts/{alert}/review", lambda: {"decision": "engage"}, (OP,)),
    ("engagement form", "POST", "/alerts/{alert}/engagement", lambda: {"decision": "confirmed_true"}, (EO,)),
    ("disposal form", "POST", "/alerts/{alert}/disposal", lambda: {"decision": "advice"}, (EO,)),
    ("approve form", "POST", "/deployments/{dep}/watchlist/W-001/approve", dict, (AO, RV)),
    ("reject form", "POST", "/deployments/{dep}/watchlist/W-001/reject", lambda: {"reason": "x"}, (AO, RV)),
    ("review choice", "POST", "/alerts/{alert}/review/check", lambda: {"decision": "engage"}, (OP,)),
    (
        "amend form",
        "POST",
        "/alerts/{alert}/amend",
        lambda: {"amend_step": "review", "decision": "engage", "reason": "x"},
        (AO,),
    ),
    ("close check", "POST", "/deployments/{dep}/close/check", lambda: {}, (AO, OP)),
    ("close form", "POST", "/deployments/{dep}/close", lambda: {"reason": "done"}, (AO, OP)),
]
UPLOADS: list[tuple[str, str, tuple[Role, ...]]] = [
    ("enrol form", "/deployments/{dep}/watchlist/enrol", (AO, OP)),
    ("import form", "/deployments/{dep}/watchlist/import", (AO, OP)),
]


def _session(world: World, role: Role) -> str:
    token, principal = login(world.store, role.value.replace("_", "-"), PASSWORD, "testclient", kind="cookie")
    world.client.cookies.clear()
    world.client.cookies.set("openlfr_session", token)
    return principal.csrf_token


def _request(world: World, role: Role | None, method: str, path: str, form: dict[str, Any] | None) -> Any:
    url = path.format(dep=world.deployment_id, alert=world.alert_id)
    headers = {"accept": "text/html"}
    if role is None:
        world.client.cookies.clear()
        return world.client.request(method, url, headers=headers, data=form, follow_redirects=False)
    csrf = _session(world, role)
    data = {**(form or {}), "csrf_token": csrf} if method == "POST" else None
    return world.client.request(method, url, headers=headers, data=data, follow_redirects=False)


def _past_the_role_check(r: Any) -> bool:
    return r.status_code != 403 and not (r.status_code == 303 and r.headers["location"].startswith("/login"))


@pytest.mark.parametrize(("name", "method", "path", "form", "allowed"), PAGES, ids=[p[0] for p in PAGES])
def test_each_page_each_role(
    world: World,
    name: str,
    method: str,
    path: str,
    form: Callable[[], dict[str, Any]] | None,
    allowed: tuple[Role, ...],
) -> None:
    # Refused roles first: a form that changes something must change nothing for them.
    for role in sorted(EVERYONE, key=lambda r: r in allowed):
        r = _request(world, role, method, path, form() if form else None)
        if role in allowed:
            assert _past_the_role_check(r), f"{name}: {role.value} should be allowed, got {r.status_code}"
            assert r.status_code < 500
        else:
            assert r.status_code == 403, f"{name}: {role.value} should be refused, got {r.status_code}"
    r = _request(world, None, method, path, form() if form else None)
    assert r.status_code in (303, 403) and (
        r.status_code == 403 or r.headers["location"].startswith("/login")
    )


@pytest.mark.parametrize(("name", "path", "allowed"), UPLOADS, ids=[u[0] for u in UPLOADS])
def test_each_upload_form_each_role(world: World, name: str, path: str, allowed: tuple[Role, ...]) -> None:
    url = path.format(dep=world.deployment_id)
    for role in EVERYONE:
        csrf = _session(world, role)
        r = world.client.post(
            url,
            headers={"accept": "text/html"},
            data={"csrf_token": csrf},
            files=[("images", ("x.jpg", b"not an image", "image/jpeg"))],
            follow_redirects=False,
        )
        if role in allowed:
            assert _past_the_role_check(r) and r.status_code < 500, (name, role, r.status_code)
        else:
            assert r.status_code == 403, (name, role, r.status_code)


def test_the_table_written_here_is_the_one_the_code_reads() -> None:
    """The pages' dependencies take their roles from ``api/roles.py``; so do these expectations."""
    assert set(roles.APPROVE_WATCHLIST) == {AO, RV} and set(roles.ENROL_WATCHLIST) == {AO, OP}
    assert set(roles.VIEW_WATCHLIST_ENTRIES) == {AO, OP, RV}
    # The reviewer has real work: approving watchlist entries (it could do nothing before).
    assert RV in roles.APPROVE_WATCHLIST


def test_nav_links_follow_the_role_table(world: World) -> None:
    links = {
        "/console": roles.RECEIVE_ALERTS,
        "/watchlists": roles.VIEW_WATCHLIST_ENTRIES,
        "/audit": roles.VIEW_AUDIT,
    }
    for role in EVERYONE:
        _session(world, role)
        home = world.client.get("/", headers={"accept": "text/html"})  # the role's home page
        assert home.status_code == 200, (role, home.status_code)
        html = home.text
        for href, allowed in links.items():
            assert (f'href="{href}"' in html) == (role in allowed), (role, href)
