-- Payments and refunds in the ledger: a success posts once (late successes too), fees and
-- GST to the paisa (half up, IGST or CGST + SGST), refunds held at creation and refused with
-- 409 when the balance cannot cover them (fees are not returned), posted on success, voided
-- on failure; pricing is admins' business; lots and draws stay the merchant's own.
begin;
\ir _helpers.psql
select plan(44);
select tests.make_world();
update public.merchants set live_enabled = true;

create function tests.pay(p_merchant uuid, p_amount bigint, p_method text default 'upi') returns text
language plpgsql
as $$
declare
  v_id text;
begin
  insert into public.payments (merchant_id, mode, amount, currency, method, gateway_id, provider)
  values (p_merchant, 'live', p_amount, 'INR', p_method, tests.w('gateway'), 'sandbox')
  returning id into v_id;
  insert into public.payment_attempts (
    payment_id, merchant_id, gateway_id, provider, attempt_no, amount, currency, status
  ) values (v_id, p_merchant, tests.w('gateway'), 'sandbox', 1, p_amount, 'INR', 'succeeded');
  -- Distinct success times (one test transaction has one now()): lots are taken oldest first.
  update public.payments set status = 'succeeded', amount_captured = p_amount,
    completed_at = clock_timestamp()
  where id = v_id;
  return v_id;
end
$$;
create function tests.refund(p_payment text, p_amount bigint) returns text
language sql
as $$
  insert into public.refunds (payment_id, merchant_id, attempt_id, gateway_id, amount, currency)
  select p.id, p.merchant_id, a.id, a.gateway_id, p_amount, p.currency
  from public.payments as p
  inner join public.payment_attempts as a on p.id = a.payment_id
  where p.id = p_payment
  returning id
$$;
create function tests.balances(p_merchant uuid) returns bigint[]
language sql stable
as $$
  select array[
    private.available_of(pe), pe.debits_pending, private.available_of(av), av.debits_pending
  ]
  from public.wallets as w
  inner join public.ledger_accounts as pe on w.pending_account_id = pe.id
  inner join public.ledger_accounts as av on w.available_account_id = av.id
  where w.merchant_id = p_merchant and w.currency = 'INR' and w.mode = 'live'
$$;
create table tests.refs (k text primary key, v text not null);
grant select on tests.refs to authenticated, anon, service_role;
create function tests.ref(p_k text) returns text
language sql stable
as $$ select v from tests.refs where k = p_k $$;
grant execute on all functions in schema tests to authenticated, anon, service_role;

-- Pricing, admins only ------------------------------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select is(
  public.admin_set_merchant_pricing(
    tests.w('merchant_a'),
    '{"rates": {"upi": {"percent_bps": 200, "fixed": 0}, "card": {"percent_bps": 190, "fixed": 300}}, "state": "KA", "settlement_delay_days": null}'
  ) -> 'rates' -> 'upi' ->> 'percent_bps', '200', 'an admin sets a merchant''s MDR per method'
);
select is(
  public.admin_get_merchant_pricing(tests.w('merchant_a')) -> 'rates' -> 'netbanking' ->> 'default', 'true',
  'a method without a rate pays the platform default'
);
select is(
  public.admin_get_merchant_pricing(tests.w('merchant_a')) ->> 'tax', 'cgst_sgst',
  'same state as the platform: CGST + SGST'
);
select throws_ok(
  format(
    'select public.admin_set_merchant_pricing(%L, ''{"rates": {"upi": {"percent_bps": 1.5, "fixed": 0}}, "state": null, "settlement_delay_days": null}'')',
    tests.w('merchant_a')
  ),
  '22023', null, 'rates are integers'
);
select throws_ok(
  format(
    'select public.admin_set_merchant_pricing(%L, ''{"rates": {"upi": {"percent_bps": 10001, "fixed": 0}}, "state": null, "settlement_delay_days": null}'')',
    tests.w('merchant_a')
  ),
  '22023', null, 'at most 100%'
);
select throws_ok(
  format(
    'select public.admin_set_merchant_pricing(%L, ''{"rates": {"cash": {"percent_bps": 1, "fixed": 0}}, "state": null, "settlement_delay_days": null}'')',
    tests.w('merchant_a')
  ),
  '22023', null, 'known methods only'
);
select throws_ok(
  format('select public.admin_set_merchant_pricing(%L, ''{"rates": {}, "state": "karnataka", "settlement_delay_days": null}'')', tests.w('merchant_a')),
  '22023', null, 'states are ISO 3166-2:IN codes'
);
select throws_ok(
  format('select public.admin_set_merchant_pricing(%L, ''{"rates": {}, "state": "XX", "settlement_delay_days": null}'')', tests.w('merchant_a')),
  '22023',
  'state must be the ISO 3166-2:IN code of an Indian state or union territory, such as KA, MH or DL',
  'XX is no Indian state or union territory'
);
select throws_ok(
  format('select public.admin_set_merchant_pricing(%L, ''{}'')', tests.w('merchant_a')),
  '22023', 'rates is required (PUT replaces the whole pricing; {} for the platform defaults)',
  'an empty body does not reset the pricing: rates is required'
);
select throws_ok(
  format('select public.admin_set_merchant_pricing(%L, ''{"state": "KA"}'')', tests.w('merchant_a')),
  '22023', null, 'nor does a body with the state only'
);
select is(
  public.admin_get_merchant_pricing(tests.w('merchant_a')) -> 'rates' -> 'upi' ->> 'percent_bps', '200',
  'the MDR is unchanged by the refused bodies'
);
select throws_ok(
  format('select public.admin_set_merchant_pricing(%L, ''{"rates": {}, "state": null, "settlement_delay_days": null}'')', gen_random_uuid()),
  'P0002', null, 'unknown merchant'
);
select public.admin_set_merchant_pricing(
  tests.w('merchant_b'), '{"rates": {"upi": {"percent_bps": 200, "fixed": 0}}, "state": "MH", "settlement_delay_days": null}'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  format('select public.admin_get_merchant_pricing(%L)', tests.w('merchant_a')), '42501', null,
  'a merchant cannot read pricing through the admin RPC'
);
select throws_ok(
  format('select public.admin_set_merchant_pricing(%L, ''{}'')', tests.w('merchant_a')), '42501', null,
  'nor set its own pricing'
);
select results_eq(
  'select merchant_id from public.merchant_pricing', array[tests.w('merchant_a')],
  'merchant_pricing: a member reads only its own row'
);
select tests.clear_authentication();

