"""Explain the inbound classifier's verdict on raw messages: one JSON object per message."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from email_accounts.inbound import classify, suggest_lead_status, verdict_json


class Command(BaseCommand):
    help = (
        "Classify raw RFC 5322 messages (files, or - for standard input) the way the inbox "
        "sync does, and print one JSON object per message with the rules that decided."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="a .eml file, or - for stdin")

    def handle(self, *args, **options) -> None:
        for path in options["paths"]:
            self.stdout.write(json.dumps(inspect_path(path), ensure_ascii=False, sort_keys=False))


def inspect_path(path: str) -> dict:
    """The verdict on one file (or stdin for "-"), or {"path", "error"} when it cannot be read."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except (OSError, ValueError) as exc:
        return {"path": path, "error": f"could not read the message: {exc}"}
    verdict = classify(raw)
    data = {"path": path, **verdict_json(verdict)}
    lead_status, lead_rule = suggest_lead_status(verdict)
    data["suggested_lead_status"] = lead_status
    data["suggested_lead_status_rule"] = lead_rule
    return data
