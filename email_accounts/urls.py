from django.urls import path

from email_accounts import views

urlpatterns = [
    path("email-accounts/", views.mailbox_index, name="email_accounts"),
    path("email-accounts/gmail/", views.gmail_connect, name="gmail_connect"),
    path("email-accounts/gmail/start/", views.gmail_start, name="gmail_start"),
    path("email-accounts/gmail/callback/", views.gmail_callback, name="gmail_callback"),
    path("email-accounts/smtp/", views.smtp_new, name="smtp_new"),
    path("email-accounts/<uuid:pk>/", views.mailbox_detail, name="mailbox_detail"),
    path("email-accounts/<uuid:pk>/servers/", views.smtp_edit, name="smtp_edit"),
    path("email-accounts/<uuid:pk>/pause/", views.mailbox_pause, name="mailbox_pause"),
    path("email-accounts/<uuid:pk>/resume/", views.mailbox_resume, name="mailbox_resume"),
    path(
        "email-accounts/<uuid:pk>/test-connection/",
        views.mailbox_test_connection,
        name="mailbox_test_connection",
    ),
    path("email-accounts/<uuid:pk>/test-email/", views.mailbox_send_test, name="mailbox_send_test"),
    path(
        "email-accounts/<uuid:pk>/disconnect/", views.mailbox_disconnect, name="mailbox_disconnect"
    ),
    path("email-accounts/<uuid:pk>/delete/", views.mailbox_delete, name="mailbox_delete"),
]
