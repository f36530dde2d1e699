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
    merchant_id: UUID | None = Field(
        description="null for an operator alert destination (admins may update, rotate or "
        "delete those through these routes too)"
    )
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
    void_status: (
        Literal["requested", "voided", "not_supported", "already_paid", "failed"] | None
    ) = Field(
        description="after a cancel, what the provider did with what this attempt created: "
        "requested (the void job has not finished), voided, not_supported (a late success "
        "is still caught), already_paid (the customer paid first), failed"
    )
    voided_at: datetime | None = Field(description="when the provider confirmed the void")
    void_error: str | None = Field(description="the error of the last void call that failed")
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


# Live events and alerts (issue 15) -----------------------------------------------------------
ALERT_ID = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
ALERT_KIND = Literal[
    "gateway_down",
    "gateway_degraded",
    "gateway_success_drop",
    "gateway_latency_spike",
    "queue_backlog",
    "queue_stalled",
    "dead_letter_growth",
    "webhook_endpoint_failing",
    "rate_limit_breaches",
    "payment_failure_spike",
    "provider_settlement_mismatch",
]
SEVERITY = Literal["critical", "warning", "info"]


class StreamTokenGrant(Out):
    """A stream token: it is in this answer only (only its SHA-256 is stored)."""

    model_config = _example(
        {
            "token": "sst_q3X9vR2mK8pL5nT1wY7zB4cD6fH0jA2sE9gU3iO5kM1",
            "expires_at": LATER,
            "topics": ["admin:gateways", "admin:alerts"],
        }
    )

    token: str = Field(
        pattern=r"^sst_[A-Za-z0-9_-]{43}$",
        description="pass as GET /api/v1/stream?access_token=; reusable until it expires",
    )
    expires_at: datetime = Field(description="60 s from now, never after the caller's JWT exp")
    topics: list[str] = Field(description="the topics it opens (all, when a stream names none)")


class AlertSubject(Out):
    type: Literal["gateway", "queue", "webhook_endpoint", "api_key", "merchant"]
    id: str = Field(description="the subject's id (a queue's name)")


ALERT_EXAMPLE: dict[str, Any] = {
    "id": ALERT_ID,
    "object": "alert",
    "rule_id": "payment_failure_spike",
    "kind": "payment_failure_spike",
    "severity": "warning",
    "state": "firing",
    "title": "Payment failures at 52% for Acme Retail",
    "subject": {"type": "merchant", "id": MERCHANT_ID},
    "merchant_id": MERCHANT_ID,
    "value": 0.52,
    "threshold": 0.3,
    "details": {"failed": 26, "payments": 50},
    "fired_at": AT,
    "last_seen_at": LATER,
    "acknowledged_at": None,
    "acknowledged_by": None,
    "resolved_at": None,
    "resolution": None,
}


class Alert(Out):
    """A product alert: a rule's condition on one subject, open until it clears."""

    model_config = _example(ALERT_EXAMPLE)

    id: UUID
    object: Literal["alert"]
    rule_id: str
    kind: ALERT_KIND
    severity: SEVERITY
    state: Literal["firing", "acknowledged", "resolved"]
    title: str
    subject: AlertSubject
    merchant_id: UUID | None = Field(description="set for merchant-scoped alerts")
    value: float | None = Field(description="the last evaluated value, in the kind's unit")
    threshold: float = Field(description="the rule's threshold when it fired")
    details: dict[str, Any]
    fired_at: datetime
    last_seen_at: datetime = Field(description="the last evaluation at which it still held")
    acknowledged_at: datetime | None
    acknowledged_by: UUID | None
    resolved_at: datetime | None
    resolution: Literal["cleared", "rule_disabled", "subject_gone"] | None


class AlertPage(Out):
    model_config = _example({"data": [ALERT_EXAMPLE], "next_cursor": None})

    data: list[Alert] = Field(description="newest fired first")
    next_cursor: str | None


ALERT_RULE_EXAMPLE: dict[str, Any] = {
    "id": "gateway_success_drop",
    "kind": "gateway_success_drop",
    "description": "A gateway's success rate dropped",
    "severity": "critical",
    "enabled": True,
    "threshold": 0.25,
    "clear_threshold": 0.15,
    "min_volume": 20,
    "window_s": 900,
    "updated_at": AT,
    "updated_by": None,
}


