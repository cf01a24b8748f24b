from django.contrib import admin

from email_accounts.models import Mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    """Staff support view. The credentials are not a field here (editable=False) and never
    shown; changes to limits and status go through the dashboard's services."""

    list_display = ["email", "provider", "status", "workspace", "sent_today", "daily_limit"]
    list_filter = ["provider", "status"]
    search_fields = ["email"]
    readonly_fields = [
        "workspace",
        "provider",
        "email",
        "status",
        "status_reason",
        "status_since",
        "paused_until",
        "daily_limit_max",
        "google_workspace_domain",
        "sent_day",
        "sent_today",
        "last_sent_at",
        "sync_cursor",
        "last_sync_at",
        "folders",
        "connected_at",
    ]

    def has_add_permission(self, request) -> bool:  # connecting needs the real tests
        return False
