"""The placeholder bridge between the SQLite dialect the stores share and psycopg."""

from __future__ import annotations

from ucp.state.pg import to_pg


def test_placeholders_become_psycopgs_and_percent_signs_stay_literal() -> None:
    assert to_pg("SELECT a FROM t WHERE ts >= ? AND b LIKE 'x%' LIMIT ?") == (
        "SELECT a FROM t WHERE ts >= %s AND b LIKE 'x%%' LIMIT %s"
    )
