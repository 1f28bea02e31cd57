"""The embeddable web widget: ``GET /widget.js`` and the endpoints it talks to.

A site adds ``<script src="https://HOST/widget.js" async></script>``; the script keeps a random
128-bit session id in the visitor's localStorage and sends it as ``X-Assistant-Session``. That
id is the conversation's secret: the store keeps only its SHA-256 (as the web conversation's
``external_ref``), and only a request carrying it sees the conversation's history or may vote
on its answers.

Endpoints (all under the widget's CORS allow-list, key and rate limits, see :func:`install`):

- ``POST /widget/v1/chat`` — ``{message}``; the answer as OpenAI-style SSE chunks, the last one
  with ``interaction_id``, ``citations``, ``curated_answer_id``, ``abstained``.
- ``GET /widget/v1/history`` — this session's earlier turns, so a reload shows them.
- ``POST /widget/v1/feedback`` — 👍/👎 (comment optional), resolved/unresolved, or
  ``escalated`` ("Talk to a human", which also notifies the support team).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from assistant.api.chat import stream_answer
from assistant.api.deps import assistant_of
from assistant.api.feedback import save_feedback
from assistant.api.ratelimit import RateLimiter, parse_limits
from assistant.api.schemas import (
    WidgetChatRequest,
    WidgetFeedbackRequest,
    error_responses,
    event_stream_response,
)
from assistant.api.security import SESSION_HEADER, WIDGET_KEY_HEADER, WidgetCORS
from assistant.api.shedding import generation_slots
from assistant.config import Settings
from assistant.store import InteractionRow, repository

router = APIRouter(tags=["widget"], responses=error_responses(400, 401, 403, 429))
SESSION_PATTERN = re.compile(r"[0-9a-f]{32}")
SCRIPT_CACHE_SECONDS = 300
HISTORY_TURNS = 50


@dataclass(frozen=True)
class Visitor:
    """One widget session: ``ref`` finds its conversation, ``user_id`` is its pseudonym."""

    ref: str
    user_id: str


def _limiter(request: Request) -> RateLimiter:
    return request.app.state.widget_limiter


def visitor(request: Request) -> Visitor:
    """Check the widget key, the per-IP limit and the session header of a widget request."""
    settings = assistant_of(request).settings
    if settings.widget_key:
        given = request.headers.get(WIDGET_KEY_HEADER)
        if not given:
            raise HTTPException(401, f"this assistant needs its widget key in the {WIDGET_KEY_HEADER} header")
        if not hmac.compare_digest(given.encode("utf-8"), settings.widget_key.encode("utf-8")):
            raise HTTPException(403, "wrong widget key: copy the snippet (its data-key) again")
    client = request.client.host if request.client else "unknown"
    _limiter(request).check("ip", client, "requests from your network")
    session = request.headers.get(SESSION_HEADER, "")
    if not SESSION_PATTERN.fullmatch(session):
        raise HTTPException(400, f"the {SESSION_HEADER} header must be 32 lowercase hex characters")
    digest = hashlib.sha256(session.encode("ascii")).hexdigest()
    return Visitor(ref=f"widget:{digest}", user_id=f"web:{digest[:16]}")


WidgetVisitor = Annotated[Visitor, Depends(visitor)]


def _conversation_id(session: Session, who: Visitor) -> str | None:
    conversation = repository.conversation_by_ref(session, "web", who.ref)
    return conversation.id if conversation else None


@router.post(
    "/widget/v1/chat",
    response_model=None,
    responses={**event_stream_response("The answer as SSE chunks"), **error_responses(413, 502, 503)},
)
def widget_chat(body: WidgetChatRequest, request: Request, who: WidgetVisitor) -> Response:
    """Answer the session's next question, streamed; earlier turns give the context."""
    assistant = assistant_of(request)
    _limiter(request).check("session", who.ref, "questions in this conversation")
    question = body.message.strip()
    if not question:
        raise HTTPException(400, "the message is empty")
    if len(question) > assistant.settings.max_message_chars:
        limit = assistant.settings.max_message_chars
        raise HTTPException(400, f"the message is longer than {limit} characters")
    with assistant.store.session() as session:
        conversation = repository.get_or_create_conversation(
            session, conversation_id=None, channel="web", user_id=who.user_id, external_ref=who.ref
        )
        conversation_id = conversation.id
    events = generation_slots(request).hold(
        lambda: assistant.ask_stream(
            question, conversation_id=conversation_id, channel="web", user_id=who.user_id
        )
    )
    return stream_answer(events, f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), cache_control="no-store")


@router.get("/widget/v1/history")
def widget_history(request: Request, who: WidgetVisitor) -> dict:
    """This session's earlier turns (oldest first) with the feedback already given."""
    with assistant_of(request).store.session() as session:
        conversation_id = _conversation_id(session, who)
        if conversation_id is None:
            return {"turns": []}
        rows = session.scalars(
            select(InteractionRow)
            .where(InteractionRow.conversation_id == conversation_id)
            .order_by(InteractionRow.created_at.desc())
            .limit(HISTORY_TURNS)
        ).all()
        turns = []
        for row in reversed(rows):
            events = repository.feedback_for(session, row.id)
            turns.append(
                {
                    "interaction_id": row.id,
                    "question": row.question,
                    "answer": row.answer,
                    "citations": row.citations,
                    "curated_answer_id": row.curated_answer_id,
                    "abstained": row.abstained,
                    "rating": next((e.rating for e in reversed(events) if e.rating), None),
                    "resolution": next((e.resolution for e in reversed(events) if e.resolution), None),
                }
            )
    return {"turns": turns}


@router.post("/widget/v1/feedback", status_code=201, responses=error_responses(404, 413))
async def widget_feedback(
    body: WidgetFeedbackRequest, request: Request, background: BackgroundTasks, who: WidgetVisitor
) -> JSONResponse:
    """Record a vote or an outcome for one of this session's answers (an escalation hands off)."""

    def mine() -> bool:
        with assistant_of(request).store.session() as session:
            row = repository.get_interaction(session, body.interaction_id)
            return row is not None and row.conversation_id == _conversation_id(session, who)

    if not await run_in_threadpool(mine):
        raise HTTPException(404, f"no interaction {body.interaction_id!r} in this conversation")
    result, created = await save_feedback(
        request,
        background,
        interaction_id=body.interaction_id,
        rating=body.rating,
        resolution=body.resolution,
        comment=body.comment,
        voter=who.user_id,
    )
    return JSONResponse(result, status_code=201 if created else 200, background=background)


@router.get("/widget.js", include_in_schema=False)
def widget_script(request: Request) -> Response:
    """The embeddable script (plain JavaScript, no build step)."""
    return Response(
        request.app.state.widget_script,
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": f"public, max-age={SCRIPT_CACHE_SECONDS}",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the widget to an app: its routes, CORS allow-list and rate limits (the escalation
    notifiers are the app's, see :func:`assistant.api.app.create_app`)."""
    app.state.widget_script = resources.files("assistant.web").joinpath("widget.js").read_bytes()
    session_limits = parse_limits(settings.widget_rate_limit_session, "ASSISTANT_WIDGET_RATE_LIMIT_SESSION")
    ip_limits = parse_limits(settings.widget_rate_limit_ip, "ASSISTANT_WIDGET_RATE_LIMIT_IP")
    app.state.widget_limiter = RateLimiter(
        settings.rate_limit_storage, {"session": session_limits, "ip": ip_limits}
    )
    app.include_router(router)
    app.add_middleware(WidgetCORS, origins=settings.widget_origins)
