-- Settlements and payouts: working days, a batch's figures to the paisa, its payout through
-- processed or failed attempts (reversed back to available and carried to the next batch),
-- bank accounts that only owners change, the reconciliation, isolation and roles.
begin;
\ir _helpers.psql
select plan(86);
select tests.make_world();

create table tests.refs (k text primary key, v text not null);
grant select on tests.refs to authenticated, anon, service_role;
create function tests.ref(p_k text) returns text
language sql stable
as $$ select v from tests.refs where k = p_k $$;
-- A live payment that succeeded p_days_ago days ago through the test gateway.
create function tests.old_payment(p_merchant uuid, p_amount bigint, p_days_ago integer) returns text
language plpgsql
as $$
declare
  v_id text;
begin
  insert into public.payments (merchant_id, mode, amount, currency, method, gateway_id, provider)
  values (p_merchant, 'live', p_amount, 'INR', 'upi', tests.w('gateway'), 'sandbox')
  returning id into v_id;
  insert into public.payment_attempts (
    payment_id, merchant_id, gateway_id, provider, attempt_no, amount, currency, status
  ) values (v_id, p_merchant, tests.w('gateway'), 'sandbox', 1, p_amount, 'INR', 'succeeded');
  update public.payments set status = 'succeeded', amount_captured = p_amount,
    completed_at = now() - make_interval(days => p_days_ago)
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
create function tests.available(p_merchant uuid) returns bigint
language sql stable
as $$
  select private.available_of(a) from public.wallets as w
  inner join public.ledger_accounts as a on w.available_account_id = a.id
  where w.merchant_id = p_merchant and w.mode = 'live' and w.currency = 'INR'
$$;
grant execute on all functions in schema tests to authenticated, anon, service_role;

-- Merchant C, settled here: 2% UPI MDR, T+2.
do $$
declare
  uc uuid := tests.create_user('owner-c@test.example');
  ud uuid := tests.create_user('dev-c@test.example');
  mc uuid := gen_random_uuid();
begin
  insert into public.merchants (id, name, live_enabled) values (mc, 'Merchant C', true);
  insert into public.merchant_members (merchant_id, user_id, role)
  values (mc, uc, 'owner'), (mc, ud, 'developer');
  insert into public.merchant_pricing (merchant_id, rates)
  values (mc, '{"upi": {"percent_bps": 200, "fixed": 0}}');
  insert into tests.world values ('merchant_c', mc), ('user_c', uc), ('dev_c', ud);
  update private.settings set value = '0' where key = 'payouts.bank_account_cooling_off_s';
end
$$;

-- Working days ------------------------------------------------------------------------------
insert into public.settlement_holidays (day, description) values ('2026-01-26', 'Republic Day');
select is(private.add_working_days('2026-01-23', 2), '2026-01-28'::date, 'Fri + 2: Mon is a holiday, so Wed');
select is(private.add_working_days('2026-01-24', 1), '2026-01-27'::date, 'Sat + 1: Tue');
select is(private.add_working_days('2026-01-21', 0), '2026-01-21'::date, 'T+0 is the day itself');
select is(
  private.settlement_due_at('2026-01-23 20:00+00', 2), '2026-01-28 00:00+05:30'::timestamptz,
  'due at 00:00 Asia/Kolkata of the India day: Jan 23 20:00 UTC is Saturday Jan 24 there, + 2 = Wednesday'
);

