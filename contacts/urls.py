from django.urls import path

from contacts.views import contacts, imports, lists, suppressions

urlpatterns = [
    path("contacts/", contacts.contact_index, name="contacts"),
    path("contacts/new/", contacts.contact_new, name="contact_new"),
    path("contacts/bulk/", contacts.contact_bulk, name="contact_bulk"),
    path("contacts/export.csv", contacts.contact_export, name="contact_export"),
    path("contacts/<uuid:pk>/", contacts.contact_detail, name="contact_detail"),
    path(
        "contacts/<uuid:pk>/unsubscribe/", contacts.contact_unsubscribe, name="contact_unsubscribe"
    ),
    path("contacts/<uuid:pk>/delete/", contacts.contact_delete, name="contact_delete"),
    path("contacts/lists/", lists.list_index, name="contact_lists"),
    path("contacts/lists/<uuid:pk>/", lists.list_edit, name="list_edit"),
    path("contacts/lists/<uuid:pk>/delete/", lists.list_delete, name="list_delete"),
    path("contacts/imports/", imports.import_index, name="contact_imports"),
    path("contacts/imports/<uuid:pk>/", imports.import_detail, name="import_detail"),
    path("contacts/imports/<uuid:pk>/progress/", imports.import_progress, name="import_progress"),
    path("contacts/imports/<uuid:pk>/errors.csv", imports.import_errors_csv, name="import_errors"),
    path("contacts/imports/<uuid:pk>/cancel/", imports.import_cancel, name="import_cancel"),
    path("contacts/suppressions/", suppressions.suppression_index, name="suppressions"),
    path(
        "contacts/suppressions/<uuid:pk>/delete/",
        suppressions.suppression_delete,
        name="suppression_delete",
    ),
]
