"""The ledger under concurrency, against the real database: 32 writers on one hot wallet keep
every entry zero-sum and the strict account never negative, and refuse nothing that fits;
holds resolve exactly once whoever races for them.

LSP_LEDGER_SOAK_S sets how long the writers run (default 10 s); LSP_LEDGER_WRITERS how many
(default 32)."""

import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

SOAK_S = float(os.environ.get("LSP_LEDGER_SOAK_S", "10"))
WRITERS = int(os.environ.get("LSP_LEDGER_WRITERS", "32"))


def lines(merchant_account: str, platform: str, amount: int) -> Jsonb:
    """A posting: + credits the merchant's (credit-normal) account, - debits it."""
    return Jsonb(
        [
            {
                "account_id": merchant_account,
                "direction": "credit" if amount > 0 else "debit",
                "amount": abs(amount),
            },
            {
                "account_id": platform,
                "direction": "debit" if amount > 0 else "credit",
                "amount": abs(amount),
            },
        ]
    )


def post(conn: psycopg.Connection, account: str, platform: str, amount: int) -> None:
    conn.execute(
        "select private.ledger_post(%s, 'transfer', %s)",
        (f"soak:{uuid.uuid4()}", lines(account, platform, amount)),
    )


def hot_wallet(pg: psycopg.Connection, world) -> tuple[str, str, str]:
    merchant = world.merchant()
    row = pg.execute(
        "select w.id, w.available_account_id, private.ledger_account("
        "'platform_adjustments', 'INR', 'live')"
        " from private.wallet_for(%s, 'INR', 'live') as w",
        (merchant,),
    ).fetchone()
    assert row
    return str(row[0]), str(row[1]), str(row[2])


@dataclass
class Tally:
    posted: int = 0
    owned: int = 0  # what this writer has put in and not taken out: a debit within it fits
    refused_fitting: int = 0  # "insufficient funds" for a debit that fitted: must stay 0
    refused_overdraw: int = 0
    overdraw_attempts: int = 0
    errors: Counter = field(default_factory=Counter)


def test_32_writers_on_one_hot_wallet_keep_the_invariants(super_url, pg, world):
    _, account, platform = hot_wallet(pg, world)
    deadline = time.monotonic() + SOAK_S
    tallies = [Tally() for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)

    def writer(i: int) -> None:
        tally, rnd = tallies[i], random.Random(i)  # noqa: S311 - reproducible workload
        with psycopg.connect(super_url, autocommit=True) as conn:
            start.wait()
            while time.monotonic() < deadline:
                roll = rnd.random()
                if roll < 0.1:
                    amount, fits = -(10**12), False  # more than anyone ever holds
                    tally.overdraw_attempts += 1
                elif roll < 0.55 or tally.owned == 0:
                    amount, fits = rnd.randint(1, 5000), True
                else:
                    amount, fits = -rnd.randint(1, tally.owned), True
                try:
                    post(conn, account, platform, amount)
                except psycopg.Error as exc:
                    if exc.sqlstate == "PGRST" and "insufficient_balance" in str(exc):
                        if fits:
                            tally.refused_fitting += 1
                        else:
                            tally.refused_overdraw += 1
                    else:
                        tally.errors[exc.sqlstate or type(exc).__name__] += 1
                    continue
                tally.posted += 1
                if fits:
                    tally.owned += amount

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    posted = sum(t.posted for t in tallies)
    errors = sum((t.errors for t in tallies), Counter())
    assert posted > WRITERS * 5, "the soak made too few postings to mean anything"
    assert errors == Counter(), f"unexpected errors (deadlocks, serialisation): {errors}"
    assert sum(t.refused_fitting for t in tallies) == 0, "spurious insufficient-funds refusals"
    assert sum(t.refused_overdraw for t in tallies) == sum(t.overdraw_attempts for t in tallies)

    balance, held, lines_sum, lowest, entries = pg.execute(
        "select a.credits_posted - a.debits_posted, a.debits_pending,"
        " (select coalesce(sum(case l.direction when 'credit' then l.amount else -l.amount end), 0)"
        "  from public.ledger_lines as l where l.account_id = a.id),"
        " (select min(l.balance_after) from public.ledger_lines as l where l.account_id = a.id),"
        " (select count(*) from public.ledger_lines as l where l.account_id = a.id)"
        " from public.ledger_accounts as a where a.id = %s",
        (account,),
    ).fetchone()
    assert balance == sum(t.owned for t in tallies)
    assert lines_sum == balance and held == 0 and entries == posted
    assert lowest >= 0, "the strict account went below zero"
    unbalanced = pg.execute(
        "select count(*) from (select l.entry_id from public.ledger_lines as l"
        " join public.ledger_entries as e on e.id = l.entry_id"
        " where e.kind = 'transfer' and l.entry_id in"
        "  (select entry_id from public.ledger_lines where account_id = %s)"
        " group by l.entry_id, l.currency"
        " having sum(case l.direction when 'debit' then l.amount else -l.amount end) <> 0) as x",
        (account,),
    ).fetchone()
    assert unbalanced == (0,)


