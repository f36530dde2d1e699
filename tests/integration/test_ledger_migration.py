"""The old single-balance wallets migrate into the ledger with their history: a database built
from the migrations before the ledger, with wallets and wallet_ledger rows in it (one of them
in a currency the old route wrongly accepted), is upgraded with the current migrations; every
old entry becomes a balanced journal entry with its time, counterparty and running balance,
the balance becomes an opening balance the first settlement pays out, and the operator's
reconciliation finds nothing wrong. About 5 s: one real cluster, the real Supabase CLI."""

import shutil
from pathlib import Path

import psycopg

from tests.tooling import ROOT

from .test_migration_upgrade import Clusters, clusters, sh  # noqa: F401 - fixture

FIRST_LEDGER_MIGRATION = "20261201020000"


def before_the_ledger(tmp_path: Path) -> Path:
    project = tmp_path / "before"
    (project / "supabase" / "migrations").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", project / "supabase" / "config.toml")
    for path in (ROOT / "supabase" / "migrations").glob("*.sql"):
        if path.name < FIRST_LEDGER_MIGRATION:
            shutil.copy(path, project / "supabase" / "migrations" / path.name)
    return project


def test_old_wallets_move_into_the_ledger_with_their_history(clusters, tmp_path):  # noqa: F811
    url = clusters.build("ledger-upgrade", before_the_ledger(tmp_path))
    with psycopg.connect(url, autocommit=True) as conn:
        merchant = conn.execute(
            "insert into public.merchants (name) values ('Old Co') returning id"
        ).fetchone()[0]
        wallet = conn.execute(
            "insert into public.wallets (merchant_id, currency) values (%s, 'INR') returning id",
            (merchant,),
        ).fetchone()[0]
        bogus = conn.execute(
            "insert into public.wallets (merchant_id, currency) values (%s, 'ZZZ') returning id",
            (merchant,),
        ).fetchone()[0]
        history = [
            (10_000, "adjustment"),
            (5_000, "settlement"),
            (-3_000, "payout"),
            (-200, "fee"),
            (1_500, "payment"),
        ]
        for n, (amount, kind) in enumerate(history):
            conn.execute(
                "insert into public.wallet_ledger (wallet_id, merchant_id, amount, kind, reference,"
                " idempotency_key, created_at) values (%s, %s, %s, %s, %s, %s,"
                " now() - make_interval(days => %s))",
                (wallet, merchant, amount, kind, f"old-{n}", f"k-{n}", 10 - n),
            )
        conn.execute(
            "insert into public.wallet_ledger (wallet_id, merchant_id, amount, kind,"
            " idempotency_key) values (%s, %s, 99, 'adjustment', 'zzz')",
            (bogus, merchant),
        )
        old_balances = [
            r[0]
            for r in conn.execute(
                "select balance_after from public.wallet_ledger where wallet_id = %s order by id",
                (wallet,),
            )
        ]
    sh(f"db_push '{url}'")
    with psycopg.connect(url, autocommit=True) as conn:
        lines = conn.execute(
            "select e.kind, e.metadata ->> 'legacy_kind', e.description, l.direction, l.amount,"
            " l.balance_after, e.created_at < now() - interval '5 days'"
            " from public.ledger_lines as l join public.ledger_entries as e on e.id = l.entry_id"
            " join public.wallets as w on w.available_account_id = l.account_id"
            " where w.id = %s order by l.id",
            (wallet,),
        ).fetchall()
        assert (
            [line[5] for line in lines] == old_balances == [10_000, 15_000, 12_000, 11_800, 13_300]
        )
        assert [line[1] for line in lines] == [kind for _, kind in history]
        assert {line[0] for line in lines} == {"migration"}
        assert [line[2] for line in lines] == [f"old-{n}" for n in range(5)]
        assert [(line[3], line[4]) for line in lines] == [
            ("credit" if amount > 0 else "debit", abs(amount)) for amount, _ in history
        ]
        assert all(line[6] for line in lines[:4]), "entries keep their original time"
        counterparties = dict(
            conn.execute(
                "select e.metadata ->> 'legacy_kind', a.kind from public.ledger_lines as l"
                " join public.ledger_entries as e on e.id = l.entry_id"
                " join public.ledger_accounts as a on a.id = l.account_id"
                " where e.kind = 'migration' and a.merchant_id is null"
            ).fetchall()
        )
        assert counterparties == {
            "adjustment": "platform_adjustments",
            "settlement": "platform_adjustments",
            "payout": "platform_bank",
            "fee": "fee_revenue",
            "payment": "provider_clearing",
        }
        mode, opening = conn.execute(
            "select w.mode, a.amount from public.wallets as w join public.wallet_adjustments as a"
            " on a.wallet_id = w.id and a.kind = 'opening_balance' where w.id = %s",
            (wallet,),
        ).fetchone()
        assert (mode, opening) == ("live", 13_300)
        assert conn.execute(
            "select count(*) from public.wallets where id = %s", (bogus,)
        ).fetchone() == (0,)
        assert conn.execute("select to_regclass('public.wallet_ledger')").fetchone() == (None,)
        with conn.transaction():
            conn.execute("set local role service_role")
            conn.execute(
                "select set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)"
            )
            report = conn.execute("select private.reconcile_ledger(%s)", (merchant,)).fetchone()[0]
        assert report["ok"] is True, report
        # A legacy live balance waits until an admin enables the merchant's live mode.
        waiting = conn.execute("select private.create_settlement(%s)", (wallet,)).fetchone()[0]
        assert waiting["reason"] == "merchant_not_live", waiting
        conn.execute("update public.merchants set live_enabled = true where id = %s", (merchant,))
        batch = conn.execute("select private.create_settlement(%s)", (wallet,)).fetchone()[0]
        assert (batch["adjustments"], batch["net"]) == (13_300, 13_300), batch
