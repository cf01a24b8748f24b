"""Full-text search over contacts, on PostgreSQL only.

Word prefixes of the email (split at @ . - _ +), names and company, in a generated tsvector
with a GIN index: a few lexemes a row, so a million-row import pays little for it (a trigram
index cost more than all the other indexes together). SQLite, the embedded `make run`
default, scans instead (see contacts.selectors.contacts_filtered).
"""

from django.db import migrations

SEARCH_DOCUMENT = (
    "to_tsvector('simple', email || ' ' || translate(email, '@.-_+', '     ') || ' ' || "
    "first_name || ' ' || last_name || ' ' || company)"
)
FORWARD = [
    f"ALTER TABLE contacts_contact ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({SEARCH_DOCUMENT}) STORED",
    # A large pending list: an import appends its rows' words there cheaply (a tenth of the
    # cost of updating the index in place), and autovacuum, which a big insert wakes up,
    # merges them into the index afterwards, off the import's clock.
    "CREATE INDEX contact_search ON contacts_contact USING gin (search_vector) "
    "WITH (fastupdate = on, gin_pending_list_limit = 65536)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS contact_search",
    "ALTER TABLE contacts_contact DROP COLUMN IF EXISTS search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
