"""Sign-up, workspaces, memberships, invitations, roles and plans."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.errors import NotAllowed, NotFound, PlanLimitError, ServiceError
from accounts.models import ApiKey, Invitation, Membership, Role, User
from accounts.selectors import memberships_of_user
from tests.conftest import invitation_path
from webhooks.models import Event


def _signup(client, email: str, workspace_name: str = "") -> object:
    return client.post(
        reverse("account_signup"),
        {
            "email": email,
            "password1": "a long and new passphrase",
            "password2": "a long and new passphrase",
            "workspace_name": workspace_name,
        },
    )


def test_sign_up_creates_the_first_workspace_and_lands_in_it(client, db):
    response = _signup(client, "Eve@Example.TEST", "Eve Corp")
    assert response.status_code == 302
    user = User.objects.get(email__iexact="eve@example.test")
    membership = memberships_of_user(user=user).get()
    assert membership.role == Role.OWNER
    assert membership.workspace.name == "Eve Corp"
    assert membership.workspace.plan == "free"
    dashboard = client.get(response["Location"], follow=True)
    assert dashboard.status_code == 200
    assert "Eve Corp" in dashboard.content.decode()


def test_sign_up_without_a_workspace_name_gets_a_default_one(client, db):
    _signup(client, "frank@example.test")
    user = User.objects.get(email="frank@example.test")
    assert memberships_of_user(user=user).get().workspace.name == "frank's workspace"


def test_sign_up_with_a_taken_email_says_so(client, alice):
    response = _signup(client, "ALICE@example.test")
    assert response.status_code == 200
    assert "already registered" in response.content.decode()
    assert User.objects.filter(email__iexact="alice@example.test").count() == 1


def test_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_user_can_belong_to_several_workspaces_and_switch(alice):
    second = services.workspace_create(owner=alice.user, name="Side project")
    assert alice.client.get("/").context["workspace"] == second
    response = alice.client.post("/workspaces/switch/", {"workspace": str(alice.workspace.pk)})
    assert response.status_code == 302
    page = alice.client.get("/")
    assert page.context["workspace"] == alice.workspace
    html = page.content.decode()
    assert "Side project" in html and "Alice Co" in html  # both in the switcher


def test_user_removed_from_every_workspace_is_asked_to_create_one(alice, bob):
    membership = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    services.membership_remove(workspace=alice.workspace, actor=alice.user, membership=membership)
    response = bob.client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace_new")


def test_invitation_flow_accept(alice, client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.client.post(
            reverse("settings_members"), {"email": "Dora@Example.test", "role": "admin"}
        )
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["dora@example.test"]
    assert "Alice Co" in message.subject
    path = invitation_path(mailoutbox)
    _signup(client, "dora@example.test")
    page = client.get(path)
    assert page.status_code == 200
    assert "Alice Co" in page.content.decode()
    client.post(path, {"answer": "accept"})
    dora = User.objects.get(email="dora@example.test")
    assert Membership.objects.for_workspace(alice.workspace).get(user=dora).role == Role.ADMIN
    assert dora.current_workspace_id == alice.workspace.pk
    invitation = Invitation.objects.for_workspace(alice.workspace).get()
    assert invitation.status == "accepted"
    assert Event.objects.for_workspace(alice.workspace).filter(type="member.joined").exists()
    # The link is spent.
    assert client.get(path).status_code == 404


def test_invitee_without_an_account_signs_up_from_the_link_and_joins(
    alice, client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            workspace=alice.workspace, invited_by=alice.user, email="kim@example.test"
        )
    path = invitation_path(mailoutbox)
    login = client.get(path, follow=True)
    assert login.request["PATH_INFO"] == reverse("account_login")
    signup_link = login.context["signup_url"]
    assert path.replace("/", "%2F") in signup_link  # "next" is carried to sign-up
    response = client.post(
        signup_link,
        {
            "email": "kim@example.test",
            "password1": "a long and new passphrase",
            "password2": "a long and new passphrase",
        },
    )
    assert response["Location"] == path
    kim = User.objects.get(email="kim@example.test")
    assert not memberships_of_user(user=kim).exists()  # no empty workspace of her own
    client.post(path, {"answer": "accept"})
    assert memberships_of_user(user=kim).get().workspace == alice.workspace


def test_invitation_decline(alice, bob):
    invitation = services.invitation_create(
        workspace=alice.workspace, invited_by=alice.user, email="x@example.test"
    )
    services.invitation_decline(invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.status == "declined"


def test_expired_invitation_cannot_be_accepted(alice, charlie):
    invitation = services.invitation_create(
        workspace=alice.workspace, invited_by=alice.user, email=charlie.user.email
    )
    Invitation.objects.for_workspace(alice.workspace).filter(pk=invitation.pk).update(
        expires_at=invitation.created_at
    )
    invitation.refresh_from_db()
    with pytest.raises(ServiceError, match="expired"):
        services.invitation_accept(invitation=invitation, user=charlie.user)
    assert not Membership.objects.for_workspace(alice.workspace).filter(user=charlie.user).exists()
    assert services.invitations_expire() == 1


def test_one_pending_invitation_per_email(alice):
    services.invitation_create(
        workspace=alice.workspace, invited_by=alice.user, email="x@example.test"
    )
    with pytest.raises(ServiceError, match="already has a pending invitation"):
        services.invitation_create(
            workspace=alice.workspace, invited_by=alice.user, email="X@example.test"
        )


def test_members_cannot_invite_and_admins_cannot_invite_owners(alice, bob):
    with pytest.raises(NotAllowed):
        services.invitation_create(
            workspace=alice.workspace, invited_by=bob.user, email="y@example.test"
        )
    bob_membership = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    services.membership_change_role(
        workspace=alice.workspace, actor=alice.user, membership=bob_membership, role=Role.ADMIN
    )
    services.invitation_create(
        workspace=alice.workspace, invited_by=bob.user, email="y@example.test"
    )
    with pytest.raises(NotAllowed, match="owner"):
        services.invitation_create(
            workspace=alice.workspace, invited_by=bob.user, email="z@example.test", role=Role.OWNER
        )


def test_the_last_owner_cannot_leave_or_be_demoted(alice, bob):
    own = Membership.objects.for_workspace(alice.workspace).get(user=alice.user)
    with pytest.raises(ServiceError, match="last owner"):
        services.membership_remove(workspace=alice.workspace, actor=alice.user, membership=own)
    with pytest.raises(ServiceError, match="at least one owner"):
        services.membership_change_role(
            workspace=alice.workspace, actor=alice.user, membership=own, role=Role.MEMBER
        )
    response = alice.client.post(reverse("member_remove", args=[own.pk]), follow=True)
    assert "last owner cannot leave" in response.content.decode()
    assert Membership.objects.for_workspace(alice.workspace).filter(pk=own.pk).exists()
    # With a second owner, the first may leave.
    bob_membership = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    services.membership_change_role(
        workspace=alice.workspace, actor=alice.user, membership=bob_membership, role=Role.OWNER
    )
    services.membership_remove(workspace=alice.workspace, actor=alice.user, membership=own)
    assert not Membership.objects.for_workspace(alice.workspace).filter(user=alice.user).exists()


def test_only_owners_change_roles_or_remove_others(alice, bob):
    alice_membership = Membership.objects.for_workspace(alice.workspace).get(user=alice.user)
    with pytest.raises(NotAllowed):
        services.membership_change_role(
            workspace=alice.workspace, actor=bob.user, membership=alice_membership, role=Role.MEMBER
        )
    with pytest.raises(NotAllowed):
        services.membership_remove(
            workspace=alice.workspace, actor=bob.user, membership=alice_membership
        )
    response = bob.client.post(
        reverse("member_role", args=[alice_membership.pk]), {"role": "member"}
    )
    assert response.status_code == 302
    alice_membership.refresh_from_db()
    assert alice_membership.role == Role.OWNER


def test_removing_or_demoting_an_admin_revokes_the_keys_they_created(alice, bob):
    bob_membership = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    services.membership_change_role(
        workspace=alice.workspace, actor=alice.user, membership=bob_membership, role=Role.ADMIN
    )
    first, _token = services.api_key_create(
        workspace=alice.workspace, created_by=bob.user, name="1"
    )
    second, _token = services.api_key_create(
        workspace=alice.workspace, created_by=bob.user, name="2"
    )
    services.membership_change_role(
        workspace=alice.workspace, actor=alice.user, membership=bob_membership, role=Role.MEMBER
    )
    first.refresh_from_db()
    assert first.revoked_at is not None
    services.membership_change_role(
        workspace=alice.workspace, actor=alice.user, membership=bob_membership, role=Role.ADMIN
    )
    third, token = services.api_key_create(workspace=alice.workspace, created_by=bob.user, name="3")
    services.membership_remove(
        workspace=alice.workspace, actor=alice.user, membership=bob_membership
    )
    third.refresh_from_db()
    assert third.revoked_at is not None
    second.refresh_from_db()
    assert second.revoked_at is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/workspace").json()["error"]["code"] == "revoked_api_key"


def test_services_refuse_objects_of_another_workspace(alice, charlie):
    alice_key = ApiKey.objects.for_workspace(alice.workspace).get()
    with pytest.raises(NotFound):
        services.api_key_revoke(workspace=charlie.workspace, actor=charlie.user, api_key=alice_key)
    alice_membership = Membership.objects.for_workspace(alice.workspace).get()
    with pytest.raises(NotFound):
        services.membership_remove(
            workspace=charlie.workspace, actor=charlie.user, membership=alice_membership
        )
    alice_key.refresh_from_db()
    assert alice_key.revoked_at is None


def test_a_revoked_invitation_cannot_be_accepted(alice, charlie):
    invitation = services.invitation_create(
        workspace=alice.workspace, invited_by=alice.user, email=charlie.user.email
    )
    stale_copy = Invitation.objects.for_workspace(alice.workspace).get(pk=invitation.pk)
    services.invitation_revoke(workspace=alice.workspace, actor=alice.user, invitation=invitation)
    with pytest.raises(ServiceError, match="already answered or revoked"):
        services.invitation_accept(invitation=stale_copy, user=charlie.user)
    assert not Membership.objects.for_workspace(alice.workspace).filter(user=charlie.user).exists()


def test_a_member_can_leave(alice, bob):
    own = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    response = bob.client.post(reverse("member_remove", args=[own.pk]))
    assert response.status_code == 302
    assert not Membership.objects.for_workspace(alice.workspace).filter(user=bob.user).exists()


def test_plan_limits_name_the_plan_that_lifts_them(free_workspace):
    with pytest.raises(PlanLimitError) as raised:
        services.workspace_require_feature(workspace=free_workspace, feature="warming")
    assert raised.value.required_plan.code == "starter"
    assert "Starter" in raised.value.message
    with pytest.raises(PlanLimitError) as raised:
        services.workspace_require_feature(workspace=free_workspace, feature="webhooks")
    assert raised.value.required_plan.code == "pro"


def test_count_limits_name_the_plan_that_lifts_them(free_workspace):
    services.workspace_require_within_limit(
        workspace=free_workspace, limit="max_mailboxes", wanted=1
    )
    with pytest.raises(PlanLimitError) as raised:
        services.workspace_require_within_limit(
            workspace=free_workspace, limit="max_mailboxes", wanted=2
        )
    assert raised.value.message == (
        "The Free plan allows 1 mailbox. Upgrade to the Starter plan for more."
    )
    services.workspace_set_plan(workspace=free_workspace, plan="starter")
    with pytest.raises(PlanLimitError) as raised:
        services.workspace_require_within_limit(
            workspace=free_workspace, limit="max_mailboxes", wanted=6
        )
    assert raised.value.required_plan.code == "pro"
    services.workspace_set_plan(workspace=free_workspace, plan="pro")
    services.workspace_require_within_limit(
        workspace=free_workspace, limit="max_mailboxes", wanted=10_000
    )


def test_workspace_settings_validate_the_time_zone(alice):
    response = alice.client.post(
        reverse("settings_workspace"), {"name": "Alice Co", "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 200
    assert "Mars/Olympus" in response.content.decode()
    response = alice.client.post(
        reverse("settings_workspace"), {"name": "Alice & Co", "timezone": "Europe/Paris"}
    )
    assert response.status_code == 302
    alice.workspace.refresh_from_db()
    assert (alice.workspace.name, alice.workspace.timezone) == ("Alice & Co", "Europe/Paris")


def test_members_cannot_change_workspace_settings(alice, bob):
    response = bob.client.post(
        reverse("settings_workspace"), {"name": "Hijacked", "timezone": "UTC"}
    )
    assert response.status_code == 200
    assert "Only a workspace admin or above" in response.content.decode()
    alice.workspace.refresh_from_db()
    assert alice.workspace.name == "Alice Co"


def test_api_key_created_in_the_dashboard_is_shown_once_and_stored_hashed(alice):
    response = alice.client.post(reverse("settings_api_keys"), {"name": "CRM sync"})
    assert "no-store" in response["Cache-Control"]
    token = response.context["new_token"]
    assert token.startswith("flz_sk_") and len(token) >= 7 + 32
    assert token in response.content.decode()
    stored = services.api_key_hash(token)
    from accounts.models import ApiKey

    key = ApiKey.objects.for_workspace(alice.workspace).get(name="CRM sync")
    assert key.key_hash == stored and token not in (key.prefix + key.last4 + key.key_hash)
    listing = alice.client.get(reverse("settings_api_keys")).content.decode()
    assert token not in listing
    assert key.masked in listing


def test_language_preference_is_saved_and_wins_over_the_browser(alice):
    alice.client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    alice.user.refresh_from_db()
    assert alice.user.language == "fr"
    page = alice.client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Tableau de bord" in page.content.decode()


def test_accept_language_is_used_before_any_preference(client, db):
    page = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    html = page.content.decode()
    assert "Connexion" in html  # allauth's own French
    assert "Des cold emails qui ne partent jamais en double." in html  # ours
