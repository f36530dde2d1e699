"""Razorpay (https://razorpay.com/docs/api/)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .state import basic_auth, behaviour, good

router = APIRouter(prefix="/razorpay")


@router.get("/v1/payments")
async def payments(request: Request) -> Response:
    if early := await behaviour("razorpay"):
        return early
    key_id, key_secret = basic_auth(request)
    if not (key_id and good("razorpay", key_id=key_id, key_secret=key_secret)):
        return JSONResponse(
            {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}, 401
        )
    return JSONResponse({"entity": "collection", "count": 0, "items": []})