-- Bank accounts: owners only -----------------------------------------------------------------
select tests.authenticate_as(tests.w('dev_c'));
select throws_ok(
  $$select public.merchant_set_bank_account('C Pvt Ltd', 'HDFC0001234', '123456789012')$$,
  '42501', null, 'a developer cannot set the bank account'
);
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  format(
    $$select public.merchant_set_bank_account('Admin', 'HDFC0001234', '999999999999', %L)$$,
    tests.w('merchant_c')
  ),
  '42501', null, 'nor can a platform admin redirect a merchant''s money'
);
select tests.authenticate_as(tests.w('user_c'));
select throws_ok(
  $$select public.merchant_set_bank_account('C Pvt Ltd', 'HDFC1234', '123456789012')$$,
  '22023', null, 'IFSC checked'
);
select throws_ok(
  $$select public.merchant_set_bank_account('C Pvt Ltd', 'HDFC0001234', '12AB')$$,
  '22023', null, 'account numbers are 9 to 18 digits'
);
select is(
  public.merchant_set_bank_account('C Pvt Ltd', 'HDFC0001234', '123456789012') ->> 'account_number',
  'XXXXXXXX9012', 'an owner sets it; the number is masked from then on'
);
select is(
  public.merchant_get_bank_account() ->> 'ifsc', 'HDFC0001234', 'members read the masked account'
);
select tests.clear_authentication();
select is(
  (
    select count(*)::integer from public.notifications
    where merchant_id = tests.w('merchant_c') and kind = 'bank_account.changed'
  ), 1, 'the owners are notified'
);
select is_empty(
  $$ select 1 from audit.log where table_name = 'merchant_bank_accounts' and new_values::text like '%123456789012%' $$,
  'the account number is in no audit row'
);
select tests.authenticate_as(tests.w('admin'));
select is(
  public.admin_set_payout_account(
    'live', 'razorpayx', '{"key_id": "rzp_test_fakeKey01", "key_secret": "fake_razorpay_secret_01", "account_number": "7878780080316316"}'
  ) -> 'credentials' ->> 'key_secret',
  'fa****01', 'the payout account is stored; its secret answered masked'
);
select tests.clear_authentication();

-- A batch, to the paisa ----------------------------------------------------------------------
-- p1 10000 -> fee 200, GST 36, net 9764; p2 5000 -> 100, 18, 4882; p3 (today) waits.
insert into tests.refs values
('p1', tests.old_payment(tests.w('merchant_c'), 10000, 10)),
('p2', tests.old_payment(tests.w('merchant_c'), 5000, 10)),
('p3', tests.old_payment(tests.w('merchant_c'), 3000, 0));
insert into tests.refs values ('r1', tests.refund(tests.ref('p1'), 1000));
update public.refunds set status = 'succeeded'
where id = tests.ref('r1');
select tests.authenticate_as(tests.w('admin'));
select lives_ok(
  format(
    'select public.admin_adjust_wallet(%L, 250, ''goodwill'')',
    (
      select id from public.wallets
      where merchant_id = tests.w('merchant_c') and mode = 'live'
    )
  ),
  'an adjustment on available'
);
select tests.clear_authentication();
insert into tests.refs
select
  'w' as k,
  id::text as v
from public.wallets
where merchant_id = tests.w('merchant_c') and mode = 'live';
insert into tests.refs
select
  's1' as k,
  private.create_settlement(tests.ref('w')::uuid) ->> 'id' as v;
select results_eq(
  $$
    select gross, refunds, fees, tax, adjustments, net, payments_count, refunds_count, status
    from public.settlements where id = tests.ref('s1')
  $$,
  $$ values (15000::bigint, 1000::bigint, 300::bigint, 54::bigint, 250::bigint, 13896::bigint, 2, 1, 'created') $$,
  'net = gross - refunds - fees - tax + adjustments: 15000 - 1000 - 300 - 54 + 250'
);
select results_eq(
  $$
    select kind, gross, fee, tax, amount from public.settlement_lines
    where settlement_id = tests.ref('s1') order by kind, amount
  $$,
  $$ values
    ('adjustment', 0::bigint, 0::bigint, 0::bigint, 250::bigint),
    ('payment', 5000::bigint, 100::bigint, 18::bigint, 4882::bigint),
    ('payment', 10000::bigint, 200::bigint, 36::bigint, 9764::bigint),
    ('refund', 0::bigint, 0::bigint, 0::bigint, -1000::bigint) $$,
  'its lines'
);
select is(
  (
    select array[c.settled, c.waiting]
    from (
      select
        count(*) filter (where settlement_id is not null)::bigint as settled,
        count(*) filter (where settlement_id is null)::bigint as waiting
      from public.payment_credits
      where merchant_id = tests.w('merchant_c')
    ) as c
  ),
  '{2,1}'::bigint[], 'today''s payment waits for T+2'
);
select is(tests.available(tests.w('merchant_c')), 0::bigint, 'the net left available for the payout');
select ok(
  private.create_settlement(tests.ref('w')::uuid) is null,
  'nothing more to settle until something new matures'
);
select ok(
  (
    select count(*) from pgmq.q_settlement
    where message -> 'payload' ->> 'settlement_id' = tests.ref('s1')
  ) = 1,
  'the payout job is queued'
);

