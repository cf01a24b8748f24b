from django.urls import include, path

from campaigns.views import actions, enrollments, pages, sequence, timeline, unibox

urlpatterns = [
    path("", include("campaigns.tracking.urls")),
    path("inbox/", unibox.inbox, name="inbox"),
    path("inbox/<uuid:pk>/", unibox.inbox_conversation, name="inbox_conversation"),
    path("inbox/<uuid:pk>/lead-status/", unibox.inbox_lead_status, name="inbox_lead_status"),
    path("inbox/<uuid:pk>/reply/", unibox.inbox_reply, name="inbox_reply"),
    path("campaigns/", pages.campaign_index, name="campaigns"),
    path("campaigns/new/", pages.campaign_new, name="campaign_new"),
    path("campaigns/<uuid:pk>/", sequence.campaign_detail, name="campaign_detail"),
    path("campaigns/<uuid:pk>/steps/", sequence.campaign_step_add, name="campaign_step_add"),
    path("campaigns/<uuid:pk>/contacts/", enrollments.campaign_contacts, name="campaign_contacts"),
    path("campaigns/<uuid:pk>/enroll/", enrollments.campaign_enroll, name="campaign_enroll"),
    path("campaigns/<uuid:pk>/preview/", enrollments.campaign_preview, name="campaign_preview"),
    path(
        "campaigns/<uuid:pk>/preview/send/",
        enrollments.campaign_preview_send,
        name="campaign_preview_send",
    ),
    path("campaigns/<uuid:pk>/settings/", pages.campaign_settings, name="campaign_settings"),
    path("campaigns/<uuid:pk>/stats/", pages.campaign_stats, name="campaign_stats"),
    path("campaigns/<uuid:pk>/launch/", actions.campaign_launch, name="campaign_launch"),
    path("campaigns/<uuid:pk>/pause/", actions.campaign_pause, name="campaign_pause"),
    path("campaigns/<uuid:pk>/resume/", actions.campaign_resume, name="campaign_resume"),
    path("campaigns/steps/<uuid:pk>/", sequence.campaign_step_edit, name="campaign_step_edit"),
    path(
        "campaigns/enrollments/<uuid:pk>/",
        timeline.campaign_enrollment,
        name="campaign_enrollment",
    ),
    path(
        "campaigns/messages/<uuid:pk>/send-again/",
        timeline.campaign_message_send_again,
        name="campaign_message_send_again",
    ),
    path(
        "campaigns/messages/<uuid:pk>/mark-sent/",
        timeline.campaign_message_mark_sent,
        name="campaign_message_mark_sent",
    ),
    path(
        "campaigns/steps/<uuid:pk>/delete/",
        sequence.campaign_step_delete,
        name="campaign_step_delete",
    ),
    path(
        "campaigns/steps/<uuid:pk>/variants/",
        sequence.campaign_variant_add,
        name="campaign_variant_add",
    ),
    path(
        "campaigns/variants/<uuid:pk>/",
        sequence.campaign_variant_edit,
        name="campaign_variant_edit",
    ),
    path(
        "campaigns/variants/<uuid:pk>/delete/",
        sequence.campaign_variant_delete,
        name="campaign_variant_delete",
    ),
]
