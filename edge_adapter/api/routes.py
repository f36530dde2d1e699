"""The route table: every REST path and method, the RPC it runs and the inputs it takes.

Input fields become RPC arguments named `p_<field>` (aliases included, so `?from=` becomes
`p_from`). Path parameters are merged in the same way. Later capabilities add rows here,
not handlers.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


IdempotencyKey = Field(default=None, min_length=1, max_length=255)


class AuditLogQuery(Input):
    actor: UUID | None = None
    table: str | None = Field(default=None, max_length=63)
    action: Literal["insert", "update", "delete"] | None = None
    row_id: str | None = Field(default=None, max_length=200)
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=500)


class CreateMerchant(Input):
    name: str = Field(min_length=1, max_length=200)
    owner_user_id: UUID | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    idempotency_key: str | None = IdempotencyKey


class MerchantStatus(Input):
    status: Literal["active", "suspended", "closed"]


class MemberRole(Input):
    role: Literal["owner", "developer", "viewer"]


class GrantAdmin(Input):
    user_id: UUID


class WalletEntry(Input):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: int = Field(description="signed amount in minor units (paise for INR)")
    kind: Literal["adjustment", "settlement", "fee", "payout"]
    reference: str | None = Field(default=None, max_length=500)
    idempotency_key: str | None = IdempotencyKey


QueueName = Literal["payment", "webhook", "settlement", "gateway_health"]
JOB_ID_PATTERN = r"^(payment|webhook|settlement|gateway_health)(_dlq)?:[0-9]{1,18}$"
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN, examples=["payment_dlq:7"])]


class RetryJobs(Input):
    queue: QueueName | None = Field(default=None, description="retry this queue's failed jobs")
    job_ids: list[JobId] | None = Field(default=None, min_length=1, max_length=1000)
    limit: int = Field(default=100, ge=1, le=10000)
    delay_seconds: int = Field(default=0, ge=0, le=86400)


class CleanQueue(Input):
    queue: QueueName
    state: Literal["completed", "failed"]
    older_than_seconds: int = Field(default=3600, ge=0, le=10 * 365 * 86400)
    limit: int = Field(default=1000, ge=1, le=100000)
    delete: bool = Field(default=False, description="delete failed jobs instead of archiving")


class PauseQueue(Input):
    paused: bool
    queue: QueueName | None = Field(default=None, description="omit to pause or resume all")
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class EnqueueJob(Input):
    queue: QueueName
    payload: dict[str, Any]
    delay_seconds: int = Field(default=0, ge=0, le=604800)
    job_key: str | None = Field(default=None, min_length=1, max_length=200)


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
    Route(
        "POST",
        "/api/v1/admin/merchants/{merchant_id}/wallet-entries",
        "post_wallet_entry",
        "Post a manual ledger entry; the balance can never go negative",
        WalletEntry,
        201,
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
    ),
]
