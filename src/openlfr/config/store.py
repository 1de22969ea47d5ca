"""Settings for keeping data: the database and key files, and how long alert data is retained."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from openlfr.config.strict import _Section


class StoreSettings(_Section):
    """The database, the key files and the audit log's checkpoints."""

    database_url: str | None = Field(
        None, description="SQLAlchemy URL. Default: SQLite (WAL) in the data directory."
    )
    master_key_file: Path | None = Field(
        None, description="File holding the 32-byte master key (base64). Default: <data_dir>/master.key."
    )
    audit_key_file: Path | None = Field(
        None,
        description="Secret that keys the audit chain and signs its checkpoints (0600, kept outside the "
        "database; every writer needs the same file). Default: audit.key next to the master key.",
    )
    audit_checkpoint_dir: Path | None = Field(
        None,
        description="Append-only folder for the signed audit checkpoints (outside the database; may be a "
        "separate, append-only mount). Default: <data_dir>/audit-checkpoints.",
    )
    audit_witness_file: Path | None = Field(
        None,
        description="The audit log's witness: a file OUTSIDE the data folder to which every signed checkpoint "
        "is also appended, on a location the service cannot rewrite (another mount or host, or a file made "
        "append-only with `chattr +a`). `openlfr audit verify` reads it and fails when the log or the "
        "checkpoint log is behind it or has forked from it. Unset: no witness (an insider holding the data "
        "folder can then rewrite the log undetected).",
    )
    audit_witness_syslog: str | None = Field(
        None,
        description="Also send every signed checkpoint to this remote syslog collector, `host:port` (UDP), "
        "kept by another host; write-only: verify cannot read it back, a person compares it.",
    )


class RetentionSettings(_Section):
    """How long alert data is kept, and the purge that removes it."""

    alert_retention_hours: float = Field(720.0, gt=0, description="How long alert data is kept (30 days).")
    purge_interval_minutes: float = Field(15.0, gt=0, description="How often the server runs the purge.")
    auto_close_ended_deployments: bool = Field(
        True, description="The purge closes deployments left open past their end (destroying the watchlist)."
    )
    max_adjudication_hours: float = Field(
        72.0,
        gt=0,
        description="An alert still undecided this long after it was raised goes to a supervisor.",
    )
    escalation_hours: float = Field(
        24.0, gt=0, description="An escalated alert still undecided this long after escalation is purged."
    )
    evidence_review_days: float = Field(
        30.0, gt=0, description="An evidence hold lapses after this unless renewed with a reason."
    )
    service_identity: str = Field(
        "retention-service",
        min_length=1,
        max_length=100,
        description="The name the server's scheduled purge acts and is audited as (role `service`). A manual "
        "`openlfr purge` acts as the logged-in user. The retention periods above are fixed into each "
        "deployment when it opens: changing them later changes only deployments opened afterwards.",
    )
