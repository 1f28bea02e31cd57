"""A feedback writer for crash tests: records events until it is killed, printing what was acknowledged.

Every event goes through the real :func:`record_feedback_and_flag` with a client UUID as its
idempotency key, and everything about the event follows from the key, so a re-sent key is
the very same event. Output, one line each, flushed, written only after the call returned:

* ``ready``: the store is open; kills from now on land mid-write;
* ``resent KEY created|existing``: a key acknowledged in an earlier life, sent again first;
* ``ack KEY``: a new event, acknowledged (committed).

A failed call (the database crashed or restarts) is retried with the same key until it succeeds,
as a client would. Run: ``python -m eval.crash_writer URL [--resend FILE] [--limit N]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from assistant.config import Settings
from assistant.feedback import record_feedback_and_flag
from assistant.store import InteractionRow, Store

VOTER = "crash-writer"


def event_for(key: str, interaction_ids: list[str]) -> dict:
    """The one event a key stands for: its interaction and its rating."""
    number = uuid.UUID(key).int
    rating = "down" if number % 3 == 0 else "up"
    return {"interaction_id": interaction_ids[number % len(interaction_ids)], "rating": rating}


def send(store: Store, settings: Settings, key: str, interaction_ids: list[str]) -> bool:
    """Record one event, retrying through database failures; True when this call created it."""
    while True:
        try:
            _, created = record_feedback_and_flag(
                store, settings, voter=VOTER, idempotency_key=key, **event_for(key, interaction_ids)
            )
            return created
        except (LookupError, ValueError):
            raise
        except Exception:  # the server is down or restarting: retry the same key, as a client does
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("url", help="SQLAlchemy URL of a migrated store holding interactions")
    parser.add_argument("--resend", type=Path, help="JSON list of acknowledged keys to send again first")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many new events (0: never)")
    args = parser.parse_args()
    settings = Settings(home=Path(tempfile.gettempdir()), database_url=args.url, _env_file=None)
    store = Store(args.url)
    while True:
        try:
            with store.session() as session:
                interaction_ids = list(session.scalars(select(InteractionRow.id).order_by(InteractionRow.id)))
            break
        except Exception:  # not reachable yet
            time.sleep(0.05)
    print("ready", flush=True)
    for key in json.loads(args.resend.read_text()) if args.resend else []:
        created = send(store, settings, key, interaction_ids)
        print(f"resent {key} {'created' if created else 'existing'}", flush=True)
    sent = 0
    while not args.limit or sent < args.limit:
        key = str(uuid.uuid4())
        send(store, settings, key, interaction_ids)
        print(f"ack {key}", flush=True)
        sent += 1
    store.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
