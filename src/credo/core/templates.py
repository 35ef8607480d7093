"""The Jinja2 environment every rendered page uses: autoescaped, strict, tidy whitespace."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import jinja2


@cache
def _environment(folder: Path, filters: tuple[tuple[str, Callable], ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filters)
    return env


def environment(folder: Path, **filters: Callable) -> jinja2.Environment:
    """The environment for the templates in `folder` with these filters (built once)."""
    return _environment(folder, tuple(sorted(filters.items())))
