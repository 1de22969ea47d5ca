"""API fuzz: schemathesis over ``/openapi.json``, every operation, as every role and as nobody: no 500.

Cases come from the schema (valid ones) and from its negation (wrong types, out-of-range numbers,
missing fields, odd strings), with generated path ids and with the real deployment and alert ids, so
that the requests reach the services and the database rather than stopping at a 404. The number of
examples is bounded (``OPENLFR_FUZZ_EXAMPLES``, default 5 per operation, identity, mode and id choice)
so the run takes a minute or two; ``OPENLFR_FUZZ_EXAMPLES=100`` runs a deeper search.

Schemathesis sends valid JSON only, so NaN/Infinity, lone surrogates and oversized bodies, which it does
not generate, have their own tests in ``test_hardening.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from openlfr.store import open_store
from openlfr.store.auth_models import Role
from openlfr.web.app import create_server_app
from tests.api.conftest import Seed, server_settings

FUZZ_EXAMPLES = int(os.environ.get("OPENLFR_FUZZ_EXAMPLES", "5"))
# Logging out revokes the very token the other cases use; it is covered by the auth tests.
SKIP = {("POST", "/api/auth/logout")}
WHO = [None, *Role]


@dataclass
class Tally:
    """What the fuzz sent and got back, printed at the end (the README quotes it)."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, seed: Seed) -> Iterator[tuple[object, Seed]]:
    root = tmp_path_factory.mktemp("fuzz")
    s = server_settings(root, public_requests_per_minute=100_000)
    shutil.copytree(seed.data_dir, s.data_dir)
    store = open_store(s)
    app = create_server_app(s, store=store, background=[])
    yield app, seed
    store.close()


@pytest.mark.slow
def test_no_route_answers_500_to_any_role(fuzz_app: tuple[object, Seed]) -> None:
    app, seed = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    tally = Tally()
    real_ids = {"deployment_id": seed.deployment_id, "alert_id": seed.alert_id}
    for op in operations:
        if (op.method.upper(), op.path) in SKIP:
            continue
        names = {p.name for p in op.path_parameters}
        fixed_choices: list[dict[str, str] | None] = [None]
        if names & real_ids.keys():
            fixed_choices.append({k: v for k, v in real_ids.items() if k in names})
        for who in WHO:
            headers = {"Authorization": f"Bearer {seed.tokens[who]}"} if who else {}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for fixed in fixed_choices:
                    _fuzz(op, mode, headers, fixed, who, tally)
    print(
        f"\nschemathesis: {len(operations)} operations x {len(WHO)} identities x 2 modes, "
        f"{FUZZ_EXAMPLES} examples each: {tally.requests} requests, statuses "
        + ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items()))
    )
    assert not tally.failures, "\n".join(tally.failures[:20])


def _fuzz(
    op: object,
    mode: GenerationMode,
    headers: dict[str, str],
    fixed: dict[str, str] | None,
    who: Role | None,
    tally: Tally,
) -> None:
    try:
        strategy = op.as_strategy(mode, path_parameters=fixed)  # type: ignore[attr-defined]
    except Exception as exc:  # an operation that has no negative form, for instance
        if mode is GenerationMode.NEGATIVE:
            return
        raise AssertionError(f"{op}: cannot generate cases: {exc}") from exc

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: object) -> None:
        try:
            response = case.call(headers=headers)  # type: ignore[attr-defined]
        except Exception as exc:  # the app raised: the test client would have answered 500
            tally.failures.append(f"{who}: {case.method} {case.formatted_path}: raised {exc!r}")  # type: ignore[attr-defined]
            return
        tally.requests += 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            tally.failures.append(
                f"{who}: {case.method} {case.formatted_path} query={case.query} body={case.body!r:.200} "  # type: ignore[attr-defined]
                f"-> {response.status_code} {response.text[:200]}"
            )

    try:
        run()
    except Unsatisfiable:
        # No negative case exists for an operation without inputs (or with its ids fixed): nothing to do.
        if mode is GenerationMode.POSITIVE and fixed is None:
            raise


def test_fuzz_would_catch_a_500(fuzz_app: tuple[object, Seed], tmp_path: Path) -> None:
    """The harness itself: a route that fails is reported (so a green run means something)."""
    from fastapi import FastAPI

    broken = FastAPI()

    @broken.get("/boom")
    def boom(n: int) -> dict[str, int]:
        return {"inverse": 1 // (n - n)}

    schema = schemathesis.openapi.from_asgi("/openapi.json", broken)
    tally = Tally()
    (op,) = [r.ok() for r in schema.get_all_operations()]
    _fuzz(op, GenerationMode.POSITIVE, {}, None, None, tally)
    assert tally.failures
