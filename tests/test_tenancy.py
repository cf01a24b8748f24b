"""DESIGN.md §3: no tenant sees or touches another tenant's data.

This walks every URL the project serves. Charlie (the outsider) asks for alice's objects
on every route that takes an id, and must get 404. A new parametrised route fails this
test until it says which model its id names, so it is covered the day it is added.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import services
from accounts.models import ApiKey, Invitation, Membership, Workspace
from accounts.tenancy import (
    UnscopedQueryError,
    WorkspaceOwnedModel,
    WorkspaceScopedManager,
    workspace_scope,
)
from campaigns import services as campaign_services
from campaigns.models import Campaign, Enrollment, InboundEmail, OutboundMessage, Step, Variant
from contacts import services as contact_services
from contacts.importing import service as import_service
from contacts.models import Contact, ContactList, Import, Suppression
from email_accounts.models import Mailbox
from tests.conftest import invitation_path
from tests.mailboxes import unchecked_smtp_mailbox
from webhooks import services as webhook_services
from webhooks.events import emit
from webhooks.models import Delivery, Endpoint, Event

# Parametrised routes that name no tenant object, each with the reason.
NOT_TENANT_ROUTES = {
    "account_confirm_email": "allauth: email confirmation key of the signed-out visitor",
    "account_reset_password_from_key": "allauth: password reset key",
    "mfa_generate_recovery_codes": "allauth: the signed-in user's own codes",
    "tracking_open": "a recipient's signed token, acting in its email's workspace only",
    "tracking_click": "a recipient's signed token, acting in its email's workspace only",
    "tracking_unsubscribe": "a recipient's signed token, acting in its email's workspace only",
}
# Dashboard routes whose id names a tenant object, and which kind.
DASHBOARD_OBJECT_ROUTES = {
    "member_role": Membership,
    "member_remove": Membership,
    "invitation_revoke": Invitation,
    "api_key_revoke": ApiKey,
    "contact_detail": Contact,
    "contact_unsubscribe": Contact,
    "contact_delete": Contact,
    "list_edit": ContactList,
    "list_delete": ContactList,
    "import_detail": Import,
    "import_progress": Import,
    "import_errors": Import,
    "import_cancel": Import,
    "suppression_delete": Suppression,
    "mailbox_detail": Mailbox,
    "smtp_edit": Mailbox,
    "mailbox_pause": Mailbox,
    "mailbox_resume": Mailbox,
    "mailbox_test_connection": Mailbox,
    "mailbox_send_test": Mailbox,
    "mailbox_disconnect": Mailbox,
    "mailbox_delete": Mailbox,
    "campaign_detail": Campaign,
    "campaign_step_add": Campaign,
    "campaign_contacts": Campaign,
    "campaign_enroll": Campaign,
    "campaign_preview": Campaign,
    "campaign_settings": Campaign,
    "campaign_stats": Campaign,
    "campaign_launch": Campaign,
    "campaign_pause": Campaign,
    "campaign_resume": Campaign,
    "campaign_step_edit": Step,
    "campaign_step_delete": Step,
    "campaign_variant_add": Step,
    "campaign_variant_edit": Variant,
    "campaign_variant_delete": Variant,
    "campaign_preview_send": Campaign,
    "campaign_enrollment": Enrollment,
    "campaign_message_send_again": OutboundMessage,
    "campaign_message_mark_sent": OutboundMessage,
    "inbox_conversation": InboundEmail,
    "inbox_lead_status": InboundEmail,
    "inbox_reply": InboundEmail,
    "webhook_detail": Endpoint,
    "webhook_rotate_secret": Endpoint,
    "webhook_enable": Endpoint,
    "webhook_delete": Endpoint,
    "webhook_test": Endpoint,
    "webhook_replay": Delivery,
}


def walk(
    patterns: list, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        else:
            yield prefix + str(entry.pattern), namespace + (entry.name or ""), entry


ALL_ROUTES = list(walk(get_resolver().url_patterns))


def _takes_params(route: str, pattern: URLPattern) -> bool:
    return bool(pattern.pattern.converters) or "(?P<" in route


@pytest.fixture
def alice_objects(alice, bob) -> dict[type, object]:
    invitation = services.invitation_create(
        workspace=alice.workspace, invited_by=alice.user, email="dora@example.test"
    )
    api_key, _token = services.api_key_create(
        workspace=alice.workspace, created_by=alice.user, name="alice key"
    )
    event = emit(workspace=alice.workspace, type="member.joined", data={"user": {"email": "x"}})
    membership = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    workspace = alice.workspace
    contact_list = contact_services.list_create(workspace=workspace, name="Alice prospects")
    contact = contact_services.contact_create(
        workspace=workspace,
        data={"email": "prospect.of.alice@example.com", "first_name": "Paula"},
        lists=[contact_list],
    )
    suppression, _new = contact_services.suppression_add(
        workspace=workspace, value="blocked-by-alice.example"
    )
    upload = SimpleUploadedFile("alice.csv", b"email\nx@example.com\n")
    source_import = import_service.import_create(workspace=workspace, actor=None, upload=upload)
    mailbox = unchecked_smtp_mailbox(workspace, "sender@alice.example.com")
    campaign = campaign_services.campaign_create(
        workspace=workspace, name="Alice outreach", mailboxes=[mailbox]
    )
    step = campaign_services.step_add(
        workspace=workspace, campaign=campaign, subject="Hello", body="Hi {{firstName|there}}"
    )
    campaign_services.campaign_enroll(
        workspace=workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(workspace).filter(pk=contact.pk),
    )
    enrollment = Enrollment.objects.for_workspace(workspace).get(campaign=campaign)
    inbound = InboundEmail.objects.create(
        workspace=workspace,
        mailbox=mailbox,
        provider_message_id="INBOX:1:1",
        kind="reply",
        contact=contact,
        enrollment=enrollment,
        from_email=contact.email,
        subject="Re: Hello",
        received_at=enrollment.created_at,
        text="Interested, call me.",
    )
    endpoint, _secret = webhook_services.endpoint_create(
        workspace=workspace, url="https://93.184.215.14/alice-hooks"
    )
    delivery = Delivery.objects.create(
        workspace=workspace, endpoint=endpoint, event=event, next_attempt_at=event.created_at
    )
    return {
        Endpoint: endpoint,
        Delivery: delivery,
        InboundEmail: inbound,
        Membership: membership,
        Invitation: invitation,
        ApiKey: api_key,
        Event: event,
        Contact: contact,
        ContactList: contact_list,
        Suppression: suppression,
        Import: source_import,
        Mailbox: mailbox,
        Campaign: campaign,
        Step: step,
        Variant: step.variants.get(),
        Enrollment: enrollment,
        OutboundMessage: OutboundMessage.objects.create(
            workspace=workspace,
            enrollment=enrollment,
            step=step,
            variant=step.variants.get(),
            mailbox=mailbox,
            status="unknown",
            message_id="<unknown@alice.example.com>",
            quota_day=enrollment.created_at.date(),
            next_attempt_at=enrollment.created_at,
        ),
    }


def _api_model(pattern: URLPattern) -> type | None:
    cls = getattr(pattern.callback, "cls", None)
    return getattr(cls, "model", None)


def _url_for(route: str, pk: str) -> str:
    # Router regexes look like ^members/(?P<pk>[^/.]+)/$ ; path routes like x/<uuid:pk>/y/.
    import re

    url = re.sub(r"\(\?P<pk>[^)]*\)", pk, route)
    url = re.sub(r"<uuid:pk>", pk, url)
    return "/" + url.replace("^", "").replace("$", "").replace("\\", "")


def test_every_parametrised_route_is_classified():
    unclassified = []
    for route, name, pattern in ALL_ROUTES:
        if not _takes_params(route, pattern) or route.startswith("admin/"):
            continue
        bare = name.split(":")[-1]
        if bare in NOT_TENANT_ROUTES or bare in DASHBOARD_OBJECT_ROUTES:
            continue
        if bare == "invitation_respond" or _api_model(pattern) is not None:
            continue
        unclassified.append(f"{route} ({name})")
    assert not unclassified, (
        "These routes take an id but this test does not know which tenant object it names; "
        f"add them to DASHBOARD_OBJECT_ROUTES or NOT_TENANT_ROUTES: {unclassified}"
    )


def test_outsider_gets_404_on_every_api_object_route(alice_objects, charlie):
    covered = 0
    for route, _name, pattern in ALL_ROUTES:
        model = _api_model(pattern)
        if model is None or not _takes_params(route, pattern):
            continue
        url = _url_for(route, str(alice_objects[model].pk))
        statuses = {}
        for method in ("get", "post", "patch", "put", "delete"):
            response = getattr(charlie.api, method)(url, {}, format="json")
            statuses[method] = response.status_code
            assert response.status_code in (404, 405), (method, url, response.status_code)
            if response.status_code == 404:
                assert response.json()["error"]["code"] == "not_found"
        assert 404 in statuses.values(), (url, statuses)  # some method reaches the lookup
        covered += 1
    assert covered >= 10  # members, invitations, events, contacts (+ actions), lists, …
    # Alice's objects are all still there and unchanged.
    assert (
        Invitation.objects.for_workspace(alice_objects[Invitation].workspace)
        .get(pk=alice_objects[Invitation].pk)
        .status
        == "pending"
    )


def test_outsider_gets_404_on_every_dashboard_object_route(alice_objects, alice, charlie):
    covered = 0
    for route, name, _pattern in ALL_ROUTES:
        model = DASHBOARD_OBJECT_ROUTES.get(name.split(":")[-1])
        if model is None:
            continue
        url = _url_for(route, str(alice_objects[model].pk))
        assert charlie.client.post(url, {"role": "owner", "name": "x"}).status_code == 404, url
        assert charlie.client.get(url).status_code in (404, 405), url
        covered += 1
    assert covered == len(DASHBOARD_OBJECT_ROUTES)
    api_key = alice_objects[ApiKey]
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert Contact.objects.for_workspace(alice.workspace).filter(status="active").count() == 1
    assert ContactList.objects.for_workspace(alice.workspace).get().name == "Alice prospects"
    assert Suppression.objects.for_workspace(alice.workspace).count() == 1
    assert Import.objects.for_workspace(alice.workspace).count() == 1
    assert OutboundMessage.objects.for_workspace(alice.workspace).get().status == "unknown"
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get()
    assert (mailbox.status, mailbox.daily_limit, mailbox.has_credentials) == ("connected", 50, True)
    assert (
        alice_objects[Membership]
        .__class__.objects.for_workspace(alice_objects[Membership].workspace)
        .filter(pk=alice_objects[Membership].pk, role="member")
        .exists()
    )


def test_outsider_cannot_open_an_invitation_sent_to_someone_else(
    alice, charlie, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            workspace=alice.workspace, invited_by=alice.user, email="dora@example.test"
        )
    path = invitation_path(mailoutbox)
    assert charlie.client.get(path).status_code == 404
    assert charlie.client.post(path, {"answer": "accept"}).status_code == 404
    assert not Membership.objects.for_workspace(alice.workspace).filter(user=charlie.user).exists()


def test_outsider_sees_nothing_of_alice_on_list_routes(alice_objects, alice, charlie):
    secrets_of_alice = [
        alice.workspace.name,
        "dora@example.test",
        "alice key",
        str(alice.workspace.pk),
        "prospect.of.alice@example.com",
        "Alice prospects",
        "blocked-by-alice.example",
        "alice.csv",
    ]
    checked = 0
    for route, name, pattern in ALL_ROUTES:
        if _takes_params(route, pattern) or route.startswith("admin/") or "logout" in name:
            continue
        url = "/" + route.replace("^", "").replace("$", "")
        client = charlie.api if route.startswith("api/") else charlie.client
        response = client.get(url)
        assert response.status_code in (200, 302, 400, 404, 405), (url, response.status_code)
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        body = raw.decode(errors="replace")
        for secret in secrets_of_alice:
            assert secret not in body, (url, secret)
        checked += 1
    assert checked > 15


def test_switching_to_a_workspace_you_do_not_belong_to_is_404(alice, charlie):
    response = charlie.client.post("/workspaces/switch/", {"workspace": str(alice.workspace.pk)})
    assert response.status_code == 404
    assert charlie.client.post("/workspaces/switch/", {"workspace": "nope"}).status_code == 404
    charlie.user.refresh_from_db()
    assert charlie.user.current_workspace_id == charlie.workspace.pk


def test_every_workspace_owned_model_uses_the_scoped_manager():
    owned = [
        model
        for model in apps.get_models()
        if any(
            field.name == "workspace" and getattr(field, "related_model", None) is Workspace
            for field in model._meta.concrete_fields
        )
    ]
    assert {
        Membership,
        Invitation,
        ApiKey,
        Event,
        Contact,
        ContactList,
        Suppression,
        Import,
    } <= set(owned)
    for model in owned:
        assert issubclass(model, WorkspaceOwnedModel), model
        assert isinstance(model._default_manager, WorkspaceScopedManager), model


def test_scoped_manager_fails_closed_without_a_workspace(alice, charlie):
    with pytest.raises(UnscopedQueryError):
        list(ApiKey.objects.all())
    assert ApiKey.objects.for_workspace(alice.workspace).count() == 1
    assert ApiKey.objects.unscoped().filter(workspace=alice.workspace).count() == 1
    assert ApiKey.objects.unscoped().count() == 2
    with workspace_scope(charlie.workspace):  # as a Celery task for charlie would
        assert [key.workspace_id for key in ApiKey.objects.all()] == [charlie.workspace.pk]
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.count()


def test_api_viewsets_cannot_override_the_scoping():
    from fluenzr.api.base import WorkspaceViewSet

    with pytest.raises(TypeError, match="get_queryset"):

        class Sneaky(WorkspaceViewSet):
            model = ApiKey

            def get_queryset(self):
                return ApiKey.objects.unscoped()

    class WidensThroughAMixin:
        def filter_queryset(self, queryset):
            return ApiKey.objects.unscoped()

    with pytest.raises(TypeError, match="filter_queryset"):

        class SneakyMixin(WidensThroughAMixin, WorkspaceViewSet):
            model = ApiKey
