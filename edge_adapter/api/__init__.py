"""ASGI entry point: `uvicorn edge_adapter.api:app`."""

from .app import create_app

app = create_app()
