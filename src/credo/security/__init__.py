"""Field encryption, blind indexes and key management."""

from __future__ import annotations

from functools import lru_cache

from credo.config import Settings, get_settings
from credo.security.keys import (
    KeyGeneration,
    KeyRing,
    decode_secret,
    new_secret,
    read_key_file,
    write_key_file,
)

__all__ = ["KeyGeneration", "KeyRing", "get_keyring", "load_keyring"]


def load_keyring(settings: Settings) -> KeyRing:
    """Build the key ring from ``CREDO_SECRET_KEY`` or the key file (created on first use)."""
    if settings.secret_key is not None:
        current = decode_secret(settings.secret_key.get_secret_value())
        prev_text = (
            settings.previous_secret_keys.get_secret_value()
            if settings.previous_secret_keys
            else ""
        )
        previous = [decode_secret(p) for p in prev_text.split(",") if p.strip()]
        return KeyRing.from_secrets(current, previous)
    path = settings.resolved_key_file
    if not path.exists():
        write_key_file(path, new_secret(), [])
    current, previous = read_key_file(path)
    return KeyRing.from_secrets(current, previous)


@lru_cache
def get_keyring() -> KeyRing:
    """The process-wide key ring."""
    return load_keyring(get_settings())
