"""Rollback as it really is on Supabase (no down migrations), with the real CLI on a real
cluster: a failing migration leaves the schema and the history table as they were; a
`create index concurrently` file applies when it is the only statement, and is not atomic
otherwise (which is why the migration lint refuses it); `supabase migration repair` only
rewrites the history. And the migration lint itself."""

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.tooling import ROOT, load

from .test_migration_upgrade import Clusters, clusters, sh  # noqa: F401  (fixture)

lint = load("migration_lint")


def project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "supabase").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", project / "supabase" / "config.toml")
    shutil.copytree(ROOT / "supabase" / "migrations", project / "supabase" / "migrations")
    return project


def push(url: str, project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "bash",
            "-c",
            f"source scripts/lib.sh\ncd '{project}' && supabase db push "
            f"--db-url '{url}' --include-all --yes",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def history(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        )
    ]


def scalar(conn: psycopg.Connection, query: str) -> object:
    row = conn.execute(query).fetchone()
    return row[0] if row else None


def test_migrations_apply_atomically_with_the_real_cli(tmp_path, clusters):  # noqa: F811
    project = project_copy(tmp_path)
    url = clusters.build("rollback", project)
    migrations = project / "supabase" / "migrations"
    with psycopg.connect(url, autocommit=True) as conn:
        before = history(conn)
        assert before[-1] == sorted(p.name for p in migrations.glob("*.sql"))[-1].split("_")[0]

        # 1. A migration that fails half way changes nothing: not its first statements, not
        #    the history table.
        (migrations / "29990101000000_half_done.sql").write_text(
            "create table public.rollback_probe (id bigint primary key);\n"
            "alter table public.merchants add column rollback_probe text;\n"
            "select 1 / 0;\n"
        )
        failed = push(url, project)
        assert failed.returncode != 0
        assert "division by zero" in failed.stdout + failed.stderr
        assert history(conn) == before
        assert scalar(conn, "select to_regclass('public.rollback_probe')") is None
        assert (
            scalar(
                conn,
                "select count(*) from information_schema.columns"
                " where table_name = 'merchants' and column_name = 'rollback_probe'",
            )
            == 0
        )

        # The forward fix: correct the file that did not land, push again.
        (migrations / "29990101000000_half_done.sql").write_text(
            "create table public.rollback_probe (id bigint primary key);\n"
            "alter table public.rollback_probe enable row level security;\n"
        )
        assert push(url, project).returncode == 0
        assert history(conn) == [*before, "29990101000000"]

        # 2. CREATE INDEX CONCURRENTLY alone in its file applies (and the lint accepts it).
        alone = migrations / "29990101000100_merchants_name_index.sql"
        alone.write_text(
            "create index concurrently if not exists merchants_name_probe"
            " on public.merchants (name);\n"
        )
        assert lint.lint([alone])[0] == []
        assert push(url, project).returncode == 0, "CONCURRENTLY alone in its file applies"
        assert scalar(
            conn,
            "select indisvalid from pg_index"
            " where indexrelid = 'public.merchants_name_probe'::regclass",
        )
        assert history(conn)[-1] == "29990101000100"

        # 3. With other statements around it the file is no longer atomic: what ran before
        #    the failure stays, and the history does not record it. The lint refuses it.
        mixed = migrations / "29990101000200_mixed.sql"
        mixed.write_text(
            "create table public.mixed_probe (id bigint primary key, v int);\n"
            "create index concurrently if not exists mixed_probe_v on public.mixed_probe (v);\n"
            "select 1 / 0;\n"
        )
        problems, _ = lint.lint([mixed])
        assert "concurrently-alone" in [p.rule for p in problems]
        assert push(url, project).returncode != 0
        assert scalar(conn, "select to_regclass('public.mixed_probe')") == "mixed_probe"
        assert "29990101000200" not in history(conn)
        mixed.unlink()

        # 4. `supabase migration repair` rewrites only the history: the index stays.
        repaired = subprocess.run(
            [
                "bash",
                "-c",
                f"source scripts/lib.sh\ncd '{project}' && supabase migration repair "
                f"--status reverted 29990101000100 --db-url '{url}'",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert repaired.returncode == 0, repaired.stderr
        assert "29990101000100" not in history(conn)
        assert scalar(conn, "select to_regclass('public.merchants_name_probe')") is not None


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("alter table public.merchants drop column name;", "ban-drop-column"),
        ("alter table public.merchants rename column name to title;", "renaming-column"),
        (
            "alter table public.wallets alter column balance type numeric;",
            "changing-column-type",
        ),
        (
            "alter table public.merchants alter column name set not null;",
            "adding-not-nullable-field",
        ),
        (
            "create index merchants_name_idx on public.merchants (name);",
            "require-concurrent-index-creation",
        ),
        ("alter table public.merchants add column seen timestamptz default now();", None),
        ("drop table public.merchants;", "ban-drop-table"),
    ],
)
def test_the_lint_refuses_destructive_or_locking_ddl_without_a_reasoned_exemption(
    tmp_path, sql, rule
):
    path = tmp_path / "29990101000300_change.sql"
    path.write_text(sql + "\n")
    problems, _ = lint.lint([path])
    if rule is None:  # a constant-time default (now() is stable) is fine on Postgres 11+
        assert problems == []
        return
    assert rule in [p.rule for p in problems], problems
    path.write_text(f"-- migration-lint: allow {rule}: too short\n{sql}\n")
    problems, _ = lint.lint([path])
    assert rule in [p.rule for p in problems], "a reason under 20 characters is no exemption"
    path.write_text(
        f"-- migration-lint: allow {rule}: contract step, no deployed release reads it since N+1\n"
        f"{sql}\n"
    )
    problems, notes = lint.lint([path])
    assert problems == [] and any(rule in n for n in notes)


def test_the_lint_runs_over_pending_migrations_only():
    migrations = load("migrations")
    pending = {p.name for p in lint.pending()}
    landed = {e.file for e in migrations.read_manifest()}
    every = {p.name for p in migrations.MIGRATIONS.glob("*.sql")}
    # Right after a landing is recorded nothing is pending: the lint then has nothing to do.
    assert pending == every - landed
    assert lint.lint(lint.pending())[0] == []


def test_statements_are_split_outside_quotes_comments_and_function_bodies():
    sql = (
        "-- a; comment\ncreate function f() returns int language sql as $$ select 1; $$;\n"
        "/* block; */ select 'a;b';\n"
    )
    assert len(lint.statements(sql)) == 2
