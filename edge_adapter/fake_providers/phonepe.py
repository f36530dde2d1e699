"""PhonePe PG v2 (https://developer.phonepe.com/payment-gateway/)."""

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .credentials import FAKE_CREDENTIALS
from .state import behaviour, form, good

router = APIRouter(prefix="/phonepe")


@router.post("/v1/oauth/token")
async def oauth_token(request: Request) -> Response:
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
