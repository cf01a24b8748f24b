"""CSV downloads: contacts, and an import's skipped rows. Streamed, for Excel.

UTF-8 with a byte-order mark, so Excel shows accents right; any cell that a spreadsheet would
run as a formula (=, +, -, @, tab, CR first) is prefixed with an apostrophe (OWASP's advice
against CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from contacts.models import Contact, Import

if TYPE_CHECKING:
    from accounts.models import Workspace

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTACT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "website",
    "phone",
    "linkedin_url",
    "country",
    "timezone",
    "status",
    "source",
    "created_at",
)


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def unneutralise(text: str) -> str:
    """What `neutralise` wrote, read back: our own export imports unchanged."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def _contact_rows(contacts: QuerySet[Contact], custom_keys: list[str]) -> Iterator[list[object]]:
    yield [*CONTACT_COLUMNS, "tags", "lists", *custom_keys]
    # Tags and lists ride along as aggregated names, a chunk at a time.
    for contact in contacts.prefetch_related("tags", "lists").iterator(chunk_size=2000):
        yield [
            *(getattr(contact, column) for column in CONTACT_COLUMNS[:-1]),
            contact.created_at.isoformat(),
            ", ".join(tag.name for tag in contact.tags.all()),
            ", ".join(contact_list.name for contact_list in contact.lists.all()),
            *(contact.custom_fields.get(key, "") for key in custom_keys),
        ]


def contacts_csv_response(
    *, workspace: Workspace, contacts: QuerySet[Contact], custom_keys: list[str], filename: str
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _csv_lines(_contact_rows(contacts.order_by("created_at", "id"), custom_keys)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def import_errors_csv_response(source_import: Import) -> StreamingHttpResponse:
    language = translation.get_language()  # the response streams after the request ends

    def rows() -> Iterator[list[object]]:
        with translation.override(language):
            yield [_("line"), _("email"), _("reason")]
            for error in source_import.row_errors.order_by("line").iterator(chunk_size=2000):
                yield [error.line, error.email, error.reason]

    response = StreamingHttpResponse(_csv_lines(rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="import-{source_import.number}-errors.csv"'
    )
    return response
