"""Request and response bodies of the HTTP API (OpenAI Chat Completions shape where it applies)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MODEL_ID = "support-assistant"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``; unknown OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = Field(False, strict=True)  # JSON true/false only, as OpenAI's API takes it
    user: str | None = Field(None, max_length=200, description="End-user id (pseudonymous).")
    conversation_id: str | None = Field(
        None,
        max_length=100,
        description="Continue a stored conversation (its turns are the context when only one message "
        "is sent); only with the `user` and `channel` it started with (404 otherwise).",
    )
    channel: Literal["api", "web"] = "api"


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: a vote and/or an outcome for one interaction."""

    model_config = ConfigDict(extra="forbid")
    interaction_id: str = Field(min_length=1, max_length=100)
    rating: Literal["up", "down"] | None = None
    resolution: Literal["resolved", "escalated", "unresolved"] | None = None
    comment: str | None = Field(None, max_length=2000)
    voter: str | None = Field(None, max_length=200)
    idempotency_key: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _needs_something(self) -> FeedbackRequest:
        if self.rating is None and self.resolution is None:
            raise ValueError("give a rating (up/down) and/or a resolution")
        return self


class WidgetChatRequest(BaseModel):
    """``POST /widget/v1/chat``: the customer's next message (the session header says whose)."""

    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, description="The question; earlier turns come from the session.")


class WidgetFeedbackRequest(BaseModel):
    """``POST /widget/v1/feedback``: a vote and/or an outcome for an answer of this session."""

    model_config = ConfigDict(extra="forbid")
    interaction_id: str = Field(min_length=1, max_length=100)
    rating: Literal["up", "down"] | None = None
    resolution: Literal["resolved", "escalated", "unresolved"] | None = None
    comment: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _needs_something(self) -> WidgetFeedbackRequest:
        if self.rating is None and self.resolution is None:
            raise ValueError("give a rating (up/down) and/or a resolution")
        return self


class ErrorDetail(BaseModel):
    """The body of every error answer: what went wrong, in words a person can act on."""

    detail: str


ERROR_DESCRIPTIONS = {
    400: "The request is well-formed but cannot be answered as it is",
    401: "Missing, invalid or expired credentials",
    403: "The credentials do not allow this",
    404: "No such resource",
    409: "The resource changed or is busy",
    413: "The request body is too large",
    429: "Too many requests: wait and retry",
    502: "The generation server answered badly: the server log has its answer",
    503: "Not ready yet or too busy (retry after `Retry-After` seconds), or the generation server "
    "is unreachable or timed out",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error codes a route may answer with."""
    return {code: {"model": ErrorDetail, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


def event_stream_response(description: str, *, json_too: bool = False) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI ``200`` entry for a route that streams server-sent events (or JSON when asked)."""
    event = {
        "type": "object",
        "description": "One server-sent event: `data` is a JSON `chat.completion.chunk`, the last `[DONE]`.",
        "properties": {"data": {"type": "string"}},
        "required": ["data"],
    }
    content: dict[str, Any] = {"text/event-stream": {"schema": event}}
    if json_too:
        content["application/json"] = {"schema": {"type": "object"}}
    return {200: {"description": description, "content": content}}
