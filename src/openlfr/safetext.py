"""Text that leaves the system: spreadsheet-safe CSV cells, and text fit to be published.

Two hazards, one module, because both are about text that someone else opens:

- **Formula injection.** A spreadsheet treats a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return as a formula (``=HYPERLINK(...)`` can leak data or run a command on open). Every CSV
  openlfr writes goes through :func:`csv_cell` / :func:`write_csv`, which prefix such a cell with ``'`` (the
  OWASP advice); plain numbers such as ``-0.25`` are left alone, since they are not formulas.
- **Invisible and reordering characters.** NUL and other control characters, and the bidirectional
  controls (U+202E "right-to-left override" and friends), make a published purpose or location read
  differently from what was stored. :func:`check_published_text` refuses them with an error naming the
  field and the character.

Not in any layer: it imports nothing of openlfr, so every layer may use it.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")

# Bidirectional formatting characters (Unicode TR9): embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> str:
    """A whole CSV document (header then rows; a row may be a sequence or a mapping by column), every
    cell neutralised by :func:`csv_cell`."""
    buf = io.StringIO()
    write_csv(buf, header, rows)
    return buf.getvalue()


def write_csv(
    out: io.TextIOBase | Any, header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]
) -> None:
    """Write a CSV document to the text stream ``out`` (see :func:`csv_text`)."""
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        cells = [row.get(h, "") for h in header] if isinstance(row, Mapping) else list(row)
        writer.writerow([csv_cell(c) for c in cells])


class UnsafeText(ValueError):
    """Text meant for publication holds a control or bidirectional formatting character."""


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def unsafe_character(text: str, *, allow_newlines: bool = False) -> str | None:
    """The first character of ``text`` that must not be published, described, or None.

    Refused: C0/C1 control characters (tab and line breaks too, unless ``allow_newlines``), the bidi
    controls, other format characters (category Cf: zero-width joiners, invisible separators), line and
    paragraph separators, and lone surrogates.
    """
    for ch in text:
        if allow_newlines and ch in "\n\r\t":
            continue
        cat = unicodedata.category(ch)
        if ch in BIDI_CONTROLS or cat in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return _describe(ch)
    return None


def check_published_text(field: str, value: str | None, *, allow_newlines: bool = False) -> None:
    """Raise :class:`UnsafeText` naming ``field`` if ``value`` holds a character that must not be
    published (see :func:`unsafe_character`)."""
    if not value:
        return
    bad = unsafe_character(value, allow_newlines=allow_newlines)
    if bad is not None:
        raise UnsafeText(
            f"the {field} contains the invisible or control character {bad}; "
            "remove it (such characters can make published text read differently from what was stored)"
        )
