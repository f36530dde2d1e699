"""Configuration from the environment (prefix LSP_). See README's configuration reference."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = REPO_ROOT / "supabase" / "migrations"

# Supabase's well-known local-development JWT secret; hosted projects must set their own.
DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
DEV_API_KEY_PEPPER = "dev-only-api-key-pepper-change-me-in-production"
DEV_DATABASE_URL = "postgresql://authenticator:postgres@127.0.0.1:54322/postgres?sslmode=disable"


def latest_migration_version(directory: Path = MIGRATIONS_DIR) -> str | None:
    versions = [p.name.split("_", 1)[0] for p in directory.glob("*.sql")]
    return max(versions) if versions else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LSP_", extra="ignore")

    # production (the default) refuses to start with any development secret or setting;
    # scripts/up and the tests set development.
    env: Literal["development", "production"] = "production"

    # The adapter connects as `authenticator`, like PostgREST, and switches role per request.
    database_url: SecretStr = SecretStr(DEV_DATABASE_URL)
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
    api_key_pepper: SecretStr = SecretStr(DEV_API_KEY_PEPPER)
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

    # The HTTP server (python -m edge_adapter.api). Limits apply before any work: a body
    # above max_body_bytes is a 413 (refused while streaming), a header block above
    # max_header_bytes is refused by the HTTP parser, more than max_concurrency open
    # connections and requests get 503, idle keep-alive connections close after
    # keep_alive_s seconds. Header read time cannot be bounded here: see README (nginx).
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 32 * 1024
    max_concurrency: int = 1000
    keep_alive_s: int = 5
    # Comma-separated proxy addresses (or CIDRs) whose X-Forwarded-For / -Proto are believed;
    # empty: none (the peer address is the client).
    trusted_proxies: str = ""
    # Behind a TLS-terminating trusted proxy: plain-http requests are redirected to
    # public_base_url (never to the Host header) and responses carry HSTS.
    force_https: bool = False
    # Browser origins (comma-separated, e.g. the dashboard's) allowed by CORS; empty: none.
    cors_origins: str = ""

    # -- operations: metrics and secret rotation (README "Operations") ----------------------
    # /metrics on the API; the worker's metrics port (0 = off) and bind address. With a token
    # set, scrapes need `Authorization: Bearer <token>`; without one, only loopback clients.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    worker_metrics_port: int = 0
    worker_metrics_host: str = "127.0.0.1"
    # How often the worker reads the database-side figures (queues, gateways, pg_cron jobs).
    metrics_db_interval_s: float = 15.0
    # API-key pepper rotation: the current pepper's version, and the other peppers accepted
    # (a JSON object {"<version>": "<pepper>"}): standby before a rotation, previous after.
    api_key_pepper_version: int = 1
    api_key_other_peppers: SecretStr | None = None
    # JWT signing keys besides the JWKS: an inline JWKS (JSON) whose keys are looked up by kid
    # (oct keys = HS256 shared secrets; public keys). How often the JWKS is fetched, and the
    # least time between fetches caused by a token with an unknown kid.
    jwt_keys: SecretStr | None = None
    jwks_refresh_s: float = 300.0
    jwks_min_refresh_s: float = 10.0

    def expected_migration_version(self) -> str | None:
        return self.expected_migration or latest_migration_version()

    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def development_leftovers(self) -> list[str]:
        """What production must not run with: development secrets and settings."""
        found = []
        if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            found.append("LSP_JWT_SECRET is Supabase's public development secret")
        if self.api_key_pepper.get_secret_value() == DEV_API_KEY_PEPPER:
            found.append("LSP_API_KEY_PEPPER is the development pepper")
        if self.database_url.get_secret_value() == DEV_DATABASE_URL:
            found.append("LSP_DATABASE_URL is the local development database (password postgres)")
        if self.webhook_allow_loopback:
            found.append("LSP_WEBHOOK_ALLOW_LOOPBACK lets webhooks reach this machine")
        if self.provider_base_urls:
            found.append("LSP_PROVIDER_BASE_URLS points providers away from their real hosts")
        return found

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
    # Streams one caller (an API key, a user) may hold open on one process: 429 past it, so
    # one member or key cannot take the room every operator's console needs.
    stream_max_per_caller: int = 20


@lru_cache
def get_settings() -> Settings:
    return Settings()
