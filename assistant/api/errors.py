"""A failed answer generation over HTTP: 502 or 503 with a JSON ``detail``, never a bare 500.

A :class:`~assistant.generation.base.GenerationError` means the generation server (the remote
OpenAI-compatible server, or the local model) did not produce the answer:

- 503 when it could not be reached or did not answer in time
  (:class:`~assistant.generation.base.GenerationUnavailable`): retrying later may work;
- 502 when it answered badly (an HTTP error, an error event, a malformed or cut-off stream).

The ``detail`` says which, in words for any client; the exception itself (the server's URL and
its answer) goes to the server log only. Before an answer's first event this is the response
(:func:`generation_failed`, an exception handler of the app); mid-stream the stream ends with
:func:`error_event` instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse

from assistant.generation.base import GenerationError, GenerationUnavailable

log = logging.getLogger(__name__)
_FAILED = "the answer could not be generated"


@dataclass(frozen=True)
class GenerationFailure:
    """What a client is told about a :class:`GenerationError`."""

    status: int
    detail: str


def generation_failure(error: Exception) -> GenerationFailure:
    """The status and detail of a :class:`GenerationError` (see the module docstring)."""
    if isinstance(error, GenerationUnavailable):
        return GenerationFailure(503, f"{_FAILED}: the generation server is unreachable or timed out")
    return GenerationFailure(502, f"{_FAILED}: the generation server answered badly")


async def generation_failed(request: Request, error: Exception) -> JSONResponse:
    """The app's handler of :class:`GenerationError`: logged in full, answered as 502 or 503."""
    failure = generation_failure(error)
    log.error("generation failed on %s: %s", request.url.path, error)
    return JSONResponse({"detail": failure.detail}, status_code=failure.status)


def error_event(error: GenerationError) -> str:
    """The server-sent event that ends an answer cut off by ``error``, OpenAI-style (logged in full)."""
    failure = generation_failure(error)
    log.error("generation failed mid-answer: %s", error)
    body = {"error": {"message": failure.detail, "type": "generation_error", "code": failure.status}}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
