"""Response models: what each route answers on success, for the OpenAPI document only.

The endpoints pass each RPC's JSON text through untouched (re-serialising through pydantic
would cost the throughput the benchmarks measure), so nothing here validates at run time:
these models describe the shapes the SQL functions build (the "Returns:" line of each
`comment on function` in supabase/schema/functions/public.<rpc>.sql, checked against the
function bodies) and carry an example each. tests/e2e/test_openapi_contract.py holds the
running API to them with schemathesis.

Adding a route: add one line to RESPONSES (its rpc -> its success model, and the error
statuses its SQL can raise beyond the ones every route documents). A route without a line
fails tests/unit/test_openapi_document.py.

Fields that can be null are `X | None` without a default: present and nullable. Fields
that only some answers carry have a default and are not required. Objects stay open
(extra fields allowed) so that a field added later does not break generated clients; the
contract test checks separately that no answer carries an undocumented field.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

# Example values, reused across models --------------------------------------------------------
MERCHANT_ID = "7d3c1f9e-2b4a-4c8e-9f10-5a6b7c8d9e01"
USER_ID = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
ADMIN_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
KEY_ID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
GATEWAY_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
ENDPOINT_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
WALLET_ID = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
AT = "2025-01-15T10:30:00.123456+00:00"
LATER = "2025-01-15T10:31:02.5+00:00"


def _example(value: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [value]})


class Out(BaseModel):
    """A response object. Open to fields added later (see the module docstring)."""

    model_config = ConfigDict(extra="allow")


# Errors ----------------------------------------------------------------------------------
class FieldProblem(Out):
    field: str = Field(description="the input's dotted path, e.g. `amount` or `upi.vpa`")
    problem: str


class ErrorBody(Out):
    code: str = Field(
        description="stable machine-readable code, e.g. invalid_request, unauthorized, "
        "forbidden, not_found, conflict, retry, idempotency_key_in_use, rule_violated, "
        "idempotency_key_reused, rate_limited, payload_too_large, database_unavailable"
    )
    message: str = Field(description="for people; never contains secrets or internals")
    details: list[FieldProblem] | dict[str, Any] | None = Field(
        description="validation errors (400 invalid_request): a list of {field, problem}; "
        "otherwise an object (e.g. {sqlstate, hint}, {reason}, {retry_after_ms}) or null"
    )
    request_id: str = Field(description="the X-Request-Id of this request, for support")


class ErrorEnvelope(Out):
    """Every failure, whatever its status, answers in this one shape."""

    model_config = _example(
        {
            "error": {
                "code": "invalid_request",
                "message": "the request is not valid",
                "details": [{"field": "amount", "problem": "Input should be greater than 0"}],
                "request_id": "3f2b1c9a-0d4e-4f6a-8b7c-9d0e1f2a3b4c",
            }
        }
    )

    error: ErrorBody


# Account and platform administration ----------------------------------------------------------
MERCHANT_EXAMPLE: dict[str, Any] = {
    "id": MERCHANT_ID,
    "name": "Acme Retail",
    "status": "active",
    "country": "IN",
    "live_enabled": False,
    "created_at": AT,
    "updated_at": AT,
}
KEY_EXAMPLE: dict[str, Any] = {
    "id": KEY_ID,
    "merchant_id": MERCHANT_ID,
    "name": "checkout server",
    "mode": "test",
    "display": "lsp_test_Ab3d…9xYz",
    "created_at": AT,
    "last_used_at": LATER,
    "expires_at": None,
    "revoked_at": None,
    "status": "active",
    "rate_limit_per_min": 600,
    "requests_24h": 1284,
    "replaced_by": None,
}


class Membership(Out):
    merchant_id: UUID
    merchant_name: str
    role: Literal["owner", "developer", "viewer"]


class ApiKeyView(Out):
    """An API key as listed: never the key itself nor its digest."""

    model_config = _example(KEY_EXAMPLE)

    id: UUID
    merchant_id: UUID
    name: str
    mode: Literal["test", "live"]
    display: str = Field(description="prefix…last4, e.g. lsp_test_Ab3d…9xYz")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None = Field(description="in the future while rotating")
    status: Literal["active", "rotating", "revoked", "expired"]
    rate_limit_per_min: int = Field(
        description="requests per minute: the key's own, else the merchant's, else 600"
    )
    requests_24h: int
    replaced_by: UUID | None


class MeMerchant(Out):
    id: UUID
    name: str
    status: Literal["active", "suspended", "closed"]
    live_enabled: bool


class Me(Out):
    model_config = _example(
        {
            "caller": "user",
            "user_id": USER_ID,
            "email": "owner@demo-merchant.test",
            "is_admin": False,
            "memberships": [
                {"merchant_id": MERCHANT_ID, "merchant_name": "Acme Retail", "role": "owner"}
            ],
            "api_key": None,
            "merchant": None,
        }
    )

    caller: Literal["user", "api_key", "service"]
    user_id: UUID | None
    email: str | None
    is_admin: bool
    memberships: list[Membership] = Field(description="ordered by merchant name")
    api_key: ApiKeyView | None = Field(description="the calling API key; null for others")
    merchant: MeMerchant | None = Field(description="the calling API key's merchant")


class AuditEntry(Out):
    id: int
    created_at: datetime
    actor_id: UUID | None
    actor_role: str
    action: str = Field(description="insert, update, delete, or a named action (queue.retry)")
    table_schema: str
    table_name: str
    row_id: str | None
    old_values: dict[str, Any] | None = Field(description="secret-looking keys redacted")
    new_values: dict[str, Any] | None = Field(description="secret-looking keys redacted")
    changed_columns: list[str] | None
    request_id: str | None


class AuditLogPage(Out):
    model_config = _example(
        {
            "data": [
                {
                    "id": 4211,
                    "created_at": AT,
                    "actor_id": ADMIN_ID,
                    "actor_role": "authenticated",
                    "action": "update",
                    "table_schema": "public",
                    "table_name": "merchants",
                    "row_id": MERCHANT_ID,
                    "old_values": {"status": "active"},
                    "new_values": {"status": "suspended"},
                    "changed_columns": ["status", "updated_at"],
                    "request_id": "3f2b1c9a-0d4e-4f6a-8b7c-9d0e1f2a3b4c",
                }
            ],
            "next_cursor": "4211",
        }
    )

    data: list[AuditEntry] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass back as cursor; null on the last page")


class Merchant(Out):
    model_config = _example(MERCHANT_EXAMPLE)

    id: UUID
    name: str
    status: Literal["active", "suspended", "closed"]
    country: str = Field(description="ISO 3166 alpha-2")
    live_enabled: bool
    created_at: datetime
    updated_at: datetime


class MerchantMember(Out):
    model_config = _example(
        {
            "merchant_id": MERCHANT_ID,
            "user_id": USER_ID,
            "role": "developer",
            "created_at": AT,
            "updated_at": AT,
        }
    )

    merchant_id: UUID
    user_id: UUID
    role: Literal["owner", "developer", "viewer"]
    created_at: datetime
    updated_at: datetime


class MemberRemoved(Out):
    model_config = _example({"removed": True, "merchant_id": MERCHANT_ID, "user_id": USER_ID})

    removed: Literal[True]
    merchant_id: UUID
    user_id: UUID


class AdminGranted(Out):
    model_config = _example({"user_id": USER_ID, "granted": True})

    user_id: UUID
    granted: bool = Field(description="false when the user already was an admin")


class AdminRevoked(Out):
    model_config = _example({"user_id": USER_ID, "revoked": True})

    user_id: UUID
    revoked: Literal[True]


class WalletLedgerEntry(Out):
    model_config = _example(
        {
            "id": 981,
            "wallet_id": WALLET_ID,
            "merchant_id": MERCHANT_ID,
            "amount": -25000,
            "balance_after": 1475000,
            "kind": "payout",
            "reference": "UTR 1234567890",
            "idempotency_key": "4c1d7e0a-5b2f-4e3a-9c8d-7f6e5d4c3b2a",
            "created_by": ADMIN_ID,
            "created_at": AT,
            "payment_id": None,
        }
    )

    id: int
    wallet_id: UUID
    merchant_id: UUID
    amount: int = Field(description="signed, minor units of the wallet's currency (paise)")
    balance_after: int = Field(description="minor units; never negative")
    kind: Literal["payment", "refund", "settlement", "fee", "adjustment", "payout"]
    reference: str | None
    idempotency_key: str = Field(description="the ledger row's own key (not the request's)")
    created_by: UUID | None
    created_at: datetime
    payment_id: str | None


class RateLimitOverride(Out):
    model_config = _example(
        {
            "merchant_id": MERCHANT_ID,
            "api_key_per_min": 1200,
            "user_per_min": 300,
            "updated_by": ADMIN_ID,
            "created_at": AT,
            "updated_at": AT,
        }
    )

    merchant_id: UUID
    api_key_per_min: int | None = Field(description="requests per minute; null: default")
    user_per_min: int | None = Field(description="requests per minute; null: default")
    updated_by: UUID | None
    created_at: datetime
    updated_at: datetime


class MerchantGatewayList(Out):
    model_config = _example({"merchant_id": MERCHANT_ID, "gateway_ids": [GATEWAY_ID]})

    merchant_id: UUID
    gateway_ids: list[UUID] = Field(description="empty: every gateway")


# Job queues --------------------------------------------------------------------------------
QUEUE_STATES = Literal["paused", "stalled", "backlogged", "healthy"]


class Windows(Out):
    m1: int = Field(alias="1m")
    m5: int = Field(alias="5m")
    h1: int = Field(alias="1h")


class QueueRates(Out):
    enqueued: Windows
    completed: Windows
    failed: Windows


class QueuePause(Out):
    paused: bool
    reason: str | None
    by: UUID | None
    at: datetime | None


class QueueSettings(Out):
    concurrency: int
    max_attempts: int
    visibility_timeout_s: int
    backoff_base_s: float
    backoff_max_s: int
    retention_days: int


class FailedJob(Out):
    job_id: str = Field(examples=["payment_dlq:7"])
    failed_at: datetime
    origin: str | None
    last_error: Any = Field(description="the worker's last error, as it recorded it")
    attempts: int | None


class QueueOverview(Out):
    queue: str
    state: QUEUE_STATES
    pending: int
    delayed: int
    processing: int
    failed: int = Field(description="dead-letter depth")
    completed_1h: int
    oldest_pending_age_s: float = Field(description="seconds")
    rates: QueueRates = Field(description="job counts over the last 1 m, 5 m and 1 h")
    paused: QueuePause
    settings: QueueSettings
    has_live_worker: bool
    latest_failed: list[FailedJob] = Field(description="up to 5, newest first")


class QueueList(Out):
    model_config = _example(
        {
            "data": [
                {
                    "queue": "payment",
                    "state": "healthy",
                    "pending": 0,
                    "delayed": 2,
                    "processing": 1,
                    "failed": 1,
                    "completed_1h": 340,
                    "oldest_pending_age_s": 0.0,
                    "rates": {
                        "enqueued": {"1m": 6, "5m": 29, "1h": 342},
                        "completed": {"1m": 6, "5m": 28, "1h": 340},
                        "failed": {"1m": 0, "5m": 0, "1h": 1},
                    },
                    "paused": {"paused": False, "reason": None, "by": None, "at": None},
                    "settings": {
                        "concurrency": 10,
                        "max_attempts": 5,
                        "visibility_timeout_s": 120,
                        "backoff_base_s": 1,
                        "backoff_max_s": 3600,
                        "retention_days": 7,
                    },
                    "has_live_worker": True,
                    "latest_failed": [
                        {
                            "job_id": "payment_dlq:7",
                            "failed_at": AT,
                            "origin": "payment:41",
                            "last_error": {"class": "TimeoutError", "message": "timed out"},
                            "attempts": 5,
                        }
                    ],
                }
            ],
            "next_cursor": None,
            "generated_at": AT,
        }
    )

    data: list[QueueOverview]
    next_cursor: str | None = Field(description="always null: the whole set")
    generated_at: datetime


class MinuteCounts(Out):
    minute: datetime
    enqueued: int
    completed: int
    failed: int
    retried: int
    dead_lettered: int


class WorkerView(Out):
    worker_id: str
    hostname: str
    pid: int
    queues: list[str]
    status: Literal["alive", "stale", "stopped"]
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    in_flight: int
    in_flight_jobs: list[str]
    processed: int
    failed: int


class QueueStats(Out):
    model_config = _example(
        {
            "series": {
                "payment": [
                    {
                        "minute": AT,
                        "enqueued": 6,
                        "completed": 6,
                        "failed": 0,
                        "retried": 0,
                        "dead_lettered": 0,
                    }
                ]
            },
            "workers": [
                {
                    "worker_id": "worker-1a2b",
                    "hostname": "worker-0",
                    "pid": 4242,
                    "queues": ["payment", "webhook"],
                    "status": "alive",
                    "started_at": AT,
                    "last_seen_at": LATER,
                    "stopped_at": None,
                    "in_flight": 1,
                    "in_flight_jobs": ["payment:42"],
                    "processed": 1200,
                    "failed": 3,
                }
            ],
            "generated_at": AT,
        }
    )

    series: dict[str, list[MinuteCounts]] = Field(description="per queue: 60 minutes, oldest first")
    workers: list[WorkerView]
    generated_at: datetime


class JobMove(Out):
    from_: str = Field(alias="from", examples=["payment_dlq:7"])
    to: str = Field(examples=["payment:43"])


class RetryResult(Out):
    model_config = _example(
        {
            "retried": 1,
            "skipped": 0,
            "not_found": 0,
            "jobs": [{"from": "payment_dlq:7", "to": "payment:43"}],
        }
    )

    retried: int
    skipped: int = Field(description="dead letters already retried")
    not_found: int
    jobs: list[JobMove]


class CleanResult(Out):
    model_config = _example(
        {"queue": "payment", "state": "completed", "cleaned": 500, "action": "deleted"}
    )

    queue: str
    state: Literal["completed", "failed"]
    cleaned: int
    action: Literal["deleted", "archived"]


class PauseResult(Out):
    model_config = _example({"paused": True, "queues": ["settlement"]})

    paused: bool
    queues: list[str] = Field(description="the queues whose state changed")


class JobAttempt(Out):
    attempt: int
    outcome: str
    worker_id: str | None
    started_at: datetime | None
    finished_at: datetime
    duration_ms: int | None
    error_class: str | None
    error_message: str | None
    traceback: str | None


class Lineage(Out):
    from_: str = Field(alias="from")
    to: str
    kind: Literal["dead_lettered", "retried"]
    at: datetime


class Job(Out):
    model_config = _example(
        {
            "job_id": "payment_dlq:7",
            "queue": "payment_dlq",
            "state": "failed",
            "key": "charge:pay_0123456789abcdef0123",
            "payload": {"payment_id": "pay_0123456789abcdef0123"},
            "last_error": {"class": "TimeoutError", "message": "timed out"},
            "origin": "payment:41",
            "read_count": 0,
            "enqueued_at": AT,
            "visible_at": AT,
            "finished_at": None,
            "attempts": [],
            "lineage": [
                {"from": "payment:41", "to": "payment_dlq:7", "kind": "dead_lettered", "at": AT}
            ],
        }
    )

    job_id: str
    queue: str
    state: Literal[
        "pending",
        "delayed",
        "processing",
        "retrying",
        "failed",
        "completed",
        "dead_lettered",
        "retried",
        "discarded",
    ]
    key: str | None
    payload: Any = Field(description="secret-looking keys redacted")
    last_error: Any
    origin: str | None
    read_count: int | None
    enqueued_at: datetime | None
    visible_at: datetime | None
    finished_at: datetime | None
    attempts: list[JobAttempt]
    lineage: list[Lineage]


class EnqueuedJob(Out):
    model_config = _example({"job_id": "settlement:12", "key": "settle:2025-01-15"})

    job_id: str = Field(description="<queue>:<msg_id>")
    key: str


# Gateways ----------------------------------------------------------------------------------
PROVIDERS = Literal["sandbox", "razorpay", "cashfree", "payu", "phonepe", "paytm", "stripe"]
HEALTH = Literal["unknown", "healthy", "degraded", "down"]
ERROR_CLASS = Literal[
    "auth_failed", "unreachable", "timeout", "rate_limited", "unexpected_response"
]
CHECK_EXAMPLE: dict[str, Any] = {
    "ok": True,
    "latency_ms": 182,
    "http_status": 200,
    "error_class": None,
    "message": None,
    "at": AT,
}


class CheckResult(Out):
    """A provider credential check (a manual test or a scheduled probe)."""

    model_config = _example(CHECK_EXAMPLE)

    ok: bool
    latency_ms: int | None = Field(description="milliseconds")
    http_status: int | None
    error_class: ERROR_CLASS | None
    message: str | None = Field(description="first 500 characters")
    at: datetime


class LastTest(Out):
    """The latest connectivity test: a manual one (POST .../test, as CheckResult), or the one
    run when the gateway was created with test=true, which private.create_gateway stores as
    the adapter sent it, without `at`."""

    ok: bool
    latency_ms: int | None = Field(description="milliseconds")
    http_status: int | None
    error_class: ERROR_CLASS | None
    message: str | None
    at: datetime | None = Field(default=None, description="absent for the test at creation")


class CredentialField(Out):
    name: str
    label: str
    required: bool
    secret: bool


class BaseUrls(Out):
    test: str
    live: str


class ProviderInfo(Out):
    provider: PROVIDERS
    display_name: str
    credential_fields: list[CredentialField]
    base_urls: BaseUrls
    credential_check: dict[str, Any] = Field(description="{request, outcomes}")
    docs_url: str


class GatewayCatalog(Out):
    model_config = _example(
        {
            "data": [
                {
                    "provider": "sandbox",
                    "display_name": "LightSpeedPay Sandbox",
                    "credential_fields": [
                        {"name": "api_key", "label": "API key", "required": True, "secret": False}
                    ],
                    "base_urls": {
                        "test": "https://sandbox.example/v1",
                        "live": "https://sandbox.example/v1",
                    },
                    "credential_check": {
                        "request": "GET /v1/ping",
                        "outcomes": {"200": "ok", "401": "auth_failed"},
                    },
                    "docs_url": "README.md#gateways",
                }
            ],
            "next_cursor": None,
        }
    )

    data: list[ProviderInfo] = Field(description="by provider")
    next_cursor: str | None = Field(description="always null: the whole set")


class Percentiles(Out):
    p50: int | None = Field(description="histogram bucket upper bound, milliseconds")
    p95: int | None = Field(description="histogram bucket upper bound, milliseconds")


class Outcomes(Out):
    succeeded: int
    failed: int


class Today(Out):
    day: date = Field(description="the India (Asia/Kolkata) date")
    volume: int = Field(description="minor units reserved today")
    daily_limit: int | None
    remaining: int | None


class SuccessRates(Out):
    h1: float | None = Field(alias="1h", description="fraction 0..1; null without outcomes")
    h24: float | None = Field(alias="24h", description="fraction 0..1; null without outcomes")


class Transactions(Out):
    h1: Outcomes = Field(alias="1h")
    h24: Outcomes = Field(alias="24h")


class GatewayHealthState(Out):
    state: HEALTH
    changed_at: datetime | None
    consecutive_failures: int
    last_probe: CheckResult | None


GATEWAY_EXAMPLE: dict[str, Any] = {
    "id": GATEWAY_ID,
    "provider": "razorpay",
    "display_name": "Razorpay primary",
    "environment": "test",
    "status": "active",
    "priority": 1,
    "min_amount": 100,
    "max_amount": 50000000,
    "daily_limit": 1000000000,
    "currencies": ["INR"],
    "methods": ["upi", "card"],
    "regions": [],
    "config": {},
    "credentials": {"key_id": "rzp_test_…Xy12", "key_secret": "••••"},
    "credentials_rotated_at": None,
    "today": {
        "day": "2025-01-15",
        "volume": 1250000,
        "daily_limit": 1000000000,
        "remaining": 998750000,
    },
    "success_rate": {"1h": 0.9821, "24h": 0.9764},
    "transactions": {
        "1h": {"succeeded": 55, "failed": 1},
        "24h": {"succeeded": 1200, "failed": 29},
    },
    "latency_ms": {"p50": 300, "p95": 1000},
    "health": {
        "state": "healthy",
        "changed_at": AT,
        "consecutive_failures": 0,
        "last_probe": CHECK_EXAMPLE,
    },
    "last_test": None,
    "created_at": AT,
    "updated_at": AT,
    "archived_at": None,
}


class Gateway(Out):
    """A gateway as the operators' dashboard shows it (credentials masked)."""

    model_config = _example(GATEWAY_EXAMPLE)

    id: UUID
    provider: PROVIDERS
    display_name: str
    environment: Literal["test", "live"]
    status: Literal["active", "inactive", "archived"]
    priority: int = Field(description="lower routes first")
    min_amount: int = Field(description="minor units")
    max_amount: int | None = Field(description="minor units; null: no limit")
    daily_limit: int | None = Field(description="minor units; null: no limit")
    currencies: list[str]
    methods: list[str] = Field(description="empty: every method")
    regions: list[str] = Field(description="empty: every region")
    config: dict[str, Any]
    credentials: dict[str, Any] = Field(description="masked copy; never the secrets")
    credentials_rotated_at: datetime | None
    today: Today
    success_rate: SuccessRates
    transactions: Transactions
    latency_ms: Percentiles
    health: GatewayHealthState
    last_test: LastTest | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class ArchivedGateway(Gateway):
    model_config = _example({**GATEWAY_EXAMPLE, "status": "archived", "in_flight_at_archive": 0})

    in_flight_at_archive: int | None = Field(
        default=None, description="payments in flight when it was archived (with force)"
    )
    already_archived: bool | None = Field(default=None, description="true: archived before")
    credentials_kept_until_settled: bool | None = Field(
        default=None,
        description="true: forced with work in flight; the credentials stay until it settles",
    )


