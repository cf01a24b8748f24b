"""Set-based writes of list and tag memberships: one INSERT … SELECT, whatever the number of
contacts (a bulk action may cover every contact a filter matches, a million of them)."""

from __future__ import annotations

from django.db import connection, models
from django.db.models import QuerySet


def memberships_add(
    *, through: type[models.Model], owner_column: str, owner: models.Model, contacts: QuerySet
) -> int:
    """Adds `contacts` to `owner` (a list or a tag) in `through`; returns how many were new."""
    contact_ids, params = contacts.order_by().values("id").query.sql_with_params()
    owner_id = owner._meta.pk.get_db_prep_value(owner.pk, connection)
    table = through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({owner_column}, contact_id) "  # noqa: S608 - our names
            f"SELECT %s, chosen.id FROM ({contact_ids}) chosen "
            "ON CONFLICT DO NOTHING",
            [owner_id, *params],
        )
        return cursor.rowcount
