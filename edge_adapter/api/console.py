"""The operator console at /console: one HTML page with plain ES modules and CSS from
edge_adapter/console (no build step, no CDN, nothing fetched from elsewhere).

The page itself is public (it holds no data); every data call it makes is a public REST
route with the operator's bearer token, which the page keeps in sessionStorage. Its
Content-Security-Policy (middleware.CONSOLE_CSP) allows only this origin's scripts, styles
and connections: no inline script or style, and no framing.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
CONSOLE_URL = "/console"
ASSETS_URL = f"{CONSOLE_URL}/assets"
# The page changes with the code: browsers revalidate it (ETag) instead of keeping a copy.
PAGE_HEADERS = {"cache-control": "no-cache"}


def install(app: FastAPI) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=CONSOLE_DIR / "assets"), name="console-assets")
    index = CONSOLE_DIR / "index.html"

    @app.get(CONSOLE_URL, include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
