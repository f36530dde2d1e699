import json
import logging

import psycopg
import pytest

from edge_adapter import jsonlog
from edge_adapter.errors import SQLSTATE_MAP, from_database


def test_scrub_removes_tokens_keys_webhook_secrets_and_dsn_passwords():
    text = (
        "auth Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl "
        "key lsp_live_AbCdEf0123456789 secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "
        "dsn postgresql://authenticator:hunter2@db:5432/postgres"
    )
    out = jsonlog.scrub(text)
    for secret in ("eyJhbGciOiJIUzI1NiJ9", "lsp_live_AbCdEf", "whsec_MfKQ", "hunter2"):
        assert secret not in out
    assert "postgresql://authenticator:***@db:5432" in out


def test_log_lines_are_json_with_fields_and_scrubbed():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "token %s", ("eyJa.eyJb.c",), None)
    record.fields = {"request_id": "r1"}
    line = json.loads(jsonlog.JsonFormatter().format(record))
    assert line["request_id"] == "r1"
    assert line["level"] == "info"
    assert "eyJa" not in line["msg"]


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [("22023", 400), ("P0001", 422), ("42501", 403), ("P0002", 404), ("23505", 409)],
)
def test_architecture_sqlstate_mapping(sqlstate, status):
    assert SQLSTATE_MAP[sqlstate][0] == status


def test_a_lost_connection_is_a_503_not_a_500():
    err = from_database(psycopg.OperationalError("connection refused"))
    assert err.status == 503
    assert err.code == "database_unavailable"


def test_unknown_database_errors_hide_their_internals():
    class Weird(psycopg.errors.InternalError_):
        pass

    err = from_database(Weird("relation secret_table is broken at 0xdeadbeef"))
    assert err.status == 500
    assert "secret_table" not in err.message


def test_psycopg_pipeline_termination_warnings_are_dropped(capsys):
    import logging

    from edge_adapter import jsonlog

    jsonlog.configure("INFO")
    logger = logging.getLogger("psycopg")
    logger.warning("error ignored terminating %r: %s", "<psycopg.AsyncPipeline [BAD]>", "aborted")
    logger.warning("something else from psycopg")
    out = capsys.readouterr().out
    assert "error ignored terminating" not in out
    assert "something else from psycopg" in out
