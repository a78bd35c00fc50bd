"""The dashboard at `/ui`: static files (plain HTML, CSS and JavaScript, no build step, nothing
fetched from elsewhere) over the same REST API. Open like `/docs`: the page itself holds no data,
and its calls to the API send the key the user enters when the API asks for one."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).parent / "static" / "ui"


def install_ui(api: FastAPI) -> None:
    """Serve the dashboard at `/ui/` (and send `/` there)."""
    api.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")

    @api.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")
