"""The Typer app and what every command shares: settings, console output, clean errors."""

from __future__ import annotations

import logging
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from openlfr.config import Settings, get_settings
from openlfr.errors import OpenLFRError
from openlfr.vision.packs import ModelPack, ModelPackError, get_pack

log = logging.getLogger(__name__)

INTERNAL_ERROR_EXIT = 70
"""Exit status of a bug in openlfr (``EX_SOFTWARE``); bad input exits with 2."""


class _CleanErrorsGroup(TyperGroup):
    """The top-level command group: every command runs inside it, so this is where errors end up.

    An :class:`~openlfr.errors.OpenLFRError` is a one-line message (exit 2). Anything else is a bug: its
    traceback goes to the error log and the user is told it is an internal error, never a misleading
    one-liner that looks like a problem with their input."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors click; its class is private)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # exits, usage errors: click's own
            raise
        except OpenLFRError as exc:
            fail(str(exc))
        except Exception as exc:
            internal_error(exc)


app = typer.Typer(
    name="openlfr",
    help="openlfr: live facial recognition with the safeguards built in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_CleanErrorsGroup,
)
console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    return get_settings()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    # soft_wrap: a path in the message must stay on one line, whatever the terminal width.
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def error_log_path() -> Path:
    """Where the CLI appends the traceback of an internal error: ``<data_dir>/logs/errors.log``, or the
    temporary directory when the settings themselves cannot be read."""
    try:
        return get_settings().data_dir / "logs" / "errors.log"
    except Exception:  # the settings may be what is broken
        return Path(tempfile.gettempdir()) / "openlfr-errors.log"


def internal_error(exc: BaseException) -> NoReturn:
    """Report a bug: the traceback to the error log (stderr if the log cannot be written), a clear line
    to the user, and exit status 70."""
    text = "".join(traceback.format_exception(exc))
    path = error_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {datetime.now(UTC).isoformat()} openlfr {' '.join(sys.argv[1:])}\n{text}\n")
        where = f"the traceback is in {path}"
    except OSError:
        log.error("internal error", exc_info=exc)
        where = "the traceback is above"
    err_console.print(
        f"[bold red]internal error:[/] a bug in openlfr, not a problem with your input "
        f"({type(exc).__name__}); {where}. Please report it.",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(INTERNAL_ERROR_EXIT)


@contextmanager
def clean_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the expected errors of a command into a one-line message and exit status 2."""
    try:
        yield
    except kinds as exc:
        fail(str(exc))


def choose_pack(name: str | None) -> ModelPack:
    """The pack asked for (default: the configured one), announcing a restrictive licence on stderr.

    Every command that lets the user pick a pack goes through here, so the non-commercial notice is never
    skipped."""
    with clean_errors(ModelPackError):
        chosen = get_pack(name or settings().vision.pack)
    if chosen.licence_notice:
        err_console.print(f"[bold yellow]licence:[/] {chosen.licence_notice}", highlight=False)
    return chosen
