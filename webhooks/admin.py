from django.contrib import admin

from webhooks.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["type", "workspace", "created_at"]
    list_filter = ["type"]
    readonly_fields = ["workspace", "type", "data", "created_at"]
