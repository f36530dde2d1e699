"""LightSpeedPay's own sandbox provider."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .state import behaviour, good

router = APIRouter(prefix="/sandbox")


@router.get("/v1/ping")
async def ping(request: Request) -> Response:
    if early := await behaviour("sandbox"):
        return early
    h = request.headers
    if not good("sandbox", api_key=h.get("x-api-key", ""), api_secret=h.get("x-api-secret", "")):
        return JSONResponse({"error": "invalid api key"}, 401)
    return JSONResponse({"ok": True})
