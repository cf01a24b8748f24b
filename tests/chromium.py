"""How the tests and scripts/screenshots.py start Debian's Chromium under Playwright."""

EXECUTABLE = "/usr/bin/chromium"
# Headless on a machine with no network but loopback: nothing may phone home at start.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
