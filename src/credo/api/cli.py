"""`credo serve`: the institution API under uvicorn."""

from __future__ import annotations

import typer


def _log_config() -> dict:
    """uvicorn's logging, plus the app's own access log (credo.api.access) on stderr; passed
    to uvicorn so that every worker process applies it."""
    from copy import deepcopy

    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config["formatters"]["credo_access"] = {
        "format": "%(asctime)s %(levelname)s access: %(message)s",
    }
    config["handlers"]["credo_access"] = {
        "class": "logging.StreamHandler", "formatter": "credo_access", "stream": "ext://sys.stderr",
    }  # fmt: skip
    config["loggers"]["credo.api.access"] = {
        "handlers": ["credo_access"], "level": "INFO", "propagate": False,
    }  # fmt: skip
    return config


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
        # uvicorn's access log would write the raw path and query string a client sent; the
        # app logs each request itself (credo.api.access) with the route template instead
        access_log=False,
        log_config=_log_config(),
        server_header=False,
    )
