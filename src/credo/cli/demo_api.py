"""The demo's last act: an institution key, consents, sample reports and curl commands.

Everything here goes through the same domain calls the API makes (`authorise_query`, then
`build_report`), so the sample reports are real queries: each wrote an inquiry and a ledger
entry, and shows in the subject's next report.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from datetime import timedelta
from pathlib import Path

import orjson
from sqlalchemy import select

from credo.access import consent as consents
from credo.access import keys, subject_access
from credo.access.flows import authorise_query, find_subject
from credo.account.models import Account, StatusRecord
from credo.cli.common import actor, console
from credo.db import session_scope, utcnow
from credo.errors import CredoError
from credo.institution.models import Institution
from credo.repair import plan as repair
from credo.report.render import render
from credo.report.service import build_report
from credo.scoring.models import SubjectScore
from credo.security import get_keyring
from credo.security.keys import write_private

#: how many people the demo prepares consents for
SAMPLES = 2


def _people(session, path: Path, keyring, n: int) -> list[tuple[str, object]]:
    """The first `n` people in a furnishing file who have a file and a score here."""
    found: list[tuple[str, object]] = []
    with path.open("rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            if rec.get("record_type") != "subject" or rec.get("id_type") != "prc_id":
                continue
            try:
                subject = find_subject(
                    session, keyring, id_type="prc_id", id_number=rec["id_number"]
                )
            except CredoError:  # a defect the demo injected: quarantined, not on file
                continue
            scored = session.scalar(
                select(SubjectScore.id).where(SubjectScore.subject_id == subject.id).limit(1)
            )
            if scored is not None and all(s.id != subject.id for _, s in found):
                found.append((rec["id_number"], subject))
            if len(found) == n:
                break
    return found


def _curl(
    base: str,
    path: str,
    body: dict | None = None,
    *,
    out: str | None = None,
    method: str | None = None,
    token: str = "CREDO_KEY",
) -> str:
    parts = ["curl -s"]
    method = method or ("POST" if body is not None else None)
    if method:
        parts.append(f"-X {method}")
    parts.append(shlex.quote(f"{base}{path}"))
    parts.append(f'-H "Authorization: Bearer ${token}"')
    if body is not None:
        parts.append("-H 'Content-Type: application/json'")
        parts.append(
            "-d " + shlex.quote(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        )
    if out:
        parts.append(f"-o {out}")
    return " ".join(parts)


def api_walkthrough(engine, out: Path, *, base_url: str) -> None:
    """Create the demo institution's key and consents, write sample reports, print curls."""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    bank = next(i for i in manifest["institutions"] if i["kind"] == "bank")
    keyring = get_keyring()
    reports_dir = out / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with session_scope(engine) as s:
        people = _people(s, out / bank["files"][0], keyring, SAMPLES)
        if len(people) == SAMPLES:
            me = _subject_side(s, people[0][1], reports_dir)
        if len(people) < SAMPLES:
            console.print("[yellow]too few scored people to prepare the API walkthrough[/yellow]")
            return
        _, token = keys.create_key(
            s, institution_code=bank["code"], roles=["querier", "furnisher"], actor=actor()
        )
        expires = utcnow() + timedelta(days=365)
        refs = []
        for (id_number, subject), purpose, scope in zip(
            people, ("loan_approval", "post_loan_management"), ("both", "report"), strict=True
        ):
            form = f"demo consent form: {subject.ref} to {bank['code']} for {purpose}"
            c = consents.grant(
                s, subject_ref=subject.ref, institution_code=bank["code"], purpose=purpose,
                scope=scope, expires_at=expires, actor=actor(),
                evidence_sha256=hashlib.sha256(form.encode()).hexdigest(),
            )  # fmt: skip
            refs.append((id_number, subject, c))
        s.flush()
        # sample reports: the second person's, as the bank sees them in post-loan management
        principal = keys.authenticate(s, token)
        id_number, subject, c = refs[1]
        for lang in ("zh", "en"):
            q = authorise_query(
                s, principal, id_type="prc_id", id_number=id_number,
                purpose="post_loan_management", consent_ref=c.ref, scope="report",
                keyring=keyring,
            )  # fmt: skip
            doc = build_report(
                s, subject.ref, viewer="institution", institution=bank["code"],
                purpose="post_loan_management", lang=lang, actor=principal.actor,
                format="pdf", keyring=keyring, report_id=q.query_id,
            )  # fmt: skip
            for fmt in ("html", "pdf"):
                path = reports_dir / f"credit-report-{subject.ref}-{lang}.{fmt}"
                write_private(path, render(doc, fmt))
                written.append(path)

    console.print(
        f"sample credit reports of {refs[1][1].ref} as {bank['code']} sees them: "
        + ", ".join(str(p) for p in written)
    )
    id1, _, c1 = refs[0]
    id2, _, c2 = refs[1]
    query = {"id_type": "prc_id", "id_number": id1, "purpose": "loan_approval",
             "consent_ref": c1.ref}  # fmt: skip
    console.rule(f"try the API: credo serve, then paste these ({base_url})")
    console.print(
        f"API key for {bank['code']} ({bank['name']}), roles querier + furnisher. It is shown "
        "only this once; the bureau keeps its hash.",
        style="bold",
    )
    lines = [
        f"export CREDO_KEY={token}",
        "",
        "# a score (the query writes a hard inquiry the subject will see)",
        _curl(base_url, "/v1/scores", query),
        "# the credit report as JSON, and as a PDF in English",
        _curl(base_url, "/v1/reports", query),
        _curl(base_url, "/v1/reports", {**query, "format": "pdf", "lang": "en"},
              out="report.pdf"),
        "# refused with 403: the consent is for loan approval, not credit cards",
        _curl(base_url, "/v1/scores", {**query, "purpose": "credit_card_approval"}),
        "# refused with 403: the second consent covers the report only, not the score",
        _curl(base_url, "/v1/scores", {"id_type": "prc_id", "id_number": id2,
                                       "purpose": "post_loan_management",
                                       "consent_ref": c2.ref}),
        "# your institution's queries and consents",
        _curl(base_url, "/v1/inquiries?limit=5"),
        _curl(base_url, "/v1/consents"),
        f"# health, metrics, and the OpenAPI docs at {base_url}/docs",
        f"curl -s {base_url}/readyz",
    ]  # fmt: skip
    lines += ["", *_subject_lines(base_url, me, query)]
    for line in lines:  # plain text, never wrapped, so every line pastes as it is
        console.print(line, markup=False, highlight=False, soft_wrap=True,
                      style="dim" if line.startswith("#") else None)  # fmt: skip
    console.rule()