class AlertRule(Out):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    kind: ALERT_KIND
    description: str
    severity: SEVERITY
    enabled: bool
    threshold: float = Field(description="fires at value >= threshold (the kind's unit)")
    clear_threshold: float = Field(description="resolves at value < clear_threshold")
    min_volume: int = Field(description="evidence needed in the window to fire")
    window_s: int = Field(description="seconds of history each evaluation looks at")
    updated_at: datetime
    updated_by: UUID | None


class AlertRuleList(Out):
    model_config = _example({"data": [ALERT_RULE_EXAMPLE], "next_cursor": None})

    data: list[AlertRule] = Field(description="every rule, by id")
    next_cursor: None = Field(description="always null: the whole set")


DESTINATION_EXAMPLE: dict[str, Any] = {
    **ENDPOINT_EXAMPLE,
    "merchant_id": None,
    "url": "https://ops.example.com/hooks/lightspeedpay",
    "description": "pager",
    "event_types": ["alert.*"],
    "last_delivery": None,
    "success_rate_24h": None,
}


class AlertDestinationEndpoint(WebhookEndpoint):
    """An operator alert destination: a webhook endpoint without a merchant."""

    model_config = _example(DESTINATION_EXAMPLE)

    merchant_id: None = Field(description="always null: an operator destination")
    secret: str | None = Field(
        default=None,
        description="whsec_...: only for a URL new in this PUT (or re-added after its "
        "removal), shown once",
    )
    secret_shown_once: Literal[True] | None = Field(default=None, description="with secret")


class AlertDestinationList(Out):
    model_config = _example(
        {
            "data": [
                {
                    **DESTINATION_EXAMPLE,
                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    "secret_shown_once": True,
                }
            ],
            "next_cursor": None,
        }
    )

    data: list[AlertDestinationEndpoint] = Field(description="oldest first")
    next_cursor: None = Field(description="always null: the whole set")


NOTIFICATION_EXAMPLE: dict[str, Any] = {
    "id": 311,
    "object": "notification",
    "merchant_id": MERCHANT_ID,
    "user_id": USER_ID,
    "kind": "bank_account.changed",
    "title": "The settlement bank account was changed to HDFC0001234 XXXXXXXX9012",
    "details": {"bank_account_id": KEY_ID, "previous": None, "usable_from": LATER},
    "read_at": None,
    "created_at": AT,
}


class Notification(Out):
    model_config = _example(NOTIFICATION_EXAMPLE)

    id: int
    object: Literal["notification"]
    merchant_id: UUID
    user_id: UUID | None = Field(description="the addressee; null: every member")
    kind: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", examples=["api_key.rotated"])
    title: str
    details: dict[str, Any] = Field(description="kind-specific")
    read_at: datetime | None = Field(description="null: unread")
    created_at: datetime


class NotificationPage(Out):
    model_config = _example({"data": [NOTIFICATION_EXAMPLE], "next_cursor": None})

    data: list[Notification] = Field(description="newest first")
    next_cursor: str | None


# Ledger, wallets, settlements and analytics (issue 14) ----------------------------------------
SETTLEMENT_ID = "stl_4f1e2d3c4b5a69788796"
MODE = Literal["test", "live"]


class AccountBalance(Out):
    posted: int = Field(description="minor units posted to the account")
    held: int = Field(description="minor units held for debits in flight (refunds)")


class WalletBalances(Out):
    available: AccountBalance
    pending: AccountBalance
    reserve: AccountBalance


WALLET_EXAMPLE: dict[str, Any] = {
    "id": WALLET_ID,
    "object": "wallet",
    "merchant_id": MERCHANT_ID,
    "currency": "INR",
    "mode": "live",
    "available": 820000,
    "pending": 1250000,
    "reserve": 100000,
    "on_hold": 5000,
    "balances": {
        "available": {"posted": 825000, "held": 5000},
        "pending": {"posted": 1250000, "held": 0},
        "reserve": {"posted": 100000, "held": 0},
    },
    "created_at": AT,
}


