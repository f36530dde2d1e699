-- cancel_at_provider: a cancel reaches the provider, and the cascade no longer blames gateways
-- for our own requests (issue 13, QA follow-ups).
--
-- 1. Cancel: while a charge call is in flight or undecided (the latest attempt created or
--    unknown) cancel answers 409 payment_in_flight with Retry-After and changes nothing. An
--    attempt the customer could still pay (requires_action, pending) is cancelled at once and
--    a void job (`void:<attempt_id>` on the payment queue) asks its provider to cancel or
--    expire what it created; the outcome is kept on the attempt (void_status, voided_at,
--    void_error). A provider that says it was already paid sends the worker down the
--    late-success path (the success is recorded and flagged for review).
-- 2. The cascade: an attempt the worker skipped because its gateway cannot take the payment
--    (unsupported_request) and a provider's own "your request is invalid" answer (error map
--    rows with request_error) no longer count against the gateway's success rate, and when
--    every gateway fails the payment carries the most informative failure
--    (private.payment_failure), not the last one.
--
-- migration-lint: allow ban-drop-function: private.classify_provider_error gains a request_error column in its result, which needs a new return type; it is replaced in the same transaction and only private.record_attempt_result (replaced here too) calls it

-- The error map: which codes mean "our request was refused" ----------------------------------
alter table public.provider_error_map
add column request_error boolean not null default false;
comment on column public.provider_error_map.request_error is
$$True when the code means the gateway refused our request as invalid or could not take it
(missing customer data, unsupported method or currency): nothing was attempted, so the attempt
does not count against the gateway's success rate.$$;

-- The provider's own "invalid request" answers (Razorpay input_validation_failed /
-- BAD_REQUEST_ERROR: razorpay.com/docs/errors/; Stripe invalid_request_error and parameter_*:
-- docs.stripe.com/error-codes; Cashfree request_failed / request_invalid:
-- cashfree.com/docs/api-reference/payments/errors; the sandbox's invalid_request).
update public.provider_error_map set
  request_error = true, unified_code = 'invalid_request'
where (provider, code) in (
  ('razorpay', 'BAD_REQUEST_ERROR'), ('razorpay', 'input_validation_failed'),
  ('stripe', 'invalid_request_error'), ('stripe', 'parameter_missing'),
  ('stripe', 'parameter_invalid_integer'), ('cashfree', 'request_failed'),
  ('cashfree', 'request_invalid'), ('sandbox', 'invalid_request')
);
update public.provider_error_map set request_error = true
where (provider, code) in (
  ('paytm', '330'), ('paytm', '400'), ('phonepe', 'BAD_REQUEST'), ('payu', 'request_refused')
);
-- What a client refuses before sending anything (the gateway cannot take this payment): the
-- next gateway may, so these cascade, and say so with one unified code.
update public.provider_error_map set
  request_error = true, unified_code = 'unsupported_request', decision = 'next'
where (provider, code) in (
  ('stripe', 'return_url_required'), ('stripe', 'payment_method_not_supported'),
  ('cashfree', 'customer_phone_required'), ('cashfree', 'unsupported_currency'),
  ('*', 'customer_phone_required'), ('*', 'payment_method_not_supported'),
  ('*', 'unsupported_currency'), ('*', 'return_url_required'), ('*', 'missing_return_url')
);
insert into public.provider_error_map (
  provider, code, decision, unified_code, message, request_error
) values
(
  '*', 'unsupported_request', 'next', 'unsupported_request',
  'the gateway cannot take this payment', true
),
(
  '*', 'currency_unsupported', 'next', 'unsupported_request',
  'the gateway does not take this currency', true
),
('sandbox', 'canceled', 'fail', 'cancelled', 'the charge was cancelled', false)
on conflict (provider, code) do nothing;

drop function private.classify_provider_error(text, text);
create function private.classify_provider_error(p_provider text, p_code text)
returns table (decision text, unified_code text, message text, request_error boolean)
language sql stable
set search_path = ''
as $$
  select coalesce(e.decision, 'fail'), coalesce(e.unified_code, 'provider_declined'),
    coalesce(e.message, 'the gateway declined the payment'), coalesce(e.request_error, false)
  from (select 1) as one
  left join lateral (
    select x.decision, x.unified_code, x.message, x.request_error
    from public.provider_error_map as x
    where x.code = coalesce(p_code, '') and x.provider in (p_provider, '*')
    order by x.provider = '*'
    limit 1
  ) as e on true
