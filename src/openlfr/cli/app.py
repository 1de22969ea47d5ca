"""The Typer app and what every command shares: settings, console output, clean errors."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from openlfr.config import Settings, get_settings
from openlfr.vision.packs import ModelPack, ModelPackError, get_pack

app = typer.Typer(
    name="openlfr",
    help="openlfr: live facial recognition with the safeguards built in.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


@contextmanager
def clean_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the expected errors of a command into a one-line message and exit status 2."""
    try:
        yield
    except kinds as exc:
        fail(str(exc))


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return app.command(*args, **kwargs)


def is_tty() -> bool:
    return sys.stdout.isatty()


def choose_pack(name: str | None) -> ModelPack:
    """The pack asked for (default: the configured one), announcing a restrictive licence on stderr.

    Every command that lets the user pick a pack goes through here, so the non-commercial notice is never
    skipped."""
    with clean_errors(ModelPackError):
        chosen = get_pack(name or settings().vision.pack)
    if chosen.licence_notice:
        err_console.print(f"[bold yellow]licence:[/] {chosen.licence_notice}", highlight=False)
    return chosen
