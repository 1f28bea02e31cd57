"""Claims in the store: one winner per key, also when threads race (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

from assistant.store import Store
from connectors.slack import dedupe


def test_one_claim_wins_per_key_even_when_racing(db_url: str) -> None:
    store = Store(db_url)
    store.upgrade()
    start = threading.Barrier(8)
    wins: list[bool] = []

    def race() -> None:
        start.wait()
        wins.append(dedupe.claim(store, "event:EvRACE"))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    dedupe.release(store, "event:EvRACE")
    assert dedupe.claim(store, "event:EvRACE") is True  # given back: a retry may take it
    assert dedupe.prune(store) == 0  # fresh keys stay
    store.close()
