"""Recipient-facing routes, short on purpose: they are in every email."""

from django.urls import path, register_converter

from campaigns.tracking import dashboard, views


class TokenConverter:
    regex = "[A-Za-z0-9_-]{20,}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "token")

urlpatterns = [
    path("o/<token:token>.gif", views.pixel, name="tracking_open"),
    path("c/<token:token>/", views.click, name="tracking_click"),
    path("u/<token:token>/", views.unsubscribe, name="tracking_unsubscribe"),
]

# The dashboard's part (Settings → Tracking domain); not served by TrackingMiddleware.
urlpatterns += [
    path("settings/tracking-domain/", dashboard.tracking_domain, name="settings_tracking_domain"),
]
