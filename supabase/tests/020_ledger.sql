-- Ledger: tenant isolation table by table, roles on every RPC, the posting and hold
-- functions closed to clients, and the invariants every writer meets (zero-sum entries,
-- append-only journal, strict accounts never negative, holds resolved once, keys compared
-- on every parameter).
begin;
\ir _helpers.psql
select plan(57);
select tests.make_world();
-- The world's wallets are live: their merchants are live-enabled here (see the end for one
-- that is not).
update public.merchants set live_enabled = true;

create table tests.refs (k text primary key, v text not null);
grant select on tests.refs to authenticated, anon, service_role;
create function tests.ref(p_k text) returns text
language sql stable
as $$ select v from tests.refs where k = p_k $$;
grant execute on function tests.ref(text) to authenticated, anon, service_role;
-- A direct insert of one unbalanced line, its check run at once instead of at commit.
create function tests.insert_unbalanced() returns void
language plpgsql
as $$
declare
  e bigint;
begin
  set constraints public.ledger_lines_balanced immediate;
  insert into public.ledger_entries (kind, idempotency_key, request_hash)
  values ('transfer', 'direct-unbalanced', 'x') returning id into e;
  insert into public.ledger_lines (entry_id, account_id, direction, amount)
  values (e, tests.ref('adj')::uuid, 'debit', 5);
end
$$;

do $$
begin
  insert into tests.refs values
  ('adj', private.ledger_account('platform_adjustments', 'INR', 'live')::text),
  ('a_av', (select available_account_id::text from public.wallets where id = tests.w('wallet_a'))),
  ('b_av', (select available_account_id::text from public.wallets where id = tests.w('wallet_b')));
  insert into tests.refs
  select 'hold_b', h.id::text from private.ledger_hold(
    'hold-b', 'refund', tests.ref('b_av')::uuid, tests.ref('adj')::uuid, 100, null,
    jsonb_build_object('merchant_id', tests.w('merchant_b'), 'wallet_id', tests.w('wallet_b'))
  ) as h;
  insert into public.wallet_adjustments (wallet_id, merchant_id, kind, account, amount, currency, reason)
  values
  (tests.w('wallet_a'), tests.w('merchant_a'), 'adjustment', 'available', 1, 'INR', 'a'),
  (tests.w('wallet_b'), tests.w('merchant_b'), 'adjustment', 'available', 1, 'INR', 'b');
end
$$;

-- A member of A ----------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select results_eq(
  'select distinct wallet_id from public.ledger_accounts', array[tests.w('wallet_a')],
  'ledger_accounts: only A''s, no platform account'
);
select results_eq(
  'select distinct merchant_id from public.ledger_entries', array[tests.w('merchant_a')],
  'ledger_entries: only A''s'
);
select results_eq(
  'select distinct merchant_id from public.ledger_lines', array[tests.w('merchant_a')],
  'ledger_lines: only A''s lines (not the platform side)'
);
select is_empty('select 1 from public.ledger_holds', 'ledger_holds: B''s hold is invisible');
select results_eq(
  'select distinct merchant_id from public.wallet_adjustments', array[tests.w('merchant_a')],
  'wallet_adjustments: only A''s'
);
select throws_ok(
  'update public.ledger_accounts set credits_posted = 1', '42501', null,
  'accounts are not writable by clients'
);
select throws_ok(
  format(
    'insert into public.ledger_lines (entry_id, account_id, direction, amount) values (1, %L, ''credit'', 1)',
    tests.ref('a_av')
  ),
  '42501', null, 'lines are not insertable by clients'
);
select throws_ok(
  format('update public.ledger_holds set status = ''voided'' where id = %s', tests.ref('hold_b')),
  '42501', null, 'holds are not writable by clients'
);
select throws_ok(
  format(
    'select private.ledger_post(''x'', ''transfer'', ''[{"account_id": "%s", "direction": "credit", "amount": 1}, {"account_id": "%s", "direction": "debit", "amount": 1}]'')',
    tests.ref('a_av'), tests.ref('adj')
  ),
  '42501', null, 'the posting function is closed to clients'
);
select throws_ok(
  format('select private.ledger_hold_void(%s)', tests.ref('hold_b')), '42501', null,
  'hold resolution is closed to clients'
);
select is(
  (public.list_wallets() -> 'data' -> 0 ->> 'available')::bigint, 5000::bigint,
  'list_wallets: a member of one merchant needs no merchant_id'
);
select throws_ok(
  format('select public.list_wallets(%L)', tests.w('merchant_b')), '42501', null,
  'list_wallets: not B''s'
);
select throws_ok(
  format('select public.list_wallet_transactions(%L)', tests.w('wallet_b')), 'P0002', null,
  'list_wallet_transactions: B''s wallet does not exist for A'
);
select is(
  jsonb_array_length(public.list_wallet_transactions(tests.w('wallet_a')) -> 'data'), 1,
  'list_wallet_transactions: A''s own lines'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 100, ''gift'')', tests.w('wallet_a')), '42501', null,
  'admin_adjust_wallet: not even on their own wallet'
);
select throws_ok(
  format('select public.admin_open_wallet(%L, ''USD'', ''live'')', tests.w('merchant_a')), '42501', null,
  'admin_open_wallet: admins only'
);

