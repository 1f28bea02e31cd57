"""``assistant review …``: the support lead's review queue from the terminal.

Same conventions as every command: ``--json`` prints one JSON document; bad input
(unknown id, conflict, bad CSV) exits with code 2 and one line saying what to fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.common import (
    DEFAULT_ACTOR,
    ActorOption,
    JsonOption,
    fail,
    load_settings,
    open_store,
    out,
    print_json,
)
from assistant.review.actions import Action, ReviewError, get_flag, review, review_cluster
from assistant.review.clusters import refresh_clusters
from assistant.review.examples import training_examples
from assistant.review.flags import list_flags
from assistant.review.gaps import gaps_csv, knowledge_gaps
from assistant.review.item import review_item
from assistant.store.models import FLAG_REASONS, FLAG_STATUSES

review_app = typer.Typer(
    help="The review queue: flagged answers to approve, correct, mark as gaps or reject."
)

VersionOption = Annotated[
    int | None, typer.Option("--version", help="The flag version you reviewed (default: the current one).")
]
ClusterOption = Annotated[bool, typer.Option("--cluster", help="Apply to every open flag of the cluster.")]
FlagArg = Annotated[int, typer.Argument(help="The flag id (see `review list`).")]


def register(app: typer.Typer) -> None:
    """Add the ``review`` command group to the main CLI."""
    app.add_typer(review_app, name="review")


@review_app.command("list")
def review_list(
    reason: Annotated[
        str | None, typer.Option(help=f"Only flags with this reason: {', '.join(FLAG_REASONS)}.")
    ] = None,
    status: Annotated[str, typer.Option(help=f"Flags in this status: {', '.join(FLAG_STATUSES)}.")] = "open",
    as_json: JsonOption = False,
) -> None:
    """The queue, most urgent first: id, question, answer, reasons, priority, cluster, version."""
    if reason is not None and reason not in FLAG_REASONS:
        fail(f"--reason must be one of {', '.join(FLAG_REASONS)}")
    if status not in FLAG_STATUSES:
        fail(f"--status must be one of {', '.join(FLAG_STATUSES)}")
    settings = load_settings()
    store = open_store(settings)
    with store.session() as session:
        refresh_clusters(session, settings)  # loads the embedder only for questions not embedded yet
        items = list_flags(session, reason=reason, status=status)
    if as_json:
        print_json(items)
        return
    if not items:
        out.print(f"no {status} flags" + (f" with reason {reason}" if reason else ""))
        return
    table = Table("id", "priority", "reasons", "cluster", "question", "answer")
    for item in items:
        table.add_row(
            str(item["id"]),
            f"{item['priority']:.2f}",
            ", ".join(item["reasons"]),
            item["cluster"] or "",
            item["question"][:60],
            item["answer"][:60].replace("\n", " "),
        )
    out.print(table)


@review_app.command("show")
def review_show(
    flag_id: FlagArg,
    as_json: JsonOption = False,
) -> None:
    """One flag in full: the conversation, the answer, its sources, feedback and audit trail."""
    store = open_store(load_settings())
    try:
        with store.session() as session:
            item = review_item(session, flag_id)
    except ReviewError as exc:
        fail(str(exc))
    if as_json:
        print_json(item)
        return
    out.print(
        f"flag {item['id']} · {item['status']} · version {item['version']} · priority "
        f"{item['priority']:.2f} · {', '.join(item['reasons'])}"
        + (f" · cluster {item['cluster']}" if item["cluster"] else ""),
        style="bold",
        markup=False,
    )
    out.print(
        f"asked {item['asked_at']} on {item['channel']} · release {item['release']} · "
        f"confidence {item['confidence']:.2f} · interaction {item['interaction_id']}",
        style="dim",
        markup=False,
    )
    for turn in item["earlier_turns"]:
        out.print(f"{turn['role']}: {turn['content']}", style="dim", markup=False)
    out.print(f"user: {item['question']}", markup=False)
    out.print(f"assistant: {item['answer']}", markup=False)
    sources = Table("cited", "doc", "title", "score", title="retrieved sources")
    for source in item["sources"]:
        sources.add_row(
            "✓" if source["cited"] else "", source["doc_id"], source["title"], f"{source['score']:.3f}"
        )
    out.print(sources)
    for event in item["feedback"]:
        said = " · ".join(str(event[k]) for k in ("rating", "resolution", "comment") if event[k])
        out.print(f"feedback {event['created_at']} by {event['voter'] or 'anonymous'}: {said}", markup=False)
    for entry in item["audit"]:
        out.print(
            f"audit {entry['created_at']} {entry['actor']}: {entry['action']} {entry['note'] or ''}",
            markup=False,
        )
    if item["cluster_open"]:
        out.print(
            f"{len(item['cluster_open'])} more open in its cluster: "
            + ", ".join(str(f["id"]) for f in item["cluster_open"])
        )
    if item["curated"]:
        out.print(f"curated answer {item['curated']['id']}: {item['curated']['answer']}", markup=False)


def _act(
    flag_id: int,
    action: Action,
    *,
    version: int | None,
    cluster: bool,
    actor: str,
    as_json: bool,
    answer: str | None = None,
    doc_ids: list[str] | None = None,
    note: str | None = None,
) -> None:
    store = open_store(load_settings())
    try:
        with store.session() as session:
            expected = version if version is not None else get_flag(session, flag_id).version
            run = review_cluster if cluster else review
            result = run(
                session,
                flag_id,
                action,
                expected_version=expected,
                actor=actor,
                answer=answer,
                doc_ids=doc_ids or (),
                note=note,
            )
            flags = result if isinstance(result, list) else [result]
            summary = [
                {
                    "id": f.id,
                    "status": f.status,
                    "version": f.version,
                    "curated_answer_id": f.curated_answer_id,
                }
                for f in flags
            ]
    except ReviewError as exc:
        fail(str(exc))
    if as_json:
        print_json(summary if cluster else summary[0])
        return
    for item in summary:
        curated = f" (curated answer {item['curated_answer_id']})" if item["curated_answer_id"] else ""
        out.print(f"flag {item['id']} {item['status']}{curated}", markup=False)


@review_app.command("approve")
def review_approve(
    flag_id: FlagArg,
    version: VersionOption = None,
    cluster: ClusterOption = False,
    actor: ActorOption = DEFAULT_ACTOR,
    as_json: JsonOption = False,
) -> None:
    """Approve the answer as is: it becomes a curated answer, served at once."""
    _act(flag_id, "approve", version=version, cluster=cluster, actor=actor, as_json=as_json)


@review_app.command("correct")
def review_correct(
    flag_id: FlagArg,
    answer: Annotated[str, typer.Option("--answer", help="The corrected answer text.")],
    doc: Annotated[list[str] | None, typer.Option("--doc", help="A source document id (repeatable).")] = None,
    version: VersionOption = None,
    cluster: ClusterOption = False,
    actor: ActorOption = DEFAULT_ACTOR,
    as_json: JsonOption = False,
) -> None:
    """Correct the answer (and pick its sources): the correction is served at once."""
    _act(
        flag_id,
        "correct",
        version=version,
        cluster=cluster,
        actor=actor,
        as_json=as_json,
        answer=answer,
        doc_ids=doc,
    )


@review_app.command("gap")
def review_gap(
    flag_id: FlagArg,
    note: Annotated[str | None, typer.Option(help="What article is missing.")] = None,
    version: VersionOption = None,
    cluster: ClusterOption = False,
    actor: ActorOption = DEFAULT_ACTOR,
    as_json: JsonOption = False,
) -> None:
    """Mark a knowledge gap: the help centre lacks the answer (cleared by a later ingest)."""
    _act(flag_id, "gap", version=version, cluster=cluster, actor=actor, as_json=as_json, note=note)


@review_app.command("reject")
def review_reject(
    flag_id: FlagArg,
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    version: VersionOption = None,
    cluster: ClusterOption = False,
    actor: ActorOption = DEFAULT_ACTOR,
    as_json: JsonOption = False,
) -> None:
    """Reject: never curate or learn from this interaction."""
    _act(flag_id, "reject", version=version, cluster=cluster, actor=actor, as_json=as_json, note=note)


@review_app.command("gaps")
def review_gaps(
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the gaps to this CSV file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Knowledge gaps grouped by cluster, with counts and example questions."""
    store = open_store(load_settings())
    with store.session() as session:
        gaps = knowledge_gaps(session)
        text = gaps_csv(session) if csv_file else ""
    if csv_file:
        csv_file.write_text(text, encoding="utf-8")
    if as_json:
        print_json(gaps)
        return
    for gap in gaps:
        out.print(f"{gap['count']:>4}  {' | '.join(gap['examples'])}", markup=False)


