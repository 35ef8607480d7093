"""The Credo furnishing format, version 1.0 (documented in docs/furnishing.md).

This module is the single source of truth for record types, fields and enumerations; the
validator, the CSV header check, the synthetic generator's tests and the docs agree with it.
"""

from __future__ import annotations

from credo.account.models import AccountStatus, AccountType
from credo.inquiry.models import InquiryKind
from credo.public_record.models import PublicRecordKind
from credo.subject.models import IdType, SubjectType

FORMAT_NAME = "credo-furnishing"
FORMAT_VERSION = "1.0"
SUPPORTED_VERSIONS = frozenset({"1.0"})

PURPOSES = (
    "loan_approval",
    "credit_card_approval",
    "post_loan_management",
    "guarantee_review",
    "insurance_underwriting",
    "marketplace_risk",
    "self_query",
    "prescreen",
    "marketing",
)

#: record type -> (required fields, optional fields); `record_type` itself is implied
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "subject": (
        ("subject_type", "id_type", "id_number", "name"),
        ("birth_date", "phone", "address", "gender", "region"),
    ),
    "account": (
        ("account_ref", "id_type", "id_number", "account_type", "opened_on", "currency", "status"),
        ("closed_on", "credit_limit", "principal", "term_months", "subject_notified_on"),
    ),
    "status": (
        ("account_ref", "period", "balance", "amount_due", "amount_paid", "days_past_due"),
        ("subject_notified_on",),
    ),
    "public_record": (
        ("id_type", "id_number", "kind", "authority", "case_ref", "filed_on"),
        ("amount", "currency", "resolved_on", "subject_notified_on"),
    ),
    "inquiry": (
        ("id_type", "id_number", "inquired_on", "purpose", "kind"),
        ("inquiry_ref",),
    ),
}

RECORD_TYPES = tuple(FIELDS)
HEADER_FIELDS = ("record_type", "format", "format_version", "institution", "as_of")

ENUMS: dict[str, tuple[str, ...]] = {
    "subject_type": tuple(SubjectType),
    "id_type": tuple(IdType),
    "account_type": tuple(AccountType),
    "status": tuple(AccountStatus),
    "kind:public_record": tuple(PublicRecordKind),
    "kind:inquiry": tuple(InquiryKind),
    "purpose": PURPOSES,
    "gender": ("M", "F"),
}


def csv_columns() -> list[str]:
    """Every column a CSV furnishing file may have, `record_type` first."""
    cols = ["record_type"]
    for required, optional in FIELDS.values():
        for name in (*required, *optional):
            if name not in cols:
                cols.append(name)
    return cols


ALL_FIELDS = frozenset(csv_columns())
