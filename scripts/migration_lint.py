"""Migration safety lint (a scripts/test step): squawk (PyPI squawk-cli,
https://squawkhq.com/docs/rules) over the migrations that have not landed yet (those not in
supabase/landed-migrations.txt). Destructive or locking DDL fails the lint unless the file
carries an explicit, reasoned exemption:

    -- migration-lint: allow <rule>: <why this is safe here, at least 20 characters>

(or, for a file written before this lint existed and not ours to edit, a line
`<file> <rule> <reason>` in ops/migration-lint-exemptions.txt).

`create index concurrently` (and `drop index concurrently`, `reindex ... concurrently`)
cannot run in a transaction block, and the Supabase CLI applies each file as one implicit
transaction (https://github.com/supabase/cli/blob/main/pkg/migration/file.go): such a
statement must be the only one in its file. Then squawk's in-transaction rule does not apply.

    python scripts/migration_lint.py [FILE ...]   default: the pending migrations
"""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import migrations  # noqa: E402  (scripts/migrations.py, not a package)

SQUAWK = ROOT / ".venv" / "bin" / "squawk"
REGISTER = ROOT / "ops" / "migration-lint-exemptions.txt"
EXEMPTION = re.compile(r"--\s*migration-lint:\s*allow\s+([a-z0-9-]+)\s*:\s*(.+)$", re.M)
MIN_REASON = 20
# Rules left out, and why (everything else squawk checks by default stays on):
EXCLUDED = {
    # The CLI applies a file atomically with its history row: a failure leaves nothing to
    # re-run around, so IF [NOT] EXISTS guards add nothing.
    "prefer-robust-stmts": "each file is one transaction",
    # Timeouts are a session policy; this lint refuses the locking statements themselves.
    "require-timeout-settings": "locking statements are refused, not timed",
    "require-lock-timeout": "locking statements are refused, not timed",
    "require-statement-timeout": "locking statements are refused, not timed",
    # Integer widths are chosen per column (counts, codes, percentages), money is bigint.
    "prefer-bigint-over-int": "column widths are chosen per column",
    "prefer-bigint-over-smallint": "column widths are chosen per column",
}
CONCURRENT = re.compile(
    r"\b(create\s+(unique\s+)?index\s+concurrently|drop\s+index\s+concurrently"
    r"|reindex\s+.*\bconcurrently)\b",
    re.I,
)
CONCURRENT_RULES = {
    "ban-concurrent-index-creation-in-transaction",
    "require-concurrent-index-creation",
    "require-concurrent-index-deletion",
}


@dataclass
class Finding:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.message}"


def statements(sql: str) -> list[str]:
    """Top-level statements: splits on ';' outside quotes, dollar quotes and comments."""
    out: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "'":
            end = i + 1
            while end < n and not (sql[end] == "'" and sql[end + 1 : end + 2] != "'"):
                end += 2 if sql[end] == "'" else 1
            current.append(sql[i : end + 1])
            i = end + 1
            continue
        tag = re.match(r"\$[A-Za-z_0-9]*\$", sql[i:])
        if tag:
            end = sql.find(tag.group(0), i + len(tag.group(0)))
            end = n if end < 0 else end + len(tag.group(0))
            current.append(sql[i:end])
            i = end
            continue
        if ch == ";":
            text = "".join(current).strip()
            if text:
                out.append(text)
            current = []
        else:
            current.append(ch)
        i += 1
    text = "".join(current).strip()
    if text:
        out.append(text)
    return out


def register() -> dict[tuple[str, str], str]:
    entries: dict[tuple[str, str], str] = {}
    if not REGISTER.exists():
        return entries
    for raw in REGISTER.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        file, rule, reason = [*line.split(None, 2), "", ""][:3]
        entries[(file, rule)] = reason
    return entries


def squawk(files: list[Path]) -> list[Finding]:
    cmd = [
        str(SQUAWK if SQUAWK.exists() else "squawk"),
        "--reporter",
        "json",
        "--pg-version",
        "15",
        "--assume-in-transaction",
        "--exclude",
        ",".join(sorted(EXCLUDED)),
        *map(str, files),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1) or not out.stdout.strip().startswith("["):
        raise SystemExit(f"squawk failed ({out.returncode}): {out.stderr or out.stdout}")
    return [
        Finding(Path(f["file"]).name, int(f["line"]) + 1, f["rule_name"], f["message"])
        for f in json.loads(out.stdout)
    ]


def lint(files: list[Path]) -> tuple[list[Finding], list[str]]:
    """(findings not exempted, notes on the exemptions used)."""
    if not files:
        return [], []
    by_name = {f.name: f for f in files}
    findings = squawk(files)
    problems: list[Finding] = []
    notes: list[str] = []
    listed = register()
    in_file: dict[str, dict[str, str]] = {}
    for path in files:
        text = path.read_text()
        in_file[path.name] = {m.group(1): m.group(2).strip() for m in EXEMPTION.finditer(text)}
        for rule, reason in in_file[path.name].items():
            if len(reason) < MIN_REASON:
                problems.append(
                    Finding(path.name, 0, rule, f"exemption needs a reason of {MIN_REASON}+ chars")
                )
        if CONCURRENT.search(text):
            count = len(statements(text))
            if count != 1:
                problems.append(
                    Finding(
                        path.name,
                        0,
                        "concurrently-alone",
                        f"a CONCURRENTLY statement must be the only statement of its file "
                        f"(found {count}): the CLI applies a file as one implicit transaction",
                    )
                )
    for finding in findings:
        concurrent_alone = (
            finding.rule in CONCURRENT_RULES
            and CONCURRENT.search(by_name[finding.file].read_text())
            and len(statements(by_name[finding.file].read_text())) == 1
        )
        if concurrent_alone and finding.rule != "require-concurrent-index-creation":
            continue
        reason = in_file.get(finding.file, {}).get(finding.rule) or listed.get(
            (finding.file, finding.rule)
        )
        if reason and len(reason) >= MIN_REASON:
            notes.append(f"{finding} -- exempt: {reason}")
        else:
            problems.append(finding)
    return problems, notes


def pending() -> list[Path]:
    landed = {e.file for e in migrations.read_manifest()}
    return sorted(p for p in migrations.MIGRATIONS.glob("*.sql") if p.name not in landed)


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv] if argv else pending()
    problems, notes = lint(files)
    for note in notes:
        print(note)
    for problem in problems:
        print(problem)
    print(
        f"migration lint: {len(files)} file(s), {len(problems)} problem(s), "
        f"{len(notes)} exempted finding(s)"
    )
    if problems:
        print(
            "Fix the statement (expand -> migrate -> contract, create index concurrently alone "
            "in its file, NOT VALID then VALIDATE), or exempt it with a reason:\n"
            "  -- migration-lint: allow <rule>: <why it is safe here>"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
