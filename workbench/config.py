"""Typed workbench configuration, read from workbench.yml at the project root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML

from .semantic.errors import ModelError


class SparkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    master: str = Field("local[*]", description="Spark master: local[*] or spark://host:port.")
    remote: str | None = Field(
        None, description="Spark Connect URL (sc://host:port); wins over master."
    )
    parquet_dir: str | None = Field(None, description="Parquet copies of warehouse tables.")


class PostgresSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field("postgresql://postgres@127.0.0.1:5432/postgres", description="Ibis URL.")


class CacheSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["memory", "redis", "none"] = Field("memory", description="Result cache.")
    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL when backend=redis.")
    max_entries: int = Field(512, ge=1, description="LRU size of the in-process cache.")
    ttl_seconds: int = Field(3600, ge=1, description="Expiry of Redis entries.")


class LiveDetectionSettings(BaseModel):
    """Anomaly detection inside the Jupyter server, on the gold views the pipelines keep fresh."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        True, description="Run the enabled alert rules of `namespaces` in the server."
    )
    interval_s: float = Field(
        5.0, gt=0, le=15, description="Seconds between detection cycles (at most 15)."
    )
    settle_s: float = Field(
        2.0,
        ge=0,
        le=30,
        description="A bucket is scored this long after it ends, so "
        "events still in flight in the pipeline land first.",
    )
    namespaces: list[str] = Field(
        ["live"],
        description="Namespaces whose rules run in the server; rules "
        "on historical namespaces (retail) run with `workbench detect run`.",
    )


class AnomalySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alerts_dir: str = Field("pipelines/alerts", description="Folder of alert rule YAML files.")
    incidents_db: str = Field(
        ".workbench/anomaly/incidents.sqlite", description="Incident store (sqlite)."
    )
    state_dir: str = Field(
        ".workbench/anomaly/jobs", description="Where detection jobs keep their state."
    )
    live: LiveDetectionSettings = Field(
        LiveDetectionSettings(),
        description="Detection inside the Jupyter server, on live gold views.",
    )


class ExternalIdPSettings(BaseModel):
    """An external OIDC issuer whose RS256 access tokens the server accepts (resource-server mode)."""

    model_config = ConfigDict(extra="forbid")
    issuer: str = Field(..., description="The issuer's `iss` value, exactly as in its tokens.")
    jwks_url: str = Field(..., description="The issuer's JWKS URL (https; http only on loopback).")
    audience: str = Field("workbench", description="The `aud` its tokens must carry for us.")
    accepted_typ: list[str] = Field(["at+jwt", "JWT"], description="Accepted `typ` header values.")
    roles_claim: str = Field("roles", description="Claim holding the user's roles.")
    attribute_claims: list[str] = Field(
        ["region"], description="Claims copied into attributes (ABAC)."
    )
    cache_ttl_s: float = Field(3600, gt=0, description="How long a fetched JWKS is trusted.")
    refetch_cooldown_s: float = Field(
        60,
        ge=1,
        description="Least seconds between JWKS fetches caused "
        "by unknown kids, so random kids cannot make us hammer the issuer.",
    )


class AuthSettings(BaseModel):
    """Log-in, access tokens, refresh tokens and signing keys (docs/security.md, "Log-in and tokens")."""

    model_config = ConfigDict(extra="forbid")
    users_db: str = Field(".workbench/security/users.sqlite", description="Users store (sqlite).")
    keys_dir: str = Field(
        ".workbench/security/keys", description="Signing key ring (PEM files, mode 0600)."
    )
    sessions_db: str = Field(
        ".workbench/security/sessions.sqlite",
        description="Refresh-token families and revocations (sqlite).",
    )
    issuer: str = Field("workbench", description="`iss` of the access tokens we issue.")
    audience: str = Field(
        "workbench", description="`aud` of the access tokens we issue and accept."
    )
    access_token_s: int = Field(
        600, ge=30, le=900, description="Access-token lifetime in seconds (at most 900 = 15 min)."
    )
    leeway_s: int = Field(30, ge=0, le=120, description="Clock skew allowed on exp/nbf/iat.")
    refresh_idle_s: int = Field(8 * 3600, ge=60, description="A session unused this long ends.")
    refresh_absolute_s: int = Field(
        7 * 86400,
        ge=60,
        description="A session ends this long after log-in, however much it is used.",
    )
    refresh_grace_s: float = Field(
        10,
        ge=0,
        le=60,
        description="A rotated refresh token presented "
        "again within this window is an honest concurrent refresh, not reuse.",
    )
    key_bits: int = Field(2048, ge=2048, le=4096, description="RSA key size of new signing keys.")
    key_publish_lead_s: int = Field(
        300,
        ge=0,
        description="A new key is in JWKS at least this long "
        "before it signs (rotate refuses earlier unless forced).",
    )
    min_password_length: int = Field(10, ge=8, description="Shortest password accepted.")
    external_idp: ExternalIdPSettings | None = Field(
        None, description="Accept tokens of this OIDC issuer."
    )


