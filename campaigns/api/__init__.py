"""API: /api/v1/campaigns, /api/v1/steps, /api/v1/variants, /api/v1/enrollments.

Serializers (serializers.py) check shapes; the services in campaigns.services carry every rule
(windows, spacing, launch checks, steps contacts wait on) and emit the events. Another
workspace's id is a 404. fluenzr/api/urls.py registers the view sets imported here.
"""

from campaigns.api.campaigns import CampaignViewSet
from campaigns.api.enrollments import EnrollmentViewSet
from campaigns.api.sequence import StepViewSet, VariantViewSet

__all__ = ["CampaignViewSet", "EnrollmentViewSet", "StepViewSet", "VariantViewSet"]
