"""Authentication tables: local users (argon2 hashes), their sessions and API tokens, and login attempts.

Only hashes are stored: an argon2id hash of each password, and the SHA-256 digest of each session or
bearer token (the token itself exists only in the user's cookie or client), so a copy of the database
lets nobody log in.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openlfr.store.base import Base, UTCDateTime


class Role(enum.StrEnum):
    """What a user may do. One role per account: an officer who holds two roles has two accounts,
    so that every decision in the audit log says in which capacity it was taken."""

    ADMIN = "admin"
    AUTHORISING_OFFICER = "authorising_officer"
    OPERATOR = "operator"
    ENGAGEMENT_OFFICER = "engagement_officer"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    DATA_PROTECTION = "data_protection"
    """The force's data protection officer (issue 27): answers a stopped person's subject access and
    erasure requests by their reference, and keeps the complaints register. Its own role, not the
    auditor's: it reads and deletes personal data, which the auditor, who oversees it, must not."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class User(Base):
    __tablename__ = "auth_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    rank: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of :data:`openlfr.ranks.RANKS`, set by an admin; None for staff without a police rank (and for
    every user created before revision 0012, until an admin records it). Opening a deployment needs one."""
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    sessions: Mapped[list[AuthSession]] = relationship(back_populates="user", cascade="all, delete-orphan")


class AuthSession(Base):
    """A browser session (cookie) or an API bearer token; ``kind`` says which."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "cookie" or "bearer"
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginAttempt(Base):
    """One login attempt, kept for the throttling window (and the audit of failed logins)."""

    __tablename__ = "auth_login_attempts"
    __table_args__ = (
        Index("ix_auth_login_attempts_username_at", "username", "at"),
        Index("ix_auth_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    succeeded: Mapped[bool] = mapped_column(Boolean, nullable=False)
