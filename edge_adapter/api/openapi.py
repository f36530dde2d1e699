"""The OpenAPI document: FastAPI's, plus the schemas it cannot see by itself (request bodies
are read by the endpoints after authentication, so FastAPI does not collect their models)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .routes import ROUTES

REF = "#/components/schemas/{model}"


def body_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for route in ROUTES:
        if route.input is None or route.method not in ("POST", "PUT", "PATCH"):
            continue
        schema = route.input.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[route.input.__name__] = schema
    return schemas


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(body_schemas())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
