"""The route table: every REST path and method, the RPC it runs and the inputs it takes.

Input fields become RPC arguments named `p_<field>` (aliases included, so `?from=` becomes
`p_from`). Path parameters are merged in the same way. Later capabilities add rows here,
not handlers.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
)

from ..queues import JOB_ID_PATTERN, QUEUES
from ..settings import get_settings
from ..webhooks.ssrf import BlockedDestination, check_url


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Page(Input):
    """Keyset pagination: pass back next_cursor as cursor until it is null."""

    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class AuditLogQuery(Page):
    actor: UUID | None = None
    table: str | None = Field(default=None, max_length=63)
    action: Literal["insert", "update", "delete"] | None = None
    row_id: str | None = Field(default=None, max_length=200)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)


class CreateMerchant(Input):
    name: str = Field(min_length=1, max_length=200)
    owner_user_id: UUID | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class MerchantStatus(Input):
    status: Literal["active", "suspended", "closed"]


class MemberRole(Input):
    role: Literal["owner", "developer", "viewer"]


class GrantAdmin(Input):
    user_id: UUID


QueueName = Literal[QUEUES]  # type: ignore[valid-type]
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN, examples=["payment_dlq:7"])]


class RetryJobs(Input):
    queue: QueueName | None = Field(default=None, description="retry this queue's failed jobs")
    job_ids: list[JobId] | None = Field(default=None, min_length=1, max_length=1000)
    limit: StrictInt = Field(default=100, ge=1, le=10000)
    delay_seconds: StrictInt = Field(default=0, ge=0, le=86400)


class CleanQueue(Input):
    queue: QueueName
    state: Literal["completed", "failed"]
    older_than_seconds: int = Field(default=3600, ge=0, le=10 * 365 * 86400)
    limit: int = Field(default=1000, ge=1, le=100000)
    delete: bool = Field(default=False, description="delete failed jobs instead of archiving")


class PauseQueue(Input):
    paused: StrictBool
    queue: QueueName | None = Field(default=None, description="omit to pause or resume all")
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class EnqueueJob(Input):
    queue: QueueName
    payload: dict[str, Any]
    delay_seconds: StrictInt = Field(default=0, ge=0, le=604800)
    job_key: str | None = Field(default=None, min_length=1, max_length=200)


Provider = Literal["sandbox", "razorpay", "cashfree", "payu", "phonepe", "paytm", "stripe"]


class GatewayFields(Input):
    """Types only; the database validates values and answers with precise messages."""

    display_name: str | None = Field(default=None, max_length=200)
    environment: Literal["test", "live"] | None = None
    status: Literal["active", "inactive"] | None = None
    priority: StrictInt | None = None
    min_amount: StrictInt | None = None
    max_amount: StrictInt | None = None
    daily_limit: StrictInt | None = None
    currencies: list[str] | None = Field(default=None, max_length=50)
    methods: list[str] | None = Field(default=None, max_length=10)
    regions: list[str] | None = Field(default=None, max_length=100)
    config: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None


class CreateGateway(GatewayFields):
    provider: Provider
    display_name: str = Field(max_length=200)
    credentials: dict[str, Any]
    test: StrictBool = Field(
        default=False, description="run the connectivity test first; refuse to save on failure"
    )


class UpdateGateway(GatewayFields):
    pass


class ArchiveGateway(Input):
    force: bool = Field(default=False, description="archive even with payments in flight")


class GatewayPriority(Input):
    gateway_ids: list[UUID] = Field(min_length=1, max_length=1000)


class ListGateways(Input):
    include_archived: bool = False


class RoutePreview(Input):
    merchant_id: UUID
    amount: StrictInt = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    method: Literal["card", "upi", "netbanking", "wallet", "emi", "paylater"]
    region: str = Field(default="IN", pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


MERCHANT_ID_DOC = "not needed with an API key or for a member of one merchant"


class MerchantScope(Input):
    merchant_id: UUID | None = Field(default=None, description=MERCHANT_ID_DOC)


class MerchantPage(Page):
    merchant_id: UUID | None = Field(default=None, description=MERCHANT_ID_DOC)


class CreateApiKey(Input):
    merchant_id: UUID | None = Field(default=None, description=MERCHANT_ID_DOC)
    name: str = Field(min_length=1, max_length=100)
    mode: Literal["test", "live"] = "test"
    expires_at: datetime | None = None


class RegenerateApiKey(Input):
    key_id: UUID
    grace_seconds: StrictInt = Field(
        default=0, ge=0, le=86400, description="how long the old key keeps working (max 24 h)"
    )


class UsageQuery(Input):
    merchant_id: UUID | None = Field(default=None, description=MERCHANT_ID_DOC)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    granularity: Literal["minute", "hour", "day"] = "hour"


# Names that are never in the public DNS, so never a webhook receiver (cloud metadata
# services answer on some, e.g. metadata.google.internal): .internal, reserved by ICANN for
# private use in 2024 (https://circleid.com/posts/20240810-icann-reserves-.internal-domain-for-private-use),
# .local, multicast DNS (https://www.rfc-editor.org/rfc/rfc6762), .home.arpa, home networks
# (https://www.rfc-editor.org/rfc/rfc8375), and localhost, which resolves to loopback
# (https://www.rfc-editor.org/rfc/rfc6761#section-6.3; allowed with loopback in development).
PRIVATE_NAME_SUFFIXES = ("internal", "local", "home.arpa")


def reachable_webhook_url(url: str | None) -> str | None:
    """The SSRF policy at registration (edge_adapter/webhooks/ssrf.py), for what can be judged
    without DNS: the host as the HTTP client will read it, literal addresses outside the
    public ranges, names that are private by definition, credentials, odd schemes. Names are
    judged again at each delivery, when they resolve. One helper for merchant webhook
    endpoints and operator alert destinations."""
    if url is not None:
        allow_loopback = get_settings().webhook_allow_loopback
        try:
            host = (check_url(url, allow_loopback=allow_loopback).raw_host or "").rstrip(".")
        except BlockedDestination as exc:
            raise ValueError(f"this URL cannot receive webhooks: {exc}") from None
        private = [*PRIVATE_NAME_SUFFIXES, *(() if allow_loopback else ("localhost",))]
        if any(host == s or host.endswith("." + s) for s in private):
            raise ValueError(f"this URL cannot receive webhooks: {host} is not a public name")
    return url


WebhookUrl = Annotated[str, AfterValidator(reachable_webhook_url)]


class CreateWebhookEndpoint(Input):
    merchant_id: UUID | None = Field(default=None, description=MERCHANT_ID_DOC)
    url: WebhookUrl = Field(
        max_length=2000, examples=["https://example.com/webhooks/lightspeedpay"]
    )
    event_types: list[str] | None = Field(
        default=None,
        max_length=100,
        description="types from GET /api/v1/merchant/webhooks/event-types, or <area>.*; "
        "empty or omitted: every event",
    )
    description: str | None = Field(default=None, max_length=500)


class UpdateWebhookEndpoint(Input):
    url: WebhookUrl | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = None


class WebhookEvents(MerchantPage):
    type: str | None = Field(default=None, max_length=100, description="e.g. payment.succeeded")


class WebhookTest(Input):
    endpoint_id: UUID


class MerchantRateLimits(Input):
    api_key_per_min: StrictInt = Field(ge=1, le=1_000_000)
    user_per_min: StrictInt = Field(ge=1, le=1_000_000)


# Payments ---------------------------------------------------------------------------------
PAYMENT_ID = r"^pay_[0-9a-f]{20}$"
PaymentMethod = Literal["upi", "card", "netbanking", "wallet"]
PaymentStatus = Literal[
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
Money = Annotated[StrictInt, Field(gt=0, description="integer minor units (paise for INR)")]


class Upi(Input):
    vpa: str | None = Field(default=None, max_length=320, examples=["success@sandbox"])


class Customer(Input):
    """Personal data: shown to the merchant, never written to audit rows or logs."""

    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20, examples=["+919876543210"])
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=500)


class CreatePayment(Input):
    amount: Money
    currency: str = Field(min_length=3, max_length=3, examples=["INR"])
    method: PaymentMethod
    upi: Upi | None = None
    customer: Customer | None = None
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[str, str] | None = Field(
        default=None, description="at most 20 keys of <= 40 chars, string values <= 500 chars"
    )
    return_url: str | None = Field(
        default=None, max_length=2000, description="required for card, netbanking and wallet"
    )
    region: str | None = Field(default=None, max_length=6, examples=["IN", "IN-KA"])
    mode: Literal["test", "live"] | None = Field(
        default=None, description="JWT callers only; an API key's mode decides for it"
    )
    merchant_id: UUID | None = Field(
        default=None, description="not needed with an API key or for a member of one merchant"
    )


class PaymentFilters(Page):
    status: PaymentStatus | None = None
    method: PaymentMethod | None = None
    gateway_id: UUID | None = None
    mode: Literal["test", "live"] | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    amount_min: int | None = Field(default=None, ge=0)
    amount_max: int | None = Field(default=None, ge=0)


class ListPayments(PaymentFilters):
    merchant_id: UUID | None = Field(default=None, description=MERCHANT_ID_DOC)


class AdminListPayments(PaymentFilters):
    merchant_id: UUID | None = None


class CreateRefund(Input):
    amount: Money | None = Field(default=None, description="omit to refund what is left")
    reason: str | None = Field(default=None, max_length=500)


class MerchantLive(Input):
    enabled: StrictBool


class MerchantGateways(Input):
    gateway_ids: list[UUID] = Field(max_length=1000, description="empty: every gateway")


# Ledger, wallets, settlements and analytics (issue 14) -------------------------------------
Mode = Literal["test", "live"]
EntryKind = Literal[
    "payment",
    "refund",
    "adjustment",
    "settlement",
    "payout",
    "payout_processed",
    "payout_reversal",
    "provider_settlement",
    "migration",
]


class WalletQuery(Input):
    merchant_id: UUID | None = Field(
        default=None, description="not needed with an API key or for a member of one merchant"
    )
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["INR"])
    mode: Mode | None = None


class WalletTransactionsQuery(Input):
    kind: EntryKind | None = None
    account: Literal["available", "pending", "reserve"] | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class WalletAdjustment(Input):
    amount: StrictInt = Field(
        ge=-(10**14),
        le=10**14,
        description="signed integer minor units: + credits, - debits; at most 1e14 either way",
    )
    reason: str = Field(min_length=1, max_length=500, description="kept with the adjustment")
    account: Literal["available", "reserve"] = "available"


class OpenWallet(Input):
    currency: str = Field(min_length=3, max_length=3, examples=["INR"])
    mode: Mode = Field(description="required: live needs a live-enabled merchant (else 409)")


class Rate(Input):
    percent_bps: StrictInt = Field(ge=0, le=10000, description="basis points of the gross")
    fixed: StrictInt = Field(ge=0, le=10**12, description="minor units added per payment")


class MerchantPricing(Input):
    """PUT replaces the whole record: every field is required (state and the delay may be null)."""

    rates: dict[PaymentMethod, Rate] = Field(
        description="methods left out pay the platform default ({} for all defaults)"
    )
    state: str | None = Field(
        pattern=r"^[A-Z]{2}$",
        description="GST state or union territory, ISO 3166-2:IN code (KA, MH, DL); null: unknown",
    )
    settlement_delay_days: StrictInt | None = Field(
        ge=0, le=30, description="working days; null: the platform's"
    )


SETTLEMENT_ID = r"^stl_[0-9a-f]{20}$"
SettlementStatus = Literal["created", "processing", "processed", "failed"]


class SettlementQuery(Input):
    merchant_id: UUID | None = Field(
        default=None, description="members of one merchant and API keys need none; admins: all"
    )
    status: SettlementStatus | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class BankAccount(Input):
    """The account number goes to Vault; answers show its last 4 digits only."""

    holder_name: str = Field(min_length=1, max_length=140)
    ifsc: str = Field(pattern=r"^[A-Z]{4}0[A-Z0-9]{6}$", examples=["HDFC0001234"])
    account_number: str = Field(pattern=r"^[0-9]{9,18}$")
    merchant_id: UUID | None = Field(default=None, description="not needed for an owner of one")


class PayoutAccount(Input):
    provider: Literal["razorpayx"]
    credentials: dict[str, str] = Field(description="razorpayx: key_id, key_secret, account_number")


class HolidayQuery(Input):
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class Holiday(Input):
    description: str = Field(min_length=1, max_length=200)


class ReconciliationQuery(Input):
    merchant_id: UUID | None = None


class ProviderSettlementQuery(Input):
    gateway_id: UUID | None = None
    status: Literal["matched", "mismatched"] | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class AnalyticsOverviewQuery(Input):
    merchant_id: UUID | None = Field(
        default=None, description="members of one merchant and API keys need none; admins: all"
    )
    mode: Mode | None = Field(default=None, description="default live (an API key: its mode)")
    currency: str | None = Field(default=None, min_length=3, max_length=3, examples=["INR"])


class AnalyticsQuery(AnalyticsOverviewQuery):
    from_: datetime | None = Field(default=None, alias="from", description="default: to - 24 h")
    to: datetime | None = Field(default=None, description="default: now")
    granularity: Literal["minute", "hour", "day"] = "hour"
    group_by: Literal["gateway", "method", "status", "merchant"] | None = None


# Live events and alerts (issue 15) -----------------------------------------------------------
Topic = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[a-z0-9:_-]+$")]
AlertState = Literal["firing", "acknowledged", "resolved", "open"]
# A threshold: positive and at most 1000000 (the largest kind's bound, counts); each kind's
# own bounds are the database's (private.alert_rule_bounds), which names them when refused.
Threshold = (
    Annotated[StrictInt, Field(gt=0, le=1_000_000)]
    | Annotated[StrictFloat, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
)


class StreamToken(Input):
    topics: list[Topic] = Field(
        min_length=1, max_length=20, examples=[["admin:gateways", "admin:alerts"]]
    )


class AlertQuery(Input):
    state: AlertState | None = Field(default=None, description="open = firing or acknowledged")
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class MerchantAlertQuery(AlertQuery):
    merchant_id: UUID | None = Field(
        default=None, description="not needed with an API key or for a member of one merchant"
    )


class AlertRuleChange(Input):
    """The fields to change of one rule; a field left out or null keeps its value."""

    id: str = Field(min_length=1, max_length=63)
    enabled: StrictBool | None = Field(default=None, description="null: unchanged")
    severity: Literal["critical", "warning", "info"] | None = None
    threshold: Threshold | None = Field(
        default=None,
        description="in the rule kind's unit and within its bounds: levels (0, 2] for "
        "gateway_down, (0, 1] for gateway_degraded and queue_stalled; fractions (0, 1]; the "
        "latency ratio (1, 100]; seconds (0, 604800]; counts (0, 1000000]",
    )
    clear_threshold: Threshold | None = Field(
        default=None, description="<= threshold, within the same bounds"
    )
    min_volume: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
    window_s: StrictInt | None = Field(default=None, ge=60, le=86400)


class AlertRules(Input):
    rules: list[AlertRuleChange] = Field(
        min_length=1, max_length=100, description="each rule at most once"
    )


class AlertDestination(Input):
    url: WebhookUrl = Field(
        max_length=2000, examples=["https://ops.example.com/hooks/lightspeedpay"]
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = Field(default=None, description="left out or null: true")


class AcknowledgeAlert(Input):
    """No fields: the body is empty (or {}); anything else is refused."""


class AlertDestinations(Input):
    destinations: list[AlertDestination] = Field(max_length=20)


class NotificationQuery(Input):
    merchant_id: UUID | None = Field(
        default=None, description="not needed with an API key or for a member of one merchant"
    )
    unread: bool | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


# (end of the live events and alerts models) ------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    rpc: str
    summary: str
    input: type[Input] | None = None
    status: int = 200
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Path parameters that are not UUIDs: name -> regex.
    path_patterns: tuple[tuple[str, str], ...] = ()
    # Send the whole validated body as this one jsonb argument (partial updates: only the
    # fields the client sent), instead of one argument per field.
    body_arg: str | None = None
    # An adapter-side step (api/actions.py) instead of a plain RPC call.
    action: str | None = None
    # The RPC takes p_idempotency_key: the Idempotency-Key header is passed to it.
    idempotent: bool = False

    @property
    def read_only(self) -> bool:
        # PostgREST runs GET in a read-only transaction; so do we.
        return self.method == "GET"


ROUTES: list[Route] = [
    Route(
        "GET",
        "/api/v1/me",
        "me",
        "The caller's identity, admin flag and memberships",
        tags=("account",),
    ),
    Route(
        "GET",
        "/api/v1/admin/audit-logs",
        "list_audit_logs",
        "Audit trail, newest first, with filters and keyset pagination (next_cursor)",
        AuditLogQuery,
        tags=("admin",),
    ),
    Route(
        "POST",
        "/api/v1/admin/merchants",
        "create_merchant",
        "Create a merchant, optionally with its first owner",
        CreateMerchant,
        201,
        tags=("admin",),
        idempotent=True,
    ),
    Route(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/status",
        "set_merchant_status",
        "Activate, suspend or close a merchant",
        MerchantStatus,
        tags=("admin",),
    ),
    Route(
        "PUT",
        "/api/v1/merchants/{merchant_id}/members/{user_id}",
        "set_merchant_member",
        "Add a member or change their role (owners and admins)",
        MemberRole,
        tags=("merchant",),
    ),
    Route(
        "DELETE",
        "/api/v1/merchants/{merchant_id}/members/{user_id}",
        "remove_merchant_member",
        "Remove a member (owners and admins)",
        tags=("merchant",),
    ),
    Route(
        "POST",
        "/api/v1/admin/platform-admins",
        "grant_platform_admin",
        "Make another user a platform admin",
        GrantAdmin,
        tags=("admin",),
    ),
    Route(
        "DELETE",
        "/api/v1/admin/platform-admins/{user_id}",
        "revoke_platform_admin",
        "Revoke a platform admin (the last one stays)",
        tags=("admin",),
    ),
    # Job queues -------------------------------------------------------------------------
    Route(
        "GET",
        "/api/v1/admin/queues",
        "admin_list_queues",
        "Every queue: depth by state, rates, oldest pending age, state, latest failures",
        tags=("queues",),
    ),
    Route(
        "GET",
        "/api/v1/admin/queues/stats",
        "admin_queue_stats",
        "Per-minute series for the last hour and the workers",
        tags=("queues",),
    ),
    Route(
        "POST",
        "/api/v1/admin/queues/retry",
        "admin_retry_jobs",
        "Move dead letters back to their queue (all of a queue, or given job ids)",
        RetryJobs,
        tags=("queues",),
    ),
    Route(
        "DELETE",
        "/api/v1/admin/queues/clean",
        "admin_clean_queue",
        "Remove completed jobs or archive/delete failed ones, by age, with a limit",
        CleanQueue,
        tags=("queues",),
    ),
    Route(
        "POST",
        "/api/v1/admin/queues/pause",
        "admin_pause_queue",
        "Pause or resume one queue or all of them",
        PauseQueue,
        tags=("queues",),
    ),
    Route(
        "GET",
        "/api/v1/admin/queues/jobs/{job_id}",
        "admin_get_job",
        "One job: payload (secrets masked), state, attempts, lineage",
        tags=("queues",),
        path_patterns=(("job_id", JOB_ID_PATTERN),),
    ),
    Route(
        "POST",
        "/api/v1/admin/queues/jobs",
        "enqueue_job",
        "Enqueue a job (operators and trusted servers)",
        EnqueueJob,
        201,
        tags=("queues",),
        idempotent=True,
    ),
    # Gateways (fixed paths before /{gateway_id}) --------------------------------------------
    Route(
        "GET",
        "/api/v1/admin/gateways/catalog",
        "admin_gateway_catalog",
        "Providers, their credential fields and checks (renders the create form)",
        tags=("gateways",),
    ),
    Route(
        "GET",
        "/api/v1/admin/gateways/health",
        "admin_gateway_health",
        "Health per gateway (probes, transactions) and availability per region",
        tags=("gateways",),
    ),
    Route(
        "PUT",
        "/api/v1/admin/gateways/priority",
        "admin_set_gateway_priority",
        "Reorder: the whole ordered list of non-archived gateway ids, atomically",
        GatewayPriority,
        tags=("gateways",),
    ),
    Route(
        "POST",
        "/api/v1/admin/gateways/route",
        "route_payment",
        "Preview the routing decision for a payment",
        RoutePreview,
        tags=("gateways",),
    ),
    Route(
        "GET",
        "/api/v1/admin/gateways",
        "admin_list_gateways",
        "Gateways with today's volume, success rates, latency, health, masked credentials",
        ListGateways,
        tags=("gateways",),
    ),
    Route(
        "POST",
        "/api/v1/admin/gateways",
        "admin_create_gateway",
        "Create a gateway; with test=true the connectivity test must pass first",
        CreateGateway,
        201,
        tags=("gateways",),
        body_arg="p_gateway",
        action="create_gateway",
        idempotent=True,
    ),
    Route(
        "PUT",
        "/api/v1/admin/gateways/{gateway_id}",
        "admin_update_gateway",
        "Partial update: only the fields sent change; credentials rotate in Vault",
        UpdateGateway,
        tags=("gateways",),
        body_arg="p_changes",
    ),
    Route(
        "DELETE",
        "/api/v1/admin/gateways/{gateway_id}",
        "admin_archive_gateway",
        "Archive: out of routing, secrets destroyed, history kept",
        ArchiveGateway,
        tags=("gateways",),
    ),
    Route(
        "POST",
        "/api/v1/admin/gateways/{gateway_id}/test",
        "admin_record_gateway_test",
        "Run the provider's credential check now and record the result",
        tags=("gateways",),
        action="test_gateway",
    ),
    # Merchant developer tools ---------------------------------------------------------------
    Route(
        "GET",
        "/api/v1/merchant/credentials",
        "merchant_list_api_keys",
        "API keys (name, mode, prefix and last 4, created, last used, expiry, status, limit) "
        "and the webhook configuration status",
        MerchantPage,
        tags=("merchant",),
    ),
    Route(
        "POST",
        "/api/v1/merchant/credentials",
        "merchant_create_api_key",
        "Create an API key; the full key is in this response only",
        CreateApiKey,
        201,
        tags=("merchant",),
        action="create_api_key",
        idempotent=True,
    ),
    Route(
        "POST",
        "/api/v1/merchant/credentials/regenerate",
        "merchant_rotate_api_key",
        "Replace a key; the old one stops now or after a grace window (max 24 h)",
        RegenerateApiKey,
        201,
        tags=("merchant",),
        action="rotate_api_key",
        idempotent=True,
    ),
    Route(
        "DELETE",
        "/api/v1/merchant/credentials/{key_id}",
        "merchant_revoke_api_key",
        "Revoke a key at once",
        tags=("merchant",),
    ),
    Route(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/rate-limits",
        "admin_set_merchant_rate_limits",
        "Per-merchant rate limits",
        MerchantRateLimits,
        tags=("admin",),
    ),
    Route(
        "GET",
        "/api/v1/merchant/usage",
        "merchant_usage",
        "Requests, errors by class, latency, top endpoints and rate-limit status",
        UsageQuery,
        tags=("merchant",),
    ),
    Route(
        "GET",
        "/api/v1/merchant/webhooks",
        "merchant_list_webhook_endpoints",
        "Webhook endpoints with last delivery and success rate",
        MerchantPage,
        tags=("webhooks",),
    ),
    Route(
        "POST",
        "/api/v1/merchant/webhooks",
        "merchant_create_webhook_endpoint",
        "Register an endpoint; its signing secret is in this response only",
        CreateWebhookEndpoint,
        201,
        tags=("webhooks",),
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/v1/merchant/webhooks/event-types",
        "merchant_webhook_event_types",
        "The event types an endpoint can subscribe to",
        tags=("webhooks",),
    ),
    Route(
        "DELETE",
        "/api/v1/merchant/webhooks/{endpoint_id}",
        "merchant_delete_webhook_endpoint",
        "Delete an endpoint: its secrets are destroyed, pending deliveries skipped",
        tags=("webhooks",),
    ),
    Route(
        "POST",
        "/api/v1/merchant/webhooks/test",
        "merchant_prepare_webhook_test",
        "Send a signed webhook.test now and report what happened",
        WebhookTest,
        tags=("webhooks",),
        action="webhook_test",
    ),
    Route(
        "GET",
        "/api/v1/merchant/webhooks/events",
        "merchant_list_webhook_events",
        "Recent events with every delivery and attempt",
        WebhookEvents,
        tags=("webhooks",),
    ),
    Route(
        "POST",
        "/api/v1/merchant/webhooks/deliveries/{delivery_id}/redeliver",
        "merchant_redeliver_webhook",
        "Redeliver one delivery now",
        tags=("webhooks",),
        path_patterns=(("delivery_id", r"^[0-9]{1,18}$"),),
    ),
    Route(
        "PUT",
        "/api/v1/merchant/webhooks/{endpoint_id}",
        "merchant_update_webhook_endpoint",
        "Change url, event types, description; enable or disable",
        UpdateWebhookEndpoint,
        tags=("webhooks",),
        body_arg="p_changes",
    ),
    Route(
        "POST",
        "/api/v1/merchant/webhooks/{endpoint_id}/rotate-secret",
        "merchant_rotate_webhook_secret",
        "New signing secret (shown once); the old one keeps signing for 24 h",
        tags=("webhooks",),
        idempotent=True,
    ),
    # Payments ------------------------------------------------------------------------------
    Route(
        "POST",
        "/api/v1/payments",
        "create_payment",
        "Create a payment; it is charged asynchronously (status processing, then "
        "requires_action with next_action, succeeded or failed)",
        CreatePayment,
        201,
        tags=("payments",),
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/v1/payments",
        "list_payments",
        "Payments, newest first, with filters and keyset pagination ({data, next_cursor})",
        ListPayments,
        tags=("payments",),
    ),
    Route(
        "GET",
        "/api/v1/payments/{payment_id}",
        "get_payment",
        "One payment with its attempts and refunds",
        tags=("payments",),
        path_patterns=(("payment_id", PAYMENT_ID),),
    ),
    Route(
        "POST",
        "/api/v1/payments/{payment_id}/cancel",
        "cancel_payment",
        "Cancel a payment that has not completed",
        tags=("payments",),
        path_patterns=(("payment_id", PAYMENT_ID),),
        idempotent=True,
    ),
    Route(
        "POST",
        "/api/v1/payments/{payment_id}/refunds",
        "create_refund",
        "Refund all or part of a succeeded payment",
        CreateRefund,
        201,
        tags=("payments",),
        path_patterns=(("payment_id", PAYMENT_ID),),
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/v1/admin/payments",
        "admin_list_payments",
        "Every merchant's payments, with the same filters",
        AdminListPayments,
        tags=("payments", "admin"),
    ),
    Route(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/live",
        "admin_set_merchant_live",
        "Allow or stop a merchant's live-mode payments",
        MerchantLive,
        tags=("admin",),
    ),
    Route(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/gateways",
        "admin_set_merchant_gateways",
        "Which gateways may carry a merchant's payments (empty: all)",
        MerchantGateways,
        tags=("admin", "gateways"),
    ),
    # Live events and alerts (issue 15) ------------------------------------------------------
    Route(
        "POST",
        "/api/v1/stream/tokens",
        "create_stream_token",
        "A 60 s token for GET /api/v1/stream?access_token= (EventSource sends no headers)",
        StreamToken,
        201,
        tags=("live",),
    ),
    Route(
        "GET",
        "/api/v1/admin/alerts",
        "admin_list_alerts",
        "Product alerts, newest first: state (firing, acknowledged, resolved, open), fired range",
        AlertQuery,
        tags=("alerts", "admin"),
    ),
    Route(
        "POST",
        "/api/v1/admin/alerts/{alert_id}/acknowledge",
        "admin_acknowledge_alert",
        "Acknowledge a firing alert (it stays open until its condition clears)",
        AcknowledgeAlert,
        tags=("alerts", "admin"),
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/v1/admin/alert-rules",
        "admin_list_alert_rules",
        "Alert rules: kind, thresholds (fire / clear), minimum volume, window, enabled",
        tags=("alerts", "admin"),
    ),
    Route(
        "PUT",
        "/api/v1/admin/alert-rules",
        "admin_update_alert_rules",
        "Change rules (only the fields sent); disabling one resolves its open alerts",
        AlertRules,
        tags=("alerts", "admin"),
    ),
    Route(
        "GET",
        "/api/v1/admin/alert-destinations",
        "admin_list_alert_destinations",
        "Operator URLs that receive every alert transition as a signed webhook",
        tags=("alerts", "admin"),
    ),
    Route(
        "PUT",
        "/api/v1/admin/alert-destinations",
        "admin_put_alert_destinations",
        "Replace the alert destinations; a new URL's signing secret is in this response only",
        AlertDestinations,
        tags=("alerts", "admin"),
    ),
    Route(
        "GET",
        "/api/v1/merchant/alerts",
        "merchant_list_alerts",
        "The merchant's own alerts: its webhook endpoints failing, keys rate limited, payments "
        "failing",
        MerchantAlertQuery,
        tags=("alerts", "merchant"),
    ),
    Route(
        "GET",
        "/api/v1/merchant/notifications",
        "merchant_list_notifications",
        "The caller's notifications, newest first (unread=true for unread only)",
        NotificationQuery,
        tags=("merchant",),
    ),
    Route(
        "POST",
        "/api/v1/merchant/notifications/{notification_id}/read",
        "merchant_mark_notification_read",
        "Mark a notification read",
        tags=("merchant",),
        path_patterns=(("notification_id", r"^[0-9]{1,18}$"),),
    ),
    # Ledger, wallets, settlements and analytics (issue 14) ---------------------------------
    Route(
        "GET",
        "/api/v1/wallets",
        "list_wallets",
        "Wallets with balances: available, pending, reserve, on hold ({data, next_cursor})",
        WalletQuery,
        tags=("wallets",),
    ),
    Route(
        "GET",
        "/api/v1/wallets/{wallet_id}/transactions",
        "list_wallet_transactions",
        "A wallet's ledger lines with running balances, filters kind/account/time, keyset",
        WalletTransactionsQuery,
        tags=("wallets",),
    ),
    Route(
        "POST",
        "/api/v1/admin/wallets/{wallet_id}/adjustments",
        "admin_adjust_wallet",
        "Adjust a wallet (signed amount, reason required, available or reserve); audited",
        WalletAdjustment,
        201,
        tags=("wallets", "admin"),
        idempotent=True,
    ),
    Route(
        "POST",
        "/api/v1/admin/merchants/{merchant_id}/wallets",
        "admin_open_wallet",
        "Open (or return) a merchant's wallet in a currency and mode",
        OpenWallet,
        tags=("wallets", "admin"),
    ),
    Route(
        "GET",
        "/api/v1/admin/merchants/{merchant_id}/pricing",
        "admin_get_merchant_pricing",
        "A merchant's MDR per method, GST state and tax, settlement delay",
        tags=("admin", "wallets"),
    ),
    Route(
        "PUT",
        "/api/v1/admin/merchants/{merchant_id}/pricing",
        "admin_set_merchant_pricing",
        "Replace a merchant's pricing (applies to payments that succeed from now on)",
        MerchantPricing,
        tags=("admin", "wallets"),
        body_arg="p_pricing",
    ),
    Route(
        "GET",
        "/api/v1/settlements",
        "list_settlements",
        "Settlement batches: gross, refunds, fees, tax, adjustments, net, payout and UTR",
        SettlementQuery,
        tags=("settlements",),
    ),
    Route(
        "GET",
        "/api/v1/settlements/{settlement_id}",
        "get_settlement",
        "One settlement with its lines and payout attempts",
        tags=("settlements",),
        path_patterns=(("settlement_id", SETTLEMENT_ID),),
    ),
    Route(
        "GET",
        "/api/v1/merchant/bank-account",
        "merchant_get_bank_account",
        "The settlement bank account (masked) and when payouts may start going to it",
        MerchantScope,
        tags=("settlements", "merchant"),
    ),
    Route(
        "PUT",
        "/api/v1/merchant/bank-account",
        "merchant_set_bank_account",
        "Set the settlement bank account (owners only; cooling-off; owners notified)",
        BankAccount,
        tags=("settlements", "merchant"),
        idempotent=True,
    ),
    Route(
        "PUT",
        "/api/v1/admin/payout-accounts/{mode}",
        "admin_set_payout_account",
        "The platform's payout provider account for test or live settlements",
        PayoutAccount,
        tags=("settlements", "admin"),
        path_patterns=(("mode", r"^(test|live)$"),),
    ),
    Route(
        "GET",
        "/api/v1/settlement-holidays",
        "list_settlement_holidays",
        "Bank holidays on which nothing settles",
        HolidayQuery,
        tags=("settlements",),
    ),
    Route(
        "PUT",
        "/api/v1/admin/settlement-holidays/{day}",
        "admin_set_settlement_holiday",
        "Mark an India day (YYYY-MM-DD) as a settlement holiday",
        Holiday,
        tags=("settlements", "admin"),
        path_patterns=(("day", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),),
    ),
    Route(
        "DELETE",
        "/api/v1/admin/settlement-holidays/{day}",
        "admin_delete_settlement_holiday",
        "Remove a settlement holiday",
        tags=("settlements", "admin"),
        path_patterns=(("day", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),),
    ),
    Route(
        "GET",
        "/api/v1/admin/ledger/reconciliation",
        "admin_reconcile_ledger",
        "Check the ledger's invariants now (balances, batches, payouts, wallets)",
        ReconciliationQuery,
        tags=("settlements", "admin"),
    ),
    Route(
        "GET",
        "/api/v1/analytics",
        "analytics_overview",
        "Today, 7 and 30 days: volume, payments, success rate, refunds, fees; top gateways "
        "and methods",
        AnalyticsOverviewQuery,
        tags=("analytics",),
    ),
    Route(
        "GET",
        "/api/v1/analytics/payments",
        "payment_analytics",
        "Payment series by minute/hour/day (UTC), grouped by gateway, method, status or "
        "merchant, zero-filled",
        AnalyticsQuery,
        tags=("analytics",),
    ),
    Route(
        "GET",
        "/api/v1/admin/provider-settlements",
        "admin_list_provider_settlements",
        "What the providers paid us, matched to our payments and refunds; mismatches listed",
        ProviderSettlementQuery,
        tags=("settlements", "admin"),
    ),
]
