"""A subject's controls over their file: statement, freeze, fraud alert, opt-outs, export.

Every route answers about the caller's own file only (the subject access credential names it;
nothing in a path says whose). Changes go through `credo.rights.controls`, one ledger entry
each; a PUT that finds the state already in place changes nothing and answers 200 (201 when it
created something), so a retried request is harmless. Bad input is a 4xx problem document and
writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Path, Response

from credo.api.controls_schemas import (
    FraudAlertIn,
    FraudAlertState,
    FreezeOut,
    OptOutList,
    OptOutState,
    StatementIn,
    StatementOut,
)
from credo.api.deps import Context
from credo.api.problems import responses
from credo.api.routes.me import Me, record_read
from credo.db import utcnow
from credo.errors import NotFound
from credo.rights import controls
from credo.rights.export import export_subject
from credo.rights.models import FileFlag, OptOut, OptOutUse

router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])

#: personal data: no shared cache may keep a copy
_NO_STORE = {"Cache-Control": "no-store"}


def _created(response: Response, created: bool) -> None:
    response.status_code = 201 if created else 200
    response.headers.update(_NO_STORE)


# -- personal statement -------------------------------------------------------------------------
@router.put(
    "/statement",
    response_model=StatementOut,
    status_code=201,
    summary="Add or replace my statement",
    description=(
        "Your statement (本人声明), printed in your report as you wrote it: 1 to "
        "`statement_max_chars` characters (500 by default) after trimming spaces. It replaces "
        "the statement on file (kept in the history of your file download). 201 when you had "
        "none, 200 when it replaced one or is the same words. Too long or empty: 422 naming "
        "`text`, nothing changed."
    ),
    responses=responses(401, 422, 429),
)
def put_statement(body: StatementIn, ctx: Context, me: Me, response: Response) -> StatementOut:
    with ctx.transaction() as session:
        had = controls.current_statement(session, me.subject_id, keyring=ctx.keyring) is not None
        statement, _ = controls.set_statement(
            session, subject_ref=me.subject_ref, text=body.text, actor=me.actor,
            keyring=ctx.keyring, now=utcnow(), max_chars=ctx.settings.statement_max_chars,
        )  # fmt: skip
    _created(response, not had)
    return StatementOut(text=statement.text, added_at=statement.created_at)


@router.get(
    "/statement",
    response_model=StatementOut,
    summary="My statement",
    description="The statement on your file; 404 (reason `no_statement`) when there is none.",
    responses=responses(401, 404, 429),
)
def get_statement(ctx: Context, me: Me, response: Response) -> StatementOut:
    with ctx.transaction() as session:
        statement = controls.current_statement(session, me.subject_id, keyring=ctx.keyring)
        if statement is None:
            raise NotFound("there is no personal statement on this file", reason="no_statement")
        record_read(session, me, "statement.read")
    response.headers.update(_NO_STORE)
    return StatementOut(text=statement.text, added_at=statement.created_at)


@router.delete(
    "/statement",
    status_code=204,
    summary="Remove my statement",
    description="Reports no longer show it; 404 (reason `no_statement`) when there is none.",
    responses=responses(401, 404, 429),
)
def delete_statement(ctx: Context, me: Me) -> Response:
    with ctx.transaction() as session:
        controls.remove_statement(session, subject_ref=me.subject_ref, actor=me.actor, now=utcnow())
    return Response(status_code=204)


# -- freeze -------------------------------------------------------------------------------------
def _freeze(flag: FileFlag | None) -> FreezeOut:
    if flag is None:
        return FreezeOut(frozen=False)
    return FreezeOut(frozen=True, ref=flag.ref, placed_at=flag.placed_at)


@router.get(
    "/freeze",
    response_model=FreezeOut,
    summary="Is my file frozen",
    description="Whether your file is frozen, since when, and the freeze's reference.",
    responses=responses(401, 429),
)
def get_freeze(ctx: Context, me: Me, response: Response) -> FreezeOut:
    with ctx.transaction() as session:
        out = _freeze(controls.active_flags(session, me.subject_id, utcnow()).freeze)
        record_read(session, me, "freeze.read")
    response.headers.update(_NO_STORE)
    return out


@router.put(
    "/freeze",
    response_model=FreezeOut,
    status_code=201,
    summary="Freeze my file",
    description=(
        "From now on institutions' queries that would be a hard inquiry (applications for new "
        "credit: loan_approval, credit_card_approval, guarantee_review, "
        "insurance_underwriting) are refused with 403, reason `file_frozen`, until you lift "
        "the freeze. Soft queries (post-loan management of your existing accounts, your own "
        "report) still work. You get a `freeze.placed` notice. 201 when placed; 200 when your "
        "file is already frozen (nothing changes)."
    ),
    responses=responses(401, 429),
)
def put_freeze(ctx: Context, me: Me, response: Response) -> FreezeOut:
    with ctx.transaction() as session:
        change = controls.place_freeze(
            session, subject_ref=me.subject_ref, actor=me.actor, now=utcnow()
        )
    _created(response, change.created)
    return _freeze(change.row)


@router.delete(
    "/freeze",
    status_code=204,
    summary="Lift my freeze",
    description=(
        "Lifts the freeze at once: the next query is answered. You get a `freeze.lifted` "
        "notice. 404 (reason `no_freeze`) when your file is not frozen."
    ),
    responses=responses(401, 404, 429),
)
def delete_freeze(ctx: Context, me: Me) -> Response:
    with ctx.transaction() as session:
        controls.lift_freeze(session, subject_ref=me.subject_ref, actor=me.actor, now=utcnow())
    return Response(status_code=204)


# -- fraud alert --------------------------------------------------------------------------------
def _alert(flag: FileFlag | None) -> FraudAlertState:
    if flag is None:
        return FraudAlertState(active=False)
    return FraudAlertState(
        active=True, ref=flag.ref, placed_at=flag.placed_at, expires_at=flag.expires_at,
        extended=flag.identity_theft_report_sha256 is not None,
    )  # fmt: skip


@router.get(
    "/fraud-alert",
    response_model=FraudAlertState,
    summary="My fraud alert",
    description="Whether a fraud alert is in force on your file, and until when.",
    responses=responses(401, 429),
)
def get_fraud_alert(ctx: Context, me: Me, response: Response) -> FraudAlertState:
    with ctx.transaction() as session:
        out = _alert(controls.active_flags(session, me.subject_id, utcnow()).fraud_alert)
        record_read(session, me, "fraud_alert.read")
    response.headers.update(_NO_STORE)
    return out


@router.put(
    "/fraud-alert",
    response_model=FraudAlertState,
    status_code=201,
    summary="Place a fraud alert",
    description=(
        "Every report and score served about you carries the alert, telling lenders to confirm "
        "who is applying. It lasts 1 year, or 7 years when you give the SHA-256 of an "
        "identity-theft report. An alert in force is kept as it is (200), except that a report "
        "turns a 1-year alert into a 7-year one from now (201). You get a `fraud_alert.placed` "
        "notice."
    ),
    responses=responses(401, 422, 429),
)
def put_fraud_alert(
    ctx: Context,
    me: Me,
    response: Response,
    body: Annotated[FraudAlertIn | None, Body()] = None,
) -> FraudAlertState:
    report = body.identity_theft_report_sha256 if body is not None else None
    with ctx.transaction() as session:
        change = controls.place_fraud_alert(
            session, subject_ref=me.subject_ref, actor=me.actor,
            identity_theft_report_sha256=report, now=utcnow(),
        )  # fmt: skip
    _created(response, change.created)
    return _alert(change.row)


@router.delete(
    "/fraud-alert",
    status_code=204,
    summary="Remove my fraud alert",
    description="Removes it before it expires; 404 (reason `no_fraud_alert`) when none.",
    responses=responses(401, 404, 429),
)
def delete_fraud_alert(ctx: Context, me: Me) -> Response:
    with ctx.transaction() as session:
        controls.remove_fraud_alert(
            session, subject_ref=me.subject_ref, actor=me.actor, now=utcnow()
        )
    return Response(status_code=204)


# -- opt-outs -----------------------------------------------------------------------------------
UsePath = Annotated[OptOutUse, Path(description="prescreen or marketing")]


def _opt_out(use: OptOutUse, row: OptOut | None) -> OptOutState:
    since: datetime | None = row.created_at if row is not None else None
    return OptOutState(use=use.value, opted_out=row is not None, since=since)


@router.get(
    "/opt-outs",
    response_model=OptOutList,
    summary="My opt-outs",
    description="For prescreening and for marketing: whether you opted out, and since when.",
    responses=responses(401, 429),
)
def get_opt_outs(ctx: Context, me: Me, response: Response) -> OptOutList:
    with ctx.transaction() as session:
        rows = controls.opt_outs(session, me.subject_id)
        record_read(session, me, "opt_outs.read")
    response.headers.update(_NO_STORE)
    return OptOutList(items=[_opt_out(use, row) for use, row in rows.items()])


@router.put(
    "/opt-outs/{use}",
    response_model=OptOutState,
    status_code=201,
    summary="Opt out of a use of my file",
    description=(
        "`prescreen`: institutions' queries for prescreened offers are refused (403, reason "
        "`opted_out`). `marketing`: likewise for marketing queries (which the `cn` profile "
        "refuses for everyone anyway). 201 when recorded, 200 when already opted out. An "
        "unknown use is 422."
    ),
    responses=responses(401, 422, 429),
)
def put_opt_out(use: UsePath, ctx: Context, me: Me, response: Response) -> OptOutState:
    with ctx.transaction() as session:
        change = controls.opt_out(
            session, subject_ref=me.subject_ref, use=use, actor=me.actor, now=utcnow()
        )
    _created(response, change.created)
    return _opt_out(use, change.row)


@router.delete(
    "/opt-outs/{use}",
    status_code=204,
    summary="Opt in again",
    description="Revokes your opt-out; 404 (reason `no_opt_out`) when you had not opted out.",
    responses=responses(401, 404, 422, 429),
)
def delete_opt_out(use: UsePath, ctx: Context, me: Me) -> Response:
    with ctx.transaction() as session:
        controls.opt_in(session, subject_ref=me.subject_ref, use=use, actor=me.actor, now=utcnow())
    return Response(status_code=204)


# -- data download ------------------------------------------------------------------------------
@router.get(
    "/export",
    summary="Download everything held about me",
    description=(
        "A machine-readable copy of all data the bureau holds about you (PIPL Art. 45), as "
        "one JSON file of format `credo-subject-export/1` (docs/subject-rights.md): identity, "
        "contact details per furnisher with history, every version of your accounts, monthly "
        "statuses and public records, inquiries, consents, disputes with their history, "
        "statements, freezes and fraud alerts, opt-outs, notices, scores with their reasons, "
        "and the ledger entries about your file. It is not a report: no inquiry is written."
    ),
    responses={
        200: {"description": "the export", "content": {"application/json": {}}},
        **responses(401, 429),
    },
)
def get_export(ctx: Context, me: Me) -> Response:
    at = utcnow()
    with ctx.transaction() as session:
        doc = export_subject(session, me.subject_id, keyring=ctx.keyring, actor=me.actor, now=at)
    name = f"credo-export-{me.subject_ref}-{at:%Y%m%d}.json"
    return Response(
        orjson.dumps(doc, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **_NO_STORE},
    )
