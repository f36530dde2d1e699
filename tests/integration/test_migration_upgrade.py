"""A database upgraded from the previously landed migrations must equal a fresh build
(scripts/db upgrade-check, run by scripts/test). Shown here on a deliberately broken copy of
the project: a landed migration changed in place (with the manifest's amend escape hatch,
so the guard lets it through) is caught, and a forward migration fixes it.

Each case builds real clusters with the real Supabase CLI (about 5 s each)."""

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.tooling import ROOT, load

schema = load("schema")
migrations = load("migrations")
LANDED = "20261126000700_gateway_rpcs.sql"


def sh(script: str, **env: str) -> str:
    out = subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh\n{script}"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


class Clusters:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.made: list[Path] = []

    def build(self, name: str, project: Path) -> str:
        # Outside pytest's private tmp dir: the cluster runs as the postgres OS user.
        data, port = Path(tempfile.mkdtemp(prefix=f"lsp-{name}-")), free_port()
        self.made.append(data)
        url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
        sh(
            f"PG_FSYNC=off cluster_init '{data}' {port}; cluster_start '{data}'\n"
            f"db_build '{url}' --no-seed --baseline '{self.base}/platform.sql'"
            f" --project '{project}'"
        )
        return url

    def stop(self) -> None:
        for data in self.made:
            sh(f"cluster_stop '{data}' immediate")
            shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Clusters]:
    c = Clusters(tmp_path)
    yield c
    c.stop()


def broken_copy(tmp_path: Path) -> Path:
    """The project with a landed function body changed in place, amended in the manifest."""
    project = tmp_path / "broken"
    (project / "supabase").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", project / "supabase" / "config.toml")
    shutil.copytree(ROOT / "supabase" / "migrations", project / "supabase" / "migrations")
    path = project / "supabase" / "migrations" / LANDED
    text = path.read_text()
    assert "interval '7 days'" in text
    path.write_text(text.replace("interval '7 days'", "interval '8 days'", 1))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = (ROOT / "supabase" / "landed-migrations.txt").read_text()
    line = next(ln for ln in manifest.splitlines() if ln.endswith(LANDED))
    manifest = manifest.replace(
        line, f"{line}\namend {digest} keep probes 8 days (a test of the upgrade check)"
    )
    (project / "manifest.txt").write_text(manifest)
    # A pending migration: the upgrade starts from every landing.
    (project / "supabase" / "migrations" / "29991230000000_pending_change.sql").write_text(
        "select 1;\n"
    )
    return project


def test_a_landed_migration_changed_in_place_is_caught_and_a_forward_fix_passes(tmp_path, clusters):
    project = broken_copy(tmp_path)
    mig, manifest = project / "supabase" / "migrations", project / "manifest.txt"
    assert migrations.guard(mig, manifest) == [], "the amend line lets the guard pass"
    env = {"LSP_MIGRATIONS_DIR": str(mig), "LSP_MIGRATIONS_MANIFEST": str(manifest)}
    previous = tmp_path / "previous"
    sh(f"uv run --frozen python scripts/migrations.py previous-tree '{previous}'", **env)
    landed = (previous / "supabase" / "migrations" / LANDED).read_text()
    assert "interval '7 days'" in landed, "the previous tree holds the file as it landed"

    fresh = clusters.build("fresh", project)
    upgraded = clusters.build("upgraded", previous)
    sh(f"db_push '{upgraded}' '{project}'")
    base = tmp_path / "platform.sql"
    problems = schema.differences(
        schema.generate(fresh, base), schema.generate(upgraded, base), ("upgraded", "fresh"), ""
    )
    assert len(problems) == 1, problems
    assert "functions/private.gateway_retention.sql" in problems[0]
    assert "8 days" in problems[0]

    # The forward fix: a new migration that gives upgraded databases the amended body.
    fix = mig / "29991231000000_gateway_probes_kept_eight_days.sql"
    current = ROOT / "supabase" / "schema" / "functions" / "private.gateway_retention.sql"
    body = current.read_text()
    create = body[body.index("CREATE FUNCTION") : body.index("$$;", body.index("AS $$") + 5) + 3]
    fix.write_text(
        create.replace("CREATE FUNCTION", "create or replace function").replace(
            "'7 days'", "'8 days'"
        )
        + "\n"
    )
    sh(f"db_push '{upgraded}' '{project}'")
    fresh_again = clusters.build("fresh_again", project)
    assert (
        schema.differences(
            schema.generate(fresh_again, base), schema.generate(upgraded, base), ("u", "f"), ""
        )
        == []
    )