-- A success posts once, to the paisa ------------------------------------------------------------
-- 12525 x 2% = 250.5 -> 251 (half up); GST 18% of 251 = 45.18 -> 45; CGST 22.5 -> 23, SGST 22.
insert into tests.refs values ('p1', tests.pay(tests.w('merchant_a'), 12525));
select results_eq(
  $$
    select gross, fee, tax, net, tax_kind, cgst, sgst, igst from public.payment_credits
    where payment_id = tests.ref('p1')
  $$,
  $$ values (12525::bigint, 251::bigint, 45::bigint, 12229::bigint, 'cgst_sgst', 23::bigint, 22::bigint, 0::bigint) $$,
  'fee and GST are computed per payment, rounded half up, split CGST + SGST'
);
select is(
  (
    select count(*)::integer from public.ledger_entries
    where idempotency_key = 'payment:' || tests.ref('p1')
  ), 1, 'one entry for the payment'
);
select results_eq(
  $$
    select a.kind, l.direction, l.amount from public.ledger_lines as l
    inner join public.ledger_accounts as a on l.account_id = a.id
    inner join public.ledger_entries as e on l.entry_id = e.id
    where e.idempotency_key = 'payment:' || tests.ref('p1')
    order by a.kind
  $$,
  $$ values
    ('fee_revenue', 'credit', 251::bigint), ('gst_payable', 'credit', 45::bigint),
    ('merchant_pending', 'credit', 12229::bigint), ('provider_clearing', 'debit', 12525::bigint) $$,
  'gross from provider clearing; net to pending; fee and GST to the platform'
);
select is(tests.balances(tests.w('merchant_a')), '{12229,0,5000,0}'::bigint[], 'the net waits in pending');
-- card: 190 bps + 300 fixed on 10000 = 190 + 300 = 490; GST 88.2 -> 88. B is in MH: IGST.
insert into tests.refs values ('p2', tests.pay(tests.w('merchant_a'), 10000, 'card'));
select is(
  (
    select array[fee, tax] from public.payment_credits
    where payment_id = tests.ref('p2')
  ),
  '{490,88}'::bigint[], 'a fixed part is added to the percentage'
);
insert into tests.refs values ('pb', tests.pay(tests.w('merchant_b'), 999));
select results_eq(
  $$ select fee, tax, tax_kind, igst from public.payment_credits where payment_id = tests.ref('pb') $$,
  $$ values (20::bigint, 4::bigint, 'igst', 4::bigint) $$,
  'another state than the platform''s: IGST (999 x 2% = 19.98 -> 20; 3.6 -> 4)'
);
-- A late success after a failure posts once.
update public.payments set status = 'failed'
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
update public.payments set status = 'succeeded', amount_captured = 1000
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select is(
  (
    select count(*)::integer from public.ledger_entries
    where reference_id = 'pay_aaaaaaaaaaaaaaaaaaaa'
  ), 1, 'a late success posts once'
);
update public.payments set status = 'partially_refunded'
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select is(
  (
    select count(*)::integer from public.payment_credits
    where payment_id = 'pay_aaaaaaaaaaaaaaaaaaaa'
  ), 1, 'later status changes post nothing more'
);

