-- Cancel at the provider and the cascade's own-request failures (cancel_at_provider): cancel
-- refuses while a charge call is in flight and queues a void otherwise, the void's two worker
-- steps apply once and are closed to clients, skipped gateways and invalid requests stay out
-- of gateway figures, and a failed payment reports the most informative failure.
begin;
\ir _helpers.psql
select plan(45);
select tests.make_world();
insert into public.merchant_members (merchant_id, user_id, role)
values (tests.w('merchant_a'), tests.create_user('viewer-a@test.example'), 'viewer');

-- Roles: viewers, other merchants, anon and clients of the worker's functions ---------------
select tests.authenticate_as((
  select id from auth.users
  where email = 'viewer-a@test.example'
));
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', '42501', null,
  'a viewer cannot cancel'
);
select tests.authenticate_as(tests.w('user_b'));
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', 'P0002', null,
  'another merchant''s owner does not see the payment to cancel'
);
select throws_ok(
  'select private.void_target(''att_aaaaaaaaaaaaaaaaaaaa'')', '42501', null,
  'void_target: the worker only'
);
select throws_ok(
  'select private.record_void_result(''att_aaaaaaaaaaaaaaaaaaaa'', ''{"status": "voided"}'')',
  '42501', null, 'record_void_result: the worker only'
);
select throws_ok(
  'select private.payment_failure(''pay_aaaaaaaaaaaaaaaaaaaa'')', '42501', null,
  'payment_failure: not for clients'
);
select throws_ok(
  'select private.classify_provider_error(''razorpay'', ''input_validation_failed'')', '42501',
  null, 'classify_provider_error: not for clients'
);
select tests.as_anon();
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', '42501', null, 'anon: cancel'
);
select throws_ok(
  'select private.void_target(''att_aaaaaaaaaaaaaaaaaaaa'')', '42501', null, 'anon: void_target'
);

-- Cancel while the charge call is in flight: 409, nothing changes ----------------------------
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', 'PGRST',
  '{"code" : "payment_in_flight", "message" : "a charge request to the gateway is in flight or undecided: retry the cancel in a moment", "details" : null, "hint" : null}',
  'an attempt still created: 409 payment_in_flight'
);
select tests.clear_authentication();
update public.payment_attempts set status = 'unknown'
where id = 'att_aaaaaaaaaaaaaaaaaaaa';
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', 'PGRST', null,
  'an attempt left unknown: 409 as well'
);
select tests.clear_authentication();
select results_eq(
  $$select p.status, a.status, a.void_status from public.payments as p
    join public.payment_attempts as a on a.payment_id = p.id
    where p.id = 'pay_aaaaaaaaaaaaaaaaaaaa'$$,
  $$values ('processing'::text, 'unknown'::text, null::text)$$,
  'the refused cancel changed nothing'
);

-- Waiting for the customer: cancelled at once, a void queued once ---------------------------
update public.payment_attempts set status = 'requires_action', provider_order_id = 'ch_1'
where id = 'att_aaaaaaaaaaaaaaaaaaaa';
update public.payments set status = 'requires_action', attempt_count = 1
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select tests.authenticate_as(tests.w('user_a'));
select is(
  public.cancel_payment('pay_aaaaaaaaaaaaaaaaaaaa') ->> 'status', 'cancelled',
  'requires_action: the payment is cancelled at once'
);
select tests.clear_authentication();
select results_eq(
  $$select status, void_status from public.payment_attempts
    where id = 'att_aaaaaaaaaaaaaaaaaaaa'$$,
  $$values ('cancelled'::text, 'requested'::text)$$,
  'its attempt is cancelled and its void requested'
);
select is(
  (
    select count(*)::int from pgmq.q_payment
    where
      message ->> 'key' = 'void:att_aaaaaaaaaaaaaaaaaaaa'
      and message -> 'payload' ->> 'void_attempt_id' = 'att_aaaaaaaaaaaaaaaaaaaa'
  ),
  1, 'one void job, keyed void:<attempt_id>, is on the payment queue'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select public.cancel_payment(''pay_aaaaaaaaaaaaaaaaaaaa'')', 'P0001', null,
  'a second cancel is refused (the payment is cancelled)'
);
select tests.clear_authentication();
select is(
  (
    select count(*)::int from pgmq.q_payment
    where message ->> 'key' like 'void:%'
  ),
  1, 'and queues no second void'
);
select
  ok(
    private.attempt_view(a) ? 'void_status'
    and private.attempt_view(a) ->> 'void_status' = 'requested',
    'the attempt view shows the void'
  )