$$;
comment on function private.classify_provider_error(text, text) is
$$The error map's verdict for a provider's code (its own row first, then '*'), and whether the
code means our request was refused (request_error); unmapped codes fail as
provider_declined.$$;

-- Attempts: the void's outcome, and whether the outcome counts for the gateway ---------------
alter table public.payment_attempts
add column void_status text constraint payment_attempts_void_status_check check (
  void_status in ('requested', 'voided', 'not_supported', 'already_paid', 'failed')
),
add column voided_at timestamptz,
add column void_error text constraint payment_attempts_void_error_check check (
  char_length(void_error) <= 200
),
add column counts_for_gateway boolean not null default true;
comment on column public.payment_attempts.void_status is
$$After a cancel, what the provider did with what this attempt created: requested (the void
job has not finished), voided (the provider cancelled or expired it: nothing can be paid
there), not_supported (the provider has no such API: a late success is still caught and
flagged), already_paid (the customer paid first: the success is recorded and flagged),
failed (the provider refused; a late success is still caught). Null: never cancelled.$$;
comment on column public.payment_attempts.voided_at is
$$When the provider confirmed the void (void_status voided).$$;
comment on column public.payment_attempts.void_error is
$$The provider's (or transport) error code of the last void call that did not succeed.$$;
comment on column public.payment_attempts.counts_for_gateway is
$$False when the attempt failed on our own request (the worker skipped a gateway that cannot
take the payment, or the provider refused the request as invalid): it is left out of the
gateway's success rate.$$;

-- Gateway figures leave out what was not the gateway's doing ---------------------------------
create or replace function private.attempt_outcome_buckets() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  b integer := case when new.provider_latency_ms is not null
    then private.latency_bucket(new.provider_latency_ms) else 0 end;
  ok boolean := new.status = 'succeeded';
begin
  if new.status not in ('succeeded', 'failed') then
    return null;
  end if;
  if tg_op = 'UPDATE' and old.status in ('succeeded', 'failed') then
    return null;
  end if;
  if not new.counts_for_gateway then
    return null; -- our request was refused or skipped: not the gateway's outcome
  end if;
  insert into public.gateway_stats_minute as s (
    gateway_id, minute, succeeded, failed, volume, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10,
    h11, h12, h13, h14
  ) values (
    new.gateway_id, date_trunc('minute', now()), ok::integer, (not ok)::integer,
    case when ok then new.amount else 0 end, (b = 1)::integer, (b = 2)::integer,
    (b = 3)::integer, (b = 4)::integer, (b = 5)::integer, (b = 6)::integer, (b = 7)::integer,
    (b = 8)::integer, (b = 9)::integer, (b = 10)::integer, (b = 11)::integer,
    (b = 12)::integer, (b = 13)::integer, (b = 14)::integer
  )
  on conflict (gateway_id, minute) do update set
    succeeded = s.succeeded + excluded.succeeded,
    failed = s.failed + excluded.failed,
    volume = s.volume + excluded.volume,
    h1 = s.h1 + excluded.h1,
    h2 = s.h2 + excluded.h2,
    h3 = s.h3 + excluded.h3,
    h4 = s.h4 + excluded.h4,
    h5 = s.h5 + excluded.h5,
    h6 = s.h6 + excluded.h6,
    h7 = s.h7 + excluded.h7,
    h8 = s.h8 + excluded.h8,
    h9 = s.h9 + excluded.h9,
    h10 = s.h10 + excluded.h10,
    h11 = s.h11 + excluded.h11,
    h12 = s.h12 + excluded.h12,
    h13 = s.h13 + excluded.h13,
    h14 = s.h14 + excluded.h14;
  insert into public.gateway_stats_hour as s (gateway_id, hour, succeeded, failed, volume)
  values (
    new.gateway_id, date_trunc('hour', now()), ok::integer, (not ok)::integer,
    case when ok then new.amount else 0 end
  )
  on conflict (gateway_id, hour) do update set
    succeeded = s.succeeded + excluded.succeeded,
    failed = s.failed + excluded.failed,
    volume = s.volume + excluded.volume;
  return null;
