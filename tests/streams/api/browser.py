"""Headless Debian chromium for the console tests, and where their screenshots go.

Why a module: the console's tests each need the same browser (the system's `/usr/bin/chromium`, driven by
Playwright for Python, with a fresh profile and no background traffic) and the same sign-in, and their
screenshots must land where CI keeps them: the workspace (`.omnitrack/artifacts/console/`, ignored by git, or
`OMNITRACK_CONSOLE_ARTIFACTS`) as well as the test's own `tmp_path`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from omnitrack.settings import project_root
from tests.streams.api.helpers import token

__all__ = ["CHROMIUM", "FLAGS", "WAIT_MS", "chromium", "sign_in", "Screenshots"]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000


@contextlib.contextmanager
def chromium(viewport: dict[str, int] | None = None) -> Iterator[BrowserContext]:
    """A persistent context on a fresh, throw-away profile directory."""
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
                                                       viewport=viewport or {"width": 1400, "height": 900})
        try:
            yield context
        finally:
            context.close()


def sign_in(page: Page, url: str, role: str, sub: str) -> None:
    """Open the console and sign in with a token of `role` for `sub`; wait until the page says who it is."""
    page.goto(f"{url}/console/")
    page.fill("#token", token(role, sub))
    page.click("#login-form button[type=submit]")
    expect(page.locator("#identity")).to_have_text(f"{sub} ({role})", timeout=WAIT_MS)


class Screenshots:
    """Full-page screenshots saved under `tmp_path/screenshots` and copied to the workspace folder."""

    def __init__(self, tmp_path: Path, test_name: str) -> None:
        self.local = tmp_path / "screenshots"
        self.local.mkdir(parents=True, exist_ok=True)
        root = os.environ.get("OMNITRACK_CONSOLE_ARTIFACTS") or str(project_root() / ".omnitrack" / "artifacts" / "console")
        self.kept = Path(root) / test_name
        self.kept.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def take(self, page: Page, name: str) -> Path:
        path = self.local / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        kept = self.kept / path.name
        shutil.copyfile(path, kept)
        self.saved.append(kept)
        print(f"screenshot: {kept}")
        return kept
