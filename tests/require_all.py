"""A pytest plugin: with ``OPENLFR_REQUIRE_ALL=1`` a skipped test fails the run, so that nothing is silently
skipped where everything is meant to run (CI, and ``make test`` when the shared data is present).

Whatever the setting, the summary names the suites that skipped because the shared face data was missing,
so a run from a bare clone says exactly what it did not cover. Loaded by ``tests/conftest.py``; usable alone
as ``pytest -p tests.require_all``.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

REQUIRE_ALL = "OPENLFR_REQUIRE_ALL"
# The words require_data() skips with; tests/conftest.py builds its message from this.
DATA_MISSING = "shared face data not found"

_skipped: list[pytest.TestReport] = []


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL, "").strip() not in ("", "0", "false", "no")


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An expected failure is reported as "skipped" too; it ran, so it is not what this guards against.
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report)


def pytest_sessionstart(session: pytest.Session) -> None:
    _skipped.clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if require_all() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _skipped:
        return
    data_suites = Counter(r.nodeid.split("::")[0] for r in _skipped if DATA_MISSING in _reason(r))
    if data_suites:
        terminalreporter.section("suites that need the shared face data (OPENLFR_DATA)", sep="-")
        for suite, n in sorted(data_suites.items()):
            terminalreporter.line(f"{suite}: {n} test(s) skipped")
        terminalreporter.line(
            f"{sum(data_suites.values())} test(s) in {len(data_suites)} suite(s) need OPENLFR_DATA "
            "(default ../shared/data); everything else ran on generated or public-domain samples."
        )
    if require_all():
        terminalreporter.section(f"{REQUIRE_ALL}=1: a skipped test fails the run", sep="-", red=True)
        for r in _skipped:
            terminalreporter.line(f"SKIPPED {r.nodeid}: {_reason(r)}", red=True)
