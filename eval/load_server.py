"""The server that ``eval.bench_load`` loads: the real app over the demo help centre, on loopback.

``--model fake`` answers with :class:`TimedGenerator` (fixed time to first token, per-token
delay and length, no compute), so what is measured beyond those is the server's own overhead;
``--model real`` serves the default model as ``assistant serve`` does. Only the load benchmark
uses this module; nothing here is part of the product.

``--workers N`` runs N server processes on one port (uvicorn's workers, the kernel spreads
connections), as N replicas sharing one store would; the help centre is ingested once first.

Run: ``python -m eval.load_server --home DIR --port N [--model fake|real] [--workers 1] [--ttft 0.2] ...``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from assistant.api.app import create_app
from assistant.config import Settings
from assistant.generation.base import Generator
from assistant.pipeline import Assistant
from assistant.releases import ReleaseRegistry
from assistant.store import Store
from assistant.types import Usage

DEMO_KB = Path(__file__).resolve().parent.parent / "demo" / "kb"


class TimedGenerator(Generator):
    """Waits ``ttft_s``, then yields ``tokens`` words ``token_delay_s`` apart (sleeping, no CPU)."""

    model_id = "timed-fake"

    def __init__(self, ttft_s: float, token_delay_s: float, tokens: int) -> None:
        self.ttft_s = ttft_s
        self.token_delay_s = token_delay_s
        self.tokens = tokens

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int = 64, usage: Usage | None = None
    ) -> Iterator[str]:
        time.sleep(self.ttft_s)
        for index in range(min(self.tokens, max_new_tokens)):
            if index:
                time.sleep(self.token_delay_s)
            yield "Word" if index == 0 else " word"


def build(args: argparse.Namespace) -> Assistant:
    """The assistant over the demo help centre in ``args.home`` (ingested on the first start)."""
    settings = Settings(home=args.home)  # the environment still applies (e.g. the generation limit)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    options = {}
    if args.model == "fake":
        fake = TimedGenerator(args.ttft, args.token_delay, args.tokens)
        options["generator_factory"] = lambda _: fake
    assistant = Assistant(settings, store, ReleaseRegistry(settings.releases_dir), **options)
    if assistant.registry.current_id() is None:
        assistant.ingest([DEMO_KB])
    return assistant


ARGV_VARIABLE = "ASSISTANT_LOAD_SERVER_ARGV"  # how the command line reaches uvicorn's worker processes


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", choices=["fake", "real"], default="fake")
    parser.add_argument("--ttft", type=float, default=0.2, help="fake: seconds to the first token")
    parser.add_argument("--token-delay", type=float, default=0.02, help="fake: seconds between tokens")
    parser.add_argument("--tokens", type=int, default=40, help="fake: tokens per answer")
    parser.add_argument("--workers", type=int, default=1, help="server processes on the port")
    return parser.parse_args(argv)


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers`` > 1), built from the parent's command line."""
    return create_app(build(parse(json.loads(os.environ[ARGV_VARIABLE]))))


def main() -> None:
    args = parse()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers == 1:
        uvicorn.run(create_app(build(args)), host="127.0.0.1", port=args.port, log_level="warning")
        return
    build(args).store.close()  # ingests the help centre once, before the workers race to
    os.environ[ARGV_VARIABLE] = json.dumps(sys.argv[1:])
    uvicorn.run(
        "eval.load_server:worker_app",
        factory=True,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
