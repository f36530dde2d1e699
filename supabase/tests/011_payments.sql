-- Payments: tenant isolation table by table, roles on every RPC, the worker's functions
-- closed to clients, and personal data kept out of audit rows.
begin;
\ir _helpers.psql
select plan(30);
select tests.make_world();
insert into public.refunds (id, payment_id, merchant_id, attempt_id, gateway_id, amount, currency)
values
('rfd_aaaaaaaaaaaaaaaaaaaa', 'pay_aaaaaaaaaaaaaaaaaaaa', tests.w('merchant_a'), 'att_aaaaaaaaaaaaaaaaaaaa', tests.w('gateway'), 1, 'INR'),
('rfd_bbbbbbbbbbbbbbbbbbbb', 'pay_bbbbbbbbbbbbbbbbbbbb', tests.w('merchant_b'), 'att_bbbbbbbbbbbbbbbbbbbb', tests.w('gateway'), 1, 'INR');
insert into public.provider_events (gateway_id, provider, event_id, status, body_bytes)
values (tests.w('gateway'), 'sandbox', 'evt_1', 'received', 0);
insert into public.merchant_gateways (merchant_id, gateway_id)
values (tests.w('merchant_a'), tests.w('gateway'));
update public.payments
set customer_email = 'buyer@example.com', customer_phone = '+919876543210'
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';

-- A member of A --------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select results_eq('select id from public.payments', array['pay_aaaaaaaaaaaaaaaaaaaa'], 'payments: only A''s');
select results_eq(
  'select id from public.payment_attempts', array['att_aaaaaaaaaaaaaaaaaaaa'], 'attempts: only A''s'
);
select results_eq('select id from public.refunds', array['rfd_aaaaaaaaaaaaaaaaaaaa'], 'refunds: only A''s');
select is_empty('select 1 from public.provider_events', 'provider events: admins only');
select is_empty('select 1 from public.provider_error_map', 'the error map: admins only');
select is_empty('select 1 from public.merchant_gateways', 'gateway allowlists: admins only');
select ok((select count(*) from public.currencies) > 150, 'currencies: readable by members');
select throws_ok(
  'update public.payments set amount = 1', '42501', null, 'payments are written only through RPCs'
);
select throws_ok(
  'select public.get_payment(''pay_bbbbbbbbbbbbbbbbbbbb'')', 'P0002', null,
  'B''s payment does not exist for A'
);
select throws_ok(
  'select public.cancel_payment(''pay_bbbbbbbbbbbbbbbbbbbb'')', 'P0002', null,
  'nor can A cancel it'
);
select throws_ok(
  'select public.create_refund(''pay_bbbbbbbbbbbbbbbbbbbb'')', 'P0002', null, 'nor refund it'
);
select throws_ok(
  format('select public.list_payments(%L)', tests.w('merchant_b')), '42501', null,
  'nor list B''s payments'
);
select throws_ok(
  'select public.admin_list_payments()', '42501', null, 'admin_list_payments: admins only'
);
select throws_ok(
  format('select public.admin_set_merchant_live(%L, true)', tests.w('merchant_a')), '42501', null,
  'admin_set_merchant_live: admins only'
);
select throws_ok(
  format('select public.admin_set_merchant_gateways(%L, ''{}'')', tests.w('merchant_a')),
  '42501', null, 'admin_set_merchant_gateways: admins only'
);
select throws_ok(
  'select private.payment_next_attempt(''pay_aaaaaaaaaaaaaaaaaaaa'')', '42501', null,
  'the worker''s functions are closed to clients'
);
select throws_ok(
  'select private.record_provider_event(null, null, null, null, null)', '42501', null,
  'only the adapter records provider events'
);
select throws_ok(
  'select private.gateway_webhook_credentials(null, ''sandbox'')', '42501', null,
  'nor reads webhook credentials'
);

-- A viewer of A reads but does not pay, cancel or refund ------------------------------------
select tests.clear_authentication();
insert into public.merchant_members (merchant_id, user_id, role)
values (tests.w('merchant_a'), tests.create_user('viewer@test.example'), 'viewer');
select tests.authenticate_as((
  select id from auth.users
  where email = 'viewer@test.example'
));
select is(
  public.get_payment('pay_aaaaaaaaaaaaaaaaaaaa') ->> 'id', 'pay_aaaaaaaaaaaaaaaaaaaa',
  'a viewer reads its merchant''s payment'
);
select throws_ok(
  'select public.create_payment(100, ''INR'', ''upi'')', '42501', null, 'a viewer cannot pay'
);
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', '42501', null,
  'a viewer cannot cancel'
);
select throws_ok(
  'select public.create_refund(''pay_aaaaaaaaaaaaaaaaaaaa'')', '42501', null,
  'a viewer cannot refund'
);

-- anon -----------------------------------------------------------------------------------
select tests.as_anon();
select throws_ok('select 1 from public.payments', '42501', null, 'anon: payments');
select throws_ok('select 1 from public.refunds', '42501', null, 'anon: refunds');
select throws_ok('select 1 from public.currencies', '42501', null, 'anon: currencies');
select throws_ok(
  'select public.create_payment(100, ''INR'', ''upi'')', '42501', null, 'anon: create_payment'
);

-- An admin ---------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select is(
  jsonb_array_length(
    public.admin_list_payments(p_merchant_id => tests.w('merchant_b')) -> 'data'
  ),
  1, 'an admin lists any merchant''s payments'
);
select is(
  (select count(*)::int from public.provider_events), 1, 'an admin reads provider events'
);

-- Personal data never reaches audit rows ---------------------------------------------------
select tests.clear_authentication();
select is(
  (
    select count(*)::int from audit.log
    where
      table_name = 'payments'
      and (
        new_values::text like '%buyer@example.com%'
        or new_values::text like '%9876543210%'
      )
  ),
  0, 'customer email and phone are redacted in the audit log'
);
select is(
  (
    select new_values ->> 'customer_email' from audit.log
    where table_name = 'payments' and row_id = 'pay_aaaaaaaaaaaaaaaaaaaa' and action = 'update'
    order by id desc limit 1
  ),
  '[redacted]', 'the audit row keeps that it changed'
);

select * from finish();
rollback;