class GatewayList(Out):
    model_config = _example({"data": [GATEWAY_EXAMPLE], "next_cursor": None, "generated_at": AT})

    data: list[Gateway] = Field(description="by priority, archived last")
    next_cursor: str | None = Field(description="always null: the whole set")
    generated_at: datetime


class GatewayHealthRow(Out):
    id: UUID
    provider: PROVIDERS
    display_name: str
    status: Literal["active", "inactive"]
    state: HEALTH
    changed_at: datetime | None
    consecutive_failures: int
    last_probe: CheckResult | None
    probe_success_rate_1h: float | None = Field(description="fraction 0..1")
    transactions_1h: Outcomes
    success_rate_1h: float | None = Field(description="fraction 0..1")
    latency_ms: Percentiles
    regions: list[str]


class RegionHealth(Out):
    gateways: int
    available: int
    state: Literal["healthy", "degraded", "down"]


class HealthThresholds(Out):
    down_after_consecutive_failures: int
    up_after_consecutive_successes: int
    degraded_latency_ms: int


class GatewayHealth(Out):
    model_config = _example(
        {
            "data": [
                {
                    "id": GATEWAY_ID,
                    "provider": "razorpay",
                    "display_name": "Razorpay primary",
                    "status": "active",
                    "state": "healthy",
                    "changed_at": AT,
                    "consecutive_failures": 0,
                    "last_probe": CHECK_EXAMPLE,
                    "probe_success_rate_1h": 1.0,
                    "transactions_1h": {"succeeded": 55, "failed": 1},
                    "success_rate_1h": 0.9821,
                    "latency_ms": {"p50": 300, "p95": 1000},
                    "regions": [],
                }
            ],
            "next_cursor": None,
            "regions": {"*": {"gateways": 1, "available": 1, "state": "healthy"}},
            "thresholds": {
                "down_after_consecutive_failures": 3,
                "up_after_consecutive_successes": 2,
                "degraded_latency_ms": 2000,
            },
            "generated_at": AT,
        }
    )

    data: list[GatewayHealthRow] = Field(description="non-archived gateways, by priority")
    next_cursor: str | None = Field(description="always null: the whole set")
    regions: dict[str, RegionHealth] = Field(description="by region; * for all-region gateways")
    thresholds: HealthThresholds
    generated_at: datetime


