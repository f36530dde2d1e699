"""The fake providers' app: every provider's router, plus the control endpoints tests use.

POST /_control  {"provider", "mode", "latency_ms"}   behaviour of one provider; modes:
                ok | error (503) | hang | rate_limit (429) | error_after_commit (acts,
                then 500) | hang_after_commit (acts, then never answers)
POST /_webhooks {"provider", "url"}    where that provider's webhooks go (its dashboard)
POST /_hosted/{provider}/{order_id}/complete {"outcome": "success" | "failure"}
                the customer finishes the hosted page / approves the UPI request; 409
                when it was cancelled or expired (nothing is captured)
GET  /_hosted/{provider}/{order_id}    the hosted page itself (a small HTML form)
GET  /_calls    requests per provider (and `<provider>.cancel`: cancel / expire calls)
GET  /_captures  captures per payment id
GET  /_webhooks/sent   every webhook sent   POST /_reset    back to defaults
/_payouts/...   RazorpayX payout outcomes (edge_adapter/fake_providers/payouts.py)
/_settlements/run   a provider settles (edge_adapter/fake_providers/settlement_reports.py)
"""

import asyncio
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import (
    cashfree,
    payouts,
    paytm,
    payu,
    phonepe,
    razorpay,
    sandbox,
    settlement_reports,
    state,
    stripe,
)

app = FastAPI(title="LightSpeedPay fake providers", openapi_url=None)
for module in (sandbox, razorpay, cashfree, payu, phonepe, paytm, stripe, payouts):
    app.include_router(module.router)
app.include_router(payouts.control)  # /_payouts: payout outcomes for tests
for settlement_router in (
    settlement_reports.razorpay,
    settlement_reports.sandbox,
    settlement_reports.control,  # /_settlements/run: a provider settles
):
    app.include_router(settlement_router)


class ReceivedIsReceived:
    """A real provider acts on a request it has received even if the client hangs up while
    it works (a worker killed mid-call). Starlette would raise when the handler reads a body
    after the disconnect, so the whole body is read first and replayed to the handler."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Future()  # never: the handler finishes as if the client stayed
            raise AssertionError("unreachable")

        async def send_if_connected(message: Message) -> None:
            try:
                await send(message)
            except OSError:
                pass

        await self.inner(scope, replay, send_if_connected)


app.add_middleware(ReceivedIsReceived)


@app.post("/_control")
async def control(request: Request) -> dict[str, Any]:
    body = await request.json()
    state.modes[body["provider"]] = {
        "mode": body.get("mode", "ok"),
        "latency_ms": body.get("latency_ms", 0),
    }
    return {"modes": state.modes}


@app.post("/_webhooks")
async def webhook_target(request: Request) -> dict[str, Any]:
    body = await request.json()
    state.webhook_targets[body["provider"]] = body["url"]
    return {"webhook_targets": state.webhook_targets}


@app.get("/_webhooks/sent")
async def webhooks_sent() -> list[dict[str, Any]]:
    return state.sent_webhooks


def _order(provider: str, order_id: str) -> dict[str, Any] | None:
    return state.orders.get((provider, order_id))


@app.get("/_hosted/{provider}/{order_id}")
async def hosted_page(provider: str, order_id: str) -> Response:
    order = _order(provider, order_id)
    if order is None:
        return HTMLResponse("<h1>No such order</h1>", 404)
    action = f"/_hosted/{escape(provider)}/{escape(order_id)}/complete"
    return HTMLResponse(
        f"<h1>{escape(provider)} test checkout</h1>"
        f"<p>Order {escape(order_id)}: {order.get('amount')} {escape(str(order.get('currency')))}"
        f"</p><form method=post action='{action}?outcome=success'><button>Pay</button></form>"
        f"<form method=post action='{action}?outcome=failure'><button>Fail</button></form>"
    )


@app.post("/_hosted/{provider}/{order_id}/complete")
async def complete(provider: str, order_id: str, request: Request) -> Response:
    order = _order(provider, order_id)
    if order is None or provider not in state.completers:
        return JSONResponse({"error": "no such order"}, 404)
    outcome = request.query_params.get("outcome")
    if outcome is None and request.headers.get("content-type", "").startswith("application/json"):
        outcome = (await request.json()).get("outcome")
    if outcome not in ("success", "failure"):
        return JSONResponse({"error": "outcome must be success or failure"}, 400)
    try:
        await state.completers[provider](order, outcome)
    except state.Refused as refused:
        return JSONResponse({"error": str(refused), "order": order_id}, 409)
    return JSONResponse({"order": order_id, "outcome": outcome})


@app.post("/_reset")
async def reset() -> dict[str, Any]:
    state.reset()
    return {"ok": True}


@app.get("/_calls")
async def call_counts() -> dict[str, int]:
    return dict(state.calls)


@app.get("/_captures")
async def capture_counts() -> dict[str, int]:
    return dict(state.captures)
