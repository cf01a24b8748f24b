"""Staff support views. Inbound messages show the classifier's whole verdict — the same JSON
`manage.py inspect_message` prints — so support can explain why a message stopped, paused or
bounced a sequence. Read-only: every change goes through the dashboard's services."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from campaigns.models import InboundEmail


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "kind",
        "bounce_class",
        "from_email",
        "subject",
        "matched_by",
        "low_confidence",
        "workspace",
    ]
    list_filter = ["kind", "bounce_class", "matched_by", "low_confidence"]
    search_fields = ["from_email", "subject", "message_id"]
    exclude = ["verdict"]
    readonly_fields = [
        "workspace",
        "mailbox",
        "kind",
        "bounce_class",
        "contact",
        "enrollment",
        "answers",
        "matched_by",
        "low_confidence",
        "message_id",
        "provider_message_id",
        "provider_thread_id",
        "folder",
        "from_email",
        "from_name",
        "subject",
        "received_at",
        "return_date",
        "unsubscribe_request",
        "lead_suggestion",
        "lead_suggestion_rule",
        "read",
        "text",
        "body",
        "verdict_explained",
    ]

    @admin.display(description="Verdict (the classifier's, with the rules that decided)")
    def verdict_explained(self, inbound: InboundEmail) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(inbound.verdict, indent=2, ensure_ascii=False)
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