-- Its payout: attempt, failure, retry, success --------------------------------------------------
select is(private.payout_next(tests.ref('s1')) ->> 'action', 'send', 'an attempt is recorded, then sent');
select is(
  private.payout_next(tests.ref('s1')) -> 'payout' -> 'beneficiary' ->> 'account_number', '123456789012',
  'the worker gets the full account number from Vault; a repeat sends the same attempt'
);
select is(
  (
    select count(*)::integer from public.payouts
    where settlement_id = tests.ref('s1')
  ), 1,
  'one attempt, not two'
);
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s1')
    ),
    '{"status": "failed", "error_code": "beneficiary_bank_rejected", "provider_payout_id": "pout_1"}'
  ) ->> 'next',
  'scheduled', 'a failed attempt is retried later: scheduled, not retried by the queue'
);
select is(
  private.payout_next(tests.ref('s1')) ->> 'action', 'wait',
  'the next attempt is refused before its scheduled time (payouts.retry_schedule_s)'
);
select is(
  (
    select count(*)::integer from public.payouts
    where settlement_id = tests.ref('s1')
  ), 1,
  'no early attempt was recorded'
);
select results_eq(
  $$
    select private.settlement_view(settlements) -> 'payout' ->> 'status',
      waiting_until between now() + interval '59 seconds' and now() + interval '61 seconds'
    from public.settlements where id = tests.ref('s1')
  $$,
  $$ values ('retry_scheduled', true) $$,
  'the settlement shows the retry and its time, 60 s after the first failure'
);
-- The scheduled time comes.
update public.settlements set waiting_until = now() - interval '1 second'
where id = tests.ref('s1');
select is(
  (
    select status from public.settlements
    where id = tests.ref('s1')
  ), 'processing',
  'the settlement is still processing'
);
insert into tests.refs
select
  'next' as k,
  private.payout_next(tests.ref('s1')) -> 'payout' ->> 'payout_id' as v;
select is(
  tests.ref('next'),
  (
    select id from public.payouts
    where settlement_id = tests.ref('s1') and attempt_no = 2
  ),
  'the retry is a new attempt (a new idempotency key)'
);
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s1') and attempt_no = 2
    ),
    '{"status": "processing", "provider_payout_id": "pout_2"}'
  ) ->> 'next',
  'check', 'processing: a status check is scheduled'
);
select is(private.payout_next(tests.ref('s1')) ->> 'action', 'check', 'then the provider is asked');
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s1') and attempt_no = 2
    ),
    '{"status": "processed", "utr": "123456789012"}'
  ) ->> 'outcome',
  'processed', 'processed'
);
select results_eq(
  $$ select status, utr from public.settlements where id = tests.ref('s1') $$,
  $$ values ('processed', '123456789012') $$, 'the settlement is processed with its UTR'
);
select is(
  (
    select count(*)::integer from public.webhook_events
    where merchant_id = tests.w('merchant_c') and type = 'settlement.processed'
  ), 1, 'settlement.processed is emitted once'
);
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s1') and attempt_no = 2
    ),
    '{"status": "processed", "utr": "123456789012"}'
  ) ->> 'outcome',
  'watching', 'a repeated answer changes nothing (the reversal watch goes on)'
);

