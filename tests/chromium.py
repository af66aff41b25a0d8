"""Debian's Chromium as the tests drive it: installed by scripts/test.sh, never downloaded
(``playwright install`` is not run), started headless with what keeps it off the network."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
