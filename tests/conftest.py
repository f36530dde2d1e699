"""Shared fixtures. Database tests need the throwaway cluster scripts/test builds:
LSP_TEST_DATABASE_URL (superuser), LSP_TEST_PGDATA and LSP_TEST_PGPORT."""

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

TEST_JWT_SECRET = "test-only-jwt-secret-that-is-long-enough-for-hs256"


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite through scripts/test", pytrace=False)
    return value


@pytest.fixture(scope="session")
def super_url() -> str:
    return _require("LSP_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def authenticator_url(super_url: str) -> str:
    """The same database, logged in as PostgREST's login role."""
    parts = urlsplit(super_url)
    netloc = f"authenticator:postgres@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
def pg(super_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(super_url, autocommit=True) as conn:
        yield conn


class World:
    """Creates users and merchants with fresh ids, so tests never share data."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def user(self, label: str = "user") -> str:
        uid = str(uuid.uuid4())
        self.conn.execute(
            "insert into auth.users (id, email) values (%s, %s)",
            (uid, f"{label}-{uid[:8]}@test.example"),
        )
        return uid

    def admin(self) -> str:
        uid = self.user("admin")
        self.conn.execute("insert into public.platform_admins (user_id) values (%s)", (uid,))
        return uid

    def merchant(self, owner: str | None = None, name: str = "Test Merchant") -> str:
        row = self.conn.execute(
            "insert into public.merchants (name) values (%s) returning id::text", (name,)
        ).fetchone()
        assert row
        if owner:
            self.conn.execute(
                "insert into public.merchant_members (merchant_id, user_id, role)"
                " values (%s, %s, 'owner')",
                (row[0], owner),
            )
        return row[0]

    def attempt(
        self,
        merchant_id: str,
        gateway_id: str,
        amount: int = 1000,
        currency: str = "INR",
        status: str = "created",
        latency_ms: int | None = None,
    ) -> str:
        """A payment with one attempt on a gateway, inserted directly (as the worker would
        record it): feeds the gateway's daily-limit reservation and outcome buckets."""
        return insert_attempt(
            self.conn, merchant_id, gateway_id, amount, currency, status, latency_ms
        )


def insert_attempt(
    conn: psycopg.Connection,
    merchant_id: str,
    gateway_id: str,
    amount: int = 1000,
    currency: str = "INR",
    status: str = "created",
    latency_ms: int | None = None,
) -> str:
    with conn.transaction():
        payment = conn.execute(
            "insert into public.payments (merchant_id, mode, amount, currency, method)"
            " values (%s, 'test', %s, %s, 'upi') returning id",
            (merchant_id, amount, currency),
        ).fetchone()
        assert payment
        row = conn.execute(
            "insert into public.payment_attempts (payment_id, merchant_id, gateway_id, provider,"
            " attempt_no, amount, currency, status, provider_latency_ms)"
            " select %s, %s, g.id, g.provider, 1, %s, %s, %s, %s from public.gateways as g"
            " where g.id = %s returning id",
            (payment[0], merchant_id, amount, currency, status, latency_ms, gateway_id),
        ).fetchone()
        assert row
        return row[0]


@pytest.fixture
def world(pg: psycopg.Connection) -> World:
    return World(pg)