-- A batch whose payout fails for good: the money goes back and travels with the next batch -----
update private.settings set value = '1'
where key = 'payouts.max_attempts';
insert into tests.refs values ('p4', tests.old_payment(tests.w('merchant_c'), 2000, 10));
insert into tests.refs
select
  's2' as k,
  private.create_settlement(tests.ref('w')::uuid) ->> 'id' as v;
select is((
  select net from public.settlements
  where id = tests.ref('s2')
), 1953::bigint, '2000 - 40 - 7');
select lives_ok(format('select private.payout_next(%L)', tests.ref('s2')), 'attempt');
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s2')
    ),
    '{"status": "failed", "error_code": "invalid_account"}'
  ) ->> 'reversed',
  'true', 'the last attempt failed: reversed'
);
select results_eq(
  $$ select status, failure_code from public.settlements where id = tests.ref('s2') $$,
  $$ values ('failed', 'invalid_account') $$, 'the settlement failed'
);
select is(tests.available(tests.w('merchant_c')), 1953::bigint, 'its net is back in available');
select is(
  (
    select count(*)::integer from public.webhook_events
    where merchant_id = tests.w('merchant_c') and type = 'settlement.failed'
  ), 1, 'settlement.failed is emitted'
);
insert into tests.refs
select
  's3' as k,
  private.create_settlement(tests.ref('w')::uuid) ->> 'id' as v;
select results_eq(
  $$ select gross, adjustments, net from public.settlements where id = tests.ref('s3') $$,
  $$ values (0::bigint, 1953::bigint, 1953::bigint) $$,
  'the next batch carries the reversed payout as an adjustment'
);

-- Reconciliation -----------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select is(
  public.admin_reconcile_ledger(tests.w('merchant_c')) ->> 'ok', 'true',
  'the operator''s reconciliation finds nothing wrong'
);
select tests.clear_authentication();
do $$
begin
  alter table public.settlements drop constraint settlements_net_adds_up;
  update public.settlements set net = net + 1 where id = tests.ref('s3');
end
$$;
select tests.as_service_role();
select is(
  (
    select (c ->> 'violations')::integer
    from jsonb_array_elements(private.reconcile_ledger(tests.w('merchant_c')) -> 'checks') as c
    where c ->> 'check' = 'settlements_add_up'
  ), 1, 'and finds a batch that does not add up'
);
select tests.clear_authentication();

-- Isolation and roles ------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select is_empty('select 1 from public.settlements', 'settlements: none of C''s for A');
select is_empty('select 1 from public.settlement_lines', 'settlement_lines: none');
select is_empty('select 1 from public.payouts', 'payouts: none');
select is_empty('select 1 from public.merchant_bank_accounts', 'bank accounts: none');
select ok(
  (select count(*) from public.settlement_holidays) >= 1, 'holidays are public to signed-in users'
);
select throws_ok(
  format('select public.get_settlement(%L)', tests.ref('s1')), 'P0002', null,
  'C''s settlement does not exist for A'
);
select throws_ok(
  format('select public.list_settlements(%L)', tests.w('merchant_c')), '42501', null,
  'nor can A list C''s'
);
select throws_ok('select 1 from private.payout_accounts', '42501', null, 'payout accounts: no client');
select throws_ok(
  $$select public.admin_set_settlement_holiday('2026-08-15', 'Independence Day')$$, '42501', null,
  'holidays: admins only'
);
select throws_ok('select public.admin_reconcile_ledger()', '42501', null, 'reconciliation: admins only');
select throws_ok(
  format('select private.create_settlement(%L)', tests.ref('w')), '42501', null,
  'the worker''s functions are closed to clients'
);
select tests.as_anon();
select throws_ok('select 1 from public.settlements', '42501', null, 'anon: settlements');
select tests.authenticate_as(tests.w('user_c'));
select is(
  jsonb_array_length(public.list_settlements() -> 'data'), 3, 'C lists its own settlements'
);
select is(
  jsonb_array_length(public.get_settlement(tests.ref('s1')) -> 'payouts'), 2,
  'with their payout attempts'
);
select tests.clear_authentication();

