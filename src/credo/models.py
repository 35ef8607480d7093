"""Import every table so that `Base.metadata` is complete (Alembic, tests)."""

from credo.access.models import ApiKey, Consent
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit.models import AuditCheckpoint, AuditEntry
from credo.db import Base
from credo.furnishing.models import FurnishingBatch, QuarantinedRow
from credo.inquiry.models import Inquiry
from credo.institution.models import Institution
from credo.notify.models import Notification
from credo.public_record.models import PublicRecord
from credo.rights.models import (
    Dispute,
    DisputeEvent,
    FileFlag,
    OptOut,
    PersonalStatement,
)
from credo.scoring.models import ModelVersion, SubjectScore
from credo.security.models import KeyState
from credo.subject.models import IdentityReview, Subject, SubjectInfo

__all__ = [
    "Account",
    "AccountVersion",
    "ApiKey",
    "AuditCheckpoint",
    "AuditEntry",
    "Base",
    "Consent",
    "Dispute",
    "DisputeEvent",
    "FileFlag",
    "FurnishingBatch",
    "IdentityReview",
    "Inquiry",
    "Institution",
    "KeyState",
    "ModelVersion",
    "Notification",
    "OptOut",
    "PersonalStatement",
    "PublicRecord",
    "QuarantinedRow",
    "StatusRecord",
    "Subject",
    "SubjectInfo",
    "SubjectScore",
]
