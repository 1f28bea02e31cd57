"""Running the ``assistant`` CLI in process, as the CLI tests do."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner, Result

from assistant.cli import app


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok_json(*args: str) -> Any:
    """Run with ``--json``, check it succeeded, and return the parsed document."""
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