-- An API key of A, test mode: test wallets only --------------------------------------------
select tests.clear_authentication();
insert into public.wallets (merchant_id, currency, mode) values (tests.w('merchant_a'), 'INR', 'test');
select set_config('request.jwt.claims', json_build_object(
  'role', 'authenticated', 'merchant_id', tests.w('merchant_a'), 'api_key_id', gen_random_uuid(),
  'key_mode', 'test'
)::text, true);
select set_config('role', 'authenticated', true);
select results_eq(
  $$select w ->> 'mode' from jsonb_array_elements(public.list_wallets() -> 'data') as w$$,
  array['test'], 'an API key sees the wallets of its mode'
);
select throws_ok(
  $$select public.list_wallets(null, null, 'live')$$, '22023', null,
  'a test key cannot ask for live wallets'
);
select throws_ok(
  format('select public.list_wallet_transactions(%L)', tests.w('wallet_a')), 'P0002', null,
  'nor read a live wallet''s lines'
);

-- anon ---------------------------------------------------------------------------------------
select tests.as_anon();
select throws_ok('select 1 from public.ledger_accounts', '42501', null, 'anon: ledger_accounts');
select throws_ok('select 1 from public.ledger_entries', '42501', null, 'anon: ledger_entries');
select throws_ok('select 1 from public.ledger_holds', '42501', null, 'anon: ledger_holds');
select throws_ok('select 1 from public.wallet_adjustments', '42501', null, 'anon: wallet_adjustments');
select throws_ok('select public.list_wallets()', '42501', null, 'anon: list_wallets');

-- Admin ----------------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select ok(
  (
    select count(*) from public.ledger_accounts
    where merchant_id is null
  ) >= 1,
  'an admin reads platform accounts'
);
select is(
  (public.admin_adjust_wallet(tests.w('wallet_b'), 500, 'goodwill credit', 'reserve', 'adm-1') -> 'wallet' ->> 'reserve')::bigint,
  500::bigint, 'an adjustment can credit the reserve'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 5, ''x'', ''pending'')', tests.w('wallet_b')), '22023', null,
  'adjustments go to available or reserve only'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 1, ''x'')', gen_random_uuid()), 'P0002', null,
  'unknown wallet'
);
select is(
  public.admin_open_wallet(tests.w('merchant_b'), 'USD', 'live') ->> 'currency', 'USD',
  'admin_open_wallet opens a wallet in another currency'
);
select throws_ok(
  format('select public.admin_open_wallet(%L, ''ZZZ'', ''live'')', tests.w('merchant_b')), '22023', null,
  'ISO 4217 currencies only'
);
select is(
  (
    select count(*)::integer from audit.log
    where table_name = 'wallet_adjustments' and new_values ->> 'reason' = 'goodwill credit'
  ), 1, 'the adjustment and its reason are audited'
);
select is(
  (public.list_wallets(tests.w('merchant_b'), 'INR', 'live') -> 'data' -> 0 ->> 'on_hold')::bigint,
  100::bigint, 'a pending hold shows as on_hold'
);

