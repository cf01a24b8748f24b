from django.urls import path

from webhooks import views

urlpatterns = [
    path("webhooks/", views.endpoint_index, name="webhooks"),
    path("webhooks/<uuid:pk>/", views.endpoint_detail, name="webhook_detail"),
    path(
        "webhooks/<uuid:pk>/rotate-secret/",
        views.endpoint_rotate_secret,
        name="webhook_rotate_secret",
    ),
    path("webhooks/<uuid:pk>/enable/", views.endpoint_enable, name="webhook_enable"),
    path("webhooks/<uuid:pk>/delete/", views.endpoint_delete, name="webhook_delete"),
    path("webhooks/<uuid:pk>/test/", views.endpoint_send_test, name="webhook_test"),
    path(
        "webhooks/deliveries/<uuid:pk>/replay/",
        views.delivery_replay,
        name="webhook_replay",
    ),
]
