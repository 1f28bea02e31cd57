"""The admin JSON API under ``/admin/api``: the review queue and review actions, token-authenticated.

Every route depends on :func:`assistant.admin.deps.authenticate` (set on the router), so none
answers without a valid token; each also names the roles it allows.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.admin.deps import Principal, authenticate, require_roles
from assistant.api.deps import assistant_of
from assistant.review.actions import ACTIONS, MAX_ANSWER_CHARS, ReviewConflict, ReviewError, review
from assistant.review.flags import flag_dict, list_flags, recluster
from assistant.store.models import FLAG_REASONS, FLAG_STATUSES, FlagRow, InteractionRow

router = APIRouter(prefix="/admin/api", tags=["admin"], dependencies=[Depends(authenticate)])

Reviewer = Annotated[Principal, Depends(require_roles("lead"))]
Reader = Annotated[Principal, Depends(require_roles("lead", "engineer"))]


class ReviewBody(BaseModel):
    """The body of a review action; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=0, description="The flag version you reviewed (default: current).")
    answer: str | None = Field(
        None, max_length=MAX_ANSWER_CHARS, description="The corrected answer (correct)."
    )
    doc_ids: list[str] = Field(default_factory=list, max_length=50, description="Source documents (correct).")
    note: str | None = Field(None, max_length=4000, description="Why (gap, reject).")


async def review_body(request: Request) -> ReviewBody:
    """The JSON body as :class:`ReviewBody`; an empty body means no options; bad input is 400."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
        return ReviewBody.model_validate(data)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise HTTPException(400, f"invalid {where}: {first['msg']}") from exc
        raise HTTPException(400, "the body must be a JSON object") from exc


@router.get("/whoami")
def whoami(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    """The authenticated user: id, username, role."""
    return {"id": principal.id, "username": principal.username, "role": principal.role}


@router.get("/review")
def review_queue(
    request: Request,
    _: Reader,
    reason: str | None = Query(None, description=f"Only flags with this reason: {', '.join(FLAG_REASONS)}."),
    status: str = Query("open", description=f"Flags in this status: {', '.join(FLAG_STATUSES)}."),
) -> list[dict[str, Any]]:
    """The queue, most urgent first: the same items as ``assistant review list --json``."""
    if reason is not None and reason not in FLAG_REASONS:
        raise HTTPException(400, f"reason must be one of {', '.join(FLAG_REASONS)}")
    if status not in FLAG_STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(FLAG_STATUSES)}")
    assistant = assistant_of(request)
    with assistant.store.session() as session:
        recluster(session, assistant.settings, assistant.embedder)
        return list_flags(session, reason=reason, status=status)


@router.post("/review/{flag_id}/{action}")
def review_action(
    request: Request,
    flag_id: str,
    action: str,
    principal: Reviewer,
    body: Annotated[ReviewBody, Depends(review_body)],
) -> dict[str, Any]:
    """Approve, correct, mark a gap or reject one open flag; 409 if it changed since ``version``."""
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}; use one of {', '.join(ACTIONS)}")
    if not flag_id.isdigit() or len(flag_id) > 18:
        raise HTTPException(404, f"no flag {flag_id!r}")
    assistant = assistant_of(request)
    try:
        with assistant.store.session() as session:
            flag = session.get(FlagRow, int(flag_id))
            if flag is None:
                raise HTTPException(404, f"no flag {flag_id}")
            done = review(
                session,
                flag.id,
                action,  # type: ignore[arg-type]  # checked against ACTIONS above
                expected_version=body.version if body.version is not None else flag.version,
                actor=principal.username,
                answer=body.answer,
                doc_ids=body.doc_ids,
                note=body.note,
                embedder=assistant.embedder,
            )
            interaction = session.get(InteractionRow, done.interaction_id)
            return {**flag_dict(done, interaction), "curated_answer_id": done.curated_answer_id}
    except ReviewConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except ReviewError as exc:
        raise HTTPException(400, str(exc)) from exc
