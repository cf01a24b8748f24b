"""/api/v1/steps and /api/v1/variants: one email of a sequence, and its A/B versions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import services
from campaigns.api.serializers import StepSerializer, StepWriteSerializer, VariantSerializer
from campaigns.models import Step, Variant
from fluenzr.api.base import WorkspaceViewSet


class StepViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One email of a sequence. PATCH edits variant A and the delay, also while the campaign
    runs (contacts past the step are not affected). DELETE is refused while contacts wait on
    the step or once it has been sent."""

    model = Step
    serializer_class = StepSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.prefetch_related("variants")

    @extend_schema(request=StepWriteSerializer, responses=StepSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        step = self.get_object()
        serializer = StepWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        step = services.step_update(
            workspace=request.workspace, step=step, **serializer.validated_data
        )
        return Response(StepSerializer(self.get_queryset().get(pk=step.pk)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.step_delete(workspace=request.workspace, step=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=VariantSerializer, responses={201: VariantSerializer})
    @action(detail=True, methods=["post"])
    def variants(self, request: Request, pk: str | None = None) -> Response:
        """Add an A/B variant; `weight` is its share of the step's contacts."""
        step = self.get_object()
        serializer = VariantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_add(
            workspace=request.workspace, step=step, **serializer.validated_data
        )
        return Response(VariantSerializer(variant).data, status=status.HTTP_201_CREATED)


class VariantViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One A/B version of a step. PATCH edits its subject, body or weight, also while the
    campaign runs (emails already written keep their content); weight 0 stops giving it to new
    contacts, and one variant of a step keeps a weight above 0. DELETE is refused for a step's
    only variant (delete the step instead), for variant A (the step itself) and for a variant
    already used for emails: set their weight to 0 instead, and their statistics stay."""

    model = Variant
    serializer_class = VariantSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    @extend_schema(request=VariantSerializer, responses=VariantSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        variant = self.get_object()
        serializer = VariantSerializer(variant, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_update(
            workspace=request.workspace, variant=variant, **serializer.validated_data
        )
        return Response(VariantSerializer(variant).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.variant_delete(workspace=request.workspace, variant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
