from django.urls import path

from contacts import views

urlpatterns = [
    path("contacts/", views.contact_index, name="contacts"),
    path("contacts/new/", views.contact_new, name="contact_new"),
    path("contacts/bulk/", views.contact_bulk, name="contact_bulk"),
    path("contacts/export.csv", views.contact_export, name="contact_export"),
    path("contacts/<uuid:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<uuid:pk>/unsubscribe/", views.contact_unsubscribe, name="contact_unsubscribe"),
    path("contacts/<uuid:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("contacts/lists/", views.list_index, name="contact_lists"),
    path("contacts/lists/<uuid:pk>/", views.list_edit, name="list_edit"),
    path("contacts/lists/<uuid:pk>/delete/", views.list_delete, name="list_delete"),
    path("contacts/imports/", views.import_index, name="contact_imports"),
    path("contacts/imports/<uuid:pk>/", views.import_detail, name="import_detail"),
    path("contacts/imports/<uuid:pk>/progress/", views.import_progress, name="import_progress"),
    path("contacts/imports/<uuid:pk>/errors.csv", views.import_errors_csv, name="import_errors"),
    path("contacts/imports/<uuid:pk>/cancel/", views.import_cancel, name="import_cancel"),
    path("contacts/suppressions/", views.suppression_index, name="suppressions"),
    path(
        "contacts/suppressions/<uuid:pk>/delete/",
        views.suppression_delete,
        name="suppression_delete",
    ),
]