end
$$;
comment on function private.attempt_outcome_buckets() is
$$Trigger: counts an attempt's first outcome (succeeded / failed, volume in minor units,
provider latency bucket when known) into gateway_stats_minute and gateway_stats_hour; an
attempt that failed on our own request (counts_for_gateway false) is left out.$$;

-- The cascade's failure rule -------------------------------------------------------------------
create function private.payment_failure(
  p_payment_id text, out code text, out message text
)
language sql stable
set search_path = ''
as $$
  select a.error_code, a.error_message
  from public.payment_attempts as a
  where a.payment_id = p_payment_id and a.status = 'failed' and a.error_code is not null
  order by
    case
      when a.error_code = 'unsupported_request' then 2
      when a.error_code like 'gateway\_%' then 1
      else 0
    end,
    a.attempt_no
  limit 1
$$;
comment on function private.payment_failure(text) is
$$When every gateway failed, the failure the payment reports: the first attempt (in attempt
order) whose gateway answered about the payment itself (a decline, an invalid request); else
the first transport failure (gateway_* codes: timeout, unreachable, 5xx, rate limited,
credentials); else the first unsupported_request (a gateway that could not take it). Null
when no attempt failed.$$;

create function private.payment_attempts_used(p_payment_id text) returns integer
language sql stable
set search_path = ''
as $$
  select count(*)::integer from public.payment_attempts as a
  where a.payment_id = p_payment_id and a.error_code is distinct from 'unsupported_request'
$$;
comment on function private.payment_attempts_used(text) is
$$Attempts that count toward payments.max_attempts: every attempt except those the worker
skipped without calling the gateway (unsupported_request).$$;

create or replace function private.payment_next_attempt(p_payment_id text) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  p public.payments;
  a public.payment_attempts;
  last public.payment_attempts;
  c record;
  f record;
  tries integer := 0;
  max_attempts integer := (private.setting('payments.max_attempts'))::integer;
  max_same integer := (private.setting('payments.max_same_gateway_retries'))::integer;
  target jsonb;
begin
  select * into p from public.payments as x where x.id = p_payment_id for update;
  if not found or p.status <> 'processing' then
    return jsonb_build_object('action', 'none', 'status', p.status);
  end if;
  select * into last from public.payment_attempts as x
  where x.payment_id = p.id order by x.attempt_no desc limit 1;
  if found and last.status in ('created', 'unknown') then
    target := private.charge_target(last.gateway_id);
    if target is not null then
      return jsonb_build_object(
        'action', 'charge', 'resume', true, 'request', private.charge_request(p, last),
        'target', target
      );
    end if;
    update public.payment_attempts as x set status = 'failed', error_code = 'gateway_archived',
      error_message = 'the gateway was archived', decision = 'next'
    where x.id = last.id
    returning * into last;
  elsif found and last.status in ('requires_action', 'pending') then
    return jsonb_build_object('action', 'none', 'status', p.status, 'waiting_on', last.id);
  end if;
  if private.payment_attempts_used(p.id) >= max_attempts then
    select * into f from private.payment_failure(p.id);
    p := private.fail_payment(
      p, coalesce(f.code, 'attempts_exhausted'),
      coalesce(f.message, 'no gateway could complete the payment')
    );
    return jsonb_build_object('action', 'none', 'status', p.status);
  end if;
  for c in
    select r.gateway_id, r.provider
    from private.route_gateways(
      p.amount, p.currency, p.method, p.region, p.mode, p.merchant_id
    ) as r
  loop
    -- A gateway is tried once, unless its provider asked for a retry (a few times at most).
    if exists (select 1 from public.payment_attempts as x
      where x.payment_id = p.id and x.gateway_id = c.gateway_id)
      and not (
        last.decision = 'retry' and last.gateway_id = c.gateway_id
        and (select count(*) from public.payment_attempts as x
          where x.payment_id = p.id and x.gateway_id = c.gateway_id) <= max_same
      ) then
      continue;
    end if;
    target := private.charge_target(c.gateway_id);
    continue when target is null;
    begin
      insert into public.payment_attempts (
        payment_id, merchant_id, gateway_id, provider, attempt_no, amount, currency
      ) values (
        p.id, p.merchant_id, c.gateway_id, c.provider, p.attempt_count + 1, p.amount, p.currency
      ) returning * into a;
      exit;
    exception when sqlstate 'P0001' then
      tries := tries + 1; -- its daily limit filled up since routing looked: the next one
    end;
  end loop;
  if a.id is null then
    select * into f from private.payment_failure(p.id);
    p := private.fail_payment(
      p, coalesce(f.code, 'no_gateway_available'),
      case when f.code is null
        then 'no active gateway takes this payment (mode, currency, method, amount, region or daily limits)'
        else coalesce(f.message, 'no gateway could complete the payment') end
    );
    return jsonb_build_object('action', 'none', 'status', p.status);
  end if;
  update public.payments as x set attempt_count = a.attempt_no, gateway_id = a.gateway_id,
    provider = a.provider
  where x.id = p.id
  returning * into p;
  return jsonb_build_object(
    'action', 'charge', 'resume', false, 'request', private.charge_request(p, a),
    'target', target
  );