class Wallet(Out):
    """A wallet; every amount in minor units of its currency."""

    model_config = _example(WALLET_EXAMPLE)

    id: UUID
    object: Literal["wallet"]
    merchant_id: UUID
    currency: str
    mode: MODE
    available: int = Field(description="paid out at the next settlement (posted - held)")
    pending: int = Field(description="waiting for the settlement delay")
    reserve: int
    on_hold: int = Field(description="held on the three accounts for refunds in flight")
    balances: WalletBalances
    created_at: datetime


class WalletList(Out):
    model_config = _example({"data": [WALLET_EXAMPLE], "next_cursor": None})

    data: list[Wallet] = Field(description="by mode, then currency")
    next_cursor: None = Field(description="always null: the whole set")


class LedgerReference(Out):
    type: str | None = Field(examples=["payment", "wallet_adjustment", "settlement"])
    id: str


TRANSACTION_EXAMPLE: dict[str, Any] = {
    "id": 7741,
    "object": "wallet_transaction",
    "entry_id": 3120,
    "kind": "adjustment",
    "account": "available",
    "amount": -2500,
    "balance_after": 7500,
    "currency": "INR",
    "reference": {"type": "wallet_adjustment", "id": KEY_ID},
    "description": "goodwill for ticket 42",
    "created_at": AT,
}


class WalletTransaction(Out):
    id: int
    object: Literal["wallet_transaction"]
    entry_id: int
    kind: str = Field(
        pattern=r"^[a-z][a-z_]{0,39}$",
        description="payment, refund, adjustment, settlement, payout, payout_reversal, migration",
    )
    account: Literal["available", "pending", "reserve"]
    amount: int = Field(description="signed minor units: + credits the merchant")
    balance_after: int = Field(description="the account's balance after this line")
    currency: str
    reference: LedgerReference | None
    description: str | None
    created_at: datetime


class WalletTransactionPage(Out):
    model_config = _example({"data": [TRANSACTION_EXAMPLE], "next_cursor": None})

    data: list[WalletTransaction] = Field(description="newest first")
    next_cursor: str | None


class WalletAdjustmentResult(Out):
    model_config = _example(
        {
            "id": KEY_ID,
            "object": "wallet_adjustment",
            "wallet_id": WALLET_ID,
            "merchant_id": MERCHANT_ID,
            "account": "available",
            "amount": -2500,
            "currency": "INR",
            "reason": "goodwill for ticket 42",
            "entry_id": 3120,
            "created_at": AT,
            "wallet": WALLET_EXAMPLE,
        }
    )

    id: UUID
    object: Literal["wallet_adjustment"]
    wallet_id: UUID
    merchant_id: UUID
    account: Literal["available", "reserve"]
    amount: int = Field(description="signed minor units")
    currency: str
    reason: str
    entry_id: int
    created_at: datetime
    wallet: Wallet = Field(description="the balances after it")


class MethodRate(Out):
    percent_bps: int = Field(description="basis points of the gross")
    fixed: int = Field(description="minor units per payment")
    default: bool = Field(description="true: the platform's default applies")


class MethodRates(Out):
    upi: MethodRate
    card: MethodRate
    netbanking: MethodRate
    wallet: MethodRate


class Pricing(Out):
    model_config = _example(
        {
            "object": "merchant_pricing",
            "merchant_id": MERCHANT_ID,
            "rates": {
                "upi": {"percent_bps": 200, "fixed": 0, "default": False},
                "card": {"percent_bps": 0, "fixed": 0, "default": True},
                "netbanking": {"percent_bps": 0, "fixed": 0, "default": True},
                "wallet": {"percent_bps": 0, "fixed": 0, "default": True},
            },
            "state": "MH",
            "platform_state": "KA",
            "tax": "igst",
            "gst_bps": 1800,
            "settlement_delay_days": 2,
            "updated_at": AT,
        }
    )

    object: Literal["merchant_pricing"]
    merchant_id: UUID
    rates: MethodRates
    state: str | None = Field(description="the merchant's GST state (ISO 3166-2:IN)")
    platform_state: str
    tax: Literal["igst", "cgst_sgst"]
    gst_bps: int = Field(description="GST on the fee, basis points")
    settlement_delay_days: int | None = Field(description="working days; null: the platform's")
    updated_at: datetime | None = Field(description="null: never priced (defaults apply)")


class SettlementCounts(Out):
    payments: int
    refunds: int
    adjustments: int


class PayoutFailure(Out):
    code: str | None
    message: str | None


