"""Where validated rows go. PostgreSQL: COPY into a temporary staging table, then one
set-based upsert. Other databases (the embedded SQLite of `make run`): ORM batches.

Both leave the import's row errors for in-file duplicates and return the counts.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.importing.rows import STAGED_FIELDS
from contacts.models import (
    Contact,
    ContactList,
    ContactSource,
    Import,
    ImportRowError,
    OnDuplicate,
    RowErrorCode,
)

if TYPE_CHECKING:
    from accounts.models import Workspace


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    duplicates: int = 0  # in the file, or already in the workspace when skipping


def _id_prefix() -> str:
    """The first 20 hex digits of a UUIDv7 (RFC 9562): the time in ms, then random bits.
    The last 12 are the row's line, so the ids of one import ascend with the file and the
    primary key index is appended to rather than written all over (much cheaper in bulk)."""
    millis = int(time.time() * 1000)
    random_a, random_b = secrets.randbits(12), secrets.randbits(12)
    return f"{millis:012x}7{random_a:03x}{0x8 | (random_b >> 10):x}{random_b & 0x3FF:03x}"


class PostgresWriter:
    """Rows are COPYed as they are read, so memory stays flat whatever the file size."""

    def __init__(self, source_import: Import) -> None:
        self.source_import = source_import
        self.table = f"import_staging_{source_import.pk.hex}"
        self.staged = 0

    def __enter__(self) -> PostgresWriter:
        columns = ", ".join(f"{field} text NOT NULL" for field in STAGED_FIELDS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} "
                f"(line integer NOT NULL, {columns}, custom jsonb NOT NULL)"
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def stage(self, rows: list[tuple]) -> None:
        columns = ", ".join(("line", *STAGED_FIELDS, "custom"))
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        self.staged += len(rows)

    def upsert(self, *, workspace: Workspace) -> UpsertCounts:
        source = self.source_import
        counts = UpsertCounts()
        fields = ", ".join(STAGED_FIELDS)
        params = {"workspace": workspace.pk, "import": source.pk, "id_prefix": _id_prefix()}
        if source.on_duplicate == OnDuplicate.UPDATE:
            # Empty cells never erase what the contact already has; custom fields merge.
            assignments = ", ".join(
                f"{field} = COALESCE(NULLIF(EXCLUDED.{field}, ''), contacts_contact.{field})"
                for field in STAGED_FIELDS
                if field != "email"
            )
            on_conflict = (
                f"DO UPDATE SET {assignments}, "
                "custom_fields = contacts_contact.custom_fields || EXCLUDED.custom_fields, "
                "updated_at = now()"
            )
        else:
            on_conflict = "DO NOTHING"
        with transaction.atomic(), connection.cursor() as cursor:
            # One sort of the staged rows finds the first line of each address: the later ones
            # become row errors, the first ones are upserted in file order (ascending ids).
            cursor.execute(
                f"""
                WITH ranked AS MATERIALIZED (
                    SELECT *, min(line) OVER (PARTITION BY lower(email)) AS first_line
                    FROM {self.table}
                ), duplicates AS (
                    INSERT INTO contacts_importrowerror (
                        source_import_id, line, email, code, detail
                    )
                    SELECT %(import)s, line, email, '{RowErrorCode.DUPLICATE}', first_line::text
                    FROM ranked
                    WHERE line <> first_line
                    RETURNING 1
                ), upserted AS (
                    INSERT INTO contacts_contact (
                        id, workspace_id, created_at, updated_at, {fields}, custom_fields,
                        status, source, source_import_id
                    )
                    SELECT (%(id_prefix)s || lpad(to_hex(line), 12, '0'))::uuid, %(workspace)s,
                           -- A microsecond a line: the file's order, and a creation time of
                           -- its own for every row, which the API's cursor pages rely on.
                           now() + line * interval '1 microsecond', now(), {fields}, custom,
                           'active', '{ContactSource.IMPORT}', %(import)s
                    FROM ranked
                    WHERE line = first_line
                    ORDER BY line
                    ON CONFLICT (lower(email), workspace_id) {on_conflict}
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                       (SELECT count(*) FROM ranked WHERE line = first_line),
                       (SELECT count(*) FROM duplicates)
                FROM upserted
                """,  # noqa: S608 - identifiers are ours
                params,
            )
            created, updated, unique_rows, duplicates = cursor.fetchone()
            counts.duplicates = duplicates
            counts.created, counts.updated = created, updated
            counts.duplicates += unique_rows - created - updated  # skipped: already there
            if source.target_list_id:
                through = ContactList.contacts.through._meta.db_table
                cursor.execute(
                    f"""
                    INSERT INTO {through} (contactlist_id, contact_id)
                    SELECT l.id, c.id
                    FROM contacts_contactlist l  -- none if the list was deleted meanwhile
                    JOIN contacts_contact c ON c.workspace_id = l.workspace_id
                    WHERE l.id = %(list)s AND c.workspace_id = %(workspace)s
                      AND lower(c.email) IN (SELECT lower(email) FROM {self.table})
                    ON CONFLICT DO NOTHING
                    """,  # noqa: S608 - identifiers are ours
                    {**params, "list": source.target_list_id},
                )
        return counts


class OrmWriter:
    """For databases without COPY: batches through the ORM. Remembers the file's addresses,
    so it is for the embedded development database, not for millions of rows."""

    def __init__(self, source_import: Import) -> None:
        self.source_import = source_import
        self.first_line: dict[str, int] = {}
        self.counts = UpsertCounts()
        self.staged = 0

    def __enter__(self) -> OrmWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def stage(self, rows: list[tuple]) -> None:
        source = self.source_import
        workspace = source.workspace
        fresh: dict[str, tuple] = {}
        duplicates = []
        for row in rows:
            key = row[1].lower()
            if key in self.first_line:
                duplicates.append(
                    ImportRowError(
                        source_import=source,
                        line=row[0],
                        email=row[1],
                        code=RowErrorCode.DUPLICATE,
                        detail=str(self.first_line[key]),
                    )
                )
                continue
            self.first_line[key] = row[0]
            fresh[key] = row
        self.counts.duplicates += len(duplicates)
        now = timezone.now()
        with transaction.atomic():
            ImportRowError.objects.bulk_create(duplicates)
            existing = {
                c.email_key: c
                for c in Contact.objects.for_workspace(workspace)
                .annotate(email_key=Lower("email"))
                .filter(email_key__in=list(fresh))
            }
            created, changed = [], []
            for key, row in fresh.items():
                values = dict(zip(STAGED_FIELDS, row[1:-1], strict=True))
                custom = json.loads(row[-1])
                contact = existing.get(key)
                if contact is None:
                    created.append(
                        Contact(
                            workspace=workspace,
                            **values,
                            custom_fields=custom,
                            source=ContactSource.IMPORT,
                            source_import=source,
                        )
                    )
                elif source.on_duplicate == OnDuplicate.UPDATE:
                    for field, value in values.items():
                        if value and field != "email":
                            setattr(contact, field, value)
                    contact.custom_fields = {**contact.custom_fields, **custom}
                    contact.updated_at = now
                    changed.append(contact)
                else:
                    self.counts.duplicates += 1
            Contact.objects.for_workspace(workspace).bulk_create(created)
            Contact.objects.for_workspace(workspace).bulk_update(
                changed, [*STAGED_FIELDS[1:], "custom_fields", "updated_at"]
            )
            self.counts.created += len(created)
            self.counts.updated += len(changed)
            if source.target_list_id:
                through = ContactList.contacts.through
                through.objects.bulk_create(
                    [
                        through(contactlist_id=source.target_list_id, contact_id=c.pk)
                        for c in [*created, *existing.values()]
                    ],
                    ignore_conflicts=True,
                )
        self.staged += len(rows)

    def upsert(self, *, workspace: Workspace) -> UpsertCounts:
        return self.counts


def writer_for(source_import: Import) -> PostgresWriter | OrmWriter:
    if connection.vendor == "postgresql":
        return PostgresWriter(source_import)
    return OrmWriter(source_import)
