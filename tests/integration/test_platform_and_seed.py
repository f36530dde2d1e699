"""The local platform stand-ins and the seed: idempotent, and shaped like hosted Supabase."""

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]

TABLES = [
    "auth.users",
    "public.merchants",
    "public.merchant_members",
    "public.platform_admins",
    "public.gateways",
    "public.payments",
    "public.payment_attempts",
    "public.refunds",
    "public.wallets",
    "public.ledger_accounts",
    "public.ledger_lines",
    "audit.log",
    "vault.secrets",
]


def psql_file(url: str, path: Path) -> None:
    subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path)],
        check=True,
        capture_output=True,
        env={"PGOPTIONS": "--client-min-messages=warning", "PATH": "/usr/bin:/bin"},
    )


def snapshot(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    out = {}
    for table in TABLES:
        row = conn.execute(
            f"select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '')"
            f" from {table} as t"
        ).fetchone()
        assert row
        out[table] = (row[0], row[1])
    return out


def test_seed_applied_twice_changes_nothing(super_url: str, pg: psycopg.Connection):
    seed = ROOT / "supabase" / "seed.sql"
    psql_file(super_url, seed)  # make sure it is there, whatever ran before
    before = snapshot(pg)
    psql_file(super_url, seed)
    assert snapshot(pg) == before


def test_seed_creates_the_documented_demo_data(pg: psycopg.Connection):
    admin = pg.execute(
        "select 1 from public.platform_admins"
        " where user_id = '00000000-0000-4000-8000-00000000a001'"
    ).fetchone()
    owner = pg.execute(
        "select role from public.merchant_members"
        " where user_id = '00000000-0000-4000-8000-00000000b001'"
    ).fetchone()
    gateway = pg.execute(
        "select g.provider, g.status, s.decrypted_secret like '%sandbox_secret_demo%'"
        " from public.gateways as g join vault.decrypted_secrets as s"
        " on s.id = g.credentials_secret_id where g.provider = 'sandbox'"
    ).fetchone()
    assert admin and owner == ("owner",)
    assert gateway == ("sandbox", "active", True)


def test_platform_files_are_idempotent(super_url: str):
    for path in sorted((ROOT / "sql" / "platform").glob("*.sql")):
        psql_file(super_url, path)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "install_pgmq.py"), super_url], check=True
    )


def test_supabase_roles_are_shaped_like_hosted(pg: psycopg.Connection):
    rows = pg.execute(
        "select rolname, rolcanlogin, rolbypassrls, rolinherit from pg_roles"
        " where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')"
    ).fetchall()
    roles = {name: tuple(flags) for name, *flags in rows}
    assert roles["anon"][:2] == (False, False)
    assert roles["authenticated"][:2] == (False, False)
    assert roles["service_role"][:2] == (False, True)
    assert roles["authenticator"] == (True, False, False)


def test_a_new_public_table_is_exposed_by_default_as_on_supabase(pg: psycopg.Connection):
    with pg.transaction():
        pg.execute("create table public.exposure_probe (id int)")
        exposed = pg.execute(
            "select has_table_privilege('anon', 'public.exposure_probe', 'select')"
        ).fetchone()
        pg.execute("drop table public.exposure_probe")
    assert exposed == (True,)


def test_vault_secrets_are_encrypted_and_only_service_role_decrypts(pg: psycopg.Connection):
    with pg.transaction():
        sid = pg.execute("select vault.create_secret('canary-vault-value', 'probe')").fetchone()
        assert sid
        stored = pg.execute("select secret from vault.secrets where id = %s", sid).fetchone()
        assert stored and "canary-vault-value" not in stored[0]
        pg.execute("set local role service_role")
        plain = pg.execute(
            "select decrypted_secret from vault.decrypted_secrets where id = %s", sid
        ).fetchone()
        assert plain == ("canary-vault-value",)
        pg.execute("reset role")
        pg.execute("set local role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg.execute("select * from vault.decrypted_secrets")
        raise psycopg.Rollback()


def test_realtime_send_records_what_would_be_broadcast(pg: psycopg.Connection):
    with pg.transaction():
        pg.execute("""select realtime.send('{"x": 1}', 'probe', 'admin:test', true)""")
        row = pg.execute(
            "select event, payload ->> 'x', private from realtime.messages"
            " where topic = 'admin:test'"
        ).fetchone()
        assert row == ("probe", "1", True)
        raise psycopg.Rollback()


def test_pgmq_is_installed(pg: psycopg.Connection):
    row = pg.execute(
        "select count(*) from pg_proc where pronamespace = 'pgmq'::regnamespace"
        " and proname in ('create', 'send', 'read', 'archive', 'set_vt', 'metrics')"
    ).fetchone()
    assert row and row[0] >= 6


def test_supabase_db_push_twice_is_a_no_op(super_url: str, pg: psycopg.Connection):
    before = pg.execute("select count(*) from supabase_migrations.schema_migrations").fetchone()
    result = subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "supabase"),
            "db",
            "push",
            "--db-url",
            super_url,
            "--yes",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    after = pg.execute("select count(*) from supabase_migrations.schema_migrations").fetchone()
    assert before == after and before and before[0] >= 4
    assert "up to date" in (result.stdout + result.stderr).lower()
