"""Jinja templates of the published records (the deployment record, the period totals).

Governance sits below ``web`` in DESIGN.md's layers, so it cannot use ``web.render``; it has its own small
environment here, with the same autoescaping and the same look as the web pages. The HTML files sit beside
this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parent

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render_template(name: str, **context: Any) -> str:
    """A template of this folder rendered with ``context`` (escaped; an undefined name is an error)."""
    return _env.get_template(name).render(**context)
