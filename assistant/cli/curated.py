"""``assistant curated …``: curated answers, served at once for similar questions.

Same conventions as every command: ``--json`` prints one JSON document; bad input (unknown id,
bad CSV) exits with code 2 and one line saying what to fix.
"""

from __future__ import annotations

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
from assistant.review.curated import (
    CuratedError,
    curated_dict,
    delete_curated,
    edit_curated,
    export_csv,
    import_csv,
    list_curated,
)

curated_app = typer.Typer(help="Curated answers, served at once for similar questions.")


def register(app: typer.Typer) -> None:
    """Add the ``curated`` command group to the main CLI."""
    app.add_typer(curated_app, name="curated")


@curated_app.command("list")
def curated_list(as_json: JsonOption = False) -> None:
    """Every curated answer with how often it was served."""
    store = open_store(load_settings())
    with store.session() as session:
        rows = [curated_dict(row) for row in list_curated(session)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "on", "served", "question", "answer")
    for row in rows:
        table.add_row(
            row["id"],
            "yes" if row["enabled"] else "no",
            str(row["served_count"]),
            row["question"][:50],
            row["answer"][:50],
        )
    out.print(table)


def _edit(curated_id: str, as_json: bool, done: str = "updated", **changes) -> None:
    store = open_store(load_settings())
    try:
        with store.session() as session:
            row = curated_dict(edit_curated(session, curated_id, **changes))
    except CuratedError as exc:
        fail(str(exc))
    print_json(row) if as_json else out.print(f"curated answer {curated_id} {done}", markup=False)


@curated_app.command("edit")
def curated_edit(
    curated_id: str,
    question: Annotated[str | None, typer.Option(help="New question.")] = None,
    answer: Annotated[str | None, typer.Option(help="New answer text.")] = None,
    doc: Annotated[list[str] | None, typer.Option("--doc", help="Source document ids (replace).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a curated answer's question, answer or sources."""
    _edit(curated_id, as_json, question=question, answer=answer, doc_ids=doc)


@curated_app.command("enable")
def curated_enable(curated_id: str, as_json: JsonOption = False) -> None:
    """Serve this curated answer again."""
    _edit(curated_id, as_json, "enabled: served again", enabled=True)


@curated_app.command("disable")
def curated_disable(curated_id: str, as_json: JsonOption = False) -> None:
    """Stop serving this curated answer (kept for the record)."""
    _edit(curated_id, as_json, "disabled: no longer served", enabled=False)


@curated_app.command("delete")
def curated_delete(curated_id: str, as_json: JsonOption = False) -> None:
    """Delete a curated answer for good."""
    store = open_store(load_settings())
    try:
        with store.session() as session:
            delete_curated(session, curated_id)
    except CuratedError as exc:
        fail(str(exc))
    print_json({"deleted": curated_id}) if as_json else out.print(f"curated answer {curated_id} deleted")


@curated_app.command("import")
def curated_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns id, question, answer, doc_ids, enabled.")],
    actor: ActorOption = DEFAULT_ACTOR,
    as_json: JsonOption = False,
) -> None:
    """Add or update curated answers from CSV; a bad row changes nothing."""
    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    store = open_store(load_settings())
    try:
        with store.session() as session:
            counts = import_csv(session, text, actor=actor)
    except CuratedError as exc:
        fail(f"{file}: {exc}")
    erased = f", skipped {counts['erased']} erased with a customer" if counts["erased"] else ""
    print_json(counts) if as_json else out.print(
        f"added {counts['added']}, updated {counts['updated']}{erased}"
    )


@curated_app.command("export")
def curated_export(
    file: Annotated[Path, typer.Argument(help="Where to write the CSV.")],
    as_json: JsonOption = False,
) -> None:
    """Write every curated answer to CSV (the format `curated import` reads)."""
    store = open_store(load_settings())
    with store.session() as session:
        text = export_csv(session)
        count = len(list_curated(session))
    file.write_text(text, encoding="utf-8")
    print_json({"file": str(file), "count": count}) if as_json else out.print(
        f"{count} curated answers → {file}"
    )
