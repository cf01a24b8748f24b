from django.urls import path

from campaigns.views import actions, enrollments, pages, sequence

urlpatterns = [
    path("campaigns/", pages.campaign_index, name="campaigns"),
    path("campaigns/new/", pages.campaign_new, name="campaign_new"),
    path("campaigns/<uuid:pk>/", sequence.campaign_detail, name="campaign_detail"),
    path("campaigns/<uuid:pk>/steps/", sequence.campaign_step_add, name="campaign_step_add"),
    path("campaigns/<uuid:pk>/contacts/", enrollments.campaign_contacts, name="campaign_contacts"),
    path("campaigns/<uuid:pk>/enroll/", enrollments.campaign_enroll, name="campaign_enroll"),
    path("campaigns/<uuid:pk>/preview/", enrollments.campaign_preview, name="campaign_preview"),
    path("campaigns/<uuid:pk>/settings/", pages.campaign_settings, name="campaign_settings"),
    path("campaigns/<uuid:pk>/stats/", pages.campaign_stats, name="campaign_stats"),
    path("campaigns/<uuid:pk>/launch/", actions.campaign_launch, name="campaign_launch"),
    path("campaigns/<uuid:pk>/pause/", actions.campaign_pause, name="campaign_pause"),
    path("campaigns/<uuid:pk>/resume/", actions.campaign_resume, name="campaign_resume"),
    path("campaigns/steps/<uuid:pk>/", sequence.campaign_step_edit, name="campaign_step_edit"),
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
]
