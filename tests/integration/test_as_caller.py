"""Database.as_caller / call_rpc against the real test cluster, logged in as authenticator."""

import json
import logging

import psycopg
import pytest

from edge_adapter.db import Database, Gate
from edge_adapter.settings import Settings


@pytest.fixture
async def db(authenticator_url: str):
    database = Database(Settings(database_url=authenticator_url), min_size=1)
    await database.open()
    yield database
    await database.close()


async def test_as_caller_sets_role_claims_and_headers_like_postgrest(db: Database, world):
    uid = world.user()
    claims = {"sub": uid, "role": "authenticated", "aud": "authenticated"}
    async with db.as_caller("authenticated", claims, {"x-request-id": "rid-1"}) as conn:
        row = await (
            await conn.execute(
                "select current_user, auth.uid()::text, auth.role(),"
                " current_setting('request.headers')::jsonb ->> 'x-request-id',"
                " current_setting('request.jwt.claims')"
            )
        ).fetchone()
    assert row is not None
    assert row[:4] == ("authenticated", uid, "authenticated", "rid-1")
    assert json.loads(row[4]) == claims


async def test_settings_do_not_leak_into_the_next_transaction(db: Database, world):
    uid = world.user()
    async with db.as_caller("authenticated", {"sub": uid, "role": "authenticated"}):
        pass
    async with db.pool.connection() as conn:
        row = await (
            await conn.execute(
                "select current_user, coalesce(current_setting('request.jwt.claims', true), '')"
            )
        ).fetchone()
    assert row == ("authenticator", "")


async def test_get_requests_run_read_only(db: Database, world):
    uid = world.admin()
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        await db.call_rpc(
            "authenticated",
            {"sub": uid, "role": "authenticated"},
            "create_merchant",
            {"p_name": "Read only Ltd"},
            read_only=True,
        )


async def test_call_rpc_passes_named_arguments(db: Database, world):
    admin = world.admin()
    result = await db.call_rpc(
        "authenticated",
        {"sub": admin, "role": "authenticated"},
        "create_merchant",
        {"p_name": "Named Args Ltd", "p_country": "SG"},
    )
    assert result.value["name"] == "Named Args Ltd"
    assert result.value["country"] == "SG"


async def test_rpc_errors_keep_their_sqlstate(db: Database, world):
    merchant_user = world.user()
    with pytest.raises(psycopg.Error) as exc:
        await db.call_rpc(
            "authenticated",
            {"sub": merchant_user, "role": "authenticated"},
            "create_merchant",
            {"p_name": "Nope Ltd"},
        )
    assert exc.value.sqlstate == "42501"


async def test_only_api_roles_can_be_assumed(db: Database):
    with pytest.raises(ValueError, match="refusing"):
        async with db.as_caller("postgres", {}):
            pass


async def test_authenticator_cannot_do_anything_without_switching_role(authenticator_url: str):
    with psycopg.connect(authenticator_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from public.merchants")


async def test_a_gated_call_draws_no_server_notice(
    authenticator_url: str, world, caplog: pytest.LogCaptureFixture
):
    # One connection, so the notice handler under test is on the one the batch uses.
    db = Database(Settings(database_url=authenticator_url, pool_max_size=1), min_size=1)
    await db.open()
    try:
        admin = world.admin()
        claims = {"sub": admin, "role": "authenticated"}
        gate = Gate("select current_user::text")
        caplog.set_level(logging.WARNING, logger="edge_adapter.db")
        result = await db.call_rpc(
            "authenticated", claims, "create_merchant", {"p_name": "Gated Ltd"}, gate=gate
        )
        assert result.value["name"] == "Gated Ltd"
        assert gate.row is not None and gate.row[0] == "service_role"
        # A COMMIT closing an implicit block draws "there is no transaction in progress".
        assert [r.getMessage() for r in caplog.records] == []

        # The handler does report what the server says (so the check above can fail).
        async with db.as_service() as conn:
            await conn.execute("do $$ begin raise warning 'look here'; end $$")
        notices = [r for r in caplog.records if r.getMessage() == "database notice"]
        assert [r.fields["message"] for r in notices] == ["look here"]  # type: ignore[attr-defined]
    finally:
        await db.close()