-- Invariants, for every writer ------------------------------------------------------------------
select tests.clear_authentication();
select throws_ok(
  format(
    'select private.ledger_post(''seed-a'', ''adjustment'', ''[{"account_id": "%s", "direction": "credit", "amount": 1}, {"account_id": "%s", "direction": "debit", "amount": 1}]'')',
    tests.ref('a_av'), tests.ref('adj')
  ),
  '22023', null, 'a posting key reused with other parameters is refused'
);
select is(
  tests.fund_wallet(tests.w('wallet_a'), 5000, 'seed-a'),
  (
    select id from public.ledger_entries
    where idempotency_key = 'seed-a'
  ),
  'the same key with the same parameters returns the first entry'
);
select throws_ok(
  format(
    'select private.ledger_post(''k-unbalanced'', ''transfer'', ''[{"account_id": "%s", "direction": "credit", "amount": 2}, {"account_id": "%s", "direction": "debit", "amount": 1}]'')',
    tests.ref('a_av'), tests.ref('adj')
  ),
  '22023', null, 'an unbalanced posting is refused'
);
select throws_ok(
  format(
    'select private.ledger_post(''k-float'', ''transfer'', ''[{"account_id": "%s", "direction": "credit", "amount": 1.5}, {"account_id": "%s", "direction": "debit", "amount": 1.5}]'')',
    tests.ref('a_av'), tests.ref('adj')
  ),
  '22023', null, 'amounts are whole minor units'
);
select throws_ok(
  'select tests.insert_unbalanced()', '23514', null,
  'even a direct insert must balance (deferred constraint trigger)'
);
select throws_ok(
  'update public.ledger_entries set kind = ''x''', '42501', null, 'entries are append-only'
);
select throws_ok(
  'delete from public.ledger_entries', '42501', null, 'entries cannot be deleted'
);
select throws_ok(
  'delete from public.ledger_holds', '42501', null, 'holds cannot be deleted'
);
select throws_ok(
  format('update public.wallets set mode = ''test'' where id = %L', tests.w('wallet_a')), '42501', null,
  'a wallet never changes its mode, currency or accounts'
);
select throws_ok(
  format(
    'select private.ledger_hold(''too-big'', ''refund'', %L, %L, 999999)',
    tests.ref('a_av'), tests.ref('adj')
  ),
  'PGRST', null, 'a hold a strict account cannot cover is refused (409)'
);
select is(
  (private.ledger_hold_post(tests.ref('hold_b')::bigint, 60)).posted_amount, 60::bigint,
  'a hold posts in part'
);
select throws_ok(
  format('select private.ledger_hold_void(%s)', tests.ref('hold_b')), 'P0001', null,
  'a posted hold cannot be voided afterwards'
);
select throws_ok(
  format('select private.ledger_hold_post(%s)', tests.ref('hold_b')), 'P0001', null,
  'nor posted twice'
);
select is(
  (
    select array[a.debits_pending, a.credits_posted - a.debits_posted]
    from public.ledger_accounts as a
    where a.id = tests.ref('b_av')::uuid
  ),
  '{0,6940}'::bigint[],
  'the reservation is released and only the posted part left the account'
);
insert into tests.refs
select
  'hold_exp' as k,
  h.id::text as v
from private.ledger_hold(
  'hold-exp', 'refund', tests.ref('a_av')::uuid, tests.ref('adj')::uuid,
  10, now() - interval '1 second'
) as h;
select ok(private.expire_holds() >= 1, 'pg_cron''s job expires holds past their expiry');
select is(
  (
    select status from public.ledger_holds
    where id = tests.ref('hold_exp')::bigint
  ),
  'expired', 'the expired hold is resolved as expired'
);
select is_empty(
  $$
    select e.id from public.ledger_entries as e
    inner join public.ledger_lines as l on e.id = l.entry_id
    group by e.id, l.currency
    having sum(case l.direction when 'debit' then l.amount else -l.amount end) <> 0
  $$,
  'every entry sums to zero per currency'
);

-- QA (issue 14): adjustment maximum, no echo of posting lines, live money of merchants that are
-- not live-enabled, mode required, entry kinds --------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 100000000000001, ''too much'')', tests.w('wallet_b')),
  '22023',
  'amount must be a non-zero whole number of minor units (signed), at most 100000000000000 either way',
  'an adjustment above the payments'' maximum is refused'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, -100000000000001, ''too much'')', tests.w('wallet_b')),
  '22023', null, 'either way'
);
select throws_ok(
  format('select public.admin_open_wallet(%L, ''INR'')', tests.w('merchant_b')),
  '42883', null, 'opening a wallet names its mode (no default)'
);
select tests.clear_authentication();
update public.merchants set live_enabled = false
where id = tests.w('merchant_b');
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 100, ''live money'')', tests.w('wallet_b')),
  'PGRST', '{"code" : "merchant_not_live", "message" : "the merchant is not live-enabled: its live wallet cannot be adjusted (admin_set_merchant_live first)", "details" : null, "hint" : null}',
  'a live wallet of a merchant that is not live-enabled is not adjusted (409 merchant_not_live)'
);
select throws_ok(
  format('select public.admin_open_wallet(%L, ''EUR'', ''live'')', tests.w('merchant_b')),
  'PGRST', null, 'nor is a live wallet opened for it'
);
select is(
  public.admin_open_wallet(tests.w('merchant_b'), 'EUR', 'test') ->> 'mode', 'test',
  'a test wallet still is'
);
select tests.clear_authentication();
select throws_ok(
  format(
    $q$select private.ledger_post('qa-echo', 'adjustment', '[{"account_id": %s, "direction": "up", "amount": 5}, {"account_id": %s, "direction": "credit", "amount": 5}]'::jsonb)$q$,
    to_json(tests.w('wallet_b')::text), to_json(tests.w('wallet_b')::text)
  ),
  '22023',
  'every posting line needs an account_id (uuid), a direction (debit or credit) and a positive whole amount of minor units',
  'a bad posting line is named generically: no payload or account id echoed'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  format('select public.list_wallet_transactions(%L, ''bogus'')', tests.w('wallet_a')),
  '22023',
  'kind must be one of payment, refund, adjustment, settlement, payout, payout_processed, payout_reversal, provider_settlement, migration',
  'an unknown kind is refused with the list of kinds'
);
select tests.clear_authentication();

select * from finish();
rollback;
