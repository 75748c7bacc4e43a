"""``hexwatch serve``: the dashboard under gunicorn (or Dash's dev server with ``--dev``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import typer


def gunicorn_argv(host: str, port: int, workers: int, *, timeout: int = 120) -> list[str]:
    """The gunicorn command line that serves :func:`dashboard.wsgi.create_from_env`."""
    exe = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    base = [exe] if exe else [sys.executable, "-m", "gunicorn"]
    return [*base, "--bind", f"{host}:{port}", "--workers", str(workers), "--timeout", str(timeout),
            "--access-logfile", "-", "dashboard.wsgi:create_from_env()"]


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``hexwatch`` command line (entry point ``hexwatch.cli``)."""

    @app.command("serve")
    def serve(
        store: Path = typer.Option(..., "--store", help="Store folder.", file_okay=False),
        host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
        port: int = typer.Option(8050, help="Port."),
        workers: int = typer.Option(2, min=1, help="gunicorn worker processes."),
        public: bool = typer.Option(False, "--public", help="Public mode: coarse hexes, small counts hidden."),
        dev: bool = typer.Option(False, "--dev", help="Dash's dev server (reloads, debug tools) instead of gunicorn."),
        tiles: Optional[str] = typer.Option(None, help="XYZ tile URL for a basemap (default: plain background)."),
    ) -> None:
        """Serve the dashboard for a store."""
        from geo.store import Store

        Store.open(store)  # a missing store is a one-line error, before any server starts
        if tiles:
            os.environ["HEXWATCH_TILES_URL"] = tiles
        if dev:
            from dashboard.app import create_app

            create_app(store, public=public).run(host=host, port=port, debug=True)
            return
        env = {**os.environ, "HEXWATCH_STORE": str(store.resolve()), "HEXWATCH_PUBLIC": "1" if public else "0"}
        argv = gunicorn_argv(host, port, workers)
        os.execvpe(argv[0], argv, env)
