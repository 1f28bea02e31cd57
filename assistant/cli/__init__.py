"""The ``assistant`` command line: a thin layer over the library, one module per command group.

- :mod:`~assistant.cli.answer` — ``ingest``, ``search``, ``ask``, ``feedback``, ``serve``;
- :mod:`~assistant.cli.releases` — ``releases list|show|activate|rollback``;
- :mod:`~assistant.cli.db` — ``db upgrade``;
- :mod:`~assistant.cli.review`, :mod:`~assistant.cli.curated` — the support lead's loop;
- :mod:`~assistant.cli.flywheel` — the learning cycle's runs (carried out by ``training``);
- :mod:`~assistant.cli.stats`, :mod:`~assistant.cli.users` — dashboard figures, accounts, erasure;
- plugins add the rest (``eval`` from ``eval``, ``slack`` from ``connectors.slack``), see
  :mod:`assistant.plugins`.

Bad input exits with code 2 and one line saying what to fix; ``--json`` prints one JSON
document on standard output.
"""

from __future__ import annotations

import os

import typer

from assistant.cli import answer, curated, db, flywheel, releases, review, stats, users
from assistant.plugins import manager as plugins

# transformers and datasets draw a progress bar for every model load and dataset save: on a
# terminal that is noise between our own output (set it to 0 to see them again)
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(help="A support assistant that answers from your help centre and learns from feedback.")
answer.register(app)
app.add_typer(db.db_app, name="db")
app.add_typer(releases.releases_app, name="releases")
for group in (review, curated, flywheel, stats, users):
    group.register(app)
plugins().hook.register_commands(app=app)
