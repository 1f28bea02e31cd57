"""Load shedding for answer generation: a bounded number of answers at once, 503 beyond it.

The local model answers one question at a time, so an unbounded queue only turns overload
into client timeouts. :class:`GenerationSlots` admits ``ASSISTANT_MAX_CONCURRENT_GENERATIONS``
answers at once; a request that finds no free slot within ``ASSISTANT_GENERATION_QUEUE_SECONDS``
gets a 503 with ``Retry-After`` (and nothing is logged for it), so clients back off and retry.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TypeVar

import anyio
from fastapi import HTTPException, Request
from starlette.concurrency import iterate_in_threadpool

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
    """``chunks`` read in the thread pool, and closed there too when the client goes away.

    Closing an abandoned answer stream still logs the interaction (a database write). Left to
    the garbage collector, that write could run inside another request's transaction on the
    same thread and wait out the database's busy timeout while holding its lock.
    """
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)
