"""The documentation site's generated references (docs/hooks.py) have no holes.

The configuration and CLI reference pages are generated from the settings object and the Typer app, so a
setting without a description or a command or option without help would show up there as a blank. These
tests fail first, naming each one. (``make test`` also builds the whole site with ``mkdocs build --strict``.)
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel, Field

from openlfr.config import _Section

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openlfr_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_has_a_description(hooks: ModuleType) -> None:
    assert hooks.missing_setting_descriptions() == []


def test_every_command_and_option_has_help(hooks: ModuleType) -> None:
    assert hooks.missing_cli_help() == []


def test_the_check_catches_a_setting_without_description(hooks: ModuleType) -> None:
    """An undescribed key, top-level or in a section, and a section without a docstring are named."""

    class Described(_Section):
        """A section for this test."""

        described: int = Field(1, description="Has one.")
        bare: int = 2

    class Undocumented(_Section):
        fine: int = Field(1, description="Has one.")

    class Config(BaseModel):
        top: int = 3
        first: Described = Field(default_factory=Described)
        second: Undocumented = Field(default_factory=Undocumented)

    assert hooks.missing_setting_descriptions(Config) == [
        "setting top has no description",
        "setting first.bare has no description",
        "setting section [second] (Undocumented) has no docstring",
    ]


def test_the_check_catches_a_command_without_help(hooks: ModuleType) -> None:
    import typer

    demo = typer.Typer(help="A test app.")

    @demo.command("described")
    def described(name: str = typer.Argument(..., help="Has help.")) -> None:
        """Has help."""

    @demo.command("bare")
    def bare(name: str, flag: bool = typer.Option(False, "--flag")) -> None:
        pass

    assert hooks.missing_cli_help(typer.main.get_command(demo)) == [
        "command `openlfr bare` has no help text",
        "`openlfr bare` NAME has no help text",
        "`openlfr bare` --flag has no help text",
    ]


def test_reference_pages_list_every_key_and_command(hooks: ModuleType) -> None:
    page = hooks.configuration_page()
    for section, _model, fields in hooks.settings_sections():
        for name in fields:
            key = f"{section}.{name}" if section else name
            assert f"`{key}`" in page
    assert "`OPENLFR_RETENTION__ALERT_RETENTION_HOURS`" in page and "`OPENLFR_DATA`" in page
    cli = hooks.cli_page()
    for name, _command in hooks.walk_commands():
        assert f"`{name}`" in cli
    assert "`openlfr deployment create`" in cli and "--purpose" in cli


def test_readme_is_a_short_front_page_whose_links_resolve() -> None:
    """Issue 28: the README stays under 250 lines, and every relative link in it (into docs/) points at a
    file that exists; mkdocs checks the site's own links, not the README's."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [link.split("#")[0] for link in links if not re.match(r"[a-z]+:", link) and link[0] != "#"]
    assert relative, "the README links into the docs"
    assert [link for link in relative if not (ROOT / link).exists()] == []