@review_app.command("clear-gaps")
def review_clear_gaps(as_json: JsonOption = False) -> None:
    """Re-check gap questions against the active release; close the ones it now answers."""
    from assistant.pipeline import Assistant
    from assistant.releases import ReleaseRegistry
    from assistant.review.gaps import clear_gaps

    settings = load_settings()
    assistant = Assistant(settings, open_store(settings), ReleaseRegistry(settings.releases_dir))
    assistant.refresh(with_generator=False)
    cleared = clear_gaps(assistant.store, assistant.serving.retriever, settings)
    print_json({"cleared": cleared}) if as_json else out.print(f"{len(cleared)} gaps cleared")


@review_app.command("examples")
def review_examples(
    jsonl_file: Annotated[
        Path | None, typer.Option("--jsonl", help="Write the examples to this JSON Lines file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Lead-verified answers as training examples, with provenance (what the learning cycle reads)."""
    store = open_store(load_settings())
    with store.session() as session:
        examples = list(training_examples(session))
    if jsonl_file:
        lines = (json.dumps(example, ensure_ascii=False) + "\n" for example in examples)
        jsonl_file.write_text("".join(lines), encoding="utf-8")
    if as_json:
        print_json(examples)
        return
    for example in examples:
        reviewers = sorted({r["reviewed_by"] for r in example["provenance"]["reviews"] if r["reviewed_by"]})
        who = ", ".join(reviewers) or example["provenance"]["created_by"]
        out.print(f"{example['kind']:>9}  {example['question']}  ({who})", markup=False)
    if jsonl_file:
        out.print(f"{len(examples)} examples written to {jsonl_file}")
