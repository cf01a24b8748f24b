from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from accounts.api import InvitationViewSet, MemberViewSet, WorkspaceView
from campaigns.api import CampaignViewSet, EnrollmentViewSet, StepViewSet, VariantViewSet
from campaigns.api.replies import ReplyViewSet
from contacts.api.contacts import ContactViewSet
from contacts.api.imports import ImportViewSet
from contacts.api.lists import ContactListViewSet
from contacts.api.suppressions import SuppressionViewSet
from email_accounts.api import MailboxViewSet
from webhooks.api import DeliveryViewSet, EndpointViewSet, EventViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="member")
router.register("invitations", InvitationViewSet, basename="invitation")
router.register("events", EventViewSet, basename="event")
router.register("contacts", ContactViewSet, basename="contact")
router.register("lists", ContactListViewSet, basename="list")
router.register("suppressions", SuppressionViewSet, basename="suppression")
router.register("imports", ImportViewSet, basename="import")
router.register("email-accounts", MailboxViewSet, basename="email-account")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("steps", StepViewSet, basename="step")
router.register("variants", VariantViewSet, basename="variant")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("replies", ReplyViewSet, basename="reply")
router.register("webhooks", EndpointViewSet, basename="webhook")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("workspace", WorkspaceView.as_view(), name="api-workspace"),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    *router.urls,
]
