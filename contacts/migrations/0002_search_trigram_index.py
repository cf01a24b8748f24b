"""Trigram index for the dashboard's contact search, on PostgreSQL only.

SQLite (the embedded `make run` default) has no trigram index; its search scans, which is fine
at the sizes a laptop holds.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS contact_search_trgm "
    "ON contacts_contact USING gin (search_text gin_trgm_ops)"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX_SQL)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS contact_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index),
    ]
