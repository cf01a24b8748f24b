from django.urls import path

from accounts import views

urlpatterns = [
    path("settings/", views.workspace_settings, name="settings_workspace"),
    path("settings/members/", views.members, name="settings_members"),
    path("settings/members/<uuid:pk>/role/", views.member_role, name="member_role"),
    path("settings/members/<uuid:pk>/remove/", views.member_remove, name="member_remove"),
    path(
        "settings/invitations/<uuid:pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/api-keys/", views.api_keys, name="settings_api_keys"),
    path("settings/api-keys/<uuid:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/plan/", views.plan, name="settings_plan"),
    path("workspaces/new/", views.workspace_new, name="workspace_new"),
    path("workspaces/switch/", views.workspace_switch, name="workspace_switch"),
    path("invitations/<str:token>/", views.invitation_respond, name="invitation_respond"),
    path("language/", views.set_language, name="set_language"),
]