class GatewayOrder(Out):
    model_config = _example({"order": [GATEWAY_ID]})

    order: list[UUID]


class RouteCandidate(Out):
    gateway_id: UUID
    provider: PROVIDERS
    priority: int
    success_rate_1h: float | None = Field(description="fraction 0..1")
    remaining_today: int | None = Field(description="minor units; null without a daily limit")


class RoutePreviewResult(Out):
    model_config = _example(
        {
            "candidates": [
                {
                    "gateway_id": GATEWAY_ID,
                    "provider": "razorpay",
                    "priority": 1,
                    "success_rate_1h": 0.9821,
                    "remaining_today": 998750000,
                }
            ]
        }
    )

    candidates: list[RouteCandidate] = Field(description="in the order the worker tries them")


# Merchant developer tools ----------------------------------------------------------------
class LastDelivery(Out):
    event_id: str
    status: Literal["pending", "delivered", "failed", "skipped"]
    status_code: int | None
    at: datetime


class MerchantLastDelivery(LastDelivery):
    endpoint_id: UUID | None = Field(description="null once that endpoint was deleted")


class WebhookStatus(Out):
    endpoints: int
    enabled: int
    disabled: int
    failing: int
    last_delivery: MerchantLastDelivery | None
    success_rate_24h: float | None = Field(description="fraction 0..1 of attempts answered 2xx")


