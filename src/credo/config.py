"""Settings and jurisdiction profiles.

One `Settings` object (environment variables with the ``CREDO_`` prefix) behind a cached
`get_settings()`. The embedded default needs no configuration: a SQLite file and a key file
under ``./data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True, slots=True)
class Profile:
    """The numbers a jurisdiction's credit-reporting law fixes (SPEC, rules table)."""

    code: str
    #: years negative data stays on file after the end of the event
    negative_retention_years: int
    #: longer retention for bankruptcy (US §605); equals the above where the law has none
    bankruptcy_retention_years: int
    #: calendar days to close a dispute
    dispute_days: int
    #: extra days when the subject brings new information during the dispute
    dispute_extension_days: int
    #: free reports a subject may pull per calendar year
    free_reports_per_year: int
    #: "before": the subject must be told before negative data is furnished (PRC Art. 15);
    #: "within": the notice may follow furnishing by `notice_grace_days` (FCRA §623(a)(7))
    negative_notice: Literal["before", "within"]
    notice_grace_days: int
    #: years of inquiry records shown in a report
    inquiry_disclosure_years: int
    #: default region for parsing national phone numbers
    phone_region: str
    #: fields whose presence anywhere in furnished data rejects the row
    banned_fields: tuple[str, ...]


BANNED_FIELDS_CN = (
    "religion",
    "religious_belief",
    "gene",
    "genes",
    "genetic",
    "genetic_data",
    "dna",
    "fingerprint",
    "fingerprints",
    "blood_type",
    "bloodtype",
    "illness",
    "disease",
    "diagnosis",
    "medical_history",
    "medical_condition",
)

PROFILES: dict[str, Profile] = {
    "cn": Profile(
        code="cn",
        negative_retention_years=5,
        bankruptcy_retention_years=5,
        dispute_days=20,
        dispute_extension_days=0,
        free_reports_per_year=2,
        negative_notice="before",
        notice_grace_days=0,
        inquiry_disclosure_years=2,
        phone_region="CN",
        banned_fields=BANNED_FIELDS_CN,
    ),
    "us": Profile(
        code="us",
        negative_retention_years=7,
        bankruptcy_retention_years=10,
        dispute_days=30,
        dispute_extension_days=15,
        free_reports_per_year=1,
        negative_notice="within",
        notice_grace_days=30,
        inquiry_disclosure_years=2,
        phone_region="US",
        # FCRA has no Art. 14 list; the same fields stay banned because ECOA forbids using
        # religion and Credo never stores health or biometric data.
        banned_fields=BANNED_FIELDS_CN,
    ),
}


def get_profile(code: str) -> Profile:
    """Return the jurisdiction profile named `code`."""
    try:
        return PROFILES[code]
    except KeyError:
        raise ValueError(f"unknown profile {code!r}; expected one of {sorted(PROFILES)}") from None


class Settings(BaseSettings):
    """Runtime configuration, read from ``CREDO_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CREDO_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path("data"))
    database_url: str | None = None
    profile: Literal["cn", "us"] = "cn"
    #: base64 master secret (32 bytes). Without it a key file under data_dir is used.
    secret_key: SecretStr | None = None
    #: comma-separated earlier master secrets, still able to decrypt during rotation
    previous_secret_keys: SecretStr | None = None
    key_file: Path | None = None
    #: rows per transaction chunk when furnishing
    furnish_chunk_rows: int = Field(default=5000, ge=100, le=1_000_000)
    #: files of at least this many bytes are read and validated in a worker process while
    #: this one stores (`credo.furnishing.checking`); 0: every file
    furnish_worker_min_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    #: whether to use that worker at all
    furnish_worker: bool = True
    #: audit entries between Merkle checkpoints
    audit_checkpoint_every: int = Field(default=256, ge=1)
    #: re-score a furnished batch's subjects with the champion (dynamic evaluation)
    rescore_on_furnish: bool = True
    #: largest JSON request body the API reads (bytes); larger ones get 413
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: largest furnishing file the API accepts in one upload (bytes)
    api_max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    #: sustained requests per second allowed per API key (token bucket refill rate)
    api_rate_per_second: float = Field(default=50.0, gt=0)
    #: requests a key may send in a burst above the sustained rate (token bucket size)
    api_rate_burst: int = Field(default=100, ge=1)
    #: seconds an API server process trusts a key it checked (0: check every request); a key
    #: revoked meanwhile is refused at most this long after the revocation (docs/api.md)
    api_key_cache_seconds: float = Field(default=1.0, ge=0, le=1.0)
    #: requests an API server process works on at once (the rest wait their turn), and the
    #: database connections it keeps open for them on PostgreSQL (docs/api.md)
    api_concurrency: int = Field(default=16, ge=1, le=200)
    #: a corrected dispute notifies every institution that queried the subject in these days
    dispute_notify_days: int = Field(default=60, ge=0, le=3650)
    #: longest personal statement (characters)
    statement_max_chars: int = Field(default=500, ge=50, le=5000)
    #: how notices leave the outbox: "log" writes them to the ``credo.notify`` logger,
    #: "webhook" POSTs them to the institution's webhook URL (subjects: the gateway below)
    notify_channel: Literal["log", "webhook"] = "log"
    #: the bureau's messaging gateway for notices to subjects (webhook channel)
    notify_subject_webhook_url: str | None = None
    #: delivery attempts before a notice is marked failed (backoff doubles from 30 s)
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    #: seconds a webhook call may take
    notify_webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=120)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, v: str | None) -> str | None:
        if v and v.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            return "postgresql+psycopg://" + v.removeprefix("postgresql://")
        return v

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'credo.db').resolve()}"

    @property
    def resolved_key_file(self) -> Path:
        """Where the key file lives when no `secret_key` is given."""
        return self.key_file or self.data_dir / "credo.key"

    @property
    def jurisdiction(self) -> Profile:
        """The active jurisdiction profile."""
        return get_profile(self.profile)

    @property
    def furnish_worker_threshold(self) -> int | None:
        """The `worker_min_bytes` for `furnish` (None: no worker)."""
        return self.furnish_worker_min_bytes if self.furnish_worker else None

    def check_production(self) -> None:
        """Refuse unsafe defaults outside development."""
        if self.environment == "production":
            if self.secret_key is None:
                raise ValueError("CREDO_SECRET_KEY must be set in production")
            if not self.database_url:
                raise ValueError("CREDO_DATABASE_URL must be set in production")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    settings = Settings()
    settings.check_production()
    return settings
