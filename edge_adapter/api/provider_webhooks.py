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
from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse

from .. import jsonlog, queries
from ..db import Database
from ..errors import ApiError
from ..gateways import PROVIDERS
from ..gateways.payments import WebhookRejected
from ..settings import Settings
from . import openapi, schemas

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


# Documentation only (the endpoint reads the raw body itself, as the signature needs it).
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: openapi.success_response(
        schemas.ProviderWebhookReceipt,
        idempotent=False,
        api=False,
        description="Stored (or a duplicate of an event stored before); it is applied "
        "through the payment queue.",
    ),
    400: openapi.error_response(
        400,
        api=False,
        description="`malformed_event`: a verified body that is not an event we can read "
        "(recorded as rejected).",
    ),
    401: openapi.error_response(
        401,
        api=False,
        description="`invalid_signature`: a missing or bad signature, or no webhook secret "
        "configured for the gateway (details.reason); recorded, not applied.",
    ),
    404: openapi.error_response(
        404,
        api=False,
        description="No such provider, or no gateway of that provider with this id "
        "(archived gateways included).",
    ),
    413: openapi.error_response(
        413, api=False, description="The body is larger than LSP_PROVIDER_WEBHOOK_MAX_BYTES."
    ),
    431: openapi.error_response(431, api=False),
    500: openapi.error_response(500, api=False),
    503: openapi.error_response(503, api=False),
}
OPENAPI_EXTRA: dict[str, Any] = {
    "security": [],  # the provider's signature over the raw body authenticates it
    "requestBody": {
        "required": True,
        "description": "The provider's event exactly as it sends it (JSON, or a form post "
        "for PayU and Paytm callbacks), signed as that provider signs.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    },
}


def install(app: FastAPI, db: Database, settings: Settings) -> None:
    @app.post(
        "/api/v1/providers/{provider}/webhooks/{gateway_id}",
        tags=["providers"],
        summary="A payment provider's webhook (authenticated by the provider's signature)",
        operation_id="provider_webhook",
        responses=RESPONSES,
        openapi_extra=OPENAPI_EXTRA,
    )
    async def receive(
        provider: Annotated[str, Path(json_schema_extra={"enum": sorted(PROVIDERS)})],
        gateway_id: Annotated[
            str,
            Path(
                description="the gateway whose credentials verify the signature",
                json_schema_extra={"format": "uuid"},
            ),
        ],
        request: Request,
    ) -> JSONResponse:
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