class SettlementPayout(Out):
    status: Literal[
        "pending",
        "waiting_for_bank_account",
        "waiting_for_payout_account",
        "waiting_for_merchant_active",
        "waiting_for_merchant_live",
        "retry_scheduled",
        "processing",
        "processed",
        "failed",
        "reversed",
    ] = Field(description="where the payout stands; waiting_* and retry_scheduled are not failures")
    usable_from: datetime | None = Field(
        description="waiting_for_bank_account: when the new account's cooling-off ends"
    )
    next_attempt_at: datetime | None = Field(description="retry_scheduled: the next attempt")
    attempts: int
    utr: str | None
    bank_account_id: UUID | None
    failure: PayoutFailure | None


SETTLEMENT_EXAMPLE: dict[str, Any] = {
    "id": SETTLEMENT_ID,
    "object": "settlement",
    "merchant_id": MERCHANT_ID,
    "wallet_id": WALLET_ID,
    "currency": "INR",
    "mode": "live",
    "status": "processed",
    "gross": 12500,
    "refunds": 0,
    "fees": 250,
    "tax": 45,
    "adjustments": 0,
    "net": 12205,
    "counts": {"payments": 2, "refunds": 0, "adjustments": 0},
    "payout": {
        "status": "processed",
        "usable_from": None,
        "next_attempt_at": None,
        "attempts": 1,
        "utr": "UTIB202501150001",
        "bank_account_id": KEY_ID,
        "failure": None,
    },
    "created_at": AT,
    "processed_at": LATER,
}


class Settlement(Out):
    """A settlement batch: net = gross - refunds - fees - tax + adjustments (minor units)."""

    model_config = _example(SETTLEMENT_EXAMPLE)

    id: str = Field(pattern=r"^stl_[0-9a-f]{20}$")
    object: Literal["settlement"]
    merchant_id: UUID
    wallet_id: UUID
    currency: str
    mode: MODE
    status: Literal["created", "processing", "processed", "failed"]
    gross: int
    refunds: int
    fees: int
    tax: int
    adjustments: int
    net: int
    counts: SettlementCounts
    payout: SettlementPayout
    created_at: datetime
    processed_at: datetime | None


class SettlementPage(Out):
    model_config = _example({"data": [SETTLEMENT_EXAMPLE], "next_cursor": None})

    data: list[Settlement] = Field(description="newest first")
    next_cursor: str | None


class SettlementLine(Out):
    kind: Literal["payment", "refund", "adjustment", "payout_reversal", "opening_balance"]
    payment_id: str | None = Field(default=None, description="payment lines")
    refund_id: str | None = Field(default=None, description="refund lines")
    adjustment_id: UUID | None = Field(default=None, description="adjustment lines")
    gross: int
    fee: int
    tax: int
    amount: int = Field(description="signed: the line's part of net")


class Payout(Out):
    id: str = Field(pattern=r"^pyt_[0-9a-f]{20}$", description="the provider's idempotency key")
    attempt: int
    status: Literal["created", "processing", "processed", "failed", "reversed"]
    amount: int
    provider: str = Field(examples=["razorpayx"])
    provider_payout_id: str | None
    utr: str | None
    failure: PayoutFailure | None
    created_at: datetime
    completed_at: datetime | None


class SettlementDetail(Settlement):
    model_config = _example(
        {
            **SETTLEMENT_EXAMPLE,
            "lines": [
                {
                    "kind": "payment",
                    "payment_id": "pay_0123456789abcdef0123",
                    "gross": 10000,
                    "fee": 200,
                    "tax": 36,
                    "amount": 9764,
                }
            ],
            "payouts": [
                {
                    "id": "pyt_0a1b2c3d4e5f60718293",
                    "attempt": 1,
                    "status": "processed",
                    "amount": 12205,
                    "provider": "razorpayx",
                    "provider_payout_id": "pout_00000000000001",
                    "utr": "UTIB202501150001",
                    "failure": None,
                    "created_at": AT,
                    "completed_at": LATER,
                }
            ],
        }
    )

    lines: list[SettlementLine]
    payouts: list[Payout] = Field(description="by attempt")


