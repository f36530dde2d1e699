"""Configuration from the environment (prefix LSP_). See README's configuration reference."""

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = REPO_ROOT / "supabase" / "migrations"

# Supabase's well-known local-development JWT secret; hosted projects must set their own.
DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def latest_migration_version(directory: Path = MIGRATIONS_DIR) -> str | None:
    versions = [p.name.split("_", 1)[0] for p in directory.glob("*.sql")]
    return max(versions) if versions else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LSP_", extra="ignore")

    # The adapter connects as `authenticator`, like PostgREST, and switches role per request.
    database_url: SecretStr = SecretStr(
        "postgresql://authenticator:postgres@127.0.0.1:54322/postgres?sslmode=disable"
    )
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_timeout_s: float = 5.0

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None
    jwks_url: str | None = None
    jwt_leeway_s: int = 0
    # Refuse user tokens whose exp - iat exceeds this (and tokens without iat when set).
    jwt_max_lifetime_s: int | None = None

    # /readyz fails until the database has this migration; defaults to the newest file.
    expected_migration: str | None = None

    log_level: str = "INFO"

    # API keys are stored as HMAC-SHA256(api_key_pepper, key): a database dump alone cannot
    # verify keys. Set a long random value in production and keep it out of the database.
    api_key_pepper: SecretStr = SecretStr("dev-only-api-key-pepper-change-me-in-production")
    # Token-bucket burst as a fraction of the per-minute limit (at least 10 requests).
    rate_limit_burst_fraction: float = 0.1
    rate_limit_enabled: bool = True
    # How often API-key last-used stamps are written (batched, not one write per request).
    last_used_flush_s: float = 5.0

    # Webhook delivery. The schedule is Svix's (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h),
    # each delay +/- 20%; tests shorten it. Loopback targets are for development and tests.
    webhook_timeout_s: float = 15.0
    webhook_retry_schedule_s: str = "5,300,1800,7200,18000,36000,36000"
    webhook_disable_after_s: int = 5 * 86400
    webhook_allow_loopback: bool = False

    def retry_schedule(self) -> list[float]:
        return [float(x) for x in self.webhook_retry_schedule_s.split(",") if x.strip()]

    # Outbound provider checks. provider_base_urls is a JSON object that points providers at
    # another base URL (the local fake provider server in development and tests).
    provider_base_urls: str | None = None
    gateway_check_timeout_s: float = 5.0
    # Payment calls to providers (create, look up, status, refund): bound on each call.
    provider_timeout_s: float = 10.0
    # Inbound provider webhooks: largest body accepted (bytes).
    provider_webhook_max_bytes: int = 256 * 1024
    # Where providers reach this API (their notify / webhook URL is built from it).
    public_base_url: str = "http://127.0.0.1:8000"

    def expected_migration_version(self) -> str | None:
        return self.expected_migration or latest_migration_version()

    # Live events over SSE (api/stream.py). One listening connection per process numbers (and
    # so broadcasts to Realtime) and reads events every stream_poll_s while streams are open,
    # and numbers them every stream_idle_poll_s otherwise.
    stream_poll_s: float = 0.02
    stream_idle_poll_s: float = 0.1
    stream_read_batch: int = 1000
    # Per stream: events buffered before a slow client is disconnected, the comment heartbeat,
    # the reconnection delay EventSource is told, re-authorisation, a stuck client's write.
    stream_buffer_events: int = 1000
    stream_heartbeat_s: float = 15.0
    stream_retry_ms: int = 3000
    stream_reauth_s: float = 60.0
    stream_send_timeout_s: float = 30.0
    stream_max_clients: int = 1000


@lru_cache
def get_settings() -> Settings:
    return Settings()
