"""The dashboards and rules in ops/ name only metrics the code exports, parse, and have a
runbook section per alert (ops/check.py, also a scripts/test step)."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ops_check", ROOT / "ops" / "check.py")
assert spec and spec.loader
ops_check = importlib.util.module_from_spec(spec)
sys.modules["ops_check"] = ops_check
spec.loader.exec_module(ops_check)

HAS_PROMTOOL = shutil.which("promtool") is not None


def test_the_committed_dashboards_rules_and_runbook_pass():
    assert ops_check.check(use_promtool=HAS_PROMTOOL) == []


def test_metric_names_are_read_from_the_expression_tree():
    names = ops_check.metric_names(
        'sum by (route) (rate(lsp_http_requests_total{route!~"/x|/y"}[$__rate_interval]))'
        " / on() group_left max(lsp:http_requests:rate5m offset 5m) > bool 0"
        " or absent(up{job='a'}) unless histogram_quantile(0.9, rate(h_bucket[5m:1m]))"
    )
    assert names == {"lsp_http_requests_total", "lsp:http_requests:rate5m", "up", "h_bucket"}
    with pytest.raises(ValueError):
        ops_check.metric_names("sum(rate(lsp_http_requests_total[5m])")


def test_every_family_the_code_exports_is_known_with_its_suffixes():
    names = ops_check.exported_names()
    for expected in (
        "lsp_http_requests_total",
        "lsp_http_request_duration_seconds_bucket",
        "lsp_worker_last_heartbeat_timestamp_seconds",
        "lsp_db_pool_timeouts_total",
        "lsp_queue_oldest_pending_age_seconds",
        "lsp_cron_job_last_success_timestamp_seconds",
        "lsp_gateway_success_ratio",
        "process_resident_memory_bytes",
    ):
        assert expected in names


def test_a_panel_naming_an_unknown_metric_or_a_broken_query_is_caught(tmp_path):
    board = json.loads((ROOT / "ops/grafana/dashboards/lsp-api.json").read_text())
    board["panels"][0]["targets"][0]["expr"] = "rate(lsp_requests_made_up_total[5m])"
    board["panels"][1]["targets"][0]["expr"] = "sum(rate(lsp_http_requests_total[5m]"
    board["panels"][2]["datasource"] = {"type": "prometheus", "uid": "elsewhere"}
    (tmp_path / "bad.json").write_text(json.dumps(board))
    problems = ops_check.check(tmp_path, use_promtool=HAS_PROMTOOL)
    assert any("lsp_requests_made_up_total" in p for p in problems), problems
    assert any("does not parse" in p for p in problems), problems
    assert any("data source" in p for p in problems), problems
    if HAS_PROMTOOL:
        assert any(p.startswith("promtool:") for p in problems), problems
