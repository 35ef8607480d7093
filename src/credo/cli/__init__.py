"""The `credo` command line (assembled in `credo.cli.root`).

`app` and `main` are loaded lazily: command modules import `credo.cli.common`, and importing
one of them first must not pull in every other command module half-way through.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from credo.cli import root

        return getattr(root, name)
    raise AttributeError(f"module 'credo.cli' has no attribute {name!r}")
