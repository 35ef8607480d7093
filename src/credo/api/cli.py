"""`credo serve`: the institution API under uvicorn."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
    workers: int = typer.Option(1, min=1, max=64, help="server processes"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
) -> None:
    """Serve the institution API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from credo.config import get_settings
    from credo.db import get_engine
    from credo.migrate import ensure_schema
    from credo.security import get_keyring

    get_settings()  # refuses unsafe production settings before anything listens
    ensure_schema(get_engine())
    get_keyring()  # creates the key file on first use, before workers race to do it
    typer.echo(f"Credo API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "credo.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # paths and query strings never carry identifiers, so the access log may keep them
        access_log=True,
        server_header=False,
    )