class ApiKeyPage(Out):
    model_config = _example(
        {
            "merchant_id": MERCHANT_ID,
            "data": [KEY_EXAMPLE],
            "next_cursor": None,
            "webhooks": {
                "endpoints": 1,
                "enabled": 1,
                "disabled": 0,
                "failing": 0,
                "last_delivery": None,
                "success_rate_24h": None,
            },
        }
    )

    merchant_id: UUID
    data: list[ApiKeyView] = Field(description="newest first")
    next_cursor: str | None
    webhooks: WebhookStatus


class NewApiKey(ApiKeyView):
    """A new key: the full key is in this answer only (and in its idempotent replays)."""

    model_config = _example(
        {**KEY_EXAMPLE, "key": "lsp_test_Ab3dEfGh1234567890abcdefgh9xYz", "key_shown_once": True}
    )

    key: str = Field(description="the full key; store it now")
    key_shown_once: Literal[True]


class RotatedApiKey(NewApiKey):
    model_config = _example(
        {
            **KEY_EXAMPLE,
            "key": "lsp_test_Zz9yXw8v7u6t5s4r3q2p1o0n9m8l",
            "key_shown_once": True,
            "previous_key_valid_until": LATER,
        }
    )

    previous_key_valid_until: datetime


class UsageTotals(Out):
    requests: int
    errors_4xx: int
    errors_5xx: int
    rate_limited: int
    p50_ms: int | None = Field(description="bucket upper bound, milliseconds")
    p95_ms: int | None = Field(description="bucket upper bound, milliseconds")