class BankAccountView(Out):
    """The active settlement bank account, masked. Without one: only id (null), object and
    merchant_id."""

    model_config = _example(
        {
            "id": KEY_ID,
            "object": "bank_account",
            "merchant_id": MERCHANT_ID,
            "holder_name": "Acme Retail Pvt Ltd",
            "ifsc": "HDFC0001234",
            "account_number": "XXXXXXXX9012",
            "status": "active",
            "usable_from": LATER,
            "usable": False,
            "created_at": AT,
            "replaced_at": None,
        }
    )

    id: UUID | None = Field(description="null when no account is set")
    object: Literal["bank_account"]
    merchant_id: UUID
    holder_name: str | None = None
    ifsc: str | None = None
    account_number: str | None = Field(default=None, pattern=r"^X{8}[0-9]{4}$")
    status: Literal["active", "replaced"] | None = None
    usable_from: datetime | None = Field(default=None, description="after the cooling-off")
    usable: bool | None = Field(default=None, description="payouts may go to it now")
    created_at: datetime | None = None
    replaced_at: datetime | None = None


class MaskedPayoutCredentials(Out):
    key_id: str
    key_secret: str
    account_number: str


class PayoutAccountView(Out):
    model_config = _example(
        {
            "object": "payout_account",
            "mode": "test",
            "provider": "razorpayx",
            "credentials": {
                "key_id": "rz****01",
                "key_secret": "fa****01",
                "account_number": "78****16",
            },
            "updated_at": AT,
        }
    )

    object: Literal["payout_account"]
    mode: MODE
    provider: Literal["razorpayx"]
    credentials: MaskedPayoutCredentials = Field(description="masked; never the secrets")
    updated_at: datetime


class SettlementHoliday(Out):
    model_config = _example({"day": "2025-01-26", "description": "Republic Day"})

    day: date
    description: str


class SettlementHolidayList(Out):
    model_config = _example(
        {"data": [{"day": "2025-01-26", "description": "Republic Day"}], "next_cursor": None}
    )

    data: list[SettlementHoliday] = Field(description="by day")
    next_cursor: None = Field(description="always null: the whole set")


class SettlementHolidayDeleted(Out):
    model_config = _example({"day": "2025-01-26", "deleted": True})

    day: date
    deleted: Literal[True]


class ReconciliationCheck(Out):
    check: Literal[
        "entries_balance",
        "account_totals",
        "never_negative",
        "settlements_add_up",
        "payouts_equal_nets",
        "wallets_hold_their_items",
    ]
    violations: int
    examples: list[int | str] = Field(
        description="ids of offending entries, accounts, settlements or wallets"
    )


class LedgerReconciliation(Out):
    model_config = _example(
        {
            "object": "ledger_reconciliation",
            "checked_at": AT,
            "merchant_id": None,
            "ok": True,
            "checks": [
                {"check": name, "violations": 0, "examples": []}
                for name in (
                    "entries_balance",
                    "account_totals",
                    "never_negative",
                    "settlements_add_up",
                    "payouts_equal_nets",
                    "wallets_hold_their_items",
                )
            ],
        }
    )

    object: Literal["ledger_reconciliation"]
    checked_at: datetime
    merchant_id: UUID | None = Field(description="null: every merchant")
    ok: bool = Field(description="true: no check found a violation")
    checks: list[ReconciliationCheck]


class Figures(Out):
    """Payment figures; amounts in minor units of the currency."""

    payments: int = Field(description="payments created")
    volume: int = Field(description="captured minor units")
    succeeded: int = Field(description="refunded ones included")
    failed: int
    success_rate: float | None = Field(description="succeeded / (succeeded + failed)")
    first_attempt_success_rate: float | None
    average_ticket: int | None = Field(description="volume / succeeded, minor units")
    refunds: int
    refunded_amount: int
    fees: int = Field(description="the platform's fees")
    tax: int
    p50_latency_ms: int | None = Field(description="provider latency, bucket upper bound")
    p95_latency_ms: int | None


FIGURES_EXAMPLE: dict[str, Any] = {
    "payments": 120,
    "volume": 5988000,
    "succeeded": 112,
    "failed": 6,
    "success_rate": 0.9492,
    "first_attempt_success_rate": 0.9153,
    "average_ticket": 53464,
    "refunds": 3,
    "refunded_amount": 149700,
    "fees": 119760,
    "tax": 21557,
    "p50_latency_ms": 300,
    "p95_latency_ms": 1000,
}


