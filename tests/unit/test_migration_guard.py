"""The landed-migration guard (scripts/migrations.py) on copies of the real migrations:
edits, deletions and back-dated files are refused; a reasoned amend is the only way past."""

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.tooling import ROOT, load

migrations = load("migrations")
LANDED = "20261126000700_gateway_rpcs.sql"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    mig = tmp_path / "migrations"
    shutil.copytree(ROOT / "supabase" / "migrations", mig)
    manifest = tmp_path / "landed-migrations.txt"
    shutil.copy(ROOT / "supabase" / "landed-migrations.txt", manifest)
    return mig, manifest


def test_the_real_tree_passes():
    assert migrations.guard() == []


def test_every_landed_file_is_listed_with_its_checksum():
    entries = migrations.read_manifest()
    assert entries, "the manifest lists the landed migrations"
    for e in entries:
        path = ROOT / "supabase" / "migrations" / e.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == e.sha, e.file


def test_an_edited_landed_migration_is_refused(project):
    mig, manifest = project
    path = mig / LANDED
    path.write_text(path.read_text().replace("interval '7 days'", "interval '8 days'", 1))
    problems = migrations.guard(mig, manifest)
    assert len(problems) == 1 and LANDED in problems[0] and "was edited" in problems[0]


def test_a_deleted_landed_migration_is_refused(project):
    mig, manifest = project
    (mig / LANDED).unlink()
    problems = migrations.guard(mig, manifest)
    assert any(LANDED in p and "deleted" in p for p in problems)


def test_a_new_migration_must_sort_after_the_landed_ones(project):
    mig, manifest = project
    (mig / "20261126000750_slipped_in.sql").write_text("select 1;\n")
    (mig / "29991231000000_later.sql").write_text("select 1;\n")
    problems = migrations.guard(mig, manifest)
    assert len(problems) == 1 and "20261126000750_slipped_in.sql" in problems[0]


def test_badly_named_migrations_are_refused(project):
    mig, manifest = project
    (mig / "29991231000000_CamelCase.sql").write_text("select 1;\n")
    assert any("CamelCase" in p for p in migrations.guard(mig, manifest))


def test_an_amend_line_with_a_reason_accepts_the_new_content(project):
    mig, manifest = project
    path = mig / LANDED
    path.write_text(path.read_text() + "\n-- amended\n")
    new = hashlib.sha256(path.read_bytes()).hexdigest()
    text = manifest.read_text()
    line = next(ln for ln in text.splitlines() if ln.endswith(LANDED))
    manifest.write_text(
        text.replace(line, f"{line}\namend {new} cannot apply on hosted pgmq 1.5.1, see #99")
    )
    assert migrations.guard(mig, manifest) == []


def test_an_amend_without_a_reason_is_an_error(project):
    _mig, manifest = project
    text = manifest.read_text()
    line = next(ln for ln in text.splitlines() if ln.endswith(LANDED))
    manifest.write_text(text.replace(line, f"{line}\namend {'0' * 64} because"))
    with pytest.raises(SystemExit, match="reason"):
        migrations.read_manifest(manifest)


def test_record_adds_pending_files_as_the_next_landing(project):
    mig, manifest = project
    already = [p.name for p in migrations.pending(mig, manifest)]  # the real tree's pending
    (mig / "29991231000000_new_capability.sql").write_text("select 1;\n")
    new = [*already, "29991231000000_new_capability.sql"]
    assert [p.name for p in migrations.pending(mig, manifest)] == new
    # While a file is pending, an upgrade starts from every landing.
    landed = migrations.read_manifest(manifest)
    assert len(migrations.previous(mig, manifest)) == len(landed)
    assert migrations.record(mig, manifest, note="test") == new
    entries = migrations.read_manifest(manifest)
    assert [e.file for e in entries[-len(new) :]] == new
    assert {e.landing for e in entries[-len(new) :]} == {max(e.landing for e in landed) + 1}
    # Recorded: it is frozen, and an upgrade now starts from the landings before it.
    assert migrations.guard(mig, manifest) == []
    assert [e.file for e in migrations.previous(mig, manifest)] == [e.file for e in landed]
    (mig / "29991231000000_new_capability.sql").write_text("select 2;\n")
    assert migrations.guard(mig, manifest)
