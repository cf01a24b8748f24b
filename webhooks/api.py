"""API: the workspace's event log (the outbox), newest first."""

from rest_framework import mixins, serializers

from fluenzr.api.base import WorkspaceViewSet
from webhooks.models import Event


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "data"]


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Everything that happened in the workspace, as webhooks will deliver it."""

    model = Event
    serializer_class = EventSerializer
