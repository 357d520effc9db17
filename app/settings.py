"""Typed platform settings, read once from the environment.

Every knob has a type, a default and a description; nothing else in the code
reads ``os.environ`` directly (secrets included: they come from here).
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Platform-wide settings; environment variables are prefixed ``ESTATEFLOW_``."""

    model_config = SettingsConfigDict(env_prefix="ESTATEFLOW_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'estateflow.db'}",
        description="SQLAlchemy URL; SQLite is the embedded default, PostgreSQL "
        "(postgresql+psycopg://...) the production database.",
    )
    secret_key: str = Field(
        default_factory=lambda: secrets.token_hex(32),
        description="Flask session signing key (>= 32 bytes). Set it in production, "
        "otherwise sessions do not survive a restart.",
    )
    var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for runtime data: SQLite file, uploads, logs.",
    )
    assets_dir: Path = Field(
        default=PROJECT_ROOT,
        description="Folder holding bpmn/, forms/ and menus/ (the module assets).",
    )
    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883", description="MQTT broker for device traffic."
    )
    default_locale: str = Field(default="zh", description="UI language for new sessions.")
    timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA time zone people read times in (pages, receipts, reminder hours, order "
        "numbers); the database keeps UTC.",
    )
    upload_max_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest accepted upload (photos, files, imports)."
    )
    bpmn_max_bytes: int = Field(
        default=2 * 1024 * 1024, description="Largest accepted BPMN or form upload."
    )

    engine_max_automatic_steps: int = Field(
        default=500, ge=10, le=800,
        description="Automatic steps (scripts, gateways, operations, pass-through tasks) one "
        "instance may run in a row without a wait state (user task, timer, message); beyond "
        "it the instance stops with a 'loop without a wait state' incident on that element. "
        "The default lets any straight chain the BPMN parser can read (under ~490 elements) "
        "pass; at most 800, because SpiffWorkflow stops seeing tasks beyond a task tree 1,000 "
        "deep (it would call an instance completed that never reached its end event).",
    )

    meter_poll_seconds: int = Field(
        default=300, description="How often the worker reads every Modbus meter (0 = never; "
        "production runs the meter_polling Prefect flow instead)."
    )

    inbox_workers: int | None = Field(
        default=None, ge=1, le=32, description="Worker threads of the device event inbox, each handling "
        "the events of the devices that hash to it in order (one gate's reads stay in order; gates are "
        "handled in parallel). Empty: 4 on PostgreSQL, 1 on SQLite (one writer at a time).")

    worker_schedules: bool | None = Field(
        default=None, description="Whether `estateflow worker` runs the enabled modules' schedules "
        "itself (menus/*.yaml schedules:, per community). Empty: yes, except in production, where "
        "`estateflow schedules sync` makes them Prefect deployments instead.")

    # --- security (docs/security.md) -----------------------------------------------------------
    production: bool = Field(
        default=False, description="Production mode (set ESTATEFLOW_PRODUCTION=1 behind gunicorn): the "
        "app refuses to start without public_base_url.")
    public_base_url: str = Field(
        default="", description="The URL people and gateways reach the platform on "
        "(https://wy.example.com). Payment callback and return URLs are built from it, never from "
        "the request's Host; required in production; `estateflow demo`/`serve` default it to "
        "their own address.")
    allowed_hosts: str = Field(
        default="", description="Comma-separated Host names the web app answers (others get 400). "
        "Empty: localhost, 127.0.0.1 and the host of public_base_url. A leading dot allows subdomains.")
    cookie_secure: bool | None = Field(
        default=None, description="Send the session cookie only over HTTPS. Empty: on when "
        "public_base_url starts with https://.")
    web_workers: int = Field(
        default=2, ge=1, le=64, description="Web server processes `estateflow serve` runs (gunicorn); "
        "about one per core.")
    web_threads: int = Field(
        default=4, ge=1, le=64, description="Threads per web server process: requests one process "
        "serves at once (most of a request's time is spent waiting on the database).")
    web_timeout_seconds: int = Field(
        default=60, ge=5, le=600, description="A request running longer than this is stopped and its "
        "process replaced.")
    proxy_hops: int = Field(
        default=0, description="Reverse proxies in front of the app whose X-Forwarded-For/-Proto "
        "are trusted (1 behind the nginx of deploy/); 0: the socket address is the client.")
    password_min_length: int = Field(
        default=10, description="Shortest password accepted when a password is set or changed.")
    login_max_failures_account: int = Field(
        default=5, description="Failed logins for one account within login_window_seconds before "
        "that account is locked for login_lockout_seconds.")
    login_max_failures_address: int = Field(
        default=20, description="Failed logins from one client address within login_window_seconds "
        "before that address is locked for login_lockout_seconds.")
    login_window_seconds: int = Field(default=900, description="Window in which failed logins count.")
    login_lockout_seconds: int = Field(default=900, description="How long a lockout lasts.")

    @property
    def worker_runs_schedules(self) -> bool:
        return self.worker_schedules if self.worker_schedules is not None else not self.production

    @property
    def uploads_dir(self) -> Path:
        return self.var_dir / "uploads"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_base_url.lower().startswith("https://")

    def allowed_host_list(self) -> list[str]:
        """Host names (no port) the app answers; see ``allowed_hosts``."""
        hosts = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if not hosts:
            hosts = ["localhost", "127.0.0.1"]
            own = _host_of(self.public_base_url)
            if own and own not in hosts:
                hosts.append(own)
        return hosts


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower() if url else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
