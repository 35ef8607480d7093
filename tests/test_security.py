"""Field encryption, key rotation, blind indexes, key loading, and no plaintext at rest."""

from __future__ import annotations

import base64
import stat
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from credo.config import get_settings
from credo.db import make_engine
from credo.errors import IntegrityError
from credo.migrate import upgrade
from credo.security import load_keyring
from credo.security.keys import KeyRing, decode_secret, encode_secret, new_secret
from credo.subject.models import Subject
from furnishing.bureau import (
    SMALL_BUREAU_SECRETS,
    ZHANG_ID,
    add_institution,
    person,
    run,
    small_bureau,
    write_jsonl,
)

OLD_SECRET = bytes(range(32))
NEW_SECRET = bytes(range(100, 132))
BAD_ID = ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1")


def test_encryption_round_trip(keyring):
    for plain in ["张三", ZHANG_ID, "", "a" * 10_000, "😀 emoji"]:
        blob = keyring.encrypt(plain, column="subject.name")
        assert keyring.decrypt(blob, column="subject.name") == plain
        assert plain.encode() not in blob or plain == ""


def test_same_value_encrypts_differently_each_time(keyring):
    a = keyring.encrypt(ZHANG_ID, column="subject.id_number")
    b = keyring.encrypt(ZHANG_ID, column="subject.id_number")
    assert a != b


@pytest.mark.parametrize("position", [0, 1, 5, 20, -1])
def test_tampered_ciphertext_fails(keyring, position):
    blob = bytearray(keyring.encrypt("张三", column="subject.name"))
    blob[position] ^= 0x01
    with pytest.raises(IntegrityError):
        keyring.decrypt(bytes(blob), column="subject.name")


def test_truncated_or_empty_ciphertext_fails(keyring):
    blob = keyring.encrypt("张三", column="subject.name")
    for bad in (b"", blob[:10], b"\x02" + blob[1:]):
        with pytest.raises(IntegrityError, match=r"subject\.name"):
            keyring.decrypt(bad, column="subject.name")


def test_ciphertext_moved_to_another_column_fails(keyring):
    blob = keyring.encrypt("张三", column="subject.name")
    with pytest.raises(IntegrityError, match="failed authentication"):
        keyring.decrypt(blob, column="subject_info.name")


def test_key_rotation_keeps_old_values_readable():
    old = KeyRing.from_secrets(OLD_SECRET)
    blob = old.encrypt("张三", column="subject.name")
    rotated = KeyRing.from_secrets(NEW_SECRET, [OLD_SECRET])
    assert rotated.current.kid != old.current.kid
    assert KeyRing.kid_of(blob) == old.current.kid
    assert rotated.decrypt(blob, column="subject.name") == "张三"
    fresh = rotated.encrypt("张三", column="subject.name")
    assert KeyRing.kid_of(fresh) == rotated.current.kid
    # without the old secret the old value is unreadable, with a clear message
    with pytest.raises(IntegrityError, match=f"key {old.current.kid} is not available"):
        KeyRing.from_secrets(NEW_SECRET).decrypt(blob, column="subject.name")
    # blind indexes built under the old key can still be computed by kid
    assert rotated.blind_index("x", purpose="p", kid=old.current.kid) == old.blind_index(
        "x", purpose="p"
    )


def test_blind_index_is_stable_keyed_and_purpose_separated():
    a, b = KeyRing.from_secrets(OLD_SECRET), KeyRing.from_secrets(OLD_SECRET)
    other = KeyRing.from_secrets(NEW_SECRET)
    idx = a.blind_index(ZHANG_ID, purpose="subject-id")
    assert idx == b.blind_index(ZHANG_ID, purpose="subject-id")
    assert len(idx) == 64 and ZHANG_ID not in idx
    assert idx != other.blind_index(ZHANG_ID, purpose="subject-id")
    assert idx != a.blind_index(ZHANG_ID, purpose="phone")


def test_key_file_is_created_with_owner_only_permissions(tmp_path):
    settings = get_settings()
    path = settings.resolved_key_file
    assert not path.exists()
    ring = load_keyring(settings)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the same file gives the same keys next time
    again = load_keyring(settings)
    assert again.current.kid == ring.current.kid
    assert again.blind_index("x", purpose="p") == ring.blind_index("x", purpose="p")


def test_secret_key_from_the_environment(monkeypatch):
    secret = new_secret()
    monkeypatch.setenv("CREDO_SECRET_KEY", encode_secret(secret))
    monkeypatch.setenv("CREDO_PREVIOUS_SECRET_KEYS", encode_secret(OLD_SECRET))
    get_settings.cache_clear()
    settings = get_settings()
    ring = load_keyring(settings)
    assert ring.current.kid == KeyRing.from_secrets(secret).current.kid
    assert KeyRing.from_secrets(OLD_SECRET).current.kid in ring.generations
    assert not settings.resolved_key_file.exists()  # no key file when the env var is set
    # standard base64 works as well as urlsafe
    assert decode_secret(base64.b64encode(secret).decode()) == secret


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (base64.b64encode(bytes(16)).decode(), "must decode to 32 bytes; got 16"),
        (base64.b64encode(bytes(33)).decode(), "must decode to 32 bytes; got 33"),
        ("", "must decode to 32 bytes; got 0"),
        ("abc", "secret key"),
    ],
)
def test_secret_key_must_decode_to_32_bytes(monkeypatch, value, words):
    monkeypatch.setenv("CREDO_SECRET_KEY", value)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match=words):
        load_keyring(get_settings())


def test_secret_key_error_does_not_echo_the_key(monkeypatch):
    value = base64.b64encode(b"s3cr3t-material-16").decode()
    monkeypatch.setenv("CREDO_SECRET_KEY", value)
    get_settings.cache_clear()
    with pytest.raises(ValueError) as exc:
        load_keyring(get_settings())
    assert value not in str(exc.value)


def test_unreadable_key_file(tmp_path):
    settings = get_settings()
    settings.resolved_key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.resolved_key_file.write_text("{not json")
    with pytest.raises(ValueError, match="is unreadable"):
        load_keyring(settings)


# -- no plaintext at rest -----------------------------------------------------------------


def _needles() -> list[bytes]:
    texts = [*SMALL_BUREAU_SECRETS, "张叁", "赵六", BAD_ID]
    return sorted({t.encode(enc) for t in texts for enc in ("utf-8", "utf-16-le")})


def test_database_file_contains_no_plaintext_identifier_name_phone_or_address(
    tmp_path, keyring, cn
):
    db = tmp_path / "scan.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    rows = [
        *small_bureau(),
        person(name="张叁"),  # identity conflict: furnished name kept (encrypted) for review
        person("ZZ9", "赵六", date(1970, 1, 1), id_type="passport"),  # bad passport: quarantined
        {**person(BAD_ID), "address": "上海市浦东新区世纪大道100号"},
    ]
    with Session(engine) as session:
        add_institution(session)
        report = run(session, write_jsonl(tmp_path / "in.jsonl", rows), keyring, cn)
        session.commit()
        assert report.accepted == 15 and report.flagged == 1 and report.rejected == 2
        # the data really is there, encrypted
        subj = session.scalars(select(Subject)).first()
        assert keyring.decrypt(subj.name_enc, column="subject.name")
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("scan.db")]
    blob = b"".join(p.read_bytes() for p in files)
    assert len(blob) > 10_000
    assert b"BANK_A" in blob  # the scan can find plaintext that is stored
    for needle in _needles():
        assert needle not in blob, needle.decode("utf-8", "replace")
