"""Generate with a remote OpenAI-compatible server (vLLM, TGI, llama.cpp server, OpenAI).

Use when the model runs elsewhere, e.g. vLLM started with ``--enable-lora``: then ``model``
may be the name of a LoRA adapter the server has loaded, and that adapter answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from assistant.config import Settings
from assistant.generation.base import GenerationError, GenerationUnavailable, Generator
from assistant.types import Usage


class RemoteGenerator(Generator):
    """Streams ``POST {base_url}/chat/completions``; every failure becomes a :class:`GenerationError`.

    ``timeout_s`` bounds one whole generation, not only each read. ``ask_usage`` asks for token
    counts with ``stream_options``, which servers older than that field may refuse.
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteGenerator:
        return cls(
            settings.remote_base_url,
            settings.remote_model or settings.generator,
            api_key=settings.remote_api_key,
            timeout_s=settings.remote_timeout_s,
            temperature=settings.temperature,
            ask_usage=settings.remote_usage,
        )

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 60.0,
        temperature: float = 0.0,
        ask_usage: bool = True,
    ) -> None:
        self.model_id = model
        self.ask_usage = ask_usage
        self.adapter_id = None
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.timeout_s = timeout_s
        self.temperature = temperature
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s))

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int, usage: Usage | None = None
    ) -> Iterator[str]:
        """Yield ``choices[0].delta.content`` of each server-sent event until ``[DONE]``; the
        token counts come from the ``usage`` the server adds (vLLM and OpenAI do when asked)."""
        body: dict = {
            "model": self.model_id,
            "messages": messages,
            "stream": True,
            "max_tokens": max_new_tokens,
            "temperature": self.temperature,
        }
        if self.ask_usage:
            body["stream_options"] = {"include_usage": True}
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code >= 400:
                    detail = self._redact(response.read().decode("utf-8", "replace")[:300])
                    raise GenerationError(
                        f"remote generator at {self.url} answered HTTP {response.status_code}: {detail}"
                    )
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise GenerationUnavailable(
                            f"remote generator at {self.url} took longer than {self.timeout_s:g} s"
                        )
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, `event:`/`id:` fields
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    event = self._event(data)
                    if usage is not None and isinstance(event.get("usage"), dict):
                        usage.prompt_tokens = _count(event["usage"].get("prompt_tokens"))
                        usage.completion_tokens = _count(event["usage"].get("completion_tokens"))
                    piece = self._content(event, data)
                    if piece:
                        yield piece
        except httpx.TimeoutException as exc:
            raise GenerationUnavailable(
                f"remote generator at {self.url} timed out after {self.timeout_s:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise GenerationUnavailable(
                f"remote generator at {self.url} is unreachable: {self._redact(str(exc))}"
            ) from exc
        except httpx.HTTPError as exc:
            raise GenerationError(f"remote generator at {self.url} failed: {self._redact(str(exc))}") from exc
        raise GenerationError(f"remote generator at {self.url} ended the stream without [DONE]")

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._client.close()

    def _event(self, data: str) -> dict:
        """One server-sent event's JSON object; an error event or anything else raises."""
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise GenerationError(
                f"remote generator sent a malformed event: {self._redact(data[:200])!r}"
            ) from exc
        if not isinstance(event, dict):
            raise GenerationError(f"remote generator sent a malformed event: {self._redact(data[:200])!r}")
        if "error" in event:
            raise GenerationError(
                f"remote generator reported an error: {self._redact(str(event['error'])[:300])}"
            )
        return event

    def _content(self, event: dict, data: str) -> str | None:
        try:
            choices = event["choices"]
            return choices[0].get("delta", {}).get("content") if choices else None
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GenerationError(
                f"remote generator sent a malformed event: {self._redact(data[:200])!r}"
            ) from exc

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _count(value: object) -> int | None:
    """A token count as the server sent it, if it is one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
