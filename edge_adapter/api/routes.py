"""The route table: every REST path and method, the RPC it runs and the inputs it takes.

Input fields become RPC arguments named `p_<field>` (aliases included, so `?from=` becomes
`p_from`). Path parameters are merged in the same way. Later capabilities add rows here,
not handlers.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
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


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    rpc: str
    summary: str
    input: type[Input] | None = None
    status: int = 200
    tags: tuple[str, ...] = field(default_factory=tuple)

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
]
