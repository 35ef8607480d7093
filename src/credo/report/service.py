"""Serving credit reports: load the snapshot, assemble, and log the read.

The assembled document is not validated against the published schema on every request (that
cost 1.4 ms of CPU for a 24 kB report, a quarter of a served JSON report): the assembly is a pure
function whose output the tests check against the schema (`credo.report.schema.validate`) for
every viewer and language, as of now and as of a past date, on hand-built files with every kind
of mark and on every subject of a synthetic bureau, on both backends.

Every report served is one audit-ledger entry (``report.serve``, target ``subject:<ref>``) with
the report id, viewer, querying institution, purpose, as-of date, language and format -- never
a name or identifier. Errors never echo what was asked for in clear: a reference that is not on
file is shown masked, in case someone typed an identity number into it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.config import get_settings
from credo.core.masking import mask_id, shown
from credo.errors import Invalid, NotFound
from credo.furnishing.format import PURPOSES
from credo.institution.models import Institution
from credo.report.assemble import assemble
from credo.report.snapshot import InstitutionData, Viewer, load_snapshot
from credo.rights.controls import Flags
from credo.security import get_keyring
from credo.security.keys import KeyRing
from credo.subject.models import Subject

#: reasons bureau staff give for opening a report (征信业管理条例 Art. 22: who, when, why)
STAFF_PURPOSES = ("dispute_review", "data_quality", "customer_service")
FORMATS = ("json", "html", "pdf")


def subject_id_by_ref(session: Session, ref: str) -> int:
    """The subject id behind an opaque reference; NotFound shows the reference masked only."""
    ref = (ref or "").strip()
    sid = session.scalar(select(Subject.id).where(Subject.ref == ref))
    if sid is None:
        raise NotFound(f"no subject with reference {mask_id(ref)}")
    return sid


def _check(
    session: Session,
    viewer: Viewer,
    institution: str | None,
    purpose: str | None,
    querier: InstitutionData | None = None,
) -> tuple[InstitutionData | None, str | None]:
    if querier is not None:
        if institution is not None and institution.strip() != querier.code:
            raise Invalid(f"institution {shown(institution.strip())} is not the querier given")
    elif institution is not None:
        inst = session.scalar(select(Institution).where(Institution.code == institution.strip()))
        if inst is None:
            raise NotFound(f"institution {shown(institution.strip())} is not registered")
        querier = InstitutionData(inst.code, inst.name, inst.kind.value)
    if viewer is Viewer.institution:
        if querier is None or purpose is None:
            raise Invalid("an institution's report needs the querying institution and a purpose")
        if purpose not in PURPOSES or purpose == "self_query":
            allowed = ", ".join(p for p in PURPOSES if p != "self_query")
            raise Invalid(f"purpose must be one of {allowed}; got {shown(purpose)}")
    elif viewer is Viewer.subject:
        purpose = purpose or "self_query"
        if purpose != "self_query":
            raise Invalid(f"a subject's own report is a self_query; got {shown(purpose)}")
    elif purpose is not None and purpose not in (*STAFF_PURPOSES, *PURPOSES):
        allowed = ", ".join(STAFF_PURPOSES)
        raise Invalid(f"purpose must be one of {allowed}; got {shown(purpose)}")
    return querier, purpose


def build_report(
    session: Session,
    subject_ref: str,
    *,
    viewer: Viewer | str,
    institution: str | None = None,
    purpose: str | None = None,
    as_of: date | None = None,
    lang: str = "zh",
    actor: str,
    format: str = "json",
    keyring: KeyRing | None = None,
    now: datetime | None = None,
    report_id: str | None = None,
    subject_id: int | None = None,
    querier: InstitutionData | None = None,
    flags_now: Flags | None = None,
) -> dict:
    """Load and assemble one subject's report, and log it in the audit ledger.

    `report_id` defaults to a fresh random id; the API passes the authorised query's id so the
    report, the inquiry and both ledger entries share one reference. An authorised query also
    passes what it has read already: the subject's id (for `subject_ref`), the querying
    institution (for `institution`) and the subject's flags at `now`.
    """
    try:
        viewer = Viewer(viewer)
    except ValueError:
        names = ", ".join(v.value for v in Viewer)
        raise Invalid(f"viewer must be one of {names}; got {shown(viewer)}") from None
    if lang not in ("zh", "en"):
        raise Invalid(f"lang must be zh or en; got {shown(lang)}")
    if format not in FORMATS:
        raise Invalid(f"format must be json, html or pdf; got {shown(format)}")
    # the full clock for what was on file (a dispute filed this second counts); the report
    # shows its generation time to the second
    now = now or datetime.now(UTC)
    if as_of is not None and as_of > now.date():
        raise Invalid(f"as-of date {as_of} is in the future")
    querier, purpose = _check(session, viewer, institution, purpose, querier)
    sid = subject_id if subject_id is not None else subject_id_by_ref(session, subject_ref)
    snap = load_snapshot(
        session,
        sid,
        as_of=as_of,
        keyring=keyring or get_keyring(),
        viewer=viewer,
        inquiry_years=get_settings().jurisdiction.inquiry_disclosure_years,
        now=now,
        flags_now=flags_now,
    )
    report_id = report_id or uuid.uuid4().hex
    report = assemble(
        snap,
        viewer=viewer,
        institution=querier,
        purpose=purpose,
        report_id=report_id,
        generated_at=now.replace(microsecond=0),
        lang=lang,
    )
    audit.record(
        session,
        actor=actor,
        action="report.serve",
        target=f"subject:{snap.identity.ref}",
        details={
            "report_id": report_id,
            "viewer": viewer.value,
            "institution": querier.code if querier else None,
            "purpose": purpose,
            "as_of": snap.as_of.isoformat(),
            "historical": snap.historical,
            "lang": lang,
            "format": format,
        },
    )
    return report
