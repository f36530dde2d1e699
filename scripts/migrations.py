"""Landed migrations are frozen: a manifest of their SHA-256 sums, and the tools around it.

    python scripts/migrations.py guard            landed files unchanged, new ones sort last
    python scripts/migrations.py record           add every migration not yet in the manifest
    python scripts/migrations.py previous-tree DIR
        a project dir holding the migrations of every landing before the newest change (all
        landings while migrations are pending, else all but the last), as they landed: the
        database an upgrade starts from

The manifest (supabase/landed-migrations.txt) lists every landed migration, one per line
(`<sha256>  <file>`), in groups headed `## landing <n>`: one group per landing on main. A
change that adds migrations records them as the next group (`scripts/db manifest`, this
`record`) in its last commit, the one that lands; until then they are pending and may still
be edited. From then on:

* editing or deleting a listed file fails the test command: write a new migration instead
  (forward-only; the generated schema in supabase/schema/ shows the result);
* a new migration must sort after every landed one (a file slipped into the middle of the
  history would never run on an upgraded database);
* the emergency exit, for a landed file that must change in place (say it cannot apply on a
  hosted project): an `amend` line under the file's entry,
      amend <new sha256> <reason, at least 20 characters>
  The upgrade check then builds the database from the file as it landed (taken from git)
  and requires a forward migration that brings such a database to the same state as a
  fresh build of the amended history.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Overridable so tests can work on a copy of the project.
MIGRATIONS = Path(os.environ.get("LSP_MIGRATIONS_DIR", ROOT / "supabase" / "migrations"))
MANIFEST = Path(
    os.environ.get("LSP_MIGRATIONS_MANIFEST", ROOT / "supabase" / "landed-migrations.txt")
)
NAME = re.compile(r"^\d{14}_[a-z0-9_]+\.sql$")
HEAD = """\
# Migrations that have landed on main: `<sha256>  <file>`, oldest first, one group per
# landing. Landed files never change: scripts/test fails if one differs or disappears. A
# change that adds migrations records them as the next group with `scripts/db manifest` in
# its final commit. Emergency exit (see scripts/migrations.py): a line
#   amend <new sha256> <reason of at least 20 characters>
# under a file's entry accepts that content, and the upgrade check then demands a forward fix.
"""
GROUP = re.compile(r"^## landing (\d+)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Entry:
    file: str
    sha: str
    landing: int
    amends: list[tuple[str, str]] = field(default_factory=list)  # (sha, reason)

    def accepts(self, digest: str) -> bool:
        return digest == self.sha or any(digest == sha for sha, _ in self.amends)


def read_manifest(path: Path = MANIFEST) -> list[Entry]:
    entries: list[Entry] = []
    if not path.exists():
        return entries
    landing = 0
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if group := GROUP.match(line):
            landing = int(group.group(1))
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("amend "):
            parts = line.split(None, 2)
            if not entries or len(parts) < 3 or len(parts[2]) < 20:
                raise SystemExit(f"{path.name}:{n}: amend needs a sha256 and a reason (20+ chars)")
            entries[-1].amends.append((parts[1], parts[2]))
            continue
        sha, _, file = line.partition("  ")
        if not re.fullmatch(r"[0-9a-f]{64}", sha) or not NAME.match(file):
            raise SystemExit(f"{path.name}:{n}: expected `<sha256>  <file>`, got {raw!r}")
        entries.append(Entry(file, sha, landing))
    return entries


def guard(migrations: Path = MIGRATIONS, manifest: Path = MANIFEST) -> list[str]:
    """Problems with the migrations directory against the manifest (empty: all good)."""
    entries = read_manifest(manifest)
    landed = {e.file: e for e in entries}
    present = {p.name: p for p in migrations.glob("*.sql")}
    problems = []
    for p in present:
        if not NAME.match(p):
            problems.append(f"{p}: migration names are <14-digit timestamp>_<capability>.sql")
    for e in entries:
        path = present.get(e.file)
        if path is None:
            problems.append(f"{e.file} has landed and was deleted: restore it (forward-only)")
        elif not e.accepts(sha256(path)):
            problems.append(
                f"{e.file} has landed and was edited: restore it (`git checkout` it) and put"
                " the change in a new migration (`scripts/db new <capability>`)"
            )
    newest = max(landed, default="")
    for name in sorted(set(present) - set(landed)):
        if name < newest:
            problems.append(
                f"{name} sorts before the landed {newest}: a new migration must come after"
                " every landed one (rename it with a newer timestamp)"
            )
    return problems


def pending(migrations: Path = MIGRATIONS, manifest: Path = MANIFEST) -> list[Path]:
    listed = {e.file for e in read_manifest(manifest)}
    return [p for p in sorted(migrations.glob("*.sql")) if p.name not in listed]


def record(migrations: Path = MIGRATIONS, manifest: Path = MANIFEST, note: str = "") -> list[str]:
    """Record the pending migrations as the next landing group."""
    added = pending(migrations, manifest)
    if not added:
        return []
    landing = max((e.landing for e in read_manifest(manifest)), default=0) + 1
    text = manifest.read_text() if manifest.exists() else HEAD
    text += f"\n## landing {landing}{f' ({note})' if note else ''}\n"
    text += "".join(f"{sha256(p)}  {p.name}\n" for p in added)
    manifest.write_text(text)
    return [p.name for p in added]


def previous(migrations: Path = MIGRATIONS, manifest: Path = MANIFEST) -> list[Entry]:
    """The landed entries an upgrade starts from: every landing while migrations are
    pending, else every landing but the last."""
    entries = read_manifest(manifest)
    if pending(migrations, manifest) or not entries:
        return entries
    last = max(e.landing for e in entries)
    return [e for e in entries if e.landing < last]


def landed_content(entry: Entry, path: Path) -> bytes:
    """The file as it landed: the working copy if it still has the landed checksum, else the
    git blob with that checksum (an amended file)."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == entry.sha:
        return data
    rel = Path("supabase") / "migrations" / entry.file
    commits = subprocess.run(
        ["git", "-C", str(ROOT), "log", "--format=%H", "--", str(rel)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for commit in commits:
        old = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:{rel}"], capture_output=True, check=False
        ).stdout
        if hashlib.sha256(old).hexdigest() == entry.sha:
            return old
    raise SystemExit(
        f"{entry.file} was amended and its landed version is not in this clone's git history:"
        " the upgrade check needs a full clone"
    )


def previous_tree(target: Path, migrations: Path = MIGRATIONS) -> int:
    """A Supabase project dir holding the `previous()` migrations, as they landed."""
    if target.exists():
        shutil.rmtree(target)
    (target / "supabase" / "migrations").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", target / "supabase" / "config.toml")
    entries = previous(migrations, MANIFEST)
    for e in entries:
        (target / "supabase" / "migrations" / e.file).write_bytes(
            landed_content(e, migrations / e.file)
        )
    return len(entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("guard", "record", "previous-tree"))
    parser.add_argument("dir", nargs="?", type=Path)
    parser.add_argument("--note", default="", help="record: a note on the group's header")
    args = parser.parse_args()
    if args.command == "guard":
        problems = guard()
        if problems:
            print("Landed migrations are frozen:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        waiting = [p.name for p in pending()]
        note = f"; pending (record them when they land): {', '.join(waiting)}" if waiting else ""
        print(f"migrations: landed files unchanged{note}", file=sys.stderr)
        return 0
    if args.command == "record":
        added = record(note=args.note)
        print(f"recorded {len(added)} landed migration(s): {' '.join(added)}", file=sys.stderr)
        return 0
    n = previous_tree(args.dir)
    print(f"{n} previously landed migrations in {args.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
