"""PayU India (https://docs.payu.in/reference/)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..gateways.payu import webservice_hash
from .credentials import FAKE_CREDENTIALS
from .state import behaviour, form

router = APIRouter(prefix="/payu")


@router.post("/merchant/postservice.php")
async def postservice(request: Request) -> Response:
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
