"""Cashfree PG (https://www.cashfree.com/docs/api-reference/payments/latest/)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .state import behaviour, good

router = APIRouter(prefix="/cashfree")


@router.get("/pg/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> Response:
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
