"""Answering from the command line: ``ingest``, ``search``, ``ask``, ``feedback`` and ``serve``.

Same conventions as every command: ``--json`` prints one JSON document; bad input exits with
code 2 and one line saying what to fix.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from assistant.cli.common import JsonOption, err, fail, load_settings, open_store, out, print_json
from assistant.config import Settings
from assistant.releases import ReleaseRegistry


def register(app: typer.Typer) -> None:
    """Add the answering commands to the main CLI."""
    for command in (ingest, search, ask, feedback, serve):
        app.command()(command)


def _assistant(settings: Settings):
    """The answering pipeline; models and index load on first use."""
    from assistant.pipeline import Assistant

    return Assistant(settings, open_store(settings), ReleaseRegistry(settings.releases_dir))


def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders: Markdown, text, HTML, PDF, JSONL/CSV FAQ.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Add or update documents; unchanged files cost nothing, removed files leave the index."""
    from assistant.ingest.runner import IngestPathError

    settings = load_settings()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"path does not exist: {missing[0]}")
    assistant = _assistant(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            label = {"read": "Reading files", "embed": "Embedding chunks"}[stage]
            if stage not in tasks:
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            report = assistant.ingest(paths, progress=progress)  # also clears knowledge gaps it answers
        except IngestPathError as exc:
            fail(str(exc))
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(
            f"{report.documents} documents, {report.chunks} chunks in the index "
            f"(added {len(report.added)}, updated {len(report.updated)}, removed {len(report.removed)}, "
            f"unchanged {report.unchanged}, embedded {report.chunks_embedded} chunks)"
        )
        out.print(f"release {report.release} is active" if report.release else "nothing changed")
        for skipped in report.skipped:
            err.print(f"skipped {skipped['path']}: {skipped['reason']}", markup=False)
    nothing_usable = report.documents == 0 and report.skipped
    raise typer.Exit(2 if nothing_usable else 0)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option(min=1, max=50, help="How many documents.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Retrieval only: the best documents for a query, with scores."""
    if not query.strip():
        fail("the query is empty")
    hits = _assistant(load_settings()).search(query, k).hits
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    table = Table("score", "document", "title", "text")
    for hit in hits:
        table.add_row(
            f"{hit.score:.3f}", hit.chunk.doc_id, hit.chunk.title, hit.chunk.text[:120].replace("\n", " ")
        )
    out.print(table)


def ask(
    question: Annotated[str, typer.Argument(help="The customer's question.")],
    conversation: Annotated[str | None, typer.Option(help="Continue this conversation id.")] = None,
    user: Annotated[str | None, typer.Option(help="Pseudonymous user id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question with cited sources (logged like any other channel)."""
    from assistant.pipeline import ConversationNotOpen, Delta, Done
    from assistant.store.repository import ConversationKeyError

    if not question.strip():
        fail("the question is empty")
    settings = load_settings()
    if len(question) > settings.max_message_chars:
        fail(f"the question is longer than {settings.max_message_chars} characters")
    assistant = _assistant(settings)
    try:
        events = assistant.ask_stream(question, conversation_id=conversation, channel="cli", user_id=user)
    except (ConversationNotOpen, ConversationKeyError) as exc:
        fail(str(exc))
    for event in events:
        if isinstance(event, Delta) and not as_json:
            out.print(event.text, end="", markup=False, highlight=False)
        elif isinstance(event, Done):
            answer = event.answer
    if as_json:
        print_json(answer.to_dict())
        return
    out.print(" …" if answer.finish_reason == "length" else "", markup=False, highlight=False)
    if answer.finish_reason == "length":
        out.print(f"(cut off at {settings.max_new_tokens} tokens: ASSISTANT_MAX_NEW_TOKENS)", style="dim")
    for number, citation in enumerate(answer.citations, start=1):
        out.print(f"[{number}] {citation.title} — {citation.source}", markup=False, style="dim")
    if answer.curated_answer_id:
        out.print(f"verified answer {answer.curated_answer_id} (reviewed by a lead)", style="dim")
    out.print(
        f"interaction {answer.interaction_id} · conversation {answer.conversation_id} · "
        f"release {answer.release}",
        style="dim",
    )


def feedback(
    interaction_id: Annotated[str, typer.Argument(help="The interaction to rate.")],
    up: Annotated[bool, typer.Option("--up", help="The answer helped.")] = False,
    down: Annotated[bool, typer.Option("--down", help="The answer did not help.")] = False,
    resolved: Annotated[bool, typer.Option("--resolved", help="The problem was solved.")] = False,
    escalated: Annotated[bool, typer.Option("--escalated", help="Handed to a human.")] = False,
    unresolved: Annotated[bool, typer.Option("--unresolved", help="Still not solved.")] = False,
    comment: Annotated[str | None, typer.Option(help="Free text.")] = None,
    voter: Annotated[str | None, typer.Option(help="Who votes (pseudonymous).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record 👍/👎 and the outcome of an answer."""
    from assistant.feedback import record_feedback_and_flag

    if up and down:
        fail("give --up or --down, not both")
    outcomes = [
        name
        for name, given in (("resolved", resolved), ("escalated", escalated), ("unresolved", unresolved))
        if given
    ]
    if len(outcomes) > 1:
        fail(f"give one outcome, not {' and '.join('--' + o for o in outcomes)}")
    rating = "up" if up else "down" if down else None
    resolution = outcomes[0] if outcomes else None
    if rating is None and resolution is None:
        fail("give --up or --down (and/or --resolved, --escalated or --unresolved)")
    settings = load_settings()
    try:
        event_id, created = record_feedback_and_flag(
            open_store(settings),
            settings,
            interaction_id=interaction_id,
            rating=rating,
            resolution=resolution,
            comment=comment,
            voter=voter,
        )
        result = {"id": event_id, "interaction_id": interaction_id, "created": created}
    except LookupError:
        fail(f"no interaction {interaction_id!r}")
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
    else:
        out.print("feedback recorded" if created else "this feedback was already recorded")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API, the try-it page, the widget and the admin UI in one process."""
    import uvicorn

    from assistant.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    assistant = _assistant(settings)
    out.print(f"Serving on http://{host}:{port} (models load in the background; /readyz says when)")
    uvicorn.run(create_app(assistant), host=host, port=port, log_level="info")
