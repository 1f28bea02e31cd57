"""Background chores of a server (release polling, Slack review sweeps) in stoppable threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``work`` at start and then every ``every_s`` seconds in a daemon thread until :meth:`stop`.

    A failing round is logged and the next one tries again, so a database blip never ends the
    chore; :meth:`stop` ends the thread, so a shut-down app (or a finished test) leaves nothing
    polling a database that may be gone.
    """

    def __init__(self, name: str, every_s: float, work: Callable[[], object]) -> None:
        self.name = name
        self.every_s = every_s
        self.work = work
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.work()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", self.name, self.every_s)
            self._stop.wait(self.every_s)