end
$$;
comment on function private.payment_next_attempt(text) is
$$service_role (the worker): the next charge step for a processing payment. Resumes an attempt
left created/unknown (look it up first), or records a new attempt on the best untried
candidate (a gateway is retried only when its provider asked, at most
payments.max_same_gateway_retries times), or fails the payment when nothing is left, with the
failure private.payment_failure chooses. Attempts skipped as unsupported_request do not count
toward payments.max_attempts. Returns {action: none|charge, resume, request, target}.$$;

create or replace function private.record_attempt_result(p_attempt_id text, p_result jsonb)
returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  a public.payment_attempts;
  p public.payments;
  v_status text := p_result ->> 'status';
  v_amount bigint := (p_result ->> 'amount')::bigint;
  v_currency text := upper(p_result ->> 'currency');
  verdict record;
  f record;
  v_message text;
  is_current boolean;
  window_s integer := (private.setting('payments.action_window_s'))::integer;
  first_check integer := (private.setting('payments.check_schedule_s') ->> 0)::integer;
  other_capture text;
  next_step text := 'none';
begin
  select * into a from public.payment_attempts as x where x.id = p_attempt_id;
  if not found then
    raise exception 'attempt % does not exist', p_attempt_id using errcode = 'P0002';
  end if;
  select * into p from public.payments as x where x.id = a.payment_id for update;
  select * into a from public.payment_attempts as x where x.id = p_attempt_id for update;
  is_current := a.attempt_no = p.attempt_count and p.status in ('processing', 'requires_action');
  update public.payment_attempts as x set
    provider_order_id = coalesce(p_result ->> 'provider_order_id', x.provider_order_id),
    provider_payment_id = coalesce(p_result ->> 'provider_payment_id', x.provider_payment_id),
    http_status = coalesce((p_result ->> 'http_status')::integer, x.http_status),
    provider_latency_ms = coalesce(
      nullif((p_result ->> 'latency_ms')::integer, 0), x.provider_latency_ms
    )
  where x.id = a.id
  returning * into a;

  if v_status = 'succeeded' then
    if (v_amount is not null and v_amount <> a.amount)
      or (v_currency is not null and v_currency <> a.currency) then
      update public.payment_attempts as x set review_reason = format(
        'the provider reported a success for %s %s, not %s %s: not applied',
        v_amount, v_currency, a.amount, a.currency
      ) where x.id = a.id;
      update public.payments as x set review_reason = format(
        'attempt %s: the provider reported a success for %s %s, not %s %s (not applied)',
        a.id, v_amount, v_currency, a.amount, a.currency
      ) where x.id = p.id;
      return jsonb_build_object('outcome', 'flagged', 'next', 'none', 'payment_status', p.status);
    end if;
    if a.status <> 'succeeded' then
      update public.payment_attempts as x set status = 'succeeded', error_code = null,
        error_message = null, decision = null, next_action = null
      where x.id = a.id;
    end if;
    if p.status in ('processing', 'requires_action', 'failed', 'expired', 'cancelled') then
      update public.payments as x set status = 'succeeded', amount_captured = p.amount,
        gateway_id = a.gateway_id, provider = a.provider, failure_code = null,
        failure_message = null,
        review_reason = case when p.status = 'cancelled' then
          'succeeded after it was cancelled: refund it if the customer should not pay'
          else x.review_reason end
      where x.id = p.id
      returning * into p;
    else
      select x.id into other_capture from public.payment_attempts as x
      where x.payment_id = p.id and x.status = 'succeeded' and x.id <> a.id limit 1;
      if other_capture is not null then
        update public.payments as x set review_reason = format(
          'captured twice: attempts %s and %s both succeeded; refund one', other_capture, a.id
        ) where x.id = p.id;
        return jsonb_build_object(
          'outcome', 'flagged', 'next', 'none', 'payment_status', p.status
        );
      end if;
    end if;
    return jsonb_build_object('outcome', 'succeeded', 'next', 'none', 'payment_status', p.status);
  end if;

  if a.status = 'succeeded' or (a.status in ('failed', 'cancelled') and v_status <> 'succeeded') then
    return jsonb_build_object('outcome', 'stale', 'next', 'none', 'payment_status', p.status);
  end if;

  if v_status in ('failed', 'error', 'not_found') then
    select * into verdict from private.classify_provider_error(
      a.provider, coalesce(p_result ->> 'error_code', case when v_status = 'not_found' then 'not_found' end)
    );
    -- The reason a gateway was skipped is ours (the client's requirements): say it. A
    -- provider's own message stays out (it may echo what the customer typed).
    v_message := case when verdict.unified_code = 'unsupported_request'
      then coalesce(p_result ->> 'error_message', verdict.message) else verdict.message end;
    update public.payment_attempts as x set status = 'failed',
      provider_error_code = left(p_result ->> 'error_code', 200),
      error_code = verdict.unified_code,
      error_message = left(v_message, 500),
      decision = verdict.decision, next_action = null,
      counts_for_gateway = not verdict.request_error
    where x.id = a.id
    returning * into a;
    if is_current then
      if verdict.decision = 'fail' then
        p := private.fail_payment(p, verdict.unified_code, v_message);
      elsif private.payment_attempts_used(p.id)
        >= (private.setting('payments.max_attempts'))::integer then
        select * into f from private.payment_failure(p.id);
        p := private.fail_payment(p, f.code, f.message);
      else
        if p.status = 'requires_action' then
          update public.payments as x set status = 'processing' where x.id = p.id
          returning * into p;
        end if;
        next_step := case verdict.decision when 'retry' then 'retry' else 'cascade' end;
      end if;
    end if;
    return jsonb_build_object(
      'outcome', 'failed', 'next', next_step, 'payment_status', p.status,
      'error', verdict.unified_code
    );
  end if;

  if v_status = 'requires_action' then
    update public.payment_attempts as x set status = 'requires_action',
      next_action = p_result -> 'next_action'
    where x.id = a.id;
    if is_current and p.status = 'processing' then
      update public.payments as x set status = 'requires_action',
        next_action = p_result -> 'next_action',
        action_expires_at = now() + make_interval(secs => window_s),
        next_check_at = now() + make_interval(secs => first_check), check_count = 0
      where x.id = p.id
      returning * into p;
    end if;
    return jsonb_build_object(
      'outcome', 'requires_action', 'next', 'none', 'payment_status', p.status
    );
  end if;

  if v_status = 'pending' then
    if a.status <> 'pending' then
      update public.payment_attempts as x set status = 'pending' where x.id = a.id;
    end if;
    return jsonb_build_object('outcome', 'pending', 'next', 'none', 'payment_status', p.status);
  end if;

  if v_status = 'unknown' then
    if a.status <> 'unknown' then
      update public.payment_attempts as x set status = 'unknown',
        provider_error_code = left(p_result ->> 'error_code', 200)
      where x.id = a.id;
    end if;
    return jsonb_build_object(
      'outcome', 'unknown', 'next', case when is_current then 'retry' else 'none' end,
      'payment_status', p.status
    );
  end if;
  raise exception 'result status % is not one of succeeded, failed, error, not_found, requires_action, pending, unknown',
    coalesce(v_status, 'null') using errcode = '22023';
end
$$;
comment on function private.record_attempt_result(text, jsonb) is
$$service_role (the worker): applies a provider's answer ({status, provider ids, amount,
currency, error_code, error_message, next_action, http_status, latency_ms}) to an attempt and
its payment through the error map; a success for another amount or currency is flagged, not
applied; a late success is accepted; nothing moves backwards. A failure on our own request
(unsupported_request, or a code the map marks request_error) does not count for the gateway;
when the gateways run out the payment takes private.payment_failure's choice. Returns
{outcome, next: none|cascade|retry, payment_status}. 22023 unknown status; P0002 unknown
attempt.$$;

