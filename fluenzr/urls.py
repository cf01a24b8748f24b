from django.contrib import admin
from django.urls import include, path
from django.views import defaults

from fluenzr import views
from fluenzr.api.errors import json_bad_request, json_not_found, json_server_error

section_urls = [
    path(f"{slug.replace('_', '-')}/", views.section_not_built, {"section": slug}, name=slug)
    for slug in views.SECTIONS
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    *section_urls,
    path("", include("accounts.urls")),
    path("", include("campaigns.urls")),
    path("", include("contacts.urls")),
    path("", include("email_accounts.urls")),
    path("", include("webhooks.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("fluenzr.api.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler400(request, exception):
    if _is_api(request):
        return json_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def handler404(request, exception):
    if _is_api(request):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_server_error(request)
    return defaults.server_error(request)
