"""Jinja2 environment shared by the pages and the signage command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from openlfr import __version__
from openlfr.api import roles

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _when(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed.strftime(fmt)
    return value.strftime(fmt)


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


templates.env.filters["when"] = _when
templates.env.filters["pct"] = _pct
templates.env.globals["version"] = __version__
# The pages show links by the same role table the routes check.
templates.env.globals["roles"] = roles


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("principal", getattr(request.state, "principal", None))
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    return response
