"""Who the synthetic subjects are: identity, contact data and latent risk.

Every subject carries a latent risk ``z ~ N(0, 1)``, read by the account simulation in
:mod:`credo.synth.story`. Identity (name, region, gender, age) is drawn independently of ``z``,
so no protected attribute predicts risk in the synthetic data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from credo.core.checksums import make_prc_id, make_uscc
from credo.synth.reference import (
    COMPANY_WORDS,
    GIVEN_CHARS,
    INDUSTRIES,
    LATIN_GIVEN,
    LATIN_SURNAMES,
    MOBILE_PREFIXES,
    PINYIN,
    REGIONS,
    STREETS,
    SURNAMES,
    Region,
)

__all__ = [
    "IdRegistry",
    "Subject",
    "fresh_enterprise",
    "fresh_person",
    "make_subject",
    "subject_row",
]

_BIRTH_FIRST = date(1960, 1, 1)
_BIRTH_SPAN = (date(2004, 12, 31) - _BIRTH_FIRST).days
_ENTERPRISE_SHARE = 0.15
_PASSPORT_SHARE = 0.03
_PINYIN_SHARE = 0.05
_PINYIN_GIVEN = ("Wei", "Fang", "Min", "Jing", "Lei", "Jun", "Yang", "Jie", "Tao", "Ming", "Hui")


@dataclass(slots=True)
class Subject:
    """One synthetic person or enterprise and its latent risk ``z``."""

    index: int
    subject_type: str  # person | enterprise
    id_type: str  # prc_id | uscc | passport
    id_number: str
    name: str
    birth_date: date | None
    gender: str | None
    region: Region
    phones: tuple[str, ...]
    address: str
    z: float


class IdRegistry:
    """Hands out identifiers that are unique within one run (a set of strings; ids only)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def prc_id(self, rng: random.Random, region: str, birth: date, gender: str) -> str:
        while True:
            # The 17th digit is odd for men and even for women (GB 11643).
            seq = rng.randrange(0, 500) * 2 + (1 if gender == "M" else 0)
            number = make_prc_id(region, birth, seq)
            if number not in self.used:
                self.used.add(number)
                return number

    def uscc(self, rng: random.Random) -> str:
        while True:
            number = make_uscc(rng)
            if number not in self.used:
                self.used.add(number)
                return number

    def passport(self, rng: random.Random) -> str:
        while True:
            number = rng.choice("EGP") + f"{rng.randrange(10**8):08d}"
            if number not in self.used:
                self.used.add(number)
                return number


def _mobile(rng: random.Random) -> str:
    return f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def _person_name(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES)
    given = rng.choice(GIVEN_CHARS) + (rng.choice(GIVEN_CHARS) if rng.random() < 0.7 else "")
    if rng.random() < _PINYIN_SHARE:
        # A romanised name as some online lenders store it; the Chinese form is not kept.
        return f"{PINYIN[surname]} {rng.choice(_PINYIN_GIVEN)}"
    return surname + given


def _address(rng: random.Random, region: Region) -> str:
    return (
        f"{region.city}{region.district}{rng.choice(STREETS)}{rng.randint(1, 999)}号"
        f"{rng.randint(1, 30)}栋{rng.randint(101, 2808)}室"
    )


def fresh_person(rng: random.Random, ids: IdRegistry, index: int, z: float = 0.0) -> Subject:
    """A person with a PRC resident id (also used for standalone defect rows)."""
    region = rng.choice(REGIONS)
    birth = _BIRTH_FIRST + timedelta(days=rng.randrange(_BIRTH_SPAN + 1))
    gender = "M" if rng.random() < 0.5 else "F"
    phones = (_mobile(rng),) if rng.random() < 0.7 else (_mobile(rng), _mobile(rng))
    return Subject(
        index=index,
        subject_type="person",
        id_type="prc_id",
        id_number=ids.prc_id(rng, region.code, birth, gender),
        name=_person_name(rng),
        birth_date=birth,
        gender=gender,
        region=region,
        phones=phones,
        address=_address(rng, region),
        z=z,
    )


def fresh_enterprise(rng: random.Random, ids: IdRegistry, index: int, z: float = 0.0) -> Subject:
    """A company registered with the market regulator, identified by its USCC."""
    region = rng.choice(REGIONS)
    name = (
        f"{region.city}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS)}"
        f"{rng.choice(INDUSTRIES)}有限公司"
    )
    return Subject(
        index=index,
        subject_type="enterprise",
        id_type="uscc",
        id_number=ids.uscc(rng),
        name=name,
        birth_date=None,
        gender=None,
        region=region,
        phones=(_mobile(rng),),
        address=_address(rng, region),
        z=z,
    )


def make_subject(rng: random.Random, ids: IdRegistry, index: int) -> Subject:
    """Draw the next subject: ~85% persons (a few on passports), ~15% enterprises."""
    z = rng.gauss(0.0, 1.0)
    if rng.random() < _ENTERPRISE_SHARE:
        return fresh_enterprise(rng, ids, index, z)
    subject = fresh_person(rng, ids, index, z)
    if rng.random() < _PASSPORT_SHARE:
        # A foreign resident: passport, Latin name, no checksum to validate.
        subject.id_type = "passport"
        subject.id_number = ids.passport(rng)
        subject.name = f"{rng.choice(LATIN_GIVEN)} {rng.choice(LATIN_SURNAMES)}"
    return subject


def subject_row(subject: Subject, rng: random.Random) -> dict:
    """The subject record one furnisher sends: same identity, its own phone and address.

    Furnishers know the same person by slightly different contact data (another of the
    subject's phones, an address written without the flat number); that is realistic and not
    an identity conflict.
    """
    row: dict = {
        "record_type": "subject",
        "subject_type": subject.subject_type,
        "id_type": subject.id_type,
        "id_number": subject.id_number,
        "name": subject.name,
    }
    if subject.birth_date is not None:
        row["birth_date"] = subject.birth_date.isoformat()
    row["phone"] = subject.phones[0] if len(subject.phones) == 1 else rng.choice(subject.phones)
    address = subject.address
    if rng.random() < 0.2:
        address = address.split("号", 1)[0] + "号"
    row["address"] = address
    if subject.gender is not None and rng.random() < 0.8:
        row["gender"] = subject.gender
    row["region"] = subject.region.code
    return row
