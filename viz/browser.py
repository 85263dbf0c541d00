"""Debian's headless chromium as Playwright launches it: the executable and its flags.

Shared by the page's browser tests and the viz benchmark. Playwright's own browser
download is not used (this project's machines reach Debian's packages, not the CDN).
"""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(playwright: Any) -> Any:
    """A headless chromium browser from a started ``sync_playwright()`` object."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(ARGS))
