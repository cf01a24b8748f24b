"""Full-text search over contacts, on PostgreSQL only.

Word prefixes of the email (split at @ . - _ +), names and company, without accents (so
"helene" finds Hélène, as French users type), in a generated tsvector with a GIN index: a few lexemes a row, so a million-row import pays little for it (a trigram
index cost more than all the other indexes together). SQLite, the embedded `make run`
default, scans instead (see contacts.selectors.contacts_filtered).
"""

from django.db import migrations

SEARCH_DOCUMENT = (
    "to_tsvector('simple', contacts_search_fold(email || ' ' || "
    "translate(email, '@.-_+', '     ') || ' ' || first_name || ' ' || last_name || ' ' || "
    "company))"
)
FORWARD = [
    # unaccent is a trusted extension: the database owner may create it. (translate() with a
    # table of accented letters was ten times slower on an import.)
    "CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public",
    # unaccent() itself is not IMMUTABLE (its dictionary could change), so a generated column
    # cannot call it; this wrapper names the dictionary and vouches for it. The same fold
    # serves the stored words and what is typed in the search box.
    "CREATE OR REPLACE FUNCTION contacts_search_fold(text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
    "AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$",
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
    "DROP FUNCTION IF EXISTS contacts_search_fold(text)",
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
