"""A fake of every provider's credential-check endpoint, on its real path with its real
auth scheme, for development and tests (the real APIs are outside our system).

    python -m edge_adapter.gateways.fake_server [--port 54330]

Each provider lives under /<provider>: point LSP_PROVIDER_BASE_URLS at
{"razorpay": "http://127.0.0.1:54330/razorpay", ...}. The credentials in FAKE_CREDENTIALS
are the valid ones; anything else gets the provider's own rejection. POST /_control
{"provider", "mode": "ok|error|hang|rate_limit", "latency_ms"} changes behaviour;
GET /_calls counts requests per provider; POST /_reset restores defaults.
"""

import argparse
import asyncio
import base64
import json
import secrets
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .paytm import verify_signature
from .payu import webservice_hash

FAKE_CREDENTIALS: dict[str, dict[str, str]] = {
    "sandbox": {"api_key": "sandbox_key_demo", "api_secret": "sandbox_secret_demo"},
    "razorpay": {"key_id": "rzp_test_fakeKey01", "key_secret": "fake_razorpay_secret_01"},
    "cashfree": {"client_id": "TEST_fake_app_id", "client_secret": "cfsk_ma_test_fake_secret"},
    "payu": {"merchant_key": "fakeKy", "merchant_salt": "fakeSaltValue123"},
    "phonepe": {
        "client_id": "FAKE_CLIENT",
        "client_version": "1",
        "client_secret": "fake-phonepe-secret",
    },
    "paytm": {"mid": "FAKEMID12345678", "merchant_key": "fake&merchant#16"},
    "stripe": {"secret_key": "sk_test_fake_stripe_secret"},
}

app = FastAPI(title="LightSpeedPay fake providers", openapi_url=None)
modes: dict[str, dict[str, Any]] = {}
calls: Counter[str] = Counter()


def good(provider: str, **given: str) -> bool:
    expected = FAKE_CREDENTIALS[provider]
    return all(
        secrets.compare_digest(given.get(k, ""), v) for k, v in expected.items() if k in given
    )


async def behaviour(provider: str) -> Response | None:
    """Apply the configured latency / failure mode; None means answer normally."""
    calls[provider] += 1
    mode = modes.get(provider, {})
    if mode.get("latency_ms"):
        await asyncio.sleep(mode["latency_ms"] / 1000)
    match mode.get("mode", "ok"):
        case "hang":
            await asyncio.sleep(3600)
        case "error":
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        case "rate_limit":
            return JSONResponse({"error": "too many requests"}, 429, {"retry-after": "1"})
    return None


