"""Jinja templates of the published records (the deployment record, the period totals).

Governance sits below ``web`` in DESIGN.md's layers, so it cannot use ``web.render``; it has its own small
environment here, with the same autoescaping and the same look as the web pages. The HTML files sit beside
this module.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES_DIR = Path(__file__).resolve().parent


@cache
def _env() -> Environment:
    # Built on first use, not at import: jinja2 costs every CLI process start-up time, and most commands
    # never render a record.
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_template(name: str, **context: Any) -> str:
    """A template of this folder rendered with ``context`` (escaped; an undefined name is an error)."""
    return _env().get_template(name).render(**context)
