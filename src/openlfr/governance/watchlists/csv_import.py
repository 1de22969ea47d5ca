"""Reading a watchlist CSV: every row checked, every problem reported at once by line; nothing stored."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlists.entries import SubjectEntry, parse_date, parse_time, validate_entry

CSV_COLUMNS = (
    "subject_id",
    "category",
    "reason",
    "image_source",
    "legal_basis",
    "approved_by",
    "expires_at",
    "images",
)
CSV_OPTIONAL = ("name", "date_of_birth")


@dataclass(frozen=True)
class ImageFile:
    """A reference image named in the CSV: its name as written and where it resolved to."""

    name: str
    path: Path


@dataclass(frozen=True)
class CsvSubject:
    """One checked CSV row: the entry and its reference image files (several per subject allowed)."""

    entry: SubjectEntry
    images: list[ImageFile]


def _row_images(value: str, image_dir: Path) -> list[ImageFile]:
    names = [n.strip() for n in value.replace("|", ";").split(";") if n.strip()]
    if not names:
        raise GovernanceError("no image named in the images column")
    out = []
    base = image_dir.resolve()
    for n in names:
        p = (image_dir / n).resolve()
        if not p.is_relative_to(base):
            raise GovernanceError(f"image {n} is outside the image folder")
        if not p.is_file():
            raise GovernanceError(f"image {n} not found in {image_dir}")
        out.append(ImageFile(n, p))
    return out


def read_watchlist_csv(csv_path: Path, image_dir: Path, now: datetime) -> list[CsvSubject]:
    """Parse and check a whole watchlist CSV; every problem found is reported at once, by line.

    The ``images`` column holds one or more file names relative to ``image_dir``, separated by ``;``
    (or ``|``): several reference images of one subject, as custody records often have."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise GovernanceError(f"{csv_path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise GovernanceError(f"{csv_path}: not UTF-8 text ({exc.reason})") from exc
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise GovernanceError(f"{csv_path}: malformed CSV ({exc})") from exc
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise GovernanceError(f"{csv_path}: empty file (expected a header: {', '.join(CSV_COLUMNS)})")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise GovernanceError(
            f"{csv_path}: header lacks column(s) {', '.join(missing)} "
            f"(required: {', '.join(CSV_COLUMNS)}; optional: {', '.join(CSV_OPTIONAL)})"
        )
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL]
    if unknown:
        raise GovernanceError(f"{csv_path}: unknown column(s) {', '.join(unknown)}")
    if len(rows) == 1:
        raise GovernanceError(f"{csv_path}: no subjects (only a header)")
    problems: list[str] = []
    out: list[CsvSubject] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(rows[1:], start=2):
        if len(raw) != len(header):
            problems.append(f"line {lineno}: {len(raw)} fields, the header has {len(header)}")
            continue
        row = dict(zip(header, (c.strip() for c in raw), strict=True))
        try:
            if not row["expires_at"]:
                raise GovernanceError("expires_at is required")
            expires = parse_time(row["expires_at"], "expiry")
            dob = parse_date(row["date_of_birth"], "date of birth") if row.get("date_of_birth") else None
            entry = validate_entry(
                SubjectEntry(
                    subject_id=row["subject_id"],
                    category=row["category"],
                    reason=row["reason"],
                    image_source=row["image_source"],
                    legal_basis=row["legal_basis"],
                    approved_by=row["approved_by"],
                    expires_at=expires,
                    name=row.get("name") or None,
                    date_of_birth=dob,
                ),
                now,
            )
            if entry.subject_id in seen:
                raise GovernanceError(f"subject id {entry.subject_id} repeats line {seen[entry.subject_id]}")
            seen[entry.subject_id] = lineno
            out.append(CsvSubject(entry, _row_images(row["images"], image_dir)))
        except GovernanceError as exc:
            problems.append(f"line {lineno}: {exc}")
    if problems:
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise GovernanceError(
            f"{csv_path}: nothing imported, {len(problems)} problem(s):\n  - "
            + "\n  - ".join(problems[:50])
            + more
        )
    return out
