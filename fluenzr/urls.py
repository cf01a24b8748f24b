from django.contrib import admin
from django.urls import include, path

from fluenzr import views
from fluenzr.api.errors import json_not_found, json_server_error

section_urls = [
    path(f"{slug.replace('_', '-')}/", views.section_not_built, {"section": slug}, name=slug)
    for slug in views.SECTIONS
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    *section_urls,
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("fluenzr.api.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]


def handler404(request, exception):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    from django.views.defaults import server_error

    return server_error(request)
