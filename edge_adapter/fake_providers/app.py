"""The fake providers' app: every provider's router, plus the control endpoints tests use.

POST /_control {"provider", "mode": "ok|error|hang|rate_limit", "latency_ms"} changes a
provider's behaviour; GET /_calls counts requests per provider; POST /_reset restores
defaults.
"""

from typing import Any

from fastapi import FastAPI, Request

from . import cashfree, paytm, payu, phonepe, razorpay, sandbox, state, stripe

app = FastAPI(title="LightSpeedPay fake providers", openapi_url=None)
for module in (sandbox, razorpay, cashfree, payu, phonepe, paytm, stripe):
    app.include_router(module.router)


@app.post("/_control")
async def control(request: Request) -> dict[str, Any]:
    body = await request.json()
    state.modes[body["provider"]] = {
        "mode": body.get("mode", "ok"),
        "latency_ms": body.get("latency_ms", 0),
    }
    return {"modes": state.modes}


@app.post("/_reset")
async def reset() -> dict[str, Any]:
    state.reset()
    return {"ok": True}


@app.get("/_calls")
async def call_counts() -> dict[str, int]:
    return dict(state.calls)
