"""Opening a PostgreSQL connection in this deployment's schema, and the one SQL difference we bridge.

Every table UCP keeps in PostgreSQL lives in the schema named by ``[state] namespace``; the first
connection creates the schema and the tables under an advisory lock (replicas starting together do
not race). The stores share their SQL with the SQLite ones, written in the common dialect, except
for placeholders: ``to_pg`` turns SQLite's ``?`` into psycopg's ``%s``.
"""

from __future__ import annotations

from typing import Any


def to_pg(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (UCP's queries hold no literal ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def connect_schema(conninfo: str, schema: str, ddl: str, connect_timeout: float) -> Any:
    """An autocommit connection with ``search_path`` set to ``schema``, its tables created."""
    import psycopg
    from psycopg import sql

    conn = psycopg.connect(conninfo, connect_timeout=max(1, int(connect_timeout)), autocommit=True)
    try:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ucp.schema'))")
            for statement in ddl.split(";"):
                if statement.strip():
                    conn.execute(statement)
    except Exception:
        conn.close()
        raise
    return conn