def _subject_side(session, subject, reports_dir: Path) -> dict:
    """A subject access credential for the first person, one of their monthly statuses to
    dispute, and their repair plan written next to the sample reports."""
    _, token = subject_access.issue(
        session, subject_ref=subject.ref, verified_by="demo: identity assumed verified",
        actor=actor(),
    )  # fmt: skip
    account = session.execute(
        select(Institution.code, Account.account_ref, Account.id)
        .join(Account, Account.institution_id == Institution.id)
        .where(Account.subject_id == subject.id)
        .order_by(Account.id)
        .limit(1)
    ).one()
    period = session.scalar(
        select(StatusRecord.period)
        .where(StatusRecord.account_id == account.id, StatusRecord.superseded_at.is_(None))
        .order_by(StatusRecord.period.desc())
        .limit(1)
    )
    plan = repair.serve(session, subject.id, actor=actor(), channel="demo", lang="en")
    path = reports_dir / f"repair-plan-{subject.ref}-en.json"
    write_private(path, orjson.dumps(repair.to_dict(plan), option=orjson.OPT_INDENT_2))
    console.print(f"the repair plan of {subject.ref}: {path}")
    return {
        "ref": subject.ref,
        "token": token,
        "dispute": {
            "record_type": "status",
            "institution": account.code,
            "account_ref": account.account_ref,
            "period": f"{period:%Y-%m}",
            "reason": "I paid this month in full and on time.",
        },
    }


def _subject_lines(base: str, me: dict, query: dict) -> list[str]:
    """curl commands for the subject's side: /v1/me with a subject access credential."""

    def curl(path: str, body: dict | None = None, **kw) -> str:
        return _curl(base, path, body, token="CREDO_ME", **kw)

    return [
        f"# the subject {me['ref']}'s side, with the access credential an operator issued",
        f"export CREDO_ME={me['token']}",
        "# my report as PDF (a soft self-query; 2 free a year in the cn profile), who looked",
        curl("/v1/me/report?format=pdf&lang=en", out="my-report.pdf"),
        curl("/v1/me/inquiries"),
        "# what I can do to improve, scored on the champion model",
        curl("/v1/me/repair-plan?lang=en"),
        "# dispute a month of my repayment history; the mark shows in every report at once",
        curl("/v1/me/disputes", me["dispute"]),
        curl("/v1/me/disputes"),
        "# add my statement to the report (本人声明)",
        curl("/v1/me/statement", {"text": "I was abroad for work in that month."}, method="PUT"),
        "# freeze my file: the bank's new-credit query is refused (403 file_frozen), then lift it",
        curl("/v1/me/freeze", method="PUT"),
        _curl(base, "/v1/scores", query),
        curl("/v1/me/freeze", method="DELETE"),
        "# the notices the bureau sent me, and everything it holds about me (PIPL Art. 45)",
        curl("/v1/me/notifications"),
        curl("/v1/me/export", out="my-data.json"),
    ]