class WindowFigures(Figures):
    from_: datetime = Field(alias="from", description="the window's first UTC day")


class OverviewWindows(Out):
    today: WindowFigures
    last_7_days: WindowFigures
    last_30_days: WindowFigures


class TopGateway(Out):
    gateway_id: UUID
    volume: int
    payments: int
    success_rate: float | None


class TopMethod(Out):
    method: str = Field(examples=["upi"])
    volume: int
    payments: int
    success_rate: float | None


class AnalyticsOverview(Out):
    model_config = _example(
        {
            "object": "analytics_overview",
            "as_of": AT,
            "timezone": "UTC",
            "day_boundary": "00:00 UTC",
            "merchant_id": MERCHANT_ID,
            "mode": "live",
            "currency": "INR",
            "windows": {
                name: {**FIGURES_EXAMPLE, "from": "2025-01-15T00:00:00+00:00"}
                for name in ("today", "last_7_days", "last_30_days")
            },
            "top_gateways": [
                {
                    "gateway_id": GATEWAY_ID,
                    "volume": 5988000,
                    "payments": 120,
                    "success_rate": 0.9492,
                }
            ],
            "top_methods": [
                {"method": "upi", "volume": 5988000, "payments": 120, "success_rate": 0.9492}
            ],
        }
    )

    object: Literal["analytics_overview"]
    as_of: datetime
    timezone: Literal["UTC"]
    day_boundary: str = Field(examples=["00:00 UTC"])
    merchant_id: UUID | None = Field(description="null: every merchant (admins)")
    mode: MODE
    currency: str
    windows: OverviewWindows = Field(description="today, the last 7 and 30 UTC days")
    top_gateways: list[TopGateway] = Field(description="up to 5 of the 30 days, by volume")
    top_methods: list[TopMethod] = Field(description="up to 5 of the 30 days, by volume")


class FailureReason(Out):
    code: str = Field(description="the unified error code")
    count: int


class AnalyticsTotals(Figures):
    top_failure_reasons: list[FailureReason] = Field(description="up to 5")


class AnalyticsPoint(Figures):
    t: datetime = Field(description="the bucket's start (UTC)")


class AnalyticsGroup(Out):
    key: str | None = Field(
        description="the gateway id, method or merchant id; null without group_by (and for "
        "payments not yet on a gateway)"
    )
    totals: AnalyticsTotals
    series: list[AnalyticsPoint] = Field(description="every bucket, zero-filled")


class StatusCount(Out):
    payments: int


class StatusPoint(Out):
    t: datetime
    payments: int


class StatusGroup(Out):
    key: PAYMENT_STATUS
    totals: StatusCount
    series: list[StatusPoint] = Field(description="every bucket, zero-filled")


class PaymentAnalytics(Out):
    model_config = _example(
        {
            "object": "payment_analytics",
            "from": "2025-01-14T11:00:00+00:00",
            "to": "2025-01-15T11:00:00+00:00",
            "granularity": "hour",
            "group_by": "method",
            "timezone": "UTC",
            "day_boundary": "00:00 UTC",
            "merchant_id": MERCHANT_ID,
            "mode": "live",
            "currency": "INR",
            "totals": {
                **FIGURES_EXAMPLE,
                "top_failure_reasons": [{"code": "insufficient_funds", "count": 4}],
            },
            "groups": [
                {
                    "key": "upi",
                    "totals": {
                        **FIGURES_EXAMPLE,
                        "top_failure_reasons": [{"code": "insufficient_funds", "count": 4}],
                    },
                    "series": [{**FIGURES_EXAMPLE, "t": "2025-01-14T11:00:00+00:00"}],
                }
            ],
        }
    )

    object: Literal["payment_analytics"]
    from_: datetime = Field(alias="from", description="rounded down to a whole bucket")
    to: datetime = Field(description="rounded up to a whole bucket")
    granularity: Literal["minute", "hour", "day"]
    group_by: Literal["gateway", "method", "status", "merchant"] | None
    timezone: Literal["UTC"]
    day_boundary: str = Field(examples=["00:00 UTC"])
    merchant_id: UUID | None = Field(description="null: every merchant (admins)")
    mode: MODE
    currency: str
    totals: AnalyticsTotals
    groups: list[AnalyticsGroup] | list[StatusGroup] = Field(
        description="one group without group_by; group_by=status: payments per status only"
    )


