"""The admin JSON API under ``/admin/api``: the review queue and review actions, token-authenticated.

Every route depends on :func:`assistant.admin.deps.authenticate` (set on the router), so none
answers without a valid token; each also names the roles it allows.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.orm import Session

from assistant.admin.deps import Principal, authenticate, require_roles
from assistant.api.deps import assistant_of
from assistant.api.schemas import error_responses
from assistant.privacy import erase_user
from assistant.review.actions import ACTIONS, MAX_ANSWER_CHARS, ReviewConflict, ReviewError, review
from assistant.review.clusters import recluster
from assistant.review.flags import flag_dict, list_flags
from assistant.review.item import review_item
from assistant.store.models import CHANNELS, FLAG_REASONS, FLAG_STATUSES, FlagRow, InteractionRow

router = APIRouter(
    prefix="/admin/api",
    tags=["admin"],
    dependencies=[Depends(authenticate)],
    responses=error_responses(401, 403),
)

Reviewer = Annotated[Principal, Depends(require_roles("lead"))]
Reader = Annotated[Principal, Depends(require_roles("lead", "engineer"))]
Admin = Annotated[Principal, Depends(require_roles())]
FlagId = Annotated[int, Path(ge=1, le=2**62, description="The flag's id.")]


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


class QueryModel(BaseModel):
    """Query parameters as a model: unknown names are refused, blank values mean the default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: Any) -> Any:
        if isinstance(data, dict):  # an empty form field arrives as ""
            return {
                key: value
                for key, value in data.items()
                if not (isinstance(value, str) and not value.strip())
            }
        return data


class QueueFilter(QueryModel):
    """The review queue's filters; every one given narrows the queue."""

    status: str = Field("open", description=f"Flags in this status: {', '.join(FLAG_STATUSES)}.")
    reason: str | None = Field(None, description=f"Only flags with this reason: {', '.join(FLAG_REASONS)}.")
    channel: str | None = Field(None, description=f"Only questions from: {', '.join(CHANNELS)}.")
    release: str | None = Field(None, max_length=200, description="Only answers from this release id.")
    since: date | None = Field(None, description="Asked on or after this day (UTC, YYYY-MM-DD).")
    until: date | None = Field(None, description="Asked on or before this day (UTC, YYYY-MM-DD).")

    @model_validator(mode="after")
    def _check(self) -> QueueFilter:
        for name, allowed in (("status", FLAG_STATUSES), ("reason", FLAG_REASONS), ("channel", CHANNELS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self

    def flags(self, session: Session) -> list[dict[str, Any]]:
        """The queue items matching this filter, most urgent first."""
        return list_flags(
            session,
            status=self.status,
            reason=self.reason,
            channel=self.channel,
            release=self.release,
            since=midnight(self.since),
            until=midnight(self.until + timedelta(days=1)) if self.until else None,
        )


def midnight(day: date | None) -> datetime | None:
    """The start of ``day`` in UTC (None stays None)."""
    return datetime.combine(day, time.min, tzinfo=timezone.utc) if day else None


def queue(request: Request, queue_filter: QueueFilter) -> list[dict[str, Any]]:
    """The queue as of now, clusters and priorities brought up to date first."""
    assistant = assistant_of(request)
    with assistant.store.session() as session:
        recluster(session, assistant.settings, assistant.embedder)
        return queue_filter.flags(session)


@router.get("/review")
def review_queue(
    request: Request, _: Reader, queue_filter: Annotated[QueueFilter, Query()]
) -> list[dict[str, Any]]:
    """The queue, most urgent first: the same items as ``assistant review list --json``."""
    return queue(request, queue_filter)


@router.get("/review/{flag_id}", responses=error_responses(404))
def review_item_detail(request: Request, flag_id: FlagId, _: Reader) -> dict[str, Any]:
    """One flag with its conversation: earlier turns, sources and scores, feedback, audit trail."""
    with assistant_of(request).store.session() as session:
        try:
            return review_item(session, flag_id)
        except ReviewError as exc:
            raise HTTPException(404, str(exc)) from exc


@router.post("/review/{flag_id}/{action}", responses=error_responses(400, 404, 409, 413))
def review_action(
    request: Request,
    flag_id: FlagId,
    action: str,
    principal: Reviewer,
    body: Annotated[ReviewBody, Depends(review_body)],
) -> dict[str, Any]:
    """Approve, correct, mark a gap or reject one open flag; 409 if it changed since ``version``."""
    if action not in ACTIONS:
        raise HTTPException(404, f"no action {action!r}; use one of {', '.join(ACTIONS)}")
    assistant = assistant_of(request)
    try:
        with assistant.store.session() as session:
            flag = session.get(FlagRow, flag_id)
            if flag is None:
                raise HTTPException(404, f"no flag {flag_id}")
            done = review(
                session,
                flag.id,
                action,  # an Action: checked against ACTIONS above
                expected_version=body.version if body.version is not None else flag.version,
                actor=principal.username,
                answer=body.answer,
                doc_ids=body.doc_ids,
                note=body.note,
                embedder=assistant.embedder,
            )
            interaction = session.get(InteractionRow, done.interaction_id)
            assert interaction is not None  # the foreign key guarantees it
            return {**flag_dict(done, interaction), "curated_answer_id": done.curated_answer_id}
    except ReviewConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except ReviewError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.delete("/customers/{user_id}", responses=error_responses(400))
def erase_customer(
    request: Request,
    user_id: Annotated[str, Path(min_length=1, max_length=1000, description="The customer's user id.")],
    principal: Admin,
) -> dict[str, Any]:
    """Erase one customer everywhere (admins only): the same report as ``assistant users erase --json``.

    Safe to repeat; an unknown id removes nothing and answers 200 with zero counts.
    """
    assistant = assistant_of(request)
    if not user_id.strip():
        raise HTTPException(400, "the user id must not be blank")
    report = erase_user(assistant.store, assistant.settings, user_id)
    return {**report.to_dict(), "erased_by": principal.username}