from public.payment_attempts as a
where a.id = 'att_aaaaaaaaaaaaaaaaaaaa';

-- Processing with no attempt yet: cancelled at once, nothing to void -------------------------
insert into public.payments (id, merchant_id, mode, amount, currency, method)
values ('pay_cccccccccccccccccccc', tests.w('merchant_a'), 'test', 500, 'INR', 'card');
select tests.authenticate_as(tests.w('user_a'));
select is(
  public.cancel_payment('pay_cccccccccccccccccccc') ->> 'status', 'cancelled',
  'no attempt yet: cancelled at once'
);
select tests.clear_authentication();
select tests.as_service_role();
select is(
  private.payment_next_attempt('pay_cccccccccccccccccccc') ->> 'action', 'none',
  'the worker then never charges it'
);
select is(
  (
    select count(*)::int from public.payment_attempts
    where payment_id = 'pay_cccccccccccccccccccc'
  ),
  0, 'no attempt was recorded for it'
);

-- The void's worker steps: applied once --------------------------------------------------------
select is(
  private.void_target('att_aaaaaaaaaaaaaaaaaaaa') ->> 'action', 'none',
  'a gateway without credentials cannot be asked'
);
select results_eq(
  $$select void_status, void_error from public.payment_attempts
    where id = 'att_aaaaaaaaaaaaaaaaaaaa'$$,
  $$values ('failed'::text, 'gateway_archived'::text)$$,
  'so the void is recorded as failed'
);
select is(
  private.record_void_result('att_aaaaaaaaaaaaaaaaaaaa', '{"status": "voided"}') ->> 'outcome',
  'stale', 'a decided void is never changed again'
);
select tests.clear_authentication();
update public.payment_attempts set void_status = 'requested', void_error = null
where id = 'att_aaaaaaaaaaaaaaaaaaaa';
select tests.as_service_role();
select is(
  private.record_void_result(
    'att_aaaaaaaaaaaaaaaaaaaa', '{"status": "retrying", "error_code": "provider_5xx"}'
  ) ->> 'void_status',
  'requested', 'a transient failure keeps the void requested'
);
select is(
  (
    select void_error from public.payment_attempts
    where id = 'att_aaaaaaaaaaaaaaaaaaaa'
  ),
  'provider_5xx', 'and notes the error'
);
select is(
  private.record_void_result('att_aaaaaaaaaaaaaaaaaaaa', '{"status": "voided"}') ->> 'outcome',
  'recorded', 'voided is recorded'
);
select results_eq(
  $$select void_status, voided_at is not null, void_error from public.payment_attempts
    where id = 'att_aaaaaaaaaaaaaaaaaaaa'$$,
  $$values ('voided'::text, true, null::text)$$,
  'with its time and no error'
);
select is(
  private.record_void_result('att_aaaaaaaaaaaaaaaaaaaa', '{"status": "failed"}') ->> 'outcome',
  'stale', 'a redelivered job changes nothing'
);
select throws_ok(
  'select private.record_void_result(''att_aaaaaaaaaaaaaaaaaaaa'', ''{"status": "maybe"}'')',
  '22023', null, 'an unknown void status is refused'
);
select throws_ok(
  'select private.record_void_result(''att_ffffffffffffffffffff'', ''{"status": "voided"}'')',
  'P0002', null, 'an unknown attempt is refused'
);
select throws_ok(
  'select private.void_target(''att_ffffffffffffffffffff'')', 'P0002', null,
  'void_target: unknown attempt'
);
select tests.clear_authentication();
update public.payment_attempts set void_status = 'requested', status = 'succeeded'
where id = 'att_aaaaaaaaaaaaaaaaaaaa';
select tests.as_service_role();
select is(
  private.void_target('att_aaaaaaaaaaaaaaaaaaaa') ->> 'void_status', 'already_paid',
  'an attempt that succeeded meanwhile needs no void: already_paid'
);

-- The error map: which answers are our own request's fault -----------------------------------
select results_eq(
  $$select decision, unified_code, request_error
    from private.classify_provider_error('razorpay', 'input_validation_failed')$$,
  $$values ('next'::text, 'invalid_request'::text, true)$$,
  'a provider''s input validation error is a request error'
);
select results_eq(
  $$select decision, unified_code, request_error
    from private.classify_provider_error('stripe', 'unsupported_request')$$,
  $$values ('next'::text, 'unsupported_request'::text, true)$$,
  'a skipped gateway cascades as unsupported_request'
);
select is(
  (select request_error from private.classify_provider_error('stripe', 'card_declined')),
  false, 'a decline is the gateway''s answer about the payment'
);