class UsagePoint(Out):
    at: datetime
    requests: int
    errors_4xx: int
    errors_5xx: int
    rate_limited: int


class TopEndpoint(Out):
    endpoint: str = Field(examples=["GET /api/v1/payments/{payment_id}"])
    requests: int
    errors: int


class KeyRateLimit(Out):
    api_key_id: UUID
    display: str
    limit_per_min: int
    throttled_now: bool
    breaches_24h: int


class Usage(Out):
    model_config = _example(
        {
            "merchant_id": MERCHANT_ID,
            "from": AT,
            "to": LATER,
            "granularity": "hour",
            "totals": {
                "requests": 1284,
                "errors_4xx": 12,
                "errors_5xx": 0,
                "rate_limited": 3,
                "p50_ms": 25,
                "p95_ms": 100,
            },
            "series": [
                {"at": AT, "requests": 1284, "errors_4xx": 12, "errors_5xx": 0, "rate_limited": 3}
            ],
            "top_endpoints": [{"endpoint": "POST /api/v1/payments", "requests": 900, "errors": 10}],
            "rate_limits": [
                {
                    "api_key_id": KEY_ID,
                    "display": "lsp_test_Ab3d…9xYz",
                    "limit_per_min": 600,
                    "throttled_now": False,
                    "breaches_24h": 3,
                }
            ],
        }
    )

    merchant_id: UUID
    from_: datetime = Field(alias="from")
    to: datetime
    granularity: Literal["minute", "hour", "day"]
    totals: UsageTotals
    series: list[UsagePoint]
    top_endpoints: list[TopEndpoint] = Field(description="up to 10")
    rate_limits: list[KeyRateLimit] = Field(description="keys not yet revoked")


ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": ENDPOINT_ID,
    "merchant_id": MERCHANT_ID,
    "url": "https://example.com/webhooks/lightspeedpay",
    "description": "order service",
    "event_types": ["payment.*"],
    "enabled": True,
    "disabled_reason": None,
    "disabled_at": None,
    "failing_since": None,
    "previous_secret_expires_at": None,
    "created_at": AT,
    "updated_at": AT,
    "last_delivery": {
        "event_id": "msg_8f14e45fceea167a5a36dedd4bea2543",
        "status": "delivered",
        "status_code": 200,
        "at": LATER,
    },
    "success_rate_24h": 1.0,
}


