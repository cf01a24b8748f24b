"""Re-encrypt every EncryptedTextField value with the newest of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS, deploy, run this command, then
drop the old key.
"""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from fluenzr.fields import encrypted_fields, rotate_token

BATCH_SIZE = 500


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the newest key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: object, **options: object) -> None:
        total = 0
        for model, field in encrypted_fields():
            table = connection.ops.quote_name(model._meta.db_table)
            column = connection.ops.quote_name(field.column)
            pk = connection.ops.quote_name(model._meta.pk.column)
            count = 0
            with transaction.atomic(), connection.cursor() as cursor:
                # Raw SQL: the stored tokens, not the decrypted values the ORM would return.
                cursor.execute(
                    f"SELECT {pk}, {column} FROM {table} "  # noqa: S608 - quoted identifiers
                    f"WHERE {column} IS NOT NULL AND {column} <> '' FOR UPDATE"
                    if connection.features.has_select_for_update
                    else f"SELECT {pk}, {column} FROM {table} "  # noqa: S608
                    f"WHERE {column} IS NOT NULL AND {column} <> ''"
                )
                rows = cursor.fetchall()
                for start in range(0, len(rows), BATCH_SIZE):
                    batch = rows[start : start + BATCH_SIZE]
                    cursor.executemany(
                        f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                        [(rotate_token(token), row_pk) for row_pk, token in batch],
                    )
                count = len(rows)
            total += count
            self.stdout.write(f"{model._meta.label}.{field.name}: {count} value(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done: {total} value(s) re-encrypted."))