async def form(request: Request) -> dict[str, str]:
    """application/x-www-form-urlencoded body, parsed without extra dependencies."""
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def basic_auth(request: Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


@app.get("/sandbox/v1/ping")
async def sandbox_ping(request: Request) -> Response:
    if early := await behaviour("sandbox"):
        return early
    h = request.headers
    if not good("sandbox", api_key=h.get("x-api-key", ""), api_secret=h.get("x-api-secret", "")):
        return JSONResponse({"error": "invalid api key"}, 401)
    return JSONResponse({"ok": True})


@app.get("/razorpay/v1/payments")
async def razorpay_payments(request: Request) -> Response:
    if early := await behaviour("razorpay"):
        return early
    key_id, key_secret = basic_auth(request)
    if not (key_id and good("razorpay", key_id=key_id, key_secret=key_secret)):
        return JSONResponse(
            {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}, 401
        )
    return JSONResponse({"entity": "collection", "count": 0, "items": []})


@app.get("/cashfree/pg/orders/{order_id}")
async def cashfree_order(order_id: str, request: Request) -> Response:
    if early := await behaviour("cashfree"):
        return early
    h = request.headers
    if not h.get("x-api-version"):
        return JSONResponse({"message": "x-api-version missing", "code": "request_failed"}, 400)
    if not good(
        "cashfree", client_id=h.get("x-client-id", ""), client_secret=h.get("x-client-secret", "")
    ):
        return JSONResponse(
            {
                "message": "authentication Failed",
                "code": "request_failed",
                "type": "authentication_error",
            },
            401,
        )
    return JSONResponse(
        {"message": "order not found", "code": "order_not_found", "type": "invalid_request_error"},
        404,
    )


@app.post("/payu/merchant/postservice.php")
async def payu_postservice(request: Request) -> Response:
    if early := await behaviour("payu"):
        return early
    fields = await form(request)
    key, command, var1 = (fields.get(k, "") for k in ("key", "command", "var1"))
    expected = FAKE_CREDENTIALS["payu"]
    if request.query_params.get("form") != "2" or command != "verify_payment":
        return JSONResponse({"status": 0, "msg": "Invalid command"})
    if key != expected["merchant_key"]:
        return JSONResponse({"status": 0, "msg": "Invalid key"})
    if fields.get("hash") != webservice_hash(key, command, var1, expected["merchant_salt"]):
        return JSONResponse({"status": 0, "msg": "Invalid Hash."})
    return JSONResponse(
        {
            "status": 1,
            "msg": "0 out of 1 Transactions Fetched Successfully",
            "transaction_details": {var1: {"mihpayid": "Not Found", "status": "Not Found"}},
        }
    )


@app.post("/phonepe/v1/oauth/token")
async def phonepe_token(request: Request) -> Response:
    if early := await behaviour("phonepe"):
        return early
    fields = await form(request)
    if fields.get("grant_type") != "client_credentials":
        return JSONResponse({"code": "BAD_REQUEST", "message": "invalid grant_type"}, 400)
    if not good("phonepe", **{k: fields.get(k, "") for k in FAKE_CREDENTIALS["phonepe"]}):
        return JSONResponse({"code": "401", "message": "Client Not Found"}, 401)
    token = secrets.token_urlsafe(24)
    return JSONResponse(
        {
            "access_token": token,
            "encrypted_access_token": token,
            "expires_in": 3600,
            "token_type": "O-Bearer",
        }
    )


@app.post("/paytm/v3/order/status")
async def paytm_status(request: Request) -> Response:
    if early := await behaviour("paytm"):
        return early
    raw = (await request.body()).decode()
    payload = json.loads(raw)
    # The signature covers the body exactly as sent: cut it out of the raw request.
    start = raw.index('"body":') + len('"body":')
    body_text = raw[start : raw.rindex(',"head"')]
    expected = FAKE_CREDENTIALS["paytm"]

    def result(status: str, code: str, msg: str) -> JSONResponse:
        return JSONResponse(
            {
                "head": {"responseTimestamp": "0", "version": "v1"},
                "body": {
                    "resultInfo": {"resultStatus": status, "resultCode": code, "resultMsg": msg}
                },
            }
        )

    if payload["body"].get("mid") != expected["mid"]:
        return result("F", "2006", "Mid is invalid")
    if not verify_signature(body_text, expected["merchant_key"], payload["head"]["signature"]):
        return result("F", "2005", "Checksum provided is invalid")
    return result("F", "334", "Invalid Order Id.")


@app.get("/stripe/v1/balance")
async def stripe_balance(request: Request) -> Response:
    if early := await behaviour("stripe"):
        return early
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    key = value if scheme.lower() == "bearer" else basic_auth(request)[0]
    if not good("stripe", secret_key=key):
        return JSONResponse(
            {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}},
            401,
        )
    return JSONResponse({"object": "balance", "available": [], "pending": [], "livemode": False})


@app.post("/_control")
async def control(request: Request) -> dict[str, Any]:
    body = await request.json()
    modes[body["provider"]] = {
        "mode": body.get("mode", "ok"),
        "latency_ms": body.get("latency_ms", 0),
    }
    return {"modes": modes}


@app.post("/_reset")
async def reset() -> dict[str, Any]:
    modes.clear()
    calls.clear()
    return {"ok": True}


@app.get("/_calls")
async def call_counts() -> dict[str, int]:
    return dict(calls)


def overrides(base: str) -> str:
    """LSP_PROVIDER_BASE_URLS for a fake server at `base`."""
    return json.dumps({p: f"{base}/{p}" for p in FAKE_CREDENTIALS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=54330)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
