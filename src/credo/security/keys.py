"""Master secrets, derived keys, field encryption and blind indexes.

Every master secret (32 random bytes) yields, through HKDF-SHA256, three independent keys: an
AES-256-GCM data key, an HMAC-SHA256 blind-index key and an HMAC-SHA256 ledger key. A key id
(``kid``, 8 hex characters) is derived from the secret itself and stored with every value it
protects, so that several generations can coexist while ``credo keys rotate`` re-encrypts.

Ciphertext layout (bytes): ``0x01 | kid (4) | nonce (12) | AES-GCM ciphertext + tag (16)``.
The column name is bound as associated data, so a value copied into another column fails to
decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credo.errors import IntegrityError

FORMAT_VERSION = 1
_NONCE = 12


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"credo-v1", info=info).derive(secret)


def decode_secret(text: str) -> bytes:
    """Decode a base64 (standard or urlsafe) master secret of exactly 32 bytes."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        raise ValueError("secret key is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"secret key must decode to 32 bytes; got {len(raw)}")
    return raw


def encode_secret(raw: bytes) -> str:
    """Encode a master secret as urlsafe base64."""
    return base64.urlsafe_b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class KeyGeneration:
    """The keys derived from one master secret."""

    kid: str
    data_key: bytes = field(repr=False)
    index_key: bytes = field(repr=False)
    ledger_key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyGeneration:
        if len(secret) != 32:
            raise ValueError(f"master secret must be 32 bytes; got {len(secret)}")
        kid = hashlib.sha256(b"credo-kid" + secret).hexdigest()[:8]
        return cls(
            kid=kid,
            data_key=_hkdf(secret, b"credo/aes-256-gcm/v1"),
            index_key=_hkdf(secret, b"credo/blind-index/v1"),
            ledger_key=_hkdf(secret, b"credo/ledger/v1"),
        )


class KeyRing:
    """The current key generation plus older ones kept for decryption during rotation."""

    def __init__(self, current: KeyGeneration, previous: list[KeyGeneration] | None = None):
        self.current = current
        self.generations = {g.kid: g for g in [*(previous or []), current]}
        self._aead = {kid: AESGCM(g.data_key) for kid, g in self.generations.items()}
        #: the generation whose index key built the stored blind indexes (None: current).
        #: Set from the database by `credo.security.service.bind_index_key`, so switching the
        #: secret does not break lookups before `credo keys rotate` has re-indexed.
        self.index_kid: str | None = None

    @classmethod
    def from_secrets(cls, current: bytes, previous: list[bytes] | None = None) -> KeyRing:
        return cls(
            KeyGeneration.from_secret(current),
            [KeyGeneration.from_secret(s) for s in previous or []],
        )

    def generation(self, kid: str) -> KeyGeneration:
        """The key generation with id `kid`; raises if it is not in the ring."""
        try:
            return self.generations[kid]
        except KeyError:
            raise IntegrityError(
                f"key {kid} is not available; add its secret to CREDO_PREVIOUS_SECRET_KEYS"
            ) from None

    # -- field encryption -------------------------------------------------------------
    def encrypt(self, plaintext: str, *, column: str) -> bytes:
        """Encrypt `plaintext` with the current key, binding `column` as associated data."""
        nonce = os.urandom(_NONCE)
        kid = bytes.fromhex(self.current.kid)
        ct = self._aead[self.current.kid].encrypt(nonce, plaintext.encode(), column.encode())
        return bytes([FORMAT_VERSION]) + kid + nonce + ct

    def decrypt(self, blob: bytes, *, column: str) -> str:
        """Decrypt a value produced by `encrypt` with whichever key id it carries."""
        if not blob or blob[0] != FORMAT_VERSION or len(blob) < 1 + 4 + _NONCE + 16:
            raise IntegrityError(f"encrypted value in {column} has an unknown layout")
        kid = blob[1:5].hex()
        aead = self._aead.get(kid) or AESGCM(self.generation(kid).data_key)
        try:
            return aead.decrypt(blob[5 : 5 + _NONCE], blob[5 + _NONCE :], column.encode()).decode()
        except InvalidTag:
            raise IntegrityError(f"encrypted value in {column} failed authentication") from None

    @staticmethod
    def kid_of(blob: bytes) -> str:
        """The key id an encrypted value was written with."""
        return blob[1:5].hex()

    # -- keyed hashes -----------------------------------------------------------------
    def blind_index(self, normalised: str, *, purpose: str, kid: str | None = None) -> str:
        """HMAC-SHA256 of a normalised value, hex; `purpose` separates index families."""
        kid = kid or self.index_kid
        key = self.generation(kid).index_key if kid else self.current.index_key
        msg = purpose.encode() + b"\x00" + normalised.encode()
        return hmac.new(key, msg, hashlib.sha256).hexdigest()

    def ledger_mac(self, message: bytes, *, kid: str | None = None) -> str:
        """HMAC-SHA256 used to sign audit checkpoints."""
        key = self.generation(kid).ledger_key if kid else self.current.ledger_key
        return hmac.new(key, message, hashlib.sha256).hexdigest()


def new_secret() -> bytes:
    """32 fresh random bytes for a master secret."""
    return secrets.token_bytes(32)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (mode 0600, also when it existed before): key
    files, and reports and exports that hold decrypted personal data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def write_key_file(path: Path, current: bytes, previous: list[bytes]) -> None:
    """Write a key file readable only by its owner (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(
        {"current": encode_secret(current), "previous": [encode_secret(p) for p in previous]},
        indent=2,
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    write_private(tmp, payload.encode())
    os.replace(tmp, path)


def read_key_file(path: Path) -> tuple[bytes, list[bytes]]:
    """Read a key file written by `write_key_file`."""
    try:
        data = json.loads(path.read_text())
        return decode_secret(data["current"]), [decode_secret(p) for p in data.get("previous", [])]
    except (OSError, KeyError, TypeError, json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"key file {path} is unreadable: {exc}") from None
