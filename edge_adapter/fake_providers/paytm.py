"""Paytm Payment Gateway (https://developer.paytm.com/docs/api/)."""

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..gateways.paytm import verify_signature
from .credentials import FAKE_CREDENTIALS
from .state import behaviour

router = APIRouter(prefix="/paytm")


@router.post("/v3/order/status")
async def order_status(request: Request) -> Response:
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