def test_holds_resolve_exactly_once_under_races(super_url, pg, world):
    wallet, account, platform = hot_wallet(pg, world)
    post(pg, account, platform, 1_000_000)
    rnd = random.Random(7)  # noqa: S311 - reproducible amounts, not secrets
    holds: list[int] = []
    for n in range(120):
        # A third are already past their expiry: pg_cron's expiry races the resolvers too.
        expires = "now() - interval '1 second'" if n % 3 == 0 else "now() + interval '1 hour'"
        row = pg.execute(
            f"select id from private.ledger_hold(%s, 'refund', %s, %s, %s, {expires}, %s)",
            (
                f"race:{uuid.uuid4()}",
                account,
                platform,
                rnd.randint(1, 2000),
                Jsonb({"wallet_id": wallet}),
            ),
        ).fetchone()
        assert row
        holds.append(row[0])
    wins: Counter = Counter()
    posted_amounts: dict[int, int] = {}
    refusals: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(12)

    def racer(i: int) -> None:
        r = random.Random(100 + i)  # noqa: S311 - reproducible race order
        order = holds[:]
        r.shuffle(order)
        with psycopg.connect(super_url, autocommit=True) as conn:
            start.wait()
            for hold in order:
                action = r.choice(("post", "post_part", "void", "expire"))
                try:
                    if action == "expire":
                        conn.execute("select private.expire_holds()")
                        continue
                    if action == "void":
                        conn.execute("select private.ledger_hold_void(%s)", (hold,))
                        amount = 0
                    else:
                        row = conn.execute(
                            "select posted_amount from private.ledger_hold_post(%s,"
                            " case when %s then greatest(1, (select amount / 2 from"
                            " public.ledger_holds where id = %s)) end)",
                            (hold, action == "post_part", hold),
                        ).fetchone()
                        assert row
                        amount = row[0]
                except psycopg.Error as exc:
                    with lock:
                        refusals[exc.sqlstate] += 1
                    continue
                with lock:
                    wins[hold] += 1
                    posted_amounts[hold] = amount

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert set(refusals) <= {"P0001"}, refusals  # "already resolved", nothing else
    rows = pg.execute(
        "select id, status, posted_amount, entry_id is not null from public.ledger_holds"
        " where id = any(%s)",
        (holds,),
    ).fetchall()
    assert all(status != "pending" for _, status, _, _ in rows)
    for hold_id, status, posted_amount, has_entry in rows:
        # A hold expired by pg_cron's job has no racer's win; every other exactly one.
        assert wins[hold_id] == (0 if status == "expired" else 1), (hold_id, status)
        assert has_entry == (status == "posted")
        if status == "posted":
            assert posted_amounts[hold_id] == posted_amount
    balance, held = pg.execute(
        "select credits_posted - debits_posted, debits_pending from public.ledger_accounts"
        " where id = %s",
        (account,),
    ).fetchone()
    assert held == 0
    assert balance == 1_000_000 - sum(p for _, s, p, _ in rows if s == "posted")
    entries = pg.execute(
        "select count(*) from public.ledger_entries where idempotency_key = any(%s)",
        ([f"hold:{h}" for h in holds],),
    ).fetchone()
    assert entries == (sum(1 for _, s, _, _ in rows if s == "posted"),)