class WebhookEndpoint(Out):
    """A webhook endpoint; never its signing secrets."""

    model_config = _example(ENDPOINT_EXAMPLE)

    id: UUID
    merchant_id: UUID
    url: str
    description: str | None
    event_types: list[str] = Field(description="empty: every event")
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_delivery: LastDelivery | None
    success_rate_24h: float | None = Field(description="fraction 0..1 of attempts answered 2xx")


class WebhookEndpointWithSecret(WebhookEndpoint):
    """The signing secret is in this answer only (and in its idempotent replays)."""

    model_config = _example(
        {
            **ENDPOINT_EXAMPLE,
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "secret_shown_once": True,
        }
    )

    secret: str = Field(description="Standard Webhooks signing secret (whsec_...)")
    secret_shown_once: Literal[True]


class WebhookEventType(Out):
    type: str = Field(examples=["payment.succeeded"])
    description: str


class WebhookEventTypeList(Out):
    model_config = _example(
        {
            "data": [{"type": "payment.succeeded", "description": "The payment was captured."}],
            "next_cursor": None,
        }
    )

    data: list[WebhookEventType] = Field(description="by type")
    next_cursor: None


class WebhookEndpointDeleted(Out):
    model_config = _example(
        {
            "id": "6f1c2a4e-0000-4000-8000-00000000e001",
            "deleted": True,
            "pending_deliveries_skipped": 0,
        }
    )

    id: UUID
    deleted: Literal[True]
    pending_deliveries_skipped: int


class WebhookEndpointPage(Out):
    model_config = _example(
        {"merchant_id": MERCHANT_ID, "data": [ENDPOINT_EXAMPLE], "next_cursor": None}
    )

    merchant_id: UUID
    data: list[WebhookEndpoint] = Field(description="oldest first")
    next_cursor: str | None


class WebhookTestResult(Out):
    model_config = _example(
        {
            "delivered": True,
            "status_code": 200,
            "latency_ms": 84,
            "error": None,
            "event_id": "msg_8f14e45fceea167a5a36dedd4bea2543",
            "delivery_id": 5120,
        }
    )

    delivered: bool
    status_code: int | None = Field(description="the receiver's answer; null if none")
    latency_ms: int
    error: str | None
    event_id: str = Field(description="the webhook-id the receiver dedupes on")
    delivery_id: int


