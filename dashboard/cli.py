"""``hexwatch serve``: the dashboard under gunicorn (or Dash's dev server with ``--dev``);
``hexwatch users``: officials' password hashes for the users file (``docs/access.md``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import typer

from geo.objectstore import store_location


def gunicorn_argv(host: str, port: int, workers: int, *, threads: int = 4, timeout: int = 120,
                  keep_alive_s: int = 75) -> list[str]:
    """The gunicorn command line that serves :func:`dashboard.wsgi.create_from_env`.

    Threaded workers: one user action fires about ten callback requests at once, and most
    wait on Arrow/DuckDB/numpy work that releases the GIL, so sync workers only queued them.
    Keep-alive outlasts a person's pause between two changes (gunicorn's 2 s did not): a
    connection the server drops just as the browser reuses it for a POST fails the request,
    and browsers do not retry POSTs. No control socket: gunicorn 27 puts it at one fixed
    path per user, which every other server on the machine would fight over.
    """
    exe = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    base = [exe] if exe else [sys.executable, "-m", "gunicorn"]
    return [*base, "--bind", f"{host}:{port}", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads), "--timeout", str(timeout),
            "--keep-alive", str(keep_alive_s), "--no-control-socket",
            "--access-logfile", "-", "dashboard.wsgi:create_from_env()"]


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``hexwatch`` command line (entry point ``hexwatch.cli``)."""

    @app.command("serve")
    def serve(
        store: Path = typer.Option(..., "--store", help="Store folder, or s3://bucket/prefix or gs://bucket/prefix.",
                                   parser=store_location),
        host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
        port: int = typer.Option(8050, help="Port."),
        workers: int = typer.Option(2, min=1, help="gunicorn worker processes."),
        threads: int = typer.Option(4, min=1, help="Threads per worker."),
        public: bool = typer.Option(False, "--public", help="Public-only site: privacy rules for everyone, no login."),
        users: Optional[Path] = typer.Option(None, "--users", help="Officials' users file (TOML/JSON; else $HEXWATCH_USERS_FILE).",
                                             dir_okay=False),
        declarations: Optional[Path] = typer.Option(
            None, "--declarations", dir_okay=False, exists=True,
            help="Policy-event CSV for this store (ids of its boundary file); default: Peru's registry for Peru."),
        dev: bool = typer.Option(False, "--dev", help="Dash's dev server (reloads, debug tools) instead of gunicorn."),
        tiles: Optional[str] = typer.Option(None, help="XYZ tile URL of the street basemap (default: $HEXWATCH_TILES, "
                                                     "else OpenStreetMap's; 'off' for none). Unreachable: plain background."),
        tiles_attribution: Optional[str] = typer.Option(None, "--tiles-attribution",
                                                        help="Attribution shown with --tiles (HTML)."),
    ) -> None:
        """Serve the dashboard for a store."""
        from geo.store import Store

        Store.open(store)  # a missing store is a one-line error, before any server starts
        if declarations:
            from geo.declarations import policy_events

            policy_events(Store.open(store), declarations)  # a bad file is one line here, not in every worker
            os.environ["HEXWATCH_DECLARATIONS"] = str(declarations.resolve())
        if tiles:
            os.environ["HEXWATCH_TILES"] = tiles
        if tiles_attribution:
            os.environ["HEXWATCH_TILES_ATTRIBUTION"] = tiles_attribution
        if users:
            os.environ["HEXWATCH_USERS_FILE"] = str(users.resolve())
        if not public:
            from dashboard import auth

            accounts = auth.load_users()  # a bad users file is a one-line error here, not in every worker
            if accounts:
                auth.secret_key()  # the shared key exists before the workers start (or is in the environment)
            typer.echo(f"officials' accounts: {len(accounts)}" if accounts else
                       "no officials' accounts configured: everyone sees the public view (docs/access.md)", err=True)
        if dev:
            from dashboard.app import create_app

            create_app(store, public=public, declarations=declarations).run(host=host, port=port, debug=True)
            return
        env = {**os.environ, "HEXWATCH_STORE": store if isinstance(store, str) else str(store.resolve()), "HEXWATCH_PUBLIC": "1" if public else "0"}
        argv = gunicorn_argv(host, port, workers, threads=threads)
        os.execvpe(argv[0], argv, env)

    users_app = typer.Typer(help="Officials' accounts for the dashboard (docs/access.md).", no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @users_app.command("hash-password")
    def hash_password(
        name: Optional[str] = typer.Option(None, "--name", help="Print a [users.NAME] entry for the users file."),
        stdin: bool = typer.Option(False, "--stdin", help="Read the password from the first line of stdin."),
    ) -> None:
        """Hash a password (scrypt) for HEXWATCH_USERS_FILE or HEXWATCH_USERS; prompts unless --stdin."""
        from dashboard import auth

        password = sys.stdin.readline().rstrip("\r\n") if stdin else typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True)
        hashed = auth.hash_password(password)
        if name:
            auth.parse_users({"users": {name: hashed}}, "--name")  # the same checks as the users file
            typer.echo(f'[users.{name}]\npassword_hash = "{hashed}"')
        else:
            typer.echo(hashed)

    @users_app.command("list")
    def list_users() -> None:
        """The configured accounts (names and roles, never hashes)."""
        from dashboard import auth

        accounts = auth.load_users()
        if not accounts:
            typer.echo("no accounts: set HEXWATCH_USERS_FILE or HEXWATCH_USERS (docs/access.md)")
        for user in accounts.values():
            typer.echo(f"{user.name}\t{user.role}")
