"""Load test of the HTTP server with locust (headless, loopback only, bounded in time).

Starts ``eval.load_server`` on a free loopback port, then runs locust's library runner:
chat sessions (streamed ``POST /v1/chat/completions`` with think time before each question)
at each level, then ``POST /v1/feedback`` as a Poisson stream at a fixed mean rate on the
interactions created. Time to first token is the time to the first SSE chunk carrying text;
beside it stand the server's own timings of the same answers (retrieval done, first token
from the generator). With ``--model fake`` the answer comes from a timed fake generator, so
first token minus its configured TTFT is the server's own overhead; ``--model real`` serves
the default model end to end, and the report says at how many sessions p95 time to first
token passes 3 s and how much load was shed (429/503 with ``Retry-After``) rather than
timed out.

Run: ``python -m eval.bench_load [--model fake|real] [--levels 10,50,200] [--duration 60] [--json]``
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import gevent
import numpy as np
from locust import FastHttpUser, HttpUser, between, task  # patches ssl & co. first
from locust.env import Environment
from requests import ConnectionError as RequestsConnectionError
from requests import Timeout, get, post
from sqlalchemy import select

from assistant.config import Settings
from assistant.store import Store
from assistant.store.models import InteractionRow, utcnow
from eval.bench_cli import emit, parse_args
from eval.load_report import table

FAKE_LEVELS, REAL_LEVELS = "10,50,200", "1,2,4,8"
QUESTIONS = [
    "How do I cancel my order?",
    "How can I change my shipping address?",
    "How long does delivery take?",
    "How do I get a refund?",
    "I forgot my password, how do I recover it?",
    "Which payment methods do you accept?",
    "How do I track my order?",
    "How do I delete my account?",
]
READ_TIMEOUT_S = 60.0
TTFT_LIMIT_S = 3.0


class Tally:
    """What the users saw: outcomes, shed answers, interaction ids, and every timing unrounded.

    Locust's own percentiles round times over 100 ms to 10 ms, too coarse for an overhead of
    a few tens of ms on a 200 ms first token, so each request's time is kept here as measured.
    """

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.interactions: list[str] = []
        self.times_ms: defaultdict[str, list[float]] = defaultdict(list)

    def record(self, *, name: str, response_time: float, **_) -> None:
        """Locust ``request`` event listener."""
        self.times_ms[name].append(response_time)

    def percentile_ms(self, name: str, percentile: float) -> float | None:
        times = self.times_ms.get(name)
        return float(np.percentile(times, percentile)) if times else None

    def reset(self) -> None:
        self.outcomes.clear()
        self.times_ms.clear()


TALLY = Tally()


def _outcome(status: int, headers) -> str:
    if status in (429, 503):
        return f"shed_{status}" if headers.get("Retry-After") else f"shed_{status}_no_retry_after"
    return "ok" if status < 400 else "error"


class ChatUser(HttpUser):
    """One chat session: ask, read the streamed answer, think, ask again."""

    wait_time = between(5, 15)

    def on_start(self) -> None:
        # Think before the first question too: sessions that open during the ramp then ask at
        # the level's steady rate, instead of all at once (a burst the level never sees again).
        self.wait()

    @task
    def ask(self) -> None:
        body = {"messages": [{"role": "user", "content": random.choice(QUESTIONS)}], "stream": True}
        started = time.perf_counter()
        try:
            with self.client.post(
                "/v1/chat/completions",
                json=body,
                stream=True,
                catch_response=True,
                timeout=(5, READ_TIMEOUT_S),
                name="chat",
            ) as response:
                outcome = _outcome(response.status_code, response.headers)
                TALLY.outcomes[outcome] += 1
                if outcome != "ok":
                    response.failure(f"HTTP {response.status_code}")
                    return
                self._read(response, started)
        except Timeout:
            TALLY.outcomes["timeout"] += 1

    def _read(self, response, started: float) -> None:
        first = None
        for line in response.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if first is None and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter() - started
                self._fire("first token", first)
            if chunk.get("interaction_id"):
                TALLY.interactions.append(chunk["interaction_id"])
                TALLY.outcomes["abstained" if chunk.get("abstained") else "answered"] += 1
        self._fire("answer", time.perf_counter() - started)

    def _fire(self, name: str, seconds: float) -> None:
        self.environment.events.request.fire(
            request_type="SSE",
            name=name,
            response_time=seconds * 1000,
            response_length=0,
            exception=None,
            context={},
        )


VOTES_PER_USER_S = 1.0  # each voting user's mean rate; the phase runs rate / this many users


class FeedbackUser(FastHttpUser):
    """Votes on answers already given (mostly 👍 + resolved), at random, ~1 vote/s per user.

    Think times are exponential, so the votes of many users arrive as a Poisson stream at the
    phase's rate, as independent customers' votes do. A fixed pace per user
    (``constant_throughput``) couples the users to the server: users answered together wait
    out the same remainder of their period and vote together again, so the load tool itself
    sends the votes in bursts.
    """

    def wait_time(self) -> float:
        return random.expovariate(VOTES_PER_USER_S)

    @task
    def vote(self) -> None:
        body = {
            "interaction_id": random.choice(TALLY.interactions),
            "rating": "up" if random.random() < 0.8 else "down",
            "resolution": "resolved",
            "voter": f"load-{random.randrange(10**6)}",
        }
        with self.client.post("/v1/feedback", json=body, catch_response=True, name="feedback") as response:
            outcome = _outcome(response.status_code, response.headers)
            TALLY.outcomes[f"feedback_{outcome}"] += 1
            if outcome != "ok":
                response.failure(f"HTTP {response.status_code}")


def run_users(url: str, user: type, count: int, duration_s: float) -> tuple[Environment, datetime, float]:
    """Spawn ``count`` users over a short ramp, reset the stats, run ``duration_s``.

    Returns the environment, when the stats were reset (UTC) and the seconds measured.
    """
    env = Environment(user_classes=[user], host=url)
    env.events.request.add_listener(TALLY.record)
    runner = env.create_local_runner()
    runner.start(count, spawn_rate=max(1.0, count / 5))
    deadline = time.monotonic() + 60
    while runner.user_count < count and time.monotonic() < deadline:
        gevent.sleep(0.2)
    env.stats.reset_all()
    TALLY.reset()
    since, started = utcnow(), time.monotonic()
    gevent.sleep(duration_s)
    runner.quit()
    return env, since, time.monotonic() - started


def chat_level(url: str, home: Path, sessions: int, duration_s: float, ttft_s: float | None) -> dict:
    """One level of chat sessions: throughput, first-token percentiles, errors and shed answers.

    Also the server's own timings of the answers it logged while the level was measured.
    """
    _, since, seconds = run_users(url, ChatUser, sessions, duration_s)
    counts = dict(TALLY.outcomes)
    sent = sum(counts.get(k, 0) for k in ("ok", "error", "timeout")) + sum(
        v for k, v in counts.items() if k.startswith("shed_")
    )
    errors = (
        counts.get("error", 0)
        + counts.get("timeout", 0)
        + sum(v for k, v in counts.items() if k.endswith("no_retry_after"))
    )
    level = {
        "sessions": sessions,
        "seconds": seconds,
        "requests": sent,
        "answers_per_s": counts.get("ok", 0) / seconds,
        "first_token_p50_ms": TALLY.percentile_ms("first token", 50),
        "first_token_p95_ms": TALLY.percentile_ms("first token", 95),
        "answer_p95_ms": TALLY.percentile_ms("answer", 95),
        "errors": errors,
        "error_rate": errors / sent if sent else 0.0,
        "timeouts": counts.get("timeout", 0),
        "shed_429": counts.get("shed_429", 0),
        "shed_503": counts.get("shed_503", 0),
        "abstained": counts.get("abstained", 0),
    }
    if ttft_s is not None:
        for p in ("p50", "p95"):
            value = level[f"first_token_{p}_ms"]
            level[f"overhead_{p}_ms"] = None if value is None else value - ttft_s * 1000
    level.update(server_timings(home, since))
    return level


def server_timings(home: Path, since: datetime) -> dict:
    """p50/p95 of the server's own logged timings (ms from the request) of answers since ``since``.

    ``retrieve`` ends when the question is embedded and searched; ``first_token`` when the
    generator yields, so the client's first token minus this is HTTP and streaming.
    """
    store = Store(Settings(home=home).resolved_database_url)
    try:
        with store.session() as session:
            query = select(InteractionRow.latency_ms).where(InteractionRow.created_at >= since)
            logged = list(session.scalars(query))
    finally:
        store.close()
    timings = {}
    for stage in ("retrieve", "first_token"):
        values = [latency[stage] for latency in logged if stage in latency]
        for p in (50, 95):
            timings[f"server_{stage}_p{p}_ms"] = float(np.percentile(values, p)) if values else None
    return timings


def feedback_phase(url: str, rate: float, duration_s: float) -> dict:
    """``POST /v1/feedback`` at ``rate`` requests/s on the interactions the chat levels created."""
    users = max(1, math.ceil(rate / VOTES_PER_USER_S))
    env, _, seconds = run_users(url, FeedbackUser, users, duration_s)
    entry = env.stats.get("feedback", "POST")
    return {
        "target_per_s": rate,
        "requests": entry.num_requests,
        "per_s": entry.num_requests / seconds,
        "p50_ms": TALLY.percentile_ms("feedback", 50),
        "p95_ms": TALLY.percentile_ms("feedback", 95),
        "errors": entry.num_failures,
        "error_rate": entry.num_failures / entry.num_requests if entry.num_requests else 0.0,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path, args, max_generations: int) -> tuple[subprocess.Popen, str]:
    """``eval.load_server`` on a free loopback port, once ``/readyz`` says it is ready."""
    port = free_port()
    env = {**os.environ, "ASSISTANT_MAX_CONCURRENT_GENERATIONS": str(max_generations)}
    command = [sys.executable, "-m", "eval.load_server", "--home", str(home), "--port", str(port)]
    command += ["--model", args.model, "--ttft", str(args.ttft), "--token-delay", str(args.token_delay)]
    command += ["--tokens", str(args.tokens), "--workers", str(args.workers)]
    log_path = args.server_log or home.parent / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the load server exited: {log_path.read_text()[-2000:]}")
        try:
            if get(f"{url}/readyz", timeout=2).status_code == 200:
                return server, url
        except RequestsConnectionError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError("the load server did not get ready in 10 minutes")


def seed(url: str, count: int = 8) -> None:
    """A few answered questions, so the server is warm and feedback has interactions to vote on."""
    for question in QUESTIONS[:count]:
        body = {"messages": [{"role": "user", "content": question}]}
        response = post(f"{url}/v1/chat/completions", json=body, timeout=READ_TIMEOUT_S)
        response.raise_for_status()
        TALLY.interactions.append(response.json()["interaction_id"])


def run(args) -> dict:
    fake = args.model == "fake"
    levels = [int(n) for n in (args.levels or (FAKE_LEVELS if fake else REAL_LEVELS)).split(",")]
    max_generations = args.max_generations if args.max_generations is not None else (0 if fake else 4)
    ChatUser.wait_time = between(args.think_min, args.think_max)
    report: dict = {
        "model": args.model,
        "fake_generator": {"ttft_s": args.ttft, "token_delay_s": args.token_delay, "tokens": args.tokens}
        if fake
        else None,
        "think_s": [args.think_min, args.think_max],
        "duration_s": args.duration,
        "max_concurrent_generations": max_generations,
        "server_workers": args.workers,
        "cpus": os.cpu_count(),
        "levels": {},
    }
    with tempfile.TemporaryDirectory() as work:
        home = Path(work) / "home"
        home.mkdir()
        server, url = start_server(home, args, max_generations)
        try:
            seed(url)
            for sessions in levels:
                print(f"-- {sessions} sessions", file=sys.stderr, flush=True)
                level = chat_level(url, home, sessions, args.duration, args.ttft if fake else None)
                report["levels"][str(sessions)] = level
            if args.feedback_rate > 0:
                print(f"-- feedback at {args.feedback_rate:g}/s", file=sys.stderr, flush=True)
                report["feedback"] = feedback_phase(url, args.feedback_rate, args.feedback_duration)
        finally:
            server.terminate()
            server.wait(timeout=30)
    passes = [
        int(n)
        for n, lv in report["levels"].items()
        if lv["first_token_p95_ms"] is not None and lv["first_token_p95_ms"] > TTFT_LIMIT_S * 1000
    ]
    report["p95_ttft_passes_3s_at"] = min(passes) if passes else None
    return report


def main() -> None:
    args = parse_args(
        __doc__,
        {
            "--model": {"choices": ["fake", "real"], "default": "fake"},
            "--levels": {"help": f"sessions per level (default {FAKE_LEVELS}; real: {REAL_LEVELS})"},
            "--duration": {"type": float, "default": 60.0, "help": "seconds measured per level"},
            "--think-min": {"type": float, "default": 5.0},
            "--think-max": {"type": float, "default": 15.0},
            "--ttft": {"type": float, "default": 0.2, "help": "fake: seconds to the first token"},
            "--token-delay": {"type": float, "default": 0.02, "help": "fake: seconds between tokens"},
            "--tokens": {"type": int, "default": 40, "help": "fake: tokens per answer"},
            "--workers": {"type": int, "default": 1, "help": "server processes (replicas on one port)"},
            "--max-generations": {"type": int, "help": "server's generation limit (fake: 0, real: 4)"},
            "--feedback-rate": {"type": float, "default": 200.0, "help": "0 skips the feedback phase"},
            "--feedback-duration": {"type": float, "default": 30.0},
            "--server-log": {"type": Path, "help": "keep the server's log here"},
        },
    )
    report = run(args)
    if not emit(report, args):
        return
    print("\n".join(table(report)))
    if report["model"] == "real":
        print(f"\np95 time to first token passes 3 s at: {report['p95_ttft_passes_3s_at'] or 'no level run'}")


if __name__ == "__main__":
    main()
