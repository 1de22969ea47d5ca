"""The declarative base every openlfr table shares, and the column types they use.

Other areas add their tables by subclassing :class:`Base` (so one Alembic history and one ``metadata``
cover the whole database). Rules for models here:

* Times are timezone-aware UTC in Python; :class:`UTCDateTime` stores them as naive UTC so that SQLite
  and PostgreSQL behave the same (SQLite has no time zones).
* Ids are strings made by :func:`new_id` unless a table needs an ordered integer (the audit log).
* The naming convention below gives every constraint a stable name, which Alembic needs to alter
  constraints on SQLite (batch mode) and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for all openlfr tables (governance, users and sessions, ...)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` stored as naive UTC.

    Binding a naive datetime is an error: a time without a zone is ambiguous, and in a system whose rules
    are about time windows an ambiguous time is a bug.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: openlfr stores only timezone-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The real clock (UTC, aware). Services take a ``clock`` callable defaulting to this."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random 16-hex-digit id: short enough to type, with 64 bits so collisions do not happen."""
    return uuid.uuid4().hex[:16]
