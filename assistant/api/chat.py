"""OpenAI-compatible chat: ``POST /v1/chat/completions`` and ``GET /v1/models``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator
from contextlib import closing
from itertools import chain

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from assistant.api.deps import assistant_of, require_api_key
from assistant.api.errors import error_event
from assistant.api.schemas import MODEL_ID, ChatRequest, error_responses, event_stream_response
from assistant.api.shedding import generation_slots, in_threads
from assistant.generation.base import GenerationError
from assistant.pipeline import Assistant, ConversationNotOpen, Delta, Done
from assistant.store.repository import ConversationKeyError
from assistant.types import Answer, Turn

router = APIRouter(
    prefix="/v1", tags=["chat"], dependencies=[Depends(require_api_key)], responses=error_responses(401)
)


@router.get("/models")
def list_models() -> dict:
    """The one model this server answers as (any client may name it)."""
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "assistant"}],
    }


def _turns(request: ChatRequest, assistant: Assistant) -> tuple[str, list[Turn] | None]:
    """The question (last user message) and the earlier turns, after checking the limits."""
    settings = assistant.settings
    if request.model != MODEL_ID:
        raise HTTPException(404, f"unknown model {request.model!r}; use {MODEL_ID!r} (see GET /v1/models)")
    if len(request.messages) > settings.max_messages:
        raise HTTPException(400, f"too many messages: at most {settings.max_messages}")
    for message in request.messages:
        if len(message.text()) > settings.max_message_chars:
            raise HTTPException(400, f"a message is longer than {settings.max_message_chars} characters")
    last = request.messages[-1]
    question = last.text().strip()
    if last.role != "user" or not question:
        raise HTTPException(400, "the last message must be a non-empty user message")
    earlier = [
        Turn(m.role, m.text())
        for m in request.messages[:-1]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    # With a single message and a conversation id, the stored turns give the context.
    history = None if not earlier and request.conversation_id else earlier
    return question, history


def answer_extras(answer: Answer) -> dict:
    """What follows the text (OpenAI's ``usage`` and our fields): on a non-streamed response,
    and on the last streamed chunk."""
    return {key: value for key, value in answer.to_dict().items() if key not in ("answer", "finish_reason")}


def _chunk(completion_id: str, created: int, delta: dict, finish: str | None = None, **extra) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        **event_stream_response("A chat completion, or its SSE chunks with `stream: true`", json_too=True),
        **error_responses(400, 404, 413, 502, 503),
    },
)
def chat_completions(body: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    """Answer the last user message, grounded in the knowledge base, OpenAI-style."""
    assistant = assistant_of(request)
    question, history = _turns(body, assistant)
    try:
        events = generation_slots(request).hold(
            lambda: assistant.ask_stream(
                question,
                history=history,
                conversation_id=body.conversation_id,
                channel=body.channel,
                user_id=body.user,
            )
        )
    except ConversationNotOpen as exc:
        raise HTTPException(404, str(exc)) from exc
    except ConversationKeyError as exc:
        raise HTTPException(400, str(exc)) from exc
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        return stream_answer(events, completion_id, created, cache_control="no-cache")
    with closing(events):  # frees the generation slot as soon as the answer is logged
        answer = next(e.answer for e in events if isinstance(e, Done))
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.answer},
                    "finish_reason": answer.finish_reason,
                }
            ],
            **answer_extras(answer),
        }
    )


def stream_answer(
    events: Generator[Delta | Done, None, None], completion_id: str, created: int, *, cache_control: str
) -> StreamingResponse:
    """The answer as OpenAI-style SSE chunks, its first event generated before the response starts.

    So what fails before the first token (the generation server unreachable, or refusing the
    request) answers with its own status and a JSON ``detail`` (see :mod:`assistant.api.errors`)
    rather than a 200 that breaks off. The wait for that first event holds a thread of the pool,
    as a non-streamed answer does for the whole answer.
    """
    first = next(events)  # a stream always ends with Done, so there is a first event
    return StreamingResponse(
        in_threads(sse_chunks(first, events, completion_id, created)),
        media_type="text/event-stream",
        headers={"Cache-Control": cache_control, "X-Accel-Buffering": "no"},
    )


def sse_chunks(
    first: Delta | Done, events: Generator[Delta | Done, None, None], completion_id: str, created: int
) -> Generator[str, None, None]:
    """An answer stream (``first``, already taken, then the rest of ``events``) as SSE chunks.

    Also what the web widget reads. A generation failure mid-answer ends the stream with an
    OpenAI-style error event (``data: {"error": {...}}``, no ``[DONE]``); the answer is logged
    as far as it got, as any cut-off answer is.
    """
    with closing(events):  # a client gone mid-answer closes (and so logs) the answer here
        yield _chunk(completion_id, created, {"role": "assistant", "content": ""})
        try:
            for event in chain((first,), events):
                if isinstance(event, Delta):
                    yield _chunk(completion_id, created, {"content": event.text})
                else:
                    answer = event.answer
                    yield _chunk(completion_id, created, {}, answer.finish_reason, **answer_extras(answer))
        except GenerationError as error:
            yield error_event(error)
            return
    yield "data: [DONE]\n\n"