class UnmatchedLine(Out):
    kind: Literal["payment", "refund", "adjustment"]
    provider_entity_id: str | None
    reference: str | None
    amount: int = Field(description="signed minor units, as the provider settled it")
    match: Literal["unknown", "amount_mismatch", "not_succeeded", "duplicate"]
    detail: str | None
    payment_id: str | None
    refund_id: str | None


class ProviderSettlement(Out):
    id: UUID
    object: Literal["provider_settlement"]
    gateway_id: UUID
    provider: PROVIDERS
    provider_settlement_id: str
    mode: MODE
    currency: str
    amount: int = Field(description="net minor units the provider paid us")
    fees: int = Field(description="the provider's fees, minor units")
    tax: int
    utr: str | None
    settled_at: datetime | None
    status: Literal["matched", "mismatched"]
    lines: int = Field(description="lines in the provider's report")
    unmatched: list[UnmatchedLine] = Field(description="the lines that did not match ours")
    created_at: datetime


class ProviderSettlementPage(Out):
    model_config = _example(
        {
            "data": [
                {
                    "id": ALERT_ID,
                    "object": "provider_settlement",
                    "gateway_id": GATEWAY_ID,
                    "provider": "razorpay",
                    "provider_settlement_id": "setl_Fw8gQ1xO3uZ2aB",
                    "mode": "live",
                    "currency": "INR",
                    "amount": 970000,
                    "fees": 25000,
                    "tax": 4500,
                    "utr": "UTIB202501150002",
                    "settled_at": AT,
                    "status": "mismatched",
                    "lines": 12,
                    "unmatched": [
                        {
                            "kind": "payment",
                            "provider_entity_id": "pay_Nq2x1Lm8Kz4yVb",
                            "reference": None,
                            "amount": 10000,
                            "match": "unknown",
                            "detail": "no payment of ours on this gateway has this id or reference",
                            "payment_id": None,
                            "refund_id": None,
                        }
                    ],
                    "created_at": LATER,
                }
            ],
            "next_cursor": None,
        }
    )

    data: list[ProviderSettlement] = Field(description="newest first")
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
    # Live events and alerts (issue 15)
    "create_stream_token": Answer(StreamTokenGrant),
    "admin_list_alerts": Answer(AlertPage),
    "admin_acknowledge_alert": Answer(Alert, (422,)),
    "admin_list_alert_rules": Answer(AlertRuleList),
    "admin_update_alert_rules": Answer(AlertRuleList, (404, 422)),
    "admin_list_alert_destinations": Answer(AlertDestinationList),
    "admin_put_alert_destinations": Answer(AlertDestinationList),
    "merchant_list_alerts": Answer(AlertPage, (404,)),
    "merchant_list_notifications": Answer(NotificationPage, (404,)),
    "merchant_mark_notification_read": Answer(Notification),
    # Ledger, wallets, settlements and analytics (issue 14)
    "list_wallets": Answer(WalletList, (404,)),
    "list_wallet_transactions": Answer(WalletTransactionPage),
    "admin_adjust_wallet": Answer(WalletAdjustmentResult),
    "admin_open_wallet": Answer(Wallet),
    "admin_get_merchant_pricing": Answer(Pricing),
    "admin_set_merchant_pricing": Answer(Pricing),
    "list_settlements": Answer(SettlementPage, (404,)),
    "get_settlement": Answer(SettlementDetail),
    "merchant_get_bank_account": Answer(BankAccountView, (404,)),
    "merchant_set_bank_account": Answer(BankAccountView, (404,)),
    "admin_set_payout_account": Answer(PayoutAccountView),
    "list_settlement_holidays": Answer(SettlementHolidayList),
    "admin_set_settlement_holiday": Answer(SettlementHoliday),
    "admin_delete_settlement_holiday": Answer(SettlementHolidayDeleted),
    "admin_reconcile_ledger": Answer(LedgerReconciliation),
    "analytics_overview": Answer(AnalyticsOverview, (404,)),
    "payment_analytics": Answer(PaymentAnalytics, (404,)),
    "admin_list_provider_settlements": Answer(ProviderSettlementPage),
}
