from django.contrib import admin

from accounts.admin import UnscopedAdmin
from webhooks.models import Event


@admin.register(Event)
class EventAdmin(UnscopedAdmin):
    list_display = ["type", "workspace", "created_at"]
    list_filter = ["type"]
    readonly_fields = ["workspace", "type", "data", "created_at"]