-- Refunds ------------------------------------------------------------------------------------------
select is(
  (
    select net from public.payment_credits
    where payment_id = 'pay_aaaaaaaaaaaaaaaaaaaa'
  ),
  976::bigint, 'a test payment nets into the test wallet: 1000 - 20 fee - 4 GST'
);
insert into tests.refs values ('p3', tests.pay(tests.w('merchant_a'), 1000));
-- A's live pending: p1 12229 + p2 9422 + p3 976 = 22627; available 5000.
insert into tests.refs values ('r1', tests.refund(tests.ref('p1'), 12525));
select is(
  tests.balances(tests.w('merchant_a')), '{10102,12525,5000,0}'::bigint[],
  'a full refund holds its whole amount (the fee is not returned): pending lots first'
);
select results_eq(
  $$
    select payment_id, account, amount from private.refund_draws
    where refund_id = tests.ref('r1') order by id
  $$,
  $$ values (tests.ref('p1'), 'pending', 12229::bigint), (tests.ref('p2'), 'pending', 296::bigint) $$,
  'the payment''s own lot first, then the oldest other lot'
);
update public.refunds set status = 'succeeded'
where id = tests.ref('r1');
select is(
  tests.balances(tests.w('merchant_a')), '{10102,0,5000,0}'::bigint[],
  'a succeeded refund posts its holds'
);
select is(
  (
    select array[consumed, reserved] from public.payment_credits
    where payment_id = tests.ref('p1')
  ),
  '{12229,0}'::bigint[], 'the lot records what the refund took'
);
select is(
  (
    select count(*)::integer from public.ledger_entries
    where reference_id = tests.ref('r1') and kind = 'refund'
  ), 1, 'one refund entry per account drawn on'
);
-- r2 takes p2's 9126 and 874 of p3; r3 the 102 left of p3 and 898 of available.
insert into tests.refs values ('r2', tests.refund(tests.ref('p2'), 10000));
insert into tests.refs values ('r3', tests.refund(tests.ref('p3'), 1000));
select is(
  tests.balances(tests.w('merchant_a')), '{0,10102,4102,898}'::bigint[],
  'pending first, then available'
);
select throws_ok(
  format('select tests.refund(%L, 5000)', tests.ref('p1')), 'PGRST', null,
  'a refund the balance cannot cover is refused with 409 insufficient_balance'
);
select is(
  (
    select count(*)::integer from public.refunds
    where payment_id = tests.ref('p1')
  ), 1,
  'and nothing of it is recorded'
);
update public.refunds set status = 'failed'
where id = tests.ref('r3');
select is(
  tests.balances(tests.w('merchant_a')), '{102,10000,5000,0}'::bigint[],
  'a failed refund voids its holds: the money is back where it came from'
);
select is(
  (
    select array_agg(status order by id) from private.refund_draws
    where refund_id = tests.ref('r3')
  ),
  '{voided,voided}'::text[], 'its draws are voided'
);
update public.refunds set status = 'succeeded'
where id = tests.ref('r2');
select is(
  tests.balances(tests.w('merchant_a')), '{102,0,5000,0}'::bigint[], 'the other refund posts'
);
-- A refund that never had a hold (recorded before the ledger) still completes.
alter table public.refunds disable trigger refunds_hold;
insert into tests.refs values ('r4', tests.refund(tests.ref('p3'), 1000));
alter table public.refunds enable trigger refunds_hold;
update public.refunds set status = 'succeeded'
where id = tests.ref('r4');
select is(
  tests.balances(tests.w('merchant_a')), '{0,0,4102,0}'::bigint[],
  'a refund without a hold draws when it succeeds'
);

-- Isolation -------------------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select is_empty(
  $$ select 1 from public.payment_credits where merchant_id <> tests.w('merchant_a') $$,
  'payment_credits: only A''s'
);
select is(
  (select count(*)::integer from public.payment_credits), 4, 'A reads its own lots'
);
select throws_ok('select 1 from private.refund_draws', '42501', null, 'refund_draws: no client reads them');
select throws_ok(
  'update public.payment_credits set consumed = 0', '42501', null, 'lots are not writable by clients'
);
select tests.as_anon();
select throws_ok('select 1 from public.payment_credits', '42501', null, 'anon: payment_credits');
select throws_ok('select 1 from public.merchant_pricing', '42501', null, 'anon: merchant_pricing');
select tests.as_service_role();
select throws_ok(
  format('update public.payment_credits set fee = 0 where payment_id = %L', tests.ref('p1')), '42501', null,
  'a lot''s amounts never change, even for service_role'
);
select tests.clear_authentication();
select is_empty(
  $$
    select e.id from public.ledger_entries as e
    inner join public.ledger_lines as l on e.id = l.entry_id
    group by e.id, l.currency
    having sum(case l.direction when 'debit' then l.amount else -l.amount end) <> 0
  $$,
  'every entry sums to zero'
);

select * from finish();
rollback;
