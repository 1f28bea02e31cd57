"""Background chores: they survive a failing round and stop when asked."""

from __future__ import annotations

import threading

from assistant.periodic import Periodic


def test_a_failing_round_is_logged_and_the_next_one_runs(caplog) -> None:
    rounds: list[int] = []
    second_round = threading.Event()

    def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database blip")
        second_round.set()

    chore = Periodic("test-chore", 0.01, work)
    chore.start()
    assert second_round.wait(timeout=10)
    chore.stop()
    assert not chore._thread.is_alive()
    assert "test-chore failed" in caplog.text and "database blip" in caplog.text


def test_stop_before_start_is_harmless() -> None:
    chore = Periodic("never-started", 60, lambda: None)
    chore.stop()
    assert not chore._thread.is_alive()