-- QA (issue 14) ------------------------------------------------------------------------------------
-- 1. A processed payout the bank returns later: the reversal watch notices it, once.
insert into tests.refs values ('avail_before', tests.available(tests.w('merchant_c'))::text);
select is(
  private.payout_next(tests.ref('s1')) ->> 'action', 'check',
  'a processed payout is still checked during the reversal watch'
);
select ok(
  (
    select count(*) from pgmq.q_settlement
    where
      message ->> 'key' like 'payout-watch:%'
      and message -> 'payload' ->> 'settlement_id' = tests.ref('s1')
  ) >= 1,
  'its checks are scheduled'
);
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s1') and attempt_no = 2
    ),
    '{"status": "reversed", "error_code": "beneficiary_bank_returned", "provider_payout_id": "pout_2"}'
  ) ->> 'outcome',
  'reversed', 'the provider reports it reversed'
);
select is(
  tests.available(tests.w('merchant_c')) - tests.ref('avail_before')::bigint, 13896::bigint,
  'its net is back in available'
);
select results_eq(
  $$
    select status, failure_code, private.settlement_view(settlements) -> 'payout' ->> 'status'
    from public.settlements where id = tests.ref('s1')
  $$,
  $$ values ('failed', 'reversed', 'reversed') $$,
  'the settlement shows the reversal'
);
select is(
  (
    select count(*)::integer from public.webhook_events
    where
      merchant_id = tests.w('merchant_c') and type = 'settlement.failed'
      and payload::text like '%' || tests.ref('s1') || '%'
  ), 1, 'settlement.failed is emitted for it'
);
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s1') and attempt_no = 2
    ),
    '{"status": "reversed", "provider_payout_id": "pout_2"}'
  ) ->> 'outcome',
  'stale', 'a repeated reversal is applied once'
);
select is(
  tests.available(tests.w('merchant_c')) - tests.ref('avail_before')::bigint, 13896::bigint,
  'the money came back once'
);
select is(private.payout_next(tests.ref('s1')) ->> 'action', 'none', 'and it is no longer checked');
select is(
  private.schedule_reversal_check('pyt_00000000000000000000', tests.ref('s1'), now() - interval '4 days'),
  null, 'the watch ends after payouts.reversal_watch_s (3 days)'
);

-- 3. Below payouts.min_amount no batch is made: the money waits in available.
update private.settings set value = '1000000'
where key = 'payouts.min_amount';
select is(
  private.create_settlement(tests.ref('w')::uuid) ->> 'reason', 'below_min_amount',
  'a net below the minimum payout makes no batch'
);
select is(
  (
    select count(*)::integer from public.settlements
    where merchant_id = tests.w('merchant_c')
  ), 3, 'no settlement was created'
);
update private.settings set value = '100'
where key = 'payouts.min_amount';