class DeliveryAttempt(Out):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None = Field(description="first 4 KB of the answer")


class Delivery(Out):
    id: int
    endpoint_id: UUID | None = Field(description="null once that endpoint was deleted")
    status: Literal["pending", "delivered", "failed", "skipped"]
    attempts: int
    last_status_code: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttempt]


class WebhookEvent(Out):
    id: str = Field(description="the webhook-id receivers dedupe on (msg_...)")
    type: str = Field(examples=["payment.succeeded"])
    payload: dict[str, Any]
    created_at: datetime
    deliveries: list[Delivery]


class WebhookEventPage(Out):
    model_config = _example(
        {
            "data": [
                {
                    "id": "msg_8f14e45fceea167a5a36dedd4bea2543",
                    "type": "payment.succeeded",
                    "payload": {"id": "pay_0123456789abcdef0123", "status": "succeeded"},
                    "created_at": AT,
                    "deliveries": [
                        {
                            "id": 5120,
                            "endpoint_id": ENDPOINT_ID,
                            "status": "delivered",
                            "attempts": 1,
                            "last_status_code": 200,
                            "next_attempt_at": None,
                            "delivered_at": LATER,
                            "attempt_log": [
                                {
                                    "attempt": 1,
                                    "at": LATER,
                                    "status_code": 200,
                                    "latency_ms": 84,
                                    "error": None,
                                    "response_body": "ok",
                                }
                            ],
                        }
                    ],
                }
            ],
            "next_cursor": None,
        }
    )

    data: list[WebhookEvent] = Field(description="newest first")
    next_cursor: str | None


class Redelivery(Out):
    model_config = _example({"delivery_id": 5120, "status": "pending"})

    delivery_id: int
    status: Literal["pending"]


# Payments ----------------------------------------------------------------------------------
PAYMENT_STATUS = Literal[
    "created",
    "processing",
    "requires_action",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
    "partially_refunded",
    "refunded",
]
PAYMENT_EXAMPLE: dict[str, Any] = {
    "id": "pay_0123456789abcdef0123",
    "object": "payment",
    "merchant_id": MERCHANT_ID,
    "mode": "test",
    "status": "processing",
    "amount": 49900,
    "currency": "INR",
    "method": "upi",
    "upi": {"vpa": "success@sandbox"},
    "customer": {"email": "buyer@example.com"},
    "description": "Order #1001",
    "metadata": {"order_id": "1001"},
    "return_url": None,
    "region": "IN",
    "next_action": None,
    "action_expires_at": None,
    "gateway": None,
    "attempt_count": 0,
    "amount_captured": 0,
    "amount_refunded": 0,
    "amount_refundable": 0,
    "failure": None,
    "late_success": False,
    "review_reason": None,
    "created_at": AT,
    "updated_at": AT,
    "completed_at": None,
}
REFUND_EXAMPLE: dict[str, Any] = {
    "id": "rfd_0123456789abcdef0123",
    "object": "refund",
    "payment_id": "pay_0123456789abcdef0123",
    "mode": "test",
    "merchant_id": MERCHANT_ID,
    "amount": 10000,
    "currency": "INR",
    "status": "pending",
    "reason": "customer request",
    "provider_refund_id": None,
    "failure": None,
    "created_at": AT,
    "completed_at": None,
}


class Vpa(Out):
    vpa: str


class PaymentCustomer(Out):
    email: str | None = None
    phone: str | None = None


class GatewayRef(Out):
    id: UUID
    provider: PROVIDERS


class Failure(Out):
    code: str | None
    message: str | None


class Payment(Out):
    """A payment snapshot; amounts are integer minor units of its currency (paise for INR)."""

    model_config = _example(PAYMENT_EXAMPLE)

    id: str = Field(pattern=r"^pay_[0-9a-f]{20}$")
    object: Literal["payment"]
    merchant_id: UUID
    mode: Literal["test", "live"]
    status: PAYMENT_STATUS
    amount: int
    currency: str
    method: Literal["upi", "card", "netbanking", "wallet"]
    upi: Vpa | None
    customer: PaymentCustomer = Field(description="only the fields given")
    description: str | None
    metadata: dict[str, Any]
    return_url: str | None
    region: str
    next_action: dict[str, Any] | None = Field(
        description="while requires_action: a redirect, or a UPI collect or intent"
    )
    action_expires_at: datetime | None
    gateway: GatewayRef | None
    attempt_count: int
    amount_captured: int
    amount_refunded: int
    amount_refundable: int
    failure: Failure | None
    late_success: bool = Field(description="a provider's success after cancel or expiry")
    review_reason: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class AttemptError(Out):
    code: str | None
    provider_code: str | None
    message: str | None
    decision: Literal["retry", "next", "fail"] | None


class PaymentAttempt(Out):
    id: str
    object: Literal["payment_attempt"]
    attempt: int
    status: Literal[
        "created", "requires_action", "pending", "unknown", "succeeded", "failed", "cancelled"
    ]
    gateway_id: UUID
    provider: PROVIDERS
    provider_order_id: str | None
    provider_payment_id: str | None
    error: AttemptError | None
    latency_ms: int | None
    review_reason: str | None
    created_at: datetime
    completed_at: datetime | None


