"""The people found in RFR media, before anyone is searched: the officer chooses whom to search (or
everyone, with a stated reason). The people waiting for a choice live in this process's memory only and
their templates are overwritten when they go.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openlfr.governance.errors import NotFound
from openlfr.retro.media import ProbeFace, RetroError

# --- the people found in the media, before anyone is searched ----------------------------------------


@dataclass(frozen=True)
class PersonFound:
    """One person the media show, for the officer to choose from: never stored, shown once."""

    number: int
    """1-based, in the order the media were given (``--person N``)."""
    media: str
    frame_index: int | None
    box: list[float]
    quality: float
    low_quality: tuple[str, ...]
    thumbnail_jpeg: bytes = field(repr=False)

    def as_dict(self, *, thumbnail: bool = True) -> dict[str, Any]:
        import base64

        out: dict[str, Any] = {
            "person": self.number,
            "media": Path(self.media).name,
            "frame_index": self.frame_index,
            "box": self.box,
            "quality": round(self.quality, 3),
            "low_quality": list(self.low_quality),
        }
        if thumbnail:
            out["thumbnail"] = "data:image/jpeg;base64," + base64.b64encode(self.thumbnail_jpeg).decode()
        return out


class ChoiceNeeded(RetroError):
    """The media show more than one person (or are a video): the officer must choose whom to search.
    ``people`` lists them; ``selection`` names the in-memory pending choice (API and page), if one was kept."""

    def __init__(self, people: list[PersonFound], selection: str | None = None) -> None:
        super().__init__(
            f"the media show {len(people)} {'person' if len(people) == 1 else 'people'}: choose whom to search "
            "(--person N, repeatable), or search everyone with --all-faces and a reason; nothing was searched "
            "or stored"
        )
        self.people = people
        self.selection = selection


def _people(faces: Sequence[ProbeFace]) -> list[PersonFound]:
    return [
        PersonFound(i + 1, f.media_name, f.frame_index, f.box, f.quality, f.low_quality, f.crop_jpeg)
        for i, f in enumerate(faces)
    ]


def _wipe(faces: Sequence[ProbeFace]) -> None:
    """Overwrite the templates of faces not searched (the crops are immutable bytes: dropped)."""
    for f in faces:
        for e in f.embeddings:
            e.fill(0)
        f.embeddings.clear()


@dataclass
class _Pending:
    case_id: str
    actor: str
    faces: list[ProbeFace]
    media: list[str]
    expires: datetime


class PendingChoices:
    """People found in uploaded media, waiting for the officer's choice: in this process's memory only.

    The API and the page cannot hold an upload across two requests otherwise (a browser will not resend a
    file). Nothing here touches disk, the database or a log; an entry is wiped when the choice is made, when
    it expires (``retro.people_choice_minutes``) or when more than ``limit`` are waiting, and a restart loses
    them all, which fails safe: the officer uploads again. Only the officer who uploaded may choose.
    """

    def __init__(self, limit: int = 32) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Pending] = {}
        self.limit = limit

    def _expire(self, now: datetime) -> None:
        for token in [t for t, p in self._items.items() if p.expires <= now]:
            _wipe(self._items.pop(token).faces)
        while len(self._items) > self.limit:
            _wipe(self._items.pop(next(iter(self._items))).faces)

    def put(self, pending: _Pending, now: datetime) -> str:
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._items[token] = pending
            self._expire(now)
        return token

    def take(self, token: str, actor: str, now: datetime) -> _Pending:
        with self._lock:
            self._expire(now)
            p = self._items.get(token)
            if p is None:
                raise RetroError(
                    "that choice of people has expired or was already used: upload the media again"
                )
            if p.actor != actor:
                raise RetroError("only the officer who uploaded the media may choose whom to search")
            del self._items[token]
            return p

    def restore(self, token: str, pending: _Pending) -> None:
        """Put back an entry taken for a choice that turned out invalid (its expiry is unchanged)."""
        with self._lock:
            self._items[token] = pending

    def thumbnail(self, token: str, actor: str, number: int, now: datetime) -> bytes:
        """One person's thumbnail for the choice page (the pending entry stays until chosen or expired)."""
        with self._lock:
            self._expire(now)
            p = self._items.get(token)
            if p is None or p.actor != actor or not 1 <= number <= len(p.faces):
                raise NotFound("no such person waiting to be chosen (expired, used, or not yours)")
            return p.faces[number - 1].crop_jpeg

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


pending_choices = PendingChoices()


def _needs_choice(media: Sequence[Path], faces: Sequence[ProbeFace]) -> bool:
    """A single face in still images goes straight through; a video or several faces need a choice."""
    return len(faces) != 1 or any(f.frame_index is not None for f in faces)


def _chosen(
    faces: list[ProbeFace], person: Sequence[int] | None, all_faces_reason: str | None
) -> tuple[list[ProbeFace], str | None]:
    """The faces to search and, when everyone is, the stated reason. Raises when the choice is unclear."""
    all_why = all_faces_reason.strip() if all_faces_reason and all_faces_reason.strip() else None
    if person and all_why:
        raise RetroError("choose people (--person) or search everyone (--all-faces), not both")
    if all_why:
        return list(faces), all_why
    numbers = sorted(set(person or ()))
    bad = [n for n in numbers if not 1 <= n <= len(faces)]
    if bad:
        raise RetroError(
            f"no person {', '.join(map(str, bad))} in the media: {len(faces)} "
            f"{'person was' if len(faces) == 1 else 'people were'} found (numbered 1 to {len(faces)})"
        )
    return [faces[n - 1] for n in numbers], None
