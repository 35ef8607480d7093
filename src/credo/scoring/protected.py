"""Protected attributes: columns a model may never use (fairness section only).

A column is protected when its normalised name (lower case, every run of other characters turned
into ``_``) equals one of the *exact* terms, or when one of its name tokens is a *token* term.
Token terms are words that mean nothing but a protected attribute wherever they appear
(``personal.status.and.sex`` is protected through ``sex``); ``age`` is an exact term only, because
``age_of_oldest_account_months`` is a legitimate length-of-history feature.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: the protected attributes of the SPEC, as exact column names
DEFAULT_EXACT = frozenset(
    {
        "gender", "sex", "age", "age_years", "age_in_years", "birth_date", "date_of_birth",
        "dob", "birth_year", "region", "region_code", "province", "ethnicity", "ethnic_group",
        "race", "nation", "nationality", "religion", "marital_status", "marital", "married",
        "marriage", "marriage_status",
    }
)  # fmt: skip
#: words that make any column protected wherever they appear in its name
DEFAULT_TOKENS = frozenset(
    {"gender", "sex", "ethnicity", "ethnic", "race", "religion", "religious", "marital", "marriage"}
)

_SPLIT = re.compile(r"[^0-9a-z]+")


def normalise_column(name: object) -> str:
    """``"Personal.Status and Sex"`` -> ``"personal_status_and_sex"``."""
    return _SPLIT.sub("_", str(name).strip().lower()).strip("_")


@dataclass(frozen=True)
class ProtectedPolicy:
    """Which column names count as protected attributes."""

    exact: frozenset[str] = DEFAULT_EXACT
    tokens: frozenset[str] = DEFAULT_TOKENS

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ProtectedPolicy:
        """A policy of exactly these names (each also a token term when it is one word)."""
        norm = frozenset(normalise_column(n) for n in names)
        return cls(exact=norm, tokens=frozenset(n for n in norm if "_" not in n and n != "age"))

    def match(self, column: object) -> str | None:
        """The protected term `column` falls under, or None."""
        norm = normalise_column(column)
        if norm in self.exact:
            return norm
        for token in norm.split("_"):
            if token in self.tokens:
                return token
        return None

    def find(self, columns: Iterable[object]) -> list[tuple[str, str]]:
        """(column, term) for every protected column among `columns`."""
        return [(str(c), t) for c in columns if (t := self.match(c)) is not None]

    def refuse(self, columns: Iterable[object], what: str, advice: str) -> None:
        """Raise `ProtectedAttributeError` naming the first protected column, if any."""
        found = self.find(columns)
        if found:
            col, term = found[0]
            raise ProtectedAttributeError(
                f"{what} {col!r} is a protected attribute ({term}); {advice}"
            )


DEFAULT_POLICY = ProtectedPolicy()


class ProtectedAttributeError(ValueError):
    """A model was asked to learn from a protected attribute."""
