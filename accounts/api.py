"""API: the key's workspace, its members and invitations."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import Invitation, Membership, Role
from fluenzr.api.base import WorkspaceAPIView, WorkspaceViewSet


class PlanLimitsSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    max_mailboxes = serializers.IntegerField(allow_null=True, help_text="null means unlimited")
    api = serializers.BooleanField()
    webhooks = serializers.BooleanField()
    custom_tracking_domain = serializers.BooleanField()
    warming = serializers.BooleanField()


class WorkspaceUsageSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    active_api_keys = serializers.IntegerField()


class WorkspaceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    plan = serializers.CharField()
    timezone = serializers.CharField()
    created_at = serializers.DateTimeField()
    limits = PlanLimitsSerializer()
    usage = WorkspaceUsageSerializer()


class WorkspaceView(WorkspaceAPIView):
    @extend_schema(responses=WorkspaceSerializer, operation_id="workspace_retrieve")
    def get(self, request: Request) -> Response:
        """The workspace of the API key: its plan, limits and usage."""
        workspace = request.workspace
        data = {
            "id": workspace.pk,
            "name": workspace.name,
            "plan": workspace.plan,
            "timezone": workspace.timezone,
            "created_at": workspace.created_at,
            "limits": workspace.plan_limits,
            "usage": selectors.workspace_usage(workspace=workspace),
        }
        return Response(WorkspaceSerializer(data).data)


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created_at"]


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """People who belong to the workspace."""

    model = Membership
    serializer_class = MemberSerializer

    def scope_queryset(self, queryset):
        return queryset.select_related("user")


class InvitationSerializer(serializers.ModelSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "created_at", "expires_at"]
        read_only_fields = ["id", "status", "created_at", "expires_at"]


class InvitationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """Invitations by email. DELETE revokes a pending invitation."""

    model = Invitation
    serializer_class = InvitationSerializer

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            workspace=request.workspace, invited_by=None, **serializer.validated_data
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        services.invitation_revoke(
            workspace=request.workspace, actor=None, invitation=self.get_object()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