class AuditSettings(BaseModel):
    """The tamper-evident audit trail (workbench.security.audit)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(
        None,
        description="PostgreSQL URL of the audit store; unset: the "
        "embedded SQLite store at `path`.",
    )
    pg_schema: str = Field(
        "workbench_audit",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="PostgreSQL schema holding the audit tables.",
    )
    path: str = Field(
        ".workbench/audit/audit.sqlite", description="Embedded audit store (SQLite, WAL)."
    )
    synchronous: Literal["normal", "full"] = Field(
        "normal",
        description="normal: an entry survives any process crash; an OS or database crash "
        "may drop the last fraction of a second (SQLite synchronous=NORMAL, PostgreSQL "
        "synchronous_commit=off). full: each entry is flushed to disk before record() returns.",
    )
    checkpoint_every: int = Field(100, ge=1, description="Sign a checkpoint every N entries.")
    checkpoint_minutes: float = Field(
        5.0,
        gt=0,
        description="...or when this many minutes have "
        "passed since the last one, at the next entry.",
    )
    key_path: str = Field(
        ".workbench/keys/audit_ed25519.pem",
        description="Ed25519 signing key "
        "(mode 0600, created on first use); the public key is <key_path>.pub.",
    )
    buffer_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="0: record() stores the entry before "
        "it returns. >0: it queues it, and a thread stores the queue every "
        "buffer_ms in one transaction (entries still queued are lost if the "
        "process dies).",
    )
    syslog: str | None = Field(
        None,
        pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$",
        description="SIEM syslog receiver host:port for CEF export.",
    )
    syslog_protocol: Literal["udp", "tcp"] = Field(
        "udp", description="Syslog transport (RFC 5426 UDP or RFC 6587 octet-counted TCP)."
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warehouse: str = Field(".workbench/warehouse.duckdb", description="DuckDB warehouse file.")
    models_dir: str = Field("semantic", description="Folder of semantic/*.yml models.")
    engine: str = Field(
        "duckdb",
        description="Default engine: any name in the workbench.engines "
        "registry (a built-in or an installed plugin's).",
    )
    principals_file: str = Field("principals.yml", description="Principals for --as and apps.")
    spark: SparkSettings = Field(SparkSettings(), description="What the Spark engine connects to.")
    postgres: PostgresSettings = Field(
        PostgresSettings(), description="What the PostgreSQL engine connects to."
    )
    cache: CacheSettings = Field(CacheSettings(), description="The semantic layer's result cache.")
    anomaly: AnomalySettings = Field(
        AnomalySettings(), description="Alert rules, incidents and live detection."
    )
    audit: AuditSettings = Field(AuditSettings(), description="The tamper-evident audit trail.")
    auth: AuthSettings = Field(
        AuthSettings(), description="Log-in, access and refresh tokens, signing keys."
    )
    root: str = Field(".", description="Project root; relative paths are resolved from here.")

    @field_validator("engine")
    @classmethod
    def _registered_engine(cls, v: str) -> str:
        from .engines.base import ENGINES, UnknownEngine  # lazy: settings load before Ibis

        try:
            ENGINES.get(v)
        except UnknownEngine as e:  # lists the registered names, with a "did you mean"
            raise ValueError(str(e)) from None
        return v

    def path(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else Path(self.root) / q


def project_root(start: Path | None = None) -> Path:
    if os.environ.get("WORKBENCH_HOME"):
        return Path(os.environ["WORKBENCH_HOME"]).resolve()
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "workbench.yml").exists():
            return d
    return here


def load_settings(root: Path | None = None) -> Settings:
    root = project_root(root)
    f = root / "workbench.yml"
    data: dict[str, Any] = {}
    if f.exists():
        try:
            data = YAML(typ="safe").load(f.read_text()) or {}
            settings = Settings.model_validate({**data, "root": str(root)})
        except ValidationError as e:
            err = e.errors()[0]
            raise ModelError(err["msg"], str(f), None, ".".join(map(str, err["loc"]))) from None
        except Exception as e:
            raise ModelError(f"cannot read settings: {e}", str(f)) from None
    else:
        settings = Settings(root=str(root))
    if os.environ.get("WORKBENCH_WAREHOUSE"):
        settings = settings.model_copy(update={"warehouse": os.environ["WORKBENCH_WAREHOUSE"]})
    return settings
