"""Every write to contacts, lists, tags and the suppression list. (Imports: importing/.)"""

from contacts.services.bulk import BULK_CREATE_MAX, BulkResult, contacts_bulk_create
from contacts.services.contacts import (
    CONTACT_FIELDS,
    contact_create,
    contact_payload,
    contact_unsubscribe,
    contact_update,
    contacts_archive,
    contacts_delete,
    contacts_tag,
    tags_resolve,
)
from contacts.services.lists import (
    list_add_contacts,
    list_create,
    list_delete,
    list_remove_contacts,
    list_update,
)
from contacts.services.suppressions import (
    BlocklistResult,
    suppression_add,
    suppression_parse,
    suppression_remove,
    suppressions_import,
)

__all__ = [
    "BULK_CREATE_MAX",
    "CONTACT_FIELDS",
    "BlocklistResult",
    "BulkResult",
    "contact_create",
    "contact_payload",
    "contact_unsubscribe",
    "contact_update",
    "contacts_archive",
    "contacts_bulk_create",
    "contacts_delete",
    "contacts_tag",
    "list_add_contacts",
    "list_create",
    "list_delete",
    "list_remove_contacts",
    "list_update",
    "suppression_add",
    "suppression_parse",
    "suppression_remove",
    "suppressions_import",
    "tags_resolve",
]