-- 2. A permanent error (the provider's 4xx validation) fails at once, money back.
update private.settings set value = '3'
where key = 'payouts.max_attempts';
insert into tests.refs
select
  's4' as k,
  private.create_settlement(tests.ref('w')::uuid) ->> 'id' as v;
select is(private.payout_next(tests.ref('s4')) ->> 'action', 'send', 'a new batch is sent');
insert into tests.refs values ('avail_s4', tests.available(tests.w('merchant_c'))::text);
select is(
  private.record_payout_result(
    (
      select id from public.payouts
      where settlement_id = tests.ref('s4')
    ),
    '{"status": "failed", "error_code": "input_validation_failed", "http_status": 400}'
  ) ->> 'next',
  'none', 'a refused request is not retried'
);
select results_eq(
  $$
    select status, failure_code, payout_attempts,
      tests.available(merchant_id) - tests.ref('avail_s4')::bigint = net
    from public.settlements where id = tests.ref('s4')
  $$,
  $$ values ('failed', 'input_validation_failed', 1, true) $$,
  'the settlement fails after one attempt and its net is back in available'
);

-- 4. / 5. A suspended merchant, or live money of one not live-enabled: nothing settles or is sent.
insert into tests.refs
select
  's5' as k,
  private.create_settlement(tests.ref('w')::uuid) ->> 'id' as v;
update public.merchants set status = 'suspended'
where id = tests.w('merchant_c');
select is(
  private.payout_next(tests.ref('s5')) ->> 'action', 'wait', 'no payout is sent to a suspended merchant'
);
select is(
  (
    select private.settlement_view(x) from public.settlements as x
    where x.id = tests.ref('s5')
  ) -> 'payout' ->> 'status',
  'waiting_for_merchant_active',
  'the settlement shows why'
);
insert into tests.refs values ('p6', tests.old_payment(tests.w('merchant_c'), 2000, 10));
select is(
  private.create_settlement(tests.ref('w')::uuid) ->> 'reason', 'merchant_not_active',
  'nor is a batch made'
);
select private.enqueue_settlements();
select is(
  (
    select count(*)::integer from pgmq.q_settlement
    where message -> 'payload' ->> 'wallet_id' = tests.ref('w')
  ), 0, 'pg_cron''s job enqueues nothing for it'
);
update public.merchants set status = 'active', live_enabled = false
where id = tests.w('merchant_c');
select is(
  private.create_settlement(tests.ref('w')::uuid) ->> 'reason', 'merchant_not_live',
  'live money of a merchant that is not live-enabled is not settled'
);
select is(
  private.payout_next(tests.ref('s5')) ->> 'action', 'wait', 'nor paid out'
);
update public.merchants set live_enabled = true
where id = tests.w('merchant_c');

-- 8. A new bank account in its cooling-off: a waiting state, not a failure.
update private.settings set value = '3600'
where key = 'payouts.bank_account_cooling_off_s';
select tests.authenticate_as(tests.w('user_c'));
select lives_ok(
  $$select public.merchant_set_bank_account('C Pvt Ltd', 'ICIC0001234', '998877665544')$$,
  'the owner sets a new account'
);
select tests.clear_authentication();
select is(
  private.payout_next(tests.ref('s5')) ->> 'waiting_for', 'bank_account',
  'once active again the payout waits for the new account'
);
select results_eq(
  $$
    select v -> 'payout' ->> 'status', v -> 'payout' -> 'failure',
      (v -> 'payout' ->> 'usable_from')::timestamptz = (
        select usable_from from public.merchant_bank_accounts
        where merchant_id = tests.w('merchant_c') and status = 'active'
      )
    from (select private.settlement_view(y) as v from public.settlements as y where y.id = tests.ref('s5')) as x
  $$,
  $$ values ('waiting_for_bank_account', 'null'::jsonb, true) $$,
  'shown as waiting_for_bank_account with usable_from, and no failure'
);

-- 10. Holidays: `to` inclusive, from <= to, sane dates.
select tests.authenticate_as(tests.w('admin'));
select lives_ok(
  $$select public.admin_set_settlement_holiday('2026-12-25', 'Christmas')$$, 'a holiday is set'
);
select is(
  public.list_settlement_holidays('2026-12-25', '2026-12-25') -> 'data' -> 0 ->> 'day', '2026-12-25',
  'from = to lists that day'
);
select throws_ok(
  $$select public.list_settlement_holidays('2026-12-26', '2026-12-25')$$, '22023',
  'from must not be after to', 'from after to is refused'
);
select throws_ok(
  $$select public.admin_set_settlement_holiday('1900-01-01', 'too old')$$, '22023', null,
  'a holiday before 2000 is refused'
);
select tests.clear_authentication();

select * from finish();
rollback;
