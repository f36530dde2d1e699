"""ASGI entry point: `python -m edge_adapter.api` (uvicorn with the settings' limits), or
`uvicorn edge_adapter.api:app`. The app is made on first access, so importing the package
(its route table, say) starts nothing."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from .app import create_app

        globals()["app"] = app = create_app()
        return app
    raise AttributeError(name)
