-- Data-model invariants that hold for every writer, service_role included.
begin;
\ir _helpers.psql
select plan(9);
select tests.make_world();

create temporary table t on commit drop as
select id from public.transactions
where idempotency_key = 'a-1';

update public.transactions set status = 'pending'
where id = (select tt.id from t as tt);
update public.transactions set status = 'succeeded'
where id = (select tt.id from t as tt);
select isnt(
  (
    select completed_at from public.transactions
    where id = (select tt.id from t as tt)
  ), null,
  'reaching a terminal state stamps completed_at'
);
select throws_ok(
  'update public.transactions set status = ''pending'' where id = (select tt.id from t as tt)',
  'P0001', null, 'a succeeded transaction cannot go back to pending'
);
select throws_ok(
  format(
    'insert into public.transactions (merchant_id, amount, currency, idempotency_key) values (%L, 5, ''INR'', ''a-1'')',
    tests.w('merchant_a')
  ),
  '23505', null, 'an idempotency key is unique per merchant'
);
select lives_ok(
  format(
    'insert into public.transactions (merchant_id, amount, currency, idempotency_key) values (%L, 5, ''INR'', ''a-1'')',
    tests.w('merchant_b')
  ),
  'the same key is fine for another merchant'
);
select throws_ok(
  format(
    'insert into public.transactions (merchant_id, amount, currency) values (%L, -5, ''INR'')',
    tests.w('merchant_a')
  ),
  '23514', null, 'amounts are positive'
);

select tests.as_service_role();
select throws_ok(
  format('update public.wallets set balance = 999999 where id = %L', tests.w('wallet_a')),
  '42501', null, 'balances change only through the ledger, even for service_role'
);
select throws_ok(
  'update public.wallet_ledger set amount = 1', '42501', null, 'the ledger is append-only'
);
select throws_ok(
  'delete from public.wallet_ledger', '42501', null, 'ledger rows cannot be deleted'
);
select tests.clear_authentication();
select throws_ok(
  'truncate public.wallet_ledger cascade', '42501', null, 'not even the owner truncates the ledger'
);

select * from finish();
rollback;
