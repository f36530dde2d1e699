-- Data-model invariants that hold for every writer, service_role included.
begin;
\ir _helpers.psql
select plan(11);
select tests.make_world();

update public.payments set status = 'succeeded', amount_captured = 1000
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select isnt(
  (
    select completed_at from public.payments
    where id = 'pay_aaaaaaaaaaaaaaaaaaaa'
  ), null,
  'reaching a terminal state stamps completed_at'
);
select throws_ok(
  'update public.payments set status = ''processing'' where id = ''pay_aaaaaaaaaaaaaaaaaaaa''',
  'P0001', null, 'a succeeded payment cannot go back to processing'
);
select throws_ok(
  'update public.payments set status = ''failed'' where id = ''pay_aaaaaaaaaaaaaaaaaaaa''',
  'P0001', null, 'nor fail after it succeeded'
);
update public.payments set status = 'failed'
where id = 'pay_bbbbbbbbbbbbbbbbbbbb';
update public.payments set status = 'succeeded', amount_captured = 2000
where id = 'pay_bbbbbbbbbbbbbbbbbbbb';
select is(
  (
    select late_success from public.payments
    where id = 'pay_bbbbbbbbbbbbbbbbbbbb'
  ), true,
  'a late success after a failure is accepted and flagged'
);
select throws_ok(
  'update public.payments set refund_reserved = 1001 where id = ''pay_aaaaaaaaaaaaaaaaaaaa''',
  '23514', null, 'refunds never exceed the captured amount'
);
select throws_ok(
  format(
    'insert into public.payments (merchant_id, mode, amount, currency, method) values (%L, ''test'', -5, ''INR'', ''upi'')',
    tests.w('merchant_a')
  ),
  '23514', null, 'amounts are positive'
);
select throws_ok(
  format(
    'insert into public.payments (merchant_id, mode, amount, currency, method) values (%L, ''test'', 5, ''ZZZ'', ''upi'')',
    tests.w('merchant_a')
  ),
  '23503', null, 'currencies come from the ISO 4217 table'
);

select tests.as_service_role();
select throws_ok(
  format(
    'update public.ledger_accounts set credits_posted = 999999 where wallet_id = %L',
    tests.w('wallet_a')
  ),
  '42501', null, 'balances change only through the ledger, even for service_role'
);
select throws_ok(
  'update public.ledger_lines set amount = 1', '42501', null, 'the ledger is append-only'
);
select throws_ok(
  'delete from public.ledger_lines', '42501', null, 'ledger rows cannot be deleted'
);
select tests.clear_authentication();
set constraints all immediate; -- check the entries posted above now: nothing left pending
select throws_ok(
  'truncate public.ledger_lines cascade', '42501', null, 'not even the owner truncates the ledger'
);

select * from finish();
rollback;
