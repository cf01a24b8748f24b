"""The throwaway PostgreSQL database a benchmark recreates and drops (its name must hold
"bench", so a mistyped DATABASE_URL never costs real data). Import after django.setup()."""

from __future__ import annotations

from django.db import connection


def _server() -> tuple[dict, str]:
    """psycopg's connection parameters for the server, and the bench database's name."""
    params = connection.get_connection_params()
    name = params.pop("dbname")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the bench database's name holds 'bench'")
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return params, name


def _drop(*, create: bool) -> None:
    import psycopg

    connection.close()
    params, name = _server()
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            admin.execute(f'CREATE DATABASE "{name}"')


def recreate_database() -> None:
    _drop(create=True)


def drop_database() -> None:
    _drop(create=False)
