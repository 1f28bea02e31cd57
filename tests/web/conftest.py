"""Browser fixtures: the API test app served for real, and a page in Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import browser
from tests.api.conftest import api_settings, assistant, live_url  # noqa: F401


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the browser tests check the page, the API tests already cover PostgreSQL."""
    return f"sqlite:///{tmp_path / 'data' / 'assistant.db'}"


@pytest.fixture
def page() -> Iterator:
    """A fresh page in headless Chromium; skips, saying why, when the browser is not installed."""
    reason = browser.unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        try:
            context = chromium.new_context(viewport={"width": 1000, "height": 800})
            yield context.new_page()
            context.close()
        finally:
            chromium.close()