-- A skipped gateway and an invalid request stay out of the gateway's figures ----------------
select tests.clear_authentication();
insert into public.payments (id, merchant_id, mode, amount, currency, method, attempt_count)
values ('pay_dddddddddddddddddddd', tests.w('merchant_a'), 'test', 700, 'INR', 'upi', 2);
insert into public.payment_attempts (
  id, payment_id, merchant_id, gateway_id, provider, attempt_no, amount, currency
) values
(
  'att_dddddddddddddddddddd', 'pay_dddddddddddddddddddd', tests.w('merchant_a'),
  tests.w('gateway'), 'razorpay', 1, 700, 'INR'
),
(
  'att_eeeeeeeeeeeeeeeeeeee', 'pay_dddddddddddddddddddd', tests.w('merchant_a'),
  tests.w('gateway'), 'stripe', 2, 700, 'INR'
);
select tests.as_service_role();
select is(
  private.record_attempt_result(
    'att_dddddddddddddddddddd',
    '{"status": "failed", "error_code": "input_validation_failed", "error_message": "The email field is required."}'
  ) ->> 'next',
  'none', 'an earlier attempt''s invalid request: recorded (not the current attempt)'
);
select is(
  private.record_attempt_result(
    'att_eeeeeeeeeeeeeeeeeeee',
    '{"status": "error", "error_code": "unsupported_request", "error_message": "Stripe Checkout needs a return_url (its success_url)"}'
  ) ->> 'next',
  'cascade', 'a skipped gateway cascades'
);
select results_eq(
  $$select error_code, error_message, decision, counts_for_gateway
    from public.payment_attempts where payment_id = 'pay_dddddddddddddddddddd'
    order by attempt_no$$,
  $$values
    ('invalid_request'::text, 'Razorpay refused the request'::text, 'next'::text, false),
    (
      'unsupported_request', 'Stripe Checkout needs a return_url (its success_url)', 'next',
      false
    )$$,
  'both carry a unified code and are left out of the gateway; only our own reason is shown'
);
select is(
  (
    select coalesce(sum(failed), 0)::int from public.gateway_stats_minute
    where gateway_id = tests.w('gateway')
  ),
  0, 'the gateway''s success-rate buckets counted no failure'
);
select tests.clear_authentication(); -- the two helpers run inside the worker's functions
select is(
  private.payment_attempts_used('pay_dddddddddddddddddddd'), 1,
  'a skipped attempt does not count toward max_attempts'
);

-- When the gateways run out, the most informative failure wins ------------------------------
select results_eq(
  $$select code, message from private.payment_failure('pay_dddddddddddddddddddd')$$,
  $$values ('invalid_request'::text, 'Razorpay refused the request'::text)$$,
  'a gateway''s own answer is preferred to a later gateway''s "cannot take this"'
);
select tests.clear_authentication();
update public.payment_attempts set error_code = 'gateway_timeout', error_message = 'slow'
where id = 'att_dddddddddddddddddddd';
select is(
  (select code from private.payment_failure('pay_dddddddddddddddddddd')),
  'gateway_timeout', 'a transport failure is preferred to unsupported_request'
);
select tests.clear_authentication();
update public.payment_attempts set error_code = 'unsupported_request'
where id = 'att_dddddddddddddddddddd';
select results_eq(
  $$select code, message from private.payment_failure('pay_dddddddddddddddddddd')$$,
  $$values ('unsupported_request'::text, 'slow'::text)$$,
  'when every gateway said "cannot take this", the first one'
);
insert into public.merchant_gateways (merchant_id, gateway_id)
values (tests.w('merchant_a'), tests.w('gateway')); -- only the gateway already tried
select tests.as_service_role();
select is(
  private.payment_next_attempt('pay_dddddddddddddddddddd') ->> 'status', 'failed',
  'with no gateway left the payment fails'
);
select is(
  (
    select failure_code from public.payments
    where id = 'pay_dddddddddddddddddddd'
  ),
  'unsupported_request', 'carrying the chosen failure, not no_gateway_available'
);

select * from finish();
rollback;
