"""Launching Debian's Chromium through Playwright (never Playwright's own browser downloads)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(`apt-get install -y --no-install-recommends chromium`, or `make test` as root)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing: install the dev extra (`pip install -e '.[dev]'`)"
    return None


def launch(playwright):
    """A headless Chromium from ``playwright.chromium`` (a ``sync_playwright()`` object)."""
    return playwright.chromium.launch(headless=True, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
