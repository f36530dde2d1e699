"""Checks the operations-as-code in ops/ against the code (scripts/test runs it):

- every PromQL expression in the Grafana dashboards and the Prometheus rules parses
  (promql-parser here, and `promtool check rules` on the dashboards' expressions written out
  as recording rules) and names only metrics the code exports (edge_adapter/metrics.py, the
  database-side figures included), recording rules, or Prometheus' own series;
- every dashboard has a uid, a title, panels with unique ids and the provisioned data source;
- every alert has a runbook section (ops/runbook.md, the anchor its runbook_url names).

    python ops/check.py          prints the problems; exits 1 if there are any
"""

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "ops"
DASHBOARDS = OPS / "grafana" / "dashboards"
RULES = OPS / "prometheus" / "rules"
RUNBOOK = OPS / "runbook.md"
DATASOURCE_UID = "lsp-prometheus"
# Series Prometheus makes itself, and the default collectors of prometheus-client.
BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}
# Grafana's variables, replaced by something PromQL accepts before parsing.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def exported_names() -> set[str]:
    """Every sample name the API and worker can export."""
    sys.path.insert(0, str(ROOT))
    from prometheus_client import REGISTRY

    from edge_adapter import metrics

    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    }
    names: set[str] = set()
    families = [*REGISTRY.collect(), *metrics.DatabaseFigures().collect()]
    for family in families:
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (raises ValueError if it does not parse)."""
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    try:
        ast = promql_parser.parse(expr)
    except Exception as exc:  # the parser raises its own error types
        raise ValueError(f"does not parse: {exc}") from None
    found: set[str] = set()

    def walk(node: Any) -> None:
        kind = type(node).__name__
        if kind == "VectorSelector":
            if not node.name:
                raise ValueError("a selector without a metric name")
            found.add(node.name)
            return
        for attr in ("vector_selector", "expr", "lhs", "rhs", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(ast)
    return found


def dashboard_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def rule_groups() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            for rule in group.get("rules", []):
                yield path, rule


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def promtool_parses(exprs: list[str]) -> list[str]:
    """`promtool check rules` on the expressions as recording rules."""
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:expr:{i}", "expr": expr} for i, expr in enumerate(exprs)
                ],
            }
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        out = subprocess.run(
            ["promtool", "check", "rules", f.name], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return ["promtool is not installed (Debian package prometheus)"]
    finally:
        Path(f.name).unlink()
    return [] if out.returncode == 0 else [f"promtool: {out.stdout}{out.stderr}".strip()]


def check(dashboards: Path = DASHBOARDS, use_promtool: bool = True) -> list[str]:
    problems: list[str] = []
    recorded = {rule["record"] for _, rule in rule_groups() if "record" in rule}
    known = exported_names() | recorded | BUILTIN

    def check_expr(where: str, expr: str) -> None:
        try:
            names = metric_names(expr)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            return
        for name in sorted(names - known):
            problems.append(f"{where}: names {name!r}, which nothing exports or records")

    exprs: list[str] = []
    for path in sorted(dashboards.glob("*.json")):
        board = json.loads(path.read_text())
        if not board.get("uid") or not board.get("title"):
            problems.append(f"{path.name}: needs a uid and a title")
        ids = [p.get("id") for p in dashboard_panels(board)]
        if len(ids) != len(set(ids)) or None in ids:
            problems.append(f"{path.name}: panel ids must be present and unique")
        for panel in dashboard_panels(board):
            if panel.get("type") == "row":
                continue
            where = f"{path.name} / {panel.get('title')!r}"
            if (panel.get("datasource") or {}).get("uid") != DATASOURCE_UID:
                problems.append(f"{where}: data source must be uid {DATASOURCE_UID}")
            if not panel.get("targets"):
                problems.append(f"{where}: no queries")
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                check_expr(where, expr)
                for var, value in GRAFANA_VARS.items():
                    expr = expr.replace(var, value)
                exprs.append(expr)

    headings = (
        {anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", RUNBOOK.read_text(), re.M)}
        if RUNBOOK.exists()
        else set()
    )
    for path, rule in rule_groups():
        name = rule.get("alert") or rule.get("record")
        check_expr(f"{path.name} / {name}", rule["expr"])
        if "alert" in rule:
            url = (rule.get("annotations") or {}).get("runbook_url", "")
            if not url.startswith("ops/runbook.md#"):
                problems.append(f"{path.name} / {name}: runbook_url must be ops/runbook.md#...")
            elif url.split("#", 1)[1] not in headings:
                problems.append(f"{path.name} / {name}: no runbook section for {url}")
    if use_promtool and exprs:
        problems.extend(promtool_parses(exprs))
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    boards = len(list(DASHBOARDS.glob("*.json")))
    print(f"ops check: {boards} dashboards, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
