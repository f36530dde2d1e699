"""Route actions for the few endpoints that must do more than call one RPC: outbound
connectivity tests. Authorization still happens in Postgres: every action first runs an
RPC as the caller, so a caller without the role is refused before any outbound call."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import apikeys, metrics, queries
from ..db import Database
from ..errors import ApiError
from ..gateways import check_credentials
from ..settings import Settings
from ..webhooks.delivery import deliver


@dataclass
class ActionContext:
    db: Database
    settings: Settings
    args: dict[str, Any]
    call: Callable[..., Awaitable[Any]]  # call(rpc, args, *, read_only=False, dry_run=False)


async def create_gateway(ctx: ActionContext) -> Any:
    gateway = dict(ctx.args["p_gateway"])
    if gateway.pop("test", False):
        args = {**ctx.args, "p_gateway": gateway}
        # Full validation and the admin check, without saving: the same RPC, rolled back.
        await ctx.call("admin_create_gateway", args, dry_run=True)
        result = await check_credentials(
            ctx.settings,
            await queries.catalogue_urls(ctx.db, gateway["provider"]),
            gateway["provider"],
            gateway.get("environment", "test"),
            gateway["credentials"],
        )
        if not result.ok:
            raise ApiError(
                422,
                "gateway_test_failed",
                "the connectivity test failed, so the gateway was not saved",
                {"test": result.as_dict()},
            )
        ctx.args = {**args, "p_test_result": result.as_dict()}
    else:
        ctx.args = {**ctx.args, "p_gateway": gateway}
    return await ctx.call("admin_create_gateway", ctx.args)


async def test_gateway(ctx: ActionContext) -> Any:
    gateway_id = ctx.args["p_gateway_id"]
    target = await ctx.call(
        "admin_gateway_test_target", {"p_gateway_id": gateway_id}, read_only=True
    )
    stored = await queries.gateway_credentials(ctx.db, gateway_id)
    if stored is None:
        raise ApiError(404, "not_found", f"gateway {gateway_id} has no credentials to test")
    result = await check_credentials(
        ctx.settings,
        await queries.catalogue_urls(ctx.db, target["provider"]),
        target["provider"],
        target["environment"],
        stored["credentials"],
    )
    metrics.gateway_check(target["provider"], "test", result.error_class, result.latency_ms)
    return await ctx.call(
        "admin_record_gateway_test", {"p_gateway_id": gateway_id, "p_result": result.as_dict()}
    )


async def create_api_key(ctx: ActionContext) -> Any:
    """The adapter makes the key (it alone holds the pepper); the database stores the digest,
    decides whether the caller may, and answers with the full key once (or, for a retry with
    the same Idempotency-Key, the first request's key: its new one is then discarded)."""
    mode = ctx.args.get("p_mode", "test")
    new = apikeys.generate(mode, ctx.settings.api_key_pepper.get_secret_value())
    return await ctx.call(
        "merchant_create_api_key",
        {
            "p_merchant_id": ctx.args.get("p_merchant_id"),
            "p_name": ctx.args["p_name"],
            "p_mode": mode,
            "p_key": new.key,
            "p_prefix": new.prefix,
            "p_last4": new.last4,
            "p_key_hash": new.digest,
            "p_expires_at": ctx.args.get("p_expires_at"),
            "p_idempotency_key": ctx.args.get("p_idempotency_key"),
        },
    )


async def rotate_api_key(ctx: ActionContext) -> Any:
    key_id = ctx.args["p_key_id"]
    # Unknown ids are refused by the RPC as not found.
    mode = await queries.api_key_mode(ctx.db, key_id) or "test"
    new = apikeys.generate(mode, ctx.settings.api_key_pepper.get_secret_value())
    return await ctx.call(
        "merchant_rotate_api_key",
        {
            "p_key_id": key_id,
            "p_key": new.key,
            "p_prefix": new.prefix,
            "p_last4": new.last4,
            "p_key_hash": new.digest,
            "p_grace_seconds": ctx.args.get("p_grace_seconds", 0),
            "p_idempotency_key": ctx.args.get("p_idempotency_key"),
        },
    )


async def webhook_test(ctx: ActionContext) -> Any:
    """Validate the endpoint, send a signed webhook.test through the delivery client now,
    record it as an attempt, and report the outcome."""
    prepared = await ctx.call(
        "merchant_prepare_webhook_test", {"p_endpoint_id": ctx.args["p_endpoint_id"]}
    )
    delivery_id = prepared["delivery_id"]
    info = await queries.webhook_delivery_job(ctx.db, delivery_id)
    assert info is not None, "the delivery the RPC just prepared exists"
    attempt = await deliver(
        info["endpoint"]["url"],
        info["event"],
        info["secrets"],
        timeout_s=ctx.settings.webhook_timeout_s,
        allow_loopback=ctx.settings.webhook_allow_loopback,
    )
    await queries.record_webhook_attempt(
        ctx.db, delivery_id, attempt.as_dict(), None, ctx.settings.webhook_disable_after_s
    )
    return {
        "delivered": attempt.delivered,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "event_id": info["event"]["id"],
        "delivery_id": delivery_id,
    }


ACTIONS: dict[str, Callable[[ActionContext], Awaitable[Any]]] = {
    "create_gateway": create_gateway,
    "test_gateway": test_gateway,
    "create_api_key": create_api_key,
    "rotate_api_key": rotate_api_key,
    "webhook_test": webhook_test,
}