-- Cancel: refuse while a charge call is in flight, void what the customer could still pay ---
create or replace function private.cancel_payment(p_payment_id text, p_idempotency_key text)
returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  p public.payments := private.payment_for(
    p_payment_id, '{owner,developer,api_key}', 'cancel payments', true
  );
  request jsonb := jsonb_build_object('payment_id', p_payment_id);
  replay jsonb;
  last public.payment_attempts;
  x record;
begin
  replay := private.idempotency_replay(
    'cancel_payment', p_idempotency_key, request, p.merchant_id
  );
  if replay is not null then
    return replay;
  end if;
  if p.status not in ('created', 'processing', 'requires_action') then
    raise exception 'payment % is %: only created, processing or requires_action payments can be cancelled',
      p.id, p.status using errcode = 'P0001';
  end if;
  select * into last from public.payment_attempts as a
  where a.payment_id = p.id order by a.attempt_no desc limit 1;
  if found and last.status in ('created', 'unknown') then
    -- The gateway may be creating the charge right now: a cancel here could not reach what
    -- it creates. Nothing changes; the caller retries once the call has settled.
    perform private.raise_http(
      409, 'payment_in_flight',
      'a charge request to the gateway is in flight or undecided: retry the cancel in a moment',
      '{"Retry-After": "2"}'
    );
  end if;
  for x in
    update public.payment_attempts as a set
      status = 'cancelled',
      void_status = case when a.status in ('requires_action', 'pending') then 'requested' end
    where a.payment_id = p.id and a.status in ('created', 'requires_action', 'pending', 'unknown')
    returning a.id, a.void_status
  loop
    if x.void_status = 'requested' then
      perform private.enqueue(
        'payment', jsonb_build_object('void_attempt_id', x.id), 0, 'void:' || x.id
      );
    end if;
  end loop;
  update public.payments as y set
    status = 'cancelled', failure_code = 'cancelled', failure_message = 'cancelled by the merchant'
  where y.id = p.id
  returning * into p;
  return private.idempotency_store(
    'cancel_payment', p_idempotency_key, request, private.payment_view(p), p.merchant_id
  );
