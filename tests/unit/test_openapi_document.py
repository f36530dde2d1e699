"""The OpenAPI document itself: valid OpenAPI 3.1, a non-empty success schema on every route,
the real error envelope and headers, security schemes, Idempotency-Key where the RPC takes
it, and /docs and /redoc served from local assets only."""

import datetime
import re
from typing import Any

import httpx
import pytest
import schemathesis
from openapi_spec_validator import validate
from pydantic import BaseModel

from edge_adapter.api import openapi, schemas
from edge_adapter.api.app import DOCS_ASSETS_URL, create_app
from edge_adapter.api.routes import ROUTES, Route
from edge_adapter.settings import Settings

WEBHOOK_PATH = "/api/v1/providers/{provider}/webhooks/{gateway_id}"


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(env="development"))


@pytest.fixture(scope="module")
def document(app) -> dict[str, Any]:
    return app.openapi()


def operation(document: dict[str, Any], route: Route) -> dict[str, Any]:
    return document["paths"][route.path][route.method.lower()]


def component(document: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    kind, name = ref["$ref"].split("/")[-2:]
    return document["components"][kind][name]


def response(document: dict[str, Any], op: dict[str, Any], status: int) -> dict[str, Any]:
    found = op["responses"][str(status)]
    return component(document, found) if "$ref" in found else found


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_route_documents_a_non_empty_success_schema(document):
    for route in ROUTES:
        op = operation(document, route)
        success = [s for s in op["responses"] if s.startswith("2")]
        assert success == [str(route.status)], (route.path, success)
        schema = op["responses"][str(route.status)]["content"]["application/json"]["schema"]
        model = component(document, schema)
        assert model.get("properties") and model.get("required"), (route.rpc, model)
        assert model.get("examples"), f"{route.rpc}: the success model has no example"
        assert op["operationId"] == route.rpc


def test_a_route_without_a_response_model_is_named_with_the_fix():
    stray = Route("GET", "/api/v1/new-thing", "list_new_things", "A route added later")
    with pytest.raises(LookupError, match=r"list_new_things.*schemas\.py RESPONSES"):
        openapi.route_responses(stray)
    assert {r.rpc for r in ROUTES} <= set(schemas.RESPONSES)


def test_no_route_keeps_fastapis_validation_schema_and_errors_use_the_envelope(document):
    assert "HTTPValidationError" not in str(document)
    for route in ROUTES:
        op = operation(document, route)
        errors = [int(s) for s in op["responses"] if not s.startswith("2")]
        assert {400, 401, 403, 429, 431, 500, 503} <= set(errors), route.rpc
        for status in errors:
            found = response(document, op, status)
            media = found["content"]["application/json"]
            assert media["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
            assert media["example"]["error"]["code"]
            assert "details" in media["example"]["error"]  # nulls survive FastAPI's encoder
            assert "X-Request-Id" in found["headers"]
    envelope = document["components"]["schemas"]["ErrorBody"]
    assert envelope["required"] == ["code", "message", "details", "request_id"]


def test_statuses_follow_what_each_route_can_answer(document):
    by_rpc = {r.rpc: operation(document, r)["responses"] for r in ROUTES}
    assert "404" in by_rpc["get_payment"] and "404" not in by_rpc["me"]
    assert {"413", "415"} <= set(by_rpc["create_payment"]) and "415" not in by_rpc["list_payments"]
    assert "409" in by_rpc["cancel_payment"] and "409" not in by_rpc["list_payments"]
    assert "422" in by_rpc["create_refund"] and "422" not in by_rpc["admin_list_queues"]


def test_error_headers_come_as_the_api_sends_them(document):
    op = operation(document, next(r for r in ROUTES if r.rpc == "create_payment"))
    headers = document["components"]["headers"]

    def header(status: int, name: str) -> dict[str, Any]:
        return component(document, response(document, op, status)["headers"][name])

    assert header(401, "WWW-Authenticate")["required"] is True
    assert header(429, "Retry-After")["required"] is True
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert header(429, name)["required"] is True
        assert header(400, name)["required"] is False
    assert header(409, "Retry-After")["required"] is False
    success = op["responses"]["201"]["headers"]
    assert component(document, success["Idempotent-Replayed"]) == headers["Idempotent-Replayed"]
    assert component(document, success["X-Request-Id"])["required"] is True
    assert "MethodNotAllowed" in document["components"]["responses"]


def test_security_schemes_cover_every_api_route_but_provider_webhooks_and_probes(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["supabaseJwt"] == schemes["supabaseJwt"] | {"type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["type"] == "http" and schemes["apiKey"]["scheme"] == "bearer"
    assert all(s["description"] for s in schemes.values())
    for route in ROUTES:
        assert operation(document, route)["security"] == [{"supabaseJwt": []}, {"apiKey": []}]
    webhook = document["paths"][WEBHOOK_PATH]["post"]
    assert webhook["security"] == []
    assert "401" in webhook["responses"] and "WWW-Authenticate" not in str(webhook["responses"])
    for probe in ("/healthz", "/readyz"):
        assert "security" not in document["paths"][probe]["get"]
    assert "/metrics" not in document["paths"]


def test_idempotency_key_is_documented_on_each_idempotent_route_only(document):
    for route in ROUTES:
        params = operation(document, route).get("parameters", [])
        keys = [p for p in params if p["name"] == "Idempotency-Key" and p["in"] == "header"]
        assert len(keys) == (1 if route.idempotent else 0), route.rpc
        if keys:
            assert re.fullmatch(keys[0]["schema"]["pattern"], "order-1001")
            assert keys[0]["required"] is schemas.RESPONSES[route.rpc].idempotency_key_required


def test_request_bodies_are_documented_with_their_models(document):
    for route in ROUTES:
        body = operation(document, route).get("requestBody")
        if route.input is None or route.method not in ("POST", "PUT"):
            assert body is None, route.rpc
            continue
        schema = body["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{route.input.__name__}"}
        required = any(f.is_required() for f in route.input.model_fields.values())
        assert body["required"] is required


def test_probes_and_provider_webhooks_document_their_own_bodies(document):
    ready = document["paths"]["/readyz"]["get"]["responses"]
    assert set(ready) == {"200", "503"}
    assert ready["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
    webhook = document["paths"][WEBHOOK_PATH]["post"]
    assert set(webhook["responses"]) == {"200", "400", "401", "404", "413", "431", "500", "503"}
    ok = webhook["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/ProviderWebhookReceipt")


def response_models() -> list[type[BaseModel]]:
    return [
        m
        for m in vars(schemas).values()
        if isinstance(m, type)
        and issubclass(m, BaseModel)
        and m.model_config.get("json_schema_extra")
    ]


@pytest.mark.parametrize("model", response_models(), ids=lambda m: m.__name__)
def test_each_example_is_a_valid_instance_of_its_model(model, document):
    examples = model.model_config["json_schema_extra"]["examples"]  # type: ignore[index]
    for example in examples:
        model.model_validate(example)  # raises on a wrong or missing field
    if model.__name__ in document["components"]["schemas"]:
        assert document["components"]["schemas"][model.__name__]["examples"] == examples


def test_two_models_with_one_name_are_refused():
    found = {"Thing": {"type": "object", "properties": {"a": {"type": "string"}}}}
    openapi._add_schemas(found, {"Thing": found["Thing"]})  # the same schema twice is fine
    with pytest.raises(ValueError, match="Thing"):
        openapi._add_schemas(found, {"Thing": {"type": "object"}})


async def test_docs_pages_load_only_local_assets_and_those_are_served(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for page in ("/docs", "/redoc"):
            html = await client.get(page)
            assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
            csp = html.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "http" not in csp
            urls = re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(
                r"(?:url|spec-url): ?['\"]([^'\"]+)['\"]", html.text
            )
            assert urls, page
            assert not re.search(r"https?://", html.text), f"{page} names a remote URL"
            for url in urls:
                assert url == "/openapi.json" or url.startswith(f"{DOCS_ASSETS_URL}/"), url
                served = await client.get(url)
                assert served.status_code == 200, url
                assert len(served.content) > 1000, url
        types = {
            "swagger-ui-bundle.js": "javascript",
            "redoc.standalone.js": "javascript",
            "swagger-ui.css": "text/css",
            "favicon.png": "image/png",
        }
        for name, kind in types.items():
            asset = await client.get(f"{DOCS_ASSETS_URL}/{name}")
            assert asset.status_code == 200 and kind in asset.headers["content-type"], name
        assert (await client.get(f"{DOCS_ASSETS_URL}/../app.py")).status_code == 404


def answer_of(status: int, body: Any, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "http://api/api/v1/payments/pay_0123456789abcdef0123")
    sent = {"content-type": "application/json", "x-request-id": "req-1", **headers}
    if headers.get("content-type") == "":
        del sent["content-type"]
    answer = httpx.Response(status, json=body, headers=sent, request=request)
    answer.elapsed = datetime.timedelta(milliseconds=3)
    return answer


PAYMENT = {**schemas.PAYMENT_EXAMPLE, "attempts": [], "refunds": []}
ERROR = {"error": {"code": "not_found", "message": "no", "details": None, "request_id": "r"}}
LIMITED = {"error": {**ERROR["error"], "code": "rate_limited"}}
RATE = {"ratelimit-limit": "600", "ratelimit-remaining": "0", "ratelimit-reset": "12"}


@pytest.mark.parametrize(
    ("answer", "caught"),
    [
        (answer_of(200, PAYMENT), None),
        (answer_of(404, ERROR), None),
        (answer_of(429, LIMITED, **RATE, **{"retry-after": "12"}), None),
        (answer_of(200, {**PAYMENT, "amount": "1000"}), "violates schema"),
        (answer_of(200, {k: v for k, v in PAYMENT.items() if k != "status"}), "violates schema"),
        (answer_of(200, {**PAYMENT, "status": "paid"}), "violates schema"),
        (answer_of(200, {**PAYMENT, "created_at": None}), "violates schema"),
        (answer_of(404, {"detail": "Not Found"}), "violates schema"),
        (answer_of(418, PAYMENT), "Undocumented status code"),
        (answer_of(200, PAYMENT, **{"x-request-id": ""}), "conform"),
        (answer_of(200, PAYMENT, **{"ratelimit-limit": "many"}), "conform"),
        (answer_of(429, LIMITED, **RATE), "Missing required response headers"),
        (answer_of(401, {**ERROR}), "Missing required response headers"),
        (answer_of(200, PAYMENT, **{"content-type": "text/html"}), "Undocumented Content-Type"),
    ],
)
def test_the_contract_checks_catch_an_answer_that_strays(document, answer, caught):
    """What the e2e contract test relies on: a document precise enough that schemathesis'
    checks refuse a wrong type, a missing or unknown-valued field, a non-envelope error, an
    undocumented status, a missing or malformed header and another media type."""
    schema = schemathesis.openapi.from_dict(document)
    case = schema["/api/v1/payments/{payment_id}"]["GET"].Case(
        path_parameters={"payment_id": "pay_0123456789abcdef0123"}
    )
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    if caught is None:
        case.validate_response(answer, checks=checks)
        return
    with pytest.raises(BaseExceptionGroup) as failed:  # schemathesis' FailureGroup
        case.validate_response(answer, checks=checks)
    assert caught in str(failed.value) + "".join(map(str, failed.value.exceptions))


CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


def test_the_live_stream_is_documented_as_an_event_stream_with_envelope_errors(document):
    op = document["paths"][openapi.STREAM_PATH]["get"]
    assert op["operationId"] == "live_stream"
    assert op["security"] == [{"supabaseJwt": []}, {"apiKey": []}, {"streamToken": []}]
    token = document["components"]["securitySchemes"]["streamToken"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "query", "access_token")
    ok = op["responses"]["200"]
    assert list(ok["content"]) == ["text/event-stream"]  # never JSON on success
    event = component(document, ok["content"]["text/event-stream"]["schema"])
    assert event["required"] == ["event", "data"] and event["examples"]
    assert "event: ready" in ok["description"]  # the wire format, for people
    assert ok["headers"]["Cache-Control"]["required"] is True
    assert set(op["responses"]) == {"200", "400", "401", "403", "429", "431", "500", "503"}
    for status in (400, 401, 403, 429, 503):
        found = response(document, op, status)
        assert found["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    assert "WWW-Authenticate" in response(document, op, 401)["headers"]
    forbidden = response(document, op, 403)["content"]["application/json"]["example"]
    assert forbidden["error"]["code"] == "topic_forbidden"


SSE = "text/event-stream; charset=utf-8"


def stream_answer(status: int, content: bytes, content_type: str) -> httpx.Response:
    request = httpx.Request("GET", "http://api/api/v1/stream?topics=admin:alerts")
    headers = {"content-type": content_type, "x-request-id": "req-1", "cache-control": "no-store"}
    answer = httpx.Response(status, content=content, headers=headers, request=request)
    answer.elapsed = datetime.timedelta(milliseconds=3)
    return answer


@pytest.mark.parametrize(
    ("answer", "caught"),
    [
        (stream_answer(200, openapi.STREAM_WIRE.encode(), SSE), None),
        (stream_answer(200, b"id: 1\nevent: ready\n\n: keep-alive\n\n", SSE), None),
        (stream_answer(200, b"id: x\nevent: ready\ndata: {}\n\n", SSE), "violates schema"),
        (stream_answer(200, b'{"topics": []}', "application/json"), "Undocumented Content-Type"),
        (stream_answer(403, b'{"detail": "no"}', "application/json"), "violates schema"),
    ],
)
def test_the_contract_checks_hold_the_stream_to_its_media_type(document, answer, caught):
    schema = schemathesis.openapi.from_dict(document)
    case = schema[openapi.STREAM_PATH]["GET"].Case(query={"topics": "admin:alerts"})
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    if caught is None:
        case.validate_response(answer, checks=checks)
        return
    with pytest.raises(BaseExceptionGroup) as failed:
        case.validate_response(answer, checks=checks)
    assert caught in str(failed.value) + "".join(map(str, failed.value.exceptions))
