"""Stripe (https://docs.stripe.com/api)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .state import basic_auth, behaviour, good

router = APIRouter(prefix="/stripe")


@router.get("/v1/balance")
async def balance(request: Request) -> Response:
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
