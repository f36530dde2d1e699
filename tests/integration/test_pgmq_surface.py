"""Hosted Supabase runs pgmq 1.5.1: our SQL and Python may call only what it has."""

import re
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PGMQ_1_5_1 = {
    "create",
    "send",
    "send_batch",
    "read",
    "read_with_poll",
    "pop",
    "archive",
    "delete",
    "set_vt",
    "metrics",
    "metrics_all",
    "list_queues",
    "purge_queue",
    "drop_queue",
}
CALL = re.compile(r"pgmq\.([a-z_]+)\s*\(")


def sources() -> list[Path]:
    # supabase/schema/ is generated: it lists the grants on every pgmq function, not calls.
    return [
        *(p for p in (ROOT / "supabase").rglob("*.sql") if "schema" not in p.parts),
        *(ROOT / "edge_adapter").rglob("*.py"),
        *(ROOT / "scripts").glob("bench*"),
    ]


def test_only_pgmq_1_5_1_functions_are_called():
    used: dict[str, set[str]] = {}
    for path in sources():
        for name in CALL.findall(path.read_text()):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert used, "the scan found no pgmq calls at all"
    unknown = {name: files for name, files in used.items() if name not in PGMQ_1_5_1}
    assert not unknown, f"not in pgmq 1.5.1: {unknown}"


def test_the_scan_would_catch_a_newer_function():
    assert CALL.findall("select pgmq.read_grouped('q', 30, 1)") == ["read_grouped"]
    assert "read_grouped" not in PGMQ_1_5_1


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_client_roles_cannot_touch_pgmq(pg: psycopg.Connection, role: str):
    for statement in (
        "select * from pgmq.q_payment",
        "select pgmq.send('payment', '{}'::jsonb)",
        "delete from pgmq.a_webhook",
    ):
        with pg.transaction():
            pg.execute(f"set local role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                pg.execute(statement)
            raise psycopg.Rollback()
