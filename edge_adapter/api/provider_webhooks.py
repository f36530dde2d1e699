"""Inbound provider webhooks: POST /api/v1/providers/{provider}/webhooks/{gateway_id}.

No JWT: the route is authenticated by the provider's own signature over the raw body,
checked with the gateway's credentials from Vault (current first, then rotated-out ones
still inside their 24 h overlap). One URL per gateway, because secrets are per gateway
account. The event is stored first (once per provider event id), answered 200 at once, and
applied through the payment queue; a duplicate is answered 200 and changes nothing.

    404 unknown provider or gateway (or a gateway of another provider, or archived)
    413 body above LSP_PROVIDER_WEBHOOK_MAX_BYTES
    401 missing or bad signature, or no webhook secret configured: recorded, not applied
    400 a verified body we cannot read: recorded as rejected
"""

import logging
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .. import jsonlog, queries
from ..db import Database
from ..errors import ApiError
from ..gateways import PROVIDERS
from ..gateways.payments import WebhookRejected
from ..settings import Settings

logger = logging.getLogger("edge_adapter.api")
# Headers worth keeping with a stored event; credentials and session headers never are.
DROPPED_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    return bytes(body)


def install(app: FastAPI, db: Database, settings: Settings) -> None:
    @app.post(
        "/api/v1/providers/{provider}/webhooks/{gateway_id}",
        tags=["providers"],
        summary="A payment provider's webhook (authenticated by the provider's signature)",
        responses={
            401: {"description": "bad or missing signature"},
            404: {"description": "unknown provider or gateway"},
            413: {"description": "body too large"},
        },
    )
    async def receive(provider: str, gateway_id: str, request: Request) -> JSONResponse:
        client = PROVIDERS.get(provider)
        try:
            gateway = str(UUID(gateway_id))
        except ValueError:
            gateway = None
        if client is None or gateway is None:
            raise ApiError(404, "not_found", "no such provider webhook endpoint")
        body = await read_body(request, settings.provider_webhook_max_bytes)
        target = await queries.gateway_webhook_credentials(db, gateway, provider)
        if target is None:
            raise ApiError(404, "not_found", f"no {provider} gateway {gateway}")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
        text = body.decode("utf-8", errors="replace")
        try:
            client.verify_webhook(request.headers, body, target["credentials"])
        except (WebhookRejected, KeyError, ValueError) as exc:
            if isinstance(exc, WebhookRejected):
                reason = exc.reason
            else:  # a credential set without the secret this provider signs with
                reason = "no_webhook_secret" if isinstance(exc, KeyError) else "bad_signature"
            await queries.record_provider_event(db, gateway, provider, None, headers, text, reason)
            jsonlog.log(
                logger,
                logging.WARNING,
                "provider webhook rejected",
                provider=provider,
                gateway_id=gateway,
                reason=reason,
            )
            raise ApiError(
                401,
                "invalid_signature",
                "the webhook signature does not verify",
                {"reason": reason},
            ) from None
        try:
            event = client.parse_webhook(request.headers, body)
        except (ValueError, KeyError, TypeError, AttributeError):
            await queries.record_provider_event(
                db, gateway, provider, None, headers, text, "malformed"
            )
            raise ApiError(
                400, "malformed_event", "the webhook body is not an event we can read"
            ) from None
        stored: dict[str, Any] = await queries.record_provider_event(
            db, gateway, provider, event.as_dict(), headers, text, None
        )
        return JSONResponse({"received": True, "duplicate": stored["status"] == "duplicate"})
