"""`POST /v1/furnishing/batches`: a furnisher sends a file through the same pipeline as
``credo furnish``; `GET /v1/furnishing/batches/{ref}` reads a batch's outcome back.

The request body is the file itself (JSON Lines or CSV, docs/furnishing.md), streamed to a
temporary file under the upload size limit; the batch is furnished for the caller's own
institution, so one furnisher can never write another's records. A file that is not the
format at all is refused whole (422) and writes nothing.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi import Path as PathParam
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from credo.access.keys import Principal, require_role
from credo.access.models import Role
from credo.api.deps import ApiContext, Caller, Context
from credo.api.problems import PROBLEM_BASE, echo, responses
from credo.errors import CredoError, Invalid, NotFound
from credo.furnishing.models import FurnishingBatch
from credo.furnishing.service import furnish

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/furnishing", tags=["furnishing"])

#: batch ids are UUIDs in hex (`credo.furnishing.service.furnish`)
BATCH_REF = r"^[0-9a-fA-F]{32}$"
_SUFFIX = {
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/json-lines": ".jsonl",
    "text/csv": ".csv",
}


class UnsupportedMedia(CredoError):
    status = 415
    type = f"{PROBLEM_BASE}unsupported-media-type"
    title = "Unsupported media type"


_EXAMPLE_FILE = (
    '{"record_type":"header","format_version":"1.0","institution":"BANK_A","as_of":"2026-10-31"}\n'
    '{"record_type":"subject","subject_type":"person","id_type":"prc_id",...}\n'
)


def _furnish(ctx: ApiContext, who: Principal, path: Path, as_of: date | None) -> dict:
    from credo.scoring.service import rescore_furnished

    with ctx.transaction() as session:
        report = furnish(
            session, path=path, institution_code=who.institution_code, keyring=ctx.keyring,
            profile=ctx.settings.jurisdiction, actor=who.actor, as_of=as_of,
            chunk_rows=ctx.settings.furnish_chunk_rows,
            worker_min_bytes=ctx.settings.furnish_worker_threshold,
        )  # fmt: skip
    out = report.to_dict()
    out["rescored"] = None
    if ctx.settings.rescore_on_furnish:
        # a separate transaction: the batch stands even if re-scoring fails, and the answer
        # says the batch was taken (a 500 would make the furnisher send it again)
        try:
            with ctx.transaction() as session:
                runs = rescore_furnished(session, report.batch_id, actor=who.actor)
        except Exception:
            log.exception("batch %s furnished, but re-scoring its subjects failed", report.batch_id)
            return out
        if runs:
            out["rescored"] = {"scored": sum(r.scored for r in runs),
                               "models": [r.model for r in runs]}  # fmt: skip
    return out


@router.post(
    "/batches",
    status_code=status.HTTP_201_CREATED,
    summary="Furnish a file",
    description=(
        "The body is one furnishing file (JSON Lines: `Content-Type: application/x-ndjson`; "
        "CSV: `text/csv`), for the calling institution. Every line is validated: accepted, "
        "corrected, duplicate or quarantined with its reason; the answer is the batch report. "
        "Needs the furnisher role. Subjects the batch touched are re-scored by the champion."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}, "example": _EXAMPLE_FILE},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
    responses=responses(401, 403, 413, 415, 422, 429),
)
async def post_batch(
    request: Request,
    ctx: Context,
    who: Caller,
    as_of: Annotated[date | None, Query(description="batch date if the header has none")] = None,
) -> dict:
    require_role(who, Role.furnisher)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    suffix = _SUFFIX.get(media)
    if suffix is None:
        sent = f"not {echo(media[:60])!r}" if media else "with a Content-Type header"
        raise UnsupportedMedia(
            f"send the file as application/x-ndjson (JSON Lines) or text/csv, {sent}"
        )
    with tempfile.TemporaryDirectory(prefix="credo-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        size = 0
        with path.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                fh.write(chunk)
        if size == 0:
            raise Invalid("the request body is empty; send the furnishing file as the body")
        out = await run_in_threadpool(_furnish, ctx, who, path, as_of)
    ctx.metrics.furnished.labels("accepted").inc(out["accepted"])
    ctx.metrics.furnished.labels("rejected").inc(out["rejected"])
    return out


@router.get(
    "/batches/{ref}",
    summary="A batch's outcome",
    description="Counts of one of this institution's batches. Needs the furnisher role.",
    responses=responses(401, 403, 404, 422, 429),
)
def get_batch(
    ref: Annotated[str, PathParam(pattern=BATCH_REF, description="the batch's `batch_id`")],
    ctx: Context,
    who: Caller,
) -> dict:
    require_role(who, Role.furnisher)
    with ctx.transaction() as session:
        b = session.scalar(select(FurnishingBatch).where(FurnishingBatch.ref == ref.lower()))
        if b is None or b.institution_id != who.institution_id:
            raise NotFound(f"no batch {ref.lower()} from {who.institution_code}")
        return {
            "batch_id": b.ref, "institution": who.institution_code, "file_format": b.file_format,
            "file_sha256": b.file_sha256, "as_of": b.as_of.isoformat(), "status": b.status.value,
            "lines": b.lines, "accepted": b.accepted, "corrections": b.corrections,
            "duplicates": b.duplicates, "rejected": b.rejected, "flagged": b.flagged,
            "received_at": b.received_at.isoformat(),
            "finished_at": b.finished_at.isoformat() if b.finished_at else None,
        }  # fmt: skip
