"""Dashboard: Webhooks — endpoints, their secret (shown once), test events and the delivery
log with replays. The rules live in webhooks.services; the reads in webhooks.selectors."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import PlanLimitError, ServiceError, form_error
from accounts.services import workspace_require_feature
from webhooks import selectors, services
from webhooks.forms import DeliveryFilterForm, EndpointForm
from webhooks.models import Delivery, Endpoint

PAGE_SIZE = 25
# A new secret waits here for the one page that shows it, then is gone.
SECRET_SESSION_KEY = "webhook_secret"  # noqa: S105 (a session key)


def _endpoint(request: HttpRequest, pk) -> Endpoint:
    return get_object_or_404(Endpoint.objects.for_workspace(request.workspace), pk=pk)


def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return render(request, template, {"active": "webhooks", **context})


def _plan_message(request: HttpRequest) -> str:
    try:
        workspace_require_feature(workspace=request.workspace, feature="webhooks")
    except PlanLimitError as error:
        return error.message
    return ""


def _keep_secret(request: HttpRequest, endpoint: Endpoint, secret: str) -> None:
    request.session[SECRET_SESSION_KEY] = {"endpoint": str(endpoint.pk), "secret": secret}


def _take_secret(request: HttpRequest, endpoint: Endpoint) -> str:
    kept = request.session.get(SECRET_SESSION_KEY)
    if not kept or kept.get("endpoint") != str(endpoint.pk):
        return ""
    del request.session[SECRET_SESSION_KEY]
    return kept["secret"]


@workspace_required
def endpoint_index(request: HttpRequest) -> HttpResponse:
    plan_message = _plan_message(request)
    form = EndpointForm(
        request.POST or None,
        campaigns=selectors.campaign_choices(workspace=request.workspace),
        initial={"all_events": True},
    )
    if request.method == "POST" and not plan_message and form.is_valid():
        try:
            endpoint, secret = services.endpoint_create(
                workspace=request.workspace, **form.values()
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            _keep_secret(request, endpoint, secret)
            messages.success(request, _("Endpoint added. Copy its signing secret now."))
            return redirect("webhook_detail", endpoint.pk)
    return _render(
        request,
        "webhooks/index.html",
        {
            "endpoints": selectors.endpoints(workspace=request.workspace),
            "form": form,
            "plan_message": plan_message,
        },
    )


@workspace_required
def endpoint_detail(request: HttpRequest, pk) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    form = EndpointForm(
        request.POST or None,
        campaigns=selectors.campaign_choices(workspace=request.workspace),
        initial=EndpointForm.initial_for(endpoint),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                workspace=request.workspace, endpoint=endpoint, **form.values()
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("webhook_detail", endpoint.pk)
    filters = DeliveryFilterForm(request.GET or None)
    event_type = outcome = ""
    if filters.is_valid():
        event_type = filters.cleaned_data["event_type"]
        outcome = filters.cleaned_data["outcome"]
    deliveries = selectors.endpoint_deliveries(
        workspace=request.workspace, endpoint=endpoint, event_type=event_type, outcome=outcome
    )
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "webhooks/detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "secret": _take_secret(request, endpoint),
            "disabled_reason": services.disabled_reason_text(endpoint),
            "plan_message": _plan_message(request),
        },
    )


@workspace_required
@require_POST
def endpoint_rotate_secret(request: HttpRequest, pk) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    secret = services.endpoint_rotate_secret(workspace=request.workspace, endpoint=endpoint)
    _keep_secret(request, endpoint, secret)
    messages.success(
        request,
        _(
            "New secret created. The old one keeps signing too for 24 hours: update your "
            "receiver before then."
        ),
    )
    return redirect("webhook_detail", endpoint.pk)


@workspace_required
@require_POST
def endpoint_enable(request: HttpRequest, pk) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    try:
        services.endpoint_enable(workspace=request.workspace, endpoint=endpoint)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Endpoint enabled: new events are delivered to it again."))
    return redirect("webhook_detail", endpoint.pk)


@workspace_required
@require_POST
def endpoint_delete(request: HttpRequest, pk) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    services.endpoint_delete(workspace=request.workspace, endpoint=endpoint)
    messages.success(request, _("Endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect("webhooks")


@workspace_required
@require_POST
def endpoint_send_test(request: HttpRequest, pk) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    try:
        delivery = services.endpoint_send_test(workspace=request.workspace, endpoint=endpoint)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        _attempt_message(request, delivery)
    return redirect("webhook_detail", endpoint.pk)


@workspace_required
@require_POST
def delivery_replay(request: HttpRequest, pk) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.for_workspace(request.workspace), pk=pk)
    try:
        delivery = services.delivery_replay(workspace=request.workspace, delivery=delivery)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        _attempt_message(request, delivery)
    return redirect("webhook_detail", delivery.endpoint_id)


def _attempt_message(request: HttpRequest, delivery: Delivery) -> None:
    if delivery.status == "succeeded":
        messages.success(
            request,
            _("Delivered: your endpoint answered %(status)s.")
            % {"status": delivery.last_status_code},
        )
    else:
        messages.error(
            request,
            _("Not delivered: %(error)s See the attempt in the log below.")
            % {"error": delivery.last_error_display or _("no answer.")},
        )
