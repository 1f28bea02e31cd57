"""``python -m assistant.cli``: the same command line as the ``assistant`` script."""

from assistant.cli import app

app()
