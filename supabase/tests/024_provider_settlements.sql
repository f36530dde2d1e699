-- Provider settlements: each line of a provider's report matched to our payments and refunds
-- (or reported: unknown, amount_mismatch, not_succeeded, duplicate), the money posted (bank,
-- provider fees, clearing, suspense) once per report, admins only.
begin;
\ir _helpers.psql
select plan(19);
select tests.make_world();

create table tests.refs (k text primary key, v text not null);
grant select on tests.refs to authenticated, anon, service_role;
create function tests.ref(p_k text) returns text
language sql stable
as $$ select v from tests.refs where k = p_k $$;
create function tests.balance(p_kind text) returns bigint
language sql stable
as $$
  select coalesce(sum(private.balance_of(a)), 0)::bigint from public.ledger_accounts as a
  where a.kind = p_kind and a.gateway_id = tests.w('gateway') and a.mode = 'test'
$$;
grant execute on all functions in schema tests to authenticated, anon, service_role;

-- A: succeeded (captured 1000 by the provider's pay_P1), and refunded 300 (rfnd_R1).
-- B: still processing.
update public.payment_attempts set provider_payment_id = 'pay_P1', status = 'succeeded'
where id = 'att_aaaaaaaaaaaaaaaaaaaa';
update public.payments set status = 'succeeded', amount_captured = 1000, gateway_id = tests.w('gateway')
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
insert into public.refunds (id, payment_id, merchant_id, attempt_id, gateway_id, amount, currency, provider_refund_id)
values (
  'rfd_aaaaaaaaaaaaaaaaaaaa', 'pay_aaaaaaaaaaaaaaaaaaaa', tests.w('merchant_a'), 'att_aaaaaaaaaaaaaaaaaaaa',
  tests.w('gateway'), 300, 'INR', 'rfnd_R1'
);
update public.refunds set status = 'succeeded'
where id = 'rfd_aaaaaaaaaaaaaaaaaaaa';
select is(tests.balance('provider_clearing'), 700::bigint, 'the gateway owes us 1000 - 300');

insert into tests.refs
select
  'r1' as k,
  private.ingest_provider_settlement(tests.w('gateway'), '{
    "settlement_id": "setl_1", "utr": "UTR0001", "settled_at": "2026-12-01T06:00:00Z", "currency": "INR",
    "items": [
      {"type": "payment", "entity_id": "pay_P1", "reference": "att_aaaaaaaaaaaaaaaaaaaa", "amount": 1000, "fee": 20, "tax": 4},
      {"type": "refund", "entity_id": "rfnd_R1", "reference": "rfd_aaaaaaaaaaaaaaaaaaaa", "amount": 300, "fee": 0, "tax": 0},
      {"type": "payment", "entity_id": "pay_X", "reference": "att_bbbbbbbbbbbbbbbbbbbb", "amount": 2000, "fee": 40, "tax": 7},
      {"type": "payment", "entity_id": "pay_nobody", "amount": 500, "fee": 10, "tax": 2},
      {"type": "adjustment", "entity_id": "adj_1", "amount": -50}
    ]
  }'::jsonb)::text as v;
select results_eq(
  $$ select status, amount, fees, tax, lines_count, unmatched_count from public.provider_settlements $$,
  $$ values ('mismatched', 1000 - 300 + 2000 + 500 - 50 - 70 - 13::bigint, 70::bigint, 13::bigint, 5, 3) $$,
  'the settlement: net received, the provider''s fees and tax, 3 of 5 lines unmatched'
);
select results_eq(
  $$ select kind, match from public.provider_settlement_lines order by id $$,
  $$ values ('payment', 'matched'), ('refund', 'matched'), ('payment', 'not_succeeded'),
    ('payment', 'unknown'), ('adjustment', 'unknown') $$,
  'each line matched or reported with its reason'
);

-- A mismatched report is an operator alert on its gateway (issue 15's alerts).
select private.evaluate_alerts(array['provider_settlement_mismatch']);
select results_eq(
  $$ select state, value, details ->> 'settlements', details ->> 'unmatched_lines' from public.alerts
     where rule_id = 'provider_settlement_mismatch' and subject_id = tests.w('gateway')::text $$,
  $$ values ('firing', 1::numeric, '1', '3') $$,
  'a mismatched provider settlement fires provider_settlement_mismatch on its gateway'
);
select is(
  (
    select count(*)::integer from private.live_inbox as i
    where
      'admin:alerts' = any(i.topics) and i.event = 'alert.firing'
      and i.payload ->> 'rule_id' = 'provider_settlement_mismatch'
  ),
  1, 'and is published to operators once'
);
select is(tests.balance('provider_clearing'), 0::bigint, 'the matched lines clear what the gateway owed');
select is(tests.balance('provider_suspense'), (2000 + 500 - 50)::bigint, 'the rest waits in suspense');
select is(tests.balance('provider_fees'), 83::bigint, 'the provider''s fees and tax are an expense');
select is(
  (
    select private.balance_of(a) from public.ledger_accounts as a
    where a.kind = 'platform_bank' and a.mode = 'test' and a.currency = 'INR'
  ), 3067::bigint, 'the bank received the net'
);
select is(
  private.ingest_provider_settlement(tests.w('gateway'), '{"settlement_id": "setl_1", "currency": "INR", "items": []}')
  ->> 'already_ingested',
  'true', 'a report is ingested once'
);
select is(
  (
    select count(*)::integer from public.ledger_entries
    where kind = 'provider_settlement'
  ), 1, 'and posted once'
);
insert into tests.refs
select
  's2' as k,
  private.ingest_provider_settlement(tests.w('gateway'), '{
    "settlement_id": "setl_2", "currency": "INR", "items": [
      {"type": "payment", "entity_id": "pay_P1", "amount": 1000},
      {"type": "refund", "entity_id": "rfnd_R1", "amount": 301}
    ]}'::jsonb) ->> 'id' as v;
select results_eq(
  $$
    select match from public.provider_settlement_lines
    where provider_settlement_id = tests.ref('s2')::uuid
    order by id
  $$,
  $$ values ('duplicate'), ('amount_mismatch') $$,
  'a payment settled before is a duplicate; another amount a mismatch'
);
select throws_ok(
  $$select private.ingest_provider_settlement(gen_random_uuid(), '{"settlement_id": "x", "currency": "INR", "items": []}')$$,
  'P0002', null, 'unknown gateway'
);
select throws_ok(
  format(
    $$select private.ingest_provider_settlement(%L, '{"settlement_id": "x", "currency": "INR", "items": [{"type": "fee", "amount": 1}]}')$$,
    tests.w('gateway')
  ),
  '22023', null, 'malformed items are refused'
);

-- Admins only ----------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select is(
  (
    select jsonb_array_length(e -> 'unmatched')
    from jsonb_array_elements(public.admin_list_provider_settlements(p_status => 'mismatched') -> 'data') as e
    where e ->> 'provider_settlement_id' = 'setl_1'
  ), 3, 'admins list the mismatches with their reasons'
);
select tests.authenticate_as(tests.w('user_a'));
select is_empty('select 1 from public.provider_settlements', 'merchants read no provider settlement');
select throws_ok(
  'select public.admin_list_provider_settlements()', '42501', null, 'nor list them'
);
select throws_ok(
  format(
    $$select private.ingest_provider_settlement(%L, '{}')$$, tests.w('gateway')
  ),
  '42501', null, 'ingestion is the worker''s'
);
select tests.as_anon();
select throws_ok('select 1 from public.provider_settlement_lines', '42501', null, 'anon: nothing');

select * from finish();
rollback;