end
$$;
comment on function private.cancel_payment(text, text) is
$$Cancels a payment that has not completed; see public.cancel_payment. Open attempts the
customer could still pay are voided at their provider by a queued job (void:<attempt_id>).$$;

comment on function public.cancel_payment(text, text) is
$$Cancels a payment while it is created, processing or requires_action. Refused with 409
payment_in_flight (Retry-After: 2, nothing changed) while a charge request to a gateway is in
flight or undecided. Otherwise the payment is cancelled at once, its open attempts release
their gateway reservation, and an attempt the customer could still pay (requires_action,
pending) gets a void job that asks its provider to cancel or expire it (the attempt's
void_status says what happened). A provider's later success is still recorded (late_success,
review_reason) so it can be refunded.
Who: the merchant's owners and developers and its API keys; viewers get 42501.
Returns: the payment snapshot (status cancelled).
Errors: P0002 unknown payment; 42501 role; P0001 the payment already completed; PGRST 409
payment_in_flight; PGRST 422 / 409 idempotency.$$;

-- The void job's two steps (the worker, service_role) -----------------------------------------
create function private.void_target(p_attempt_id text) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  a public.payment_attempts;
  p public.payments;
  target jsonb;
begin
  select * into a from public.payment_attempts as x where x.id = p_attempt_id for update;
  if not found then
    raise exception 'attempt % does not exist', p_attempt_id using errcode = 'P0002';
  end if;
  if a.void_status is distinct from 'requested' then
    return jsonb_build_object('action', 'none', 'void_status', a.void_status);
  end if;
  if a.status = 'succeeded' then
    -- The customer paid before the provider heard of the cancel, and its success was already
    -- recorded (a webhook or a check): there is nothing left to void.
    update public.payment_attempts as x set void_status = 'already_paid'
    where x.id = a.id;
    return jsonb_build_object('action', 'none', 'void_status', 'already_paid');
  end if;
  target := private.charge_target(a.gateway_id);
  if target is null then
    update public.payment_attempts as x set void_status = 'failed',
      void_error = 'gateway_archived'
    where x.id = a.id;
    return jsonb_build_object('action', 'none', 'void_status', 'failed');
  end if;
  select * into p from public.payments as x where x.id = a.payment_id;
  return jsonb_build_object(
    'action', 'void', 'void_status', a.void_status, 'request', private.charge_request(p, a),
    'target', target
  );