class Refund(Out):
    model_config = _example(REFUND_EXAMPLE)

    id: str = Field(pattern=r"^rfd_[0-9a-f]{20}$")
    object: Literal["refund"]
    payment_id: str
    merchant_id: UUID
    mode: Literal["test", "live"] = Field(description="the payment's mode")
    amount: int = Field(description="minor units")
    currency: str
    status: Literal["pending", "succeeded", "failed"]
    reason: str | None
    provider_refund_id: str | None
    failure: Failure | None
    created_at: datetime
    completed_at: datetime | None


class PaymentDetail(Payment):
    model_config = _example({**PAYMENT_EXAMPLE, "attempts": [], "refunds": []})

    attempts: list[PaymentAttempt]
    refunds: list[Refund]


class PaymentPage(Out):
    model_config = _example({"data": [PAYMENT_EXAMPLE], "next_cursor": None})

    data: list[Payment] = Field(description="newest first")
    next_cursor: str | None


# Routes outside the table -------------------------------------------------------------------
class ProviderWebhookReceipt(Out):
    model_config = _example({"received": True, "duplicate": False})

    received: Literal[True]
    duplicate: bool = Field(description="this provider event id was stored before")


class Health(Out):
    model_config = _example({"status": "ok"})

    status: Literal["ok"]


class Readiness(Out):
    model_config = _example(
        {
            "status": "ready",
            "database": "ok",
            "applied_migration": "20250115103000",
            "expected_migration": "20250115103000",
        }
    )

    status: Literal["ready", "migrations_pending", "queues_differ", "unavailable"]
    database: Literal["ok", "unreachable"]
    applied_migration: str | None = None
    expected_migration: str | None
    queues: dict[str, list[str]] | None = None


# The route table's answers, by rpc -------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """A route's success model, and the error statuses its SQL raises beyond those every route
    documents (400, 401, 403, 429, 431, 500, 503; 404 with path parameters; 409 on writes;
    409, 413, 415 and 422 where they apply: see openapi.route_responses)."""

    model: type[BaseModel]
    errors: tuple[int, ...] = ()
    # The RPC refuses a request without an Idempotency-Key (the header is then required).
    idempotency_key_required: bool = False


RESPONSES: dict[str, Answer] = {
    "me": Answer(Me),
    "list_audit_logs": Answer(AuditLogPage),
    "create_merchant": Answer(Merchant, (404,)),
    "set_merchant_status": Answer(Merchant),
    "set_merchant_member": Answer(MerchantMember, (422,)),
    "remove_merchant_member": Answer(MemberRemoved, (422,)),
    "grant_platform_admin": Answer(AdminGranted, (404,)),
    "revoke_platform_admin": Answer(AdminRevoked, (422,)),
    "post_wallet_entry": Answer(WalletLedgerEntry, (422,), idempotency_key_required=True),
    "admin_list_queues": Answer(QueueList),
    "admin_queue_stats": Answer(QueueStats),
    "admin_retry_jobs": Answer(RetryResult),
    "admin_clean_queue": Answer(CleanResult),
    "admin_pause_queue": Answer(PauseResult),
    "admin_get_job": Answer(Job),
    "enqueue_job": Answer(EnqueuedJob),
    "admin_gateway_catalog": Answer(GatewayCatalog),
    "admin_gateway_health": Answer(GatewayHealth),
    "admin_set_gateway_priority": Answer(GatewayOrder),
    "route_payment": Answer(RoutePreviewResult, (404, 422)),
    "admin_list_gateways": Answer(GatewayList),
    "admin_create_gateway": Answer(Gateway, (422,)),
    "admin_update_gateway": Answer(Gateway, (422,)),
    "admin_archive_gateway": Answer(ArchivedGateway, (422,)),
    "admin_record_gateway_test": Answer(CheckResult, (422,)),
    "merchant_list_api_keys": Answer(ApiKeyPage, (404,)),
    "merchant_create_api_key": Answer(NewApiKey, (404, 422)),
    "merchant_rotate_api_key": Answer(RotatedApiKey, (404, 422)),
    "merchant_revoke_api_key": Answer(ApiKeyView),
    "admin_set_merchant_rate_limits": Answer(RateLimitOverride),
    "merchant_usage": Answer(Usage, (404,)),
    "merchant_list_webhook_endpoints": Answer(WebhookEndpointPage, (404,)),
    "merchant_create_webhook_endpoint": Answer(WebhookEndpointWithSecret, (404,)),
    "merchant_delete_webhook_endpoint": Answer(WebhookEndpointDeleted),
    "merchant_webhook_event_types": Answer(WebhookEventTypeList),
    "merchant_prepare_webhook_test": Answer(WebhookTestResult, (404,)),
    "merchant_list_webhook_events": Answer(WebhookEventPage, (404,)),
    "merchant_redeliver_webhook": Answer(Redelivery),
    "merchant_update_webhook_endpoint": Answer(WebhookEndpoint),
    "merchant_rotate_webhook_secret": Answer(WebhookEndpointWithSecret),
    "create_payment": Answer(Payment, (404, 422)),
    "list_payments": Answer(PaymentPage, (404,)),
    "get_payment": Answer(PaymentDetail),
    "cancel_payment": Answer(Payment, (422,)),
    "create_refund": Answer(Refund, (422,)),
    "admin_list_payments": Answer(PaymentPage),
    "admin_set_merchant_live": Answer(Merchant),
    "admin_set_merchant_gateways": Answer(MerchantGatewayList),
}
