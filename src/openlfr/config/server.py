"""Settings for the web server (``openlfr serve``): login, sessions, limits, webhooks, the public pages
and the duties it runs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from openlfr.config.strict import _Section


class ServerSettings(_Section):
    """The server (`openlfr serve`): login, sessions, limits, the public pages and what it runs."""

    host: str = Field("127.0.0.1", description="Address `openlfr serve` listens on.")
    port: int = Field(8765, ge=1, le=65535, description="Port `openlfr serve` listens on.")
    public_base_url: str = Field("http://127.0.0.1:8765", description="Used in signage QR codes.")
    session_hours: float = Field(8.0, gt=0, description="Lifetime of a console login (the session cookie).")
    login_attempts_per_minute: int = Field(
        5, ge=1, description="Failed logins for one user from one address before that pair is locked."
    )
    secure_cookies: bool = Field(
        True, description="Mark cookies Secure (turn off only for plain-HTTP tests)."
    )
    login_lockout_seconds: float = Field(
        60.0,
        gt=0,
        description="First lock of a (user, address) pair, doubled by each further failure; also the window "
        "over which an address's failures for any usernames are counted.",
    )
    token_hours: float = Field(12.0, gt=0, description="Lifetime of an API bearer token.")
    cli_token_hours: float = Field(
        8.0, gt=0, description="Lifetime of the token `openlfr login` keeps for the command line."
    )
    cli_token_file: Path | None = Field(
        None, description="Where `openlfr login` keeps its token (0600). Default: <data_dir>/cli-token."
    )
    public_requests_per_minute: int = Field(
        60, ge=1, description="Per-address limit on the public transparency pages and feeds."
    )
    public_cache_seconds: int = Field(
        300, ge=0, description="Cache-Control max-age of public pages and feeds."
    )
    webhook_url: str | None = Field(
        None, description="If set, every alert is also POSTed here (JSON, signed with HMAC-SHA256)."
    )
    webhook_secret: str | None = Field(None, description="Shared secret for the webhook's HMAC signature.")
    webhook_timeout_s: float = Field(5.0, gt=0, description="Give up one webhook delivery after this.")
    run_live: bool = Field(True, description="Run the live pipeline for open deployments inside `serve`.")
    run_purge: bool = Field(True, description="Run the scheduled purge inside `serve`.")
    camera_sources: dict[str, str] = Field(
        default_factory=dict,
        description="camera id -> source (file, folder, rtsp://..., webcam 0). `serve` runs the live pipeline "
        "for every open deployment's cameras found here.",
    )
    live_check_seconds: float = Field(
        5.0, gt=0, description="How often `serve` looks for deployments to run."
    )
    force_name: str = Field(
        "the police force", description="Who runs the deployments (signage, public page)."
    )
    contact: str = Field("", description="How the public can ask questions (signage, public page).")
    privacy_notice_url: str = Field(
        "",
        description="Link to the force's privacy notice for facial recognition (signage, leaflet, public "
        "pages). Empty: the pages say it is available on request.",
    )
    postal_address: str = Field(
        "",
        description="Postal address for subject access, erasure requests and complaints (signage, leaflet, "
        "public pages); lines separated by commas.",
    )
    accessibility_statement_url: str = Field(
        "",
        description="Link to the force's accessibility statement (public pages); accessible versions of the "
        "documents are offered on request at the contact and postal address.",
    )
    regulator_complaint_route: str = Field(
        "If you are not satisfied with our answer about your personal data, you can complain to the "
        "Information Commissioner's Office (ico.org.uk/make-a-complaint, 0303 123 1113). A complaint about "
        "an officer's conduct goes to the force first, then to the Independent Office for Police Conduct "
        "(policeconduct.gov.uk).",
        description="The route to the regulator, printed under the force's contact on every public "
        "deployment page (how to complain beyond the force).",
    )
    data_controller: str = Field(
        "", description="Default data controller of new deployments (each deployment must name one)."
    )
    legal_basis_summary: str = Field(
        "Common-law policing powers, with sensitive processing under Part 3 of the Data Protection Act 2018 "
        "(strictly necessary for law enforcement)",
        description="Legal basis shown for a deployment recorded without one of its own (before migration 0003).",
    )
    login_attempts_per_address: int = Field(
        20,
        ge=1,
        description="Failed logins from one address, for any usernames, within login_lockout_seconds before "
        "that address is refused for the window (password spraying).",
    )
    login_max_lockout_seconds: float = Field(
        3600.0, gt=0, description="Longest lock of one (user, address) pair: the back-off doubles up to this."
    )
    max_request_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; a larger one is refused with 413 before it is parsed.",
    )
    max_json_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest JSON request body accepted (413 beyond it)."
    )
    hsts_seconds: int = Field(
        31_536_000,
        ge=0,
        description="Strict-Transport-Security max-age sent with every response (0: no header). Browsers "
        "heed it only over HTTPS.",
    )