end
$$;
comment on function private.void_target(text) is
$$service_role (the worker's void job): for an attempt whose void was requested, what to ask
its provider ({action: void, request, target}); {action: none} once the void is decided, when
the attempt succeeded meanwhile (recorded as already_paid) or when its gateway was archived
(recorded as failed). P0002 unknown attempt.$$;

create function private.record_void_result(p_attempt_id text, p_result jsonb) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  a public.payment_attempts;
  v_status text := p_result ->> 'status';
begin
  if v_status is null
    or v_status not in ('voided', 'not_supported', 'already_paid', 'failed', 'retrying') then
    raise exception 'void result % is not one of voided, not_supported, already_paid, failed, retrying',
      coalesce(v_status, 'null') using errcode = '22023';
  end if;
  select * into a from public.payment_attempts as x where x.id = p_attempt_id for update;
  if not found then
    raise exception 'attempt % does not exist', p_attempt_id using errcode = 'P0002';
  end if;
  if a.void_status is distinct from 'requested' then
    return jsonb_build_object('outcome', 'stale', 'void_status', a.void_status);
  end if;
  update public.payment_attempts as x set
    void_status = case when v_status = 'retrying' then 'requested' else v_status end,
    voided_at = case when v_status = 'voided' then now() end,
    void_error = case when v_status in ('voided', 'already_paid') then null
      else left(p_result ->> 'error_code', 200) end
  where x.id = a.id
  returning * into a;
  return jsonb_build_object(
    'outcome', case when v_status = 'retrying' then 'retrying' else 'recorded' end,
    'void_status', a.void_status
  );
end
$$;
comment on function private.record_void_result(text, jsonb) is
$$service_role (the worker's void job): records what the provider answered to a void
({status: voided|not_supported|already_paid|failed|retrying, error_code}); retrying keeps the
void requested and notes the error. Applied once: an attempt whose void is already decided
is left alone ({outcome: stale}). 22023 unknown status; P0002 unknown attempt.$$;

-- The attempt as the API shows it: now with the void -------------------------------------------
create or replace function private.attempt_view(a public.payment_attempts) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', a.id, 'object', 'payment_attempt', 'attempt', a.attempt_no, 'status', a.status,
    'gateway_id', a.gateway_id, 'provider', a.provider,
    'provider_order_id', a.provider_order_id, 'provider_payment_id', a.provider_payment_id,
    'error', case when a.error_code is not null or a.provider_error_code is not null then
      jsonb_build_object(
        'code', a.error_code, 'provider_code', a.provider_error_code,
        'message', a.error_message, 'decision', a.decision
      ) end,
    'latency_ms', a.provider_latency_ms, 'review_reason', a.review_reason,
    'void_status', a.void_status, 'voided_at', a.voided_at, 'void_error', a.void_error,
    'created_at', a.created_at, 'completed_at', a.completed_at
  )
$$;
comment on function private.attempt_view(public.payment_attempts) is
$$An attempt as the API shows it (no secrets; provider ids and error codes only), with the
void's outcome after a cancel (void_status, voided_at, void_error).$$;

-- Grants: the worker only ---------------------------------------------------------------------
revoke execute on function private.classify_provider_error(text, text),
private.payment_failure(text), private.payment_attempts_used(text),
private.void_target(text), private.record_void_result(text, jsonb)
from public, anon, authenticated;
grant execute on function private.classify_provider_error(text, text),
private.void_target(text), private.record_void_result(text, jsonb)
to service_role;
