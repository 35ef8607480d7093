"""Pure access rules: which inquiries are hard, whether a consent covers a query, parsing.

No session here: the services load the rows and call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from credo.access.models import Purpose, Role, Scope
from credo.errors import Invalid
from credo.inquiry.models import InquiryKind

#: The inquiry each purpose writes. Hard inquiries are applications for a new obligation the
#: subject asked for; they count in the new-credit features (``hard_inquiries_*``). Soft ones
#: are looks at an existing relationship or by the subject, and never lower a score.
INQUIRY_KIND: dict[Purpose, InquiryKind] = {
    Purpose.loan_approval: InquiryKind.hard,
    Purpose.credit_card_approval: InquiryKind.hard,
    # a guarantor takes on a contingent liability: a new credit decision about them
    Purpose.guarantee_review: InquiryKind.hard,
    # credit insurance and surety bonds underwritten on the subject's application
    Purpose.insurance_underwriting: InquiryKind.hard,
    # a marketplace checking a buyer or seller for deposits and trade limits: no credit is
    # applied for, and counting it would mark down people merely for trading
    Purpose.marketplace_risk: InquiryKind.soft,
    Purpose.post_loan_management: InquiryKind.soft,
    Purpose.self_query: InquiryKind.soft,
    # offers the subject did not apply for: a look that must never lower their score
    Purpose.prescreen: InquiryKind.soft,
    Purpose.marketing: InquiryKind.soft,
}

#: purposes no institution may query for under a profile's law: PIPL and the Credit Reporting
#: Regulation allow a credit file to be used only for credit decisions and risk management
UNLAWFUL_PURPOSES: dict[str, frozenset[Purpose]] = {
    "cn": frozenset({Purpose.marketing}),
    "us": frozenset(),
}

#: the subject's opt-out (`credo.rights.models.OptOutUse` value) that bars a purpose
OPT_OUT_OF: dict[Purpose, str] = {
    Purpose.prescreen: "prescreen",
    Purpose.marketing: "marketing",
}


def inquiry_kind(purpose: Purpose) -> InquiryKind:
    """Hard or soft, for a query made for `purpose`."""
    return INQUIRY_KIND[purpose]


def _choice(enum_cls, value: object, what: str):
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(enum_cls)
        raise Invalid(f"unknown {what} {value!r}; expected one of {allowed}") from None


def parse_purpose(value: object) -> Purpose:
    """`value` as a `Purpose`, or Invalid listing the allowed ones."""
    return _choice(Purpose, value, "purpose")


def parse_scope(value: object) -> Scope:
    """`value` as a `Scope`, or Invalid listing the allowed ones."""
    return _choice(Scope, value, "scope")


def parse_roles(values: object) -> frozenset[Role]:
    """A non-empty set of roles, or Invalid naming the unknown one."""
    if isinstance(values, str):
        values = [values]
    roles = frozenset(_choice(Role, v, "role") for v in values or ())
    if not roles:
        raise Invalid(f"give at least one role: {', '.join(Role)}")
    return roles


def covers(granted: Scope, asked: Scope) -> bool:
    """Whether a consent of scope `granted` covers a query for `asked`."""
    return granted is Scope.both or granted is asked


def _scope_words(scope: Scope) -> str:
    return "the report and the score" if scope is Scope.both else f"the {scope.value}"


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """What `consent_problem` needs to know about one consent row."""

    ref: str
    subject_id: int
    institution_id: int
    purpose: Purpose
    scope: Scope
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a consent does not allow a query: a machine code and words for the institution."""

    reason: str
    message: str


def consent_problem(
    c: ConsentFacts,
    *,
    subject_id: int,
    institution_id: int,
    institution_code: str,
    purpose: Purpose,
    scope: Scope,
    at: datetime,
) -> Refusal | None:
    """None when consent `c` allows this query at `at`, otherwise the first thing missing.

    Messages name the consent ref, purposes, scopes and dates, never the subject. A consent of
    another institution reads exactly like an unknown ref, so that refs cannot be probed.
    """
    if c.institution_id != institution_id:
        return not_on_file(c.ref, institution_code)
    if c.subject_id != subject_id:
        return Refusal(
            "other_subject",
            f"consent {c.ref} was given by another subject, not the one identified in this query",
        )
    if c.purpose is not purpose:
        return Refusal(
            "other_purpose", f"consent {c.ref} is for {c.purpose.value}, not {purpose.value}"
        )
    if not covers(c.scope, scope):
        return Refusal(
            "scope",
            f"consent {c.ref} covers {_scope_words(c.scope)} only, not {_scope_words(scope)}",
        )
    if c.granted_at > at:
        return Refusal("not_yet_valid", f"consent {c.ref} takes effect on {c.granted_at:%Y-%m-%d}")
    if c.revoked_at is not None and c.revoked_at <= at:
        return Refusal("revoked", f"consent {c.ref} was revoked on {c.revoked_at:%Y-%m-%d}")
    if c.expires_at <= at:
        return Refusal("expired", f"consent {c.ref} expired on {c.expires_at:%Y-%m-%d}")
    return None


def unlawful_purpose(purpose: Purpose, profile_code: str) -> Refusal | None:
    """The refusal of a purpose the profile's law does not allow for anyone, else None."""
    if purpose in UNLAWFUL_PURPOSES.get(profile_code, frozenset()):
        return Refusal(
            "purpose_not_lawful",
            f"{purpose.value} is not a lawful purpose for querying a credit file in the "
            f"{profile_code} profile",
        )
    return None


def frozen_file(purpose: Purpose) -> Refusal:
    """The refusal of a new hard inquiry on a file its subject froze."""
    return Refusal(
        "file_frozen",
        f"the subject has frozen their credit file: new hard inquiries ({purpose.value}) are "
        "refused until the subject lifts the freeze",
    )


def opted_out(purpose: Purpose) -> Refusal:
    """The refusal of a query for a use the subject opted out of."""
    return Refusal(
        "opted_out", f"the subject has opted out of {OPT_OUT_OF[purpose]} uses of their file"
    )


def not_on_file(ref: str, institution_code: str) -> Refusal:
    """The refusal for a consent ref that is unknown or belongs to another institution."""
    return Refusal("no_consent", f"no consent {ref} given to institution {institution_code}")
