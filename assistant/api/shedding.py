"""Load shedding for answer generation: a bounded number of answers at once, 503 beyond it.

The local model answers one question at a time, so an unbounded queue only turns overload
into client timeouts. :class:`GenerationSlots` admits ``ASSISTANT_MAX_CONCURRENT_GENERATIONS``
answers at once; a request that finds no free slot within ``ASSISTANT_GENERATION_QUEUE_SECONDS``
gets a 503 with ``Retry-After`` (and nothing is logged for it), so clients back off and retry.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TypeVar

import anyio
from fastapi import HTTPException, Request

T = TypeVar("T")
RETRY_AFTER_SECONDS = 2


class GenerationSlots:
    """At most ``limit`` answers in flight (0: no limit); a request waits ``wait_s`` for a slot."""

    def __init__(self, limit: int, wait_s: float) -> None:
        self.limit = limit
        self.wait_s = wait_s
        self._free = threading.BoundedSemaphore(limit) if limit > 0 else None

    def _acquire(self) -> Callable[[], None]:
        """Take a slot (blocking up to ``wait_s``) and return its idempotent release, or raise 503."""
        free = self._free
        if free is None:
            return lambda: None
        if not free.acquire(timeout=self.wait_s):
            raise HTTPException(
                503,
                f"the assistant is answering {self.limit} questions already; "
                f"try again in {RETRY_AFTER_SECONDS} seconds",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                free.release()

        return release

    def hold(self, start: Callable[[], Iterator[T]]) -> Generator[T, None, None]:
        """``start()``'s events, holding a slot until they end, are closed or are dropped.

        The slot is taken before ``start`` is called, so a shed request starts nothing.
        """
        release = self._acquire()
        try:
            events = start()
        except BaseException:
            release()
            raise

        def held() -> Generator[T, None, None]:
            try:
                yield from events
            finally:
                release()

        stream = held()
        weakref.finalize(stream, release)  # a stream dropped before its first item frees the slot too
        return stream


def generation_slots(request: Request) -> GenerationSlots:
    """The app's slots (see :func:`assistant.api.app.create_app`)."""
    return request.app.state.generation_slots


async def in_threads(chunks: Generator[str, None, None]) -> AsyncIterator[str]:
    """``chunks`` read on a thread of their own; what queued up while one was sent goes out together.

    A hop through the thread pool for every chunk cost more than the rest of serving a streamed
    answer (anyio's bookkeeping on the event loop, twice per token), and a pool thread waiting
    for the generator's next token is one less for every other request. Here the stream's
    thread hands each chunk to the event loop, and the loop sends all that is waiting in one
    write: under load, fewer and larger writes.

    The thread also closes ``chunks`` (after the chunk it is reading) when the client goes
    away, and the response waits for that: closing an abandoned answer logs the interaction.
    """
    loop = asyncio.get_running_loop()
    handed: asyncio.Queue[str | _StreamEnd] = asyncio.Queue()
    stop = threading.Event()

    def hand(item: str | _StreamEnd) -> None:
        try:
            loop.call_soon_threadsafe(handed.put_nowait, item)
        except RuntimeError:  # the event loop is gone: nobody reads any more
            stop.set()

    def read() -> None:
        end = _StreamEnd()
        try:
            for chunk in chunks:
                hand(chunk)
                if stop.is_set():
                    break
        except BaseException as error:  # noqa: BLE001 - re-raised on the event loop
            end.error = error
        finally:
            try:
                chunks.close()
            finally:
                hand(end)

    threading.Thread(target=read, name="answer-stream", daemon=True).start()
    ended = False
    try:
        while not ended:
            parts = [await handed.get()]
            while not handed.empty():
                parts.append(handed.get_nowait())
            last = parts[-1]
            ended = isinstance(last, _StreamEnd)
            text = "".join(part for part in parts if isinstance(part, str))
            if text:
                yield text
            if isinstance(last, _StreamEnd) and last.error is not None:
                raise last.error
    finally:
        stop.set()
        with anyio.CancelScope(shield=True):
            while not ended:
                ended = isinstance(await handed.get(), _StreamEnd)


@dataclass
class _StreamEnd:
    """The last item a stream's thread hands over; ``error`` is what ended it early, if anything."""

    error: BaseException | None = None
