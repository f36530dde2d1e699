-- Payments processing, the worker's side: the error map that decides what a failure means,
-- the charging steps (next attempt, record a result, cascade), provider webhooks stored and
-- applied through the queue, reconciliation and expiry driven by pg_cron, and refunds.
-- Everything here runs as service_role (the worker, the adapter's trusted webhook route).

-- The error map (Hyperswitch's GSM idea): (provider, code) -> retry on the same gateway
-- later, try the next gateway now, or fail; with our unified code and message. Provider '*'
-- holds the transport outcomes every client reports (payments.py). Sources per provider:
-- sandbox: edge_adapter/gateways/sandbox.py (ours); razorpay: razorpay.com/docs/errors/ and
-- .../s2s-integration/payment-methods/upi/error-codes/; cashfree:
-- cashfree.com/docs/payments/manage/payment-methods/upi-error-codes and
-- cashfree.com/docs/api-reference/payments/errors; payu: docs.payu.in/docs/error-codes and
-- docs.payu.in/reference/issuer-decline-error-codes; phonepe:
-- developer.phonepe.com/payment-gateway/error-codes; paytm:
-- paytmpayments.com/docs/response-codes; stripe: docs.stripe.com/error-codes and
-- docs.stripe.com/declines/codes.
create table public.provider_error_map (
  provider text not null check (
    provider in ('*', 'sandbox', 'razorpay', 'cashfree', 'payu', 'phonepe', 'paytm', 'stripe')
  ),
  code text not null check (char_length(code) between 1 and 200),
  decision text not null check (decision in ('retry', 'next', 'fail')),
  unified_code text not null check (unified_code ~ '^[a-z][a-z0-9_]*$'),
  message text not null check (char_length(message) between 1 and 300),
  created_at timestamptz not null default now(),
  primary key (provider, code)
);
alter table public.provider_error_map enable row level security;
create policy provider_error_map_admin_read on public.provider_error_map
for select to authenticated using ((select private.is_admin()));
revoke all on public.provider_error_map from public, anon, authenticated;
grant select on public.provider_error_map to authenticated;
grant select, insert, update, delete on public.provider_error_map to service_role;
create trigger audit_provider_error_map after insert or update or delete on public.provider_error_map
for each row execute function audit.record_change('provider,code');
comment on table public.provider_error_map is
$$What a provider's error code means for a payment: decision retry (same gateway, later), next
(next gateway, now) or fail (stop; the customer's problem), with our unified code and
message. Provider '*' covers transport outcomes. Unmapped codes fail as provider_declined.
Who reads: admins; written by migrations (operators may tune rows as service_role).$$;

insert into public.provider_error_map (provider, code, decision, unified_code, message) values
('*', 'unreachable', 'next', 'gateway_unreachable', 'the gateway could not be reached'),
('*', 'timeout', 'next', 'gateway_timeout', 'the gateway did not answer in time'),
('*', 'connection_lost', 'next', 'gateway_error', 'the connection to the gateway broke'),
('*', 'provider_5xx', 'next', 'gateway_error', 'the gateway had an internal error'),
('*', 'rate_limited', 'next', 'gateway_rate_limited', 'the gateway is rate limiting us'),
('*', 'auth_failed', 'next', 'gateway_misconfigured', 'the gateway refused our credentials'),
('*', 'unexpected_response', 'next', 'gateway_error', 'the gateway answered something we did not understand'),
('*', 'not_found', 'next', 'gateway_error', 'the gateway has no record of the attempt'),
('*', 'lookup_incomplete', 'retry', 'gateway_error', 'the gateway could not be searched for the attempt yet'),
('*', 'token_unavailable', 'next', 'gateway_misconfigured', 'the gateway did not issue an access token'),
('*', 'unsupported_currency', 'next', 'unsupported_currency', 'the gateway does not take this currency'),
('*', 'payment_method_not_supported', 'next', 'payment_method_not_supported', 'the gateway does not take this payment method'),
('*', 'customer_phone_required', 'next', 'customer_phone_required', 'the gateway needs the customer''s phone number'),
('*', 'return_url_required', 'fail', 'return_url_required', 'the payment needs a return_url'),
('*', 'missing_return_url', 'fail', 'return_url_required', 'the payment needs a return_url'),
('sandbox', 'amount_exceeds_refundable', 'fail', 'refund_exceeds_captured', 'the refund is larger than what is left to refund'),
('sandbox', 'charge_not_refundable', 'fail', 'not_refundable', 'the charge was not captured'),
('sandbox', 'expired', 'fail', 'expired', 'the customer did not complete the payment in time'),
('sandbox', 'insufficient_funds', 'fail', 'insufficient_funds', 'insufficient funds'),
('sandbox', 'invalid_request', 'next', 'provider_error', 'the sandbox rejected the request'),
('sandbox', 'invalid_vpa', 'fail', 'invalid_vpa', 'the UPI ID is not valid'),
('sandbox', 'not_found', 'fail', 'not_found', 'the sandbox has no such object'),
('sandbox', 'payment_declined', 'fail', 'bank_declined', 'the payment was declined'),
('razorpay', 'BAD_REQUEST_ERROR', 'next', 'provider_error', 'Razorpay refused the request'),
('razorpay', 'GATEWAY_ERROR', 'next', 'provider_error', 'the payment gateway had an error'),
('razorpay', 'SERVER_ERROR', 'retry', 'provider_error', 'Razorpay had an internal error'),
('razorpay', 'authentication_failed', 'fail', 'authentication_failed', 'authentication failed'),
('razorpay', 'authorisation_declined_by_psp', 'fail', 'bank_declined', 'the UPI app declined the payment'),
('razorpay', 'bank_technical_error', 'next', 'provider_error', 'the bank had a technical error'),
('razorpay', 'cancelled', 'fail', 'cancelled', 'the payment link was cancelled'),
('razorpay', 'expired', 'fail', 'expired', 'the payment link expired'),
('razorpay', 'gateway_technical_error', 'next', 'provider_error', 'the payment gateway had an error'),
('razorpay', 'incorrect_pin', 'fail', 'authentication_failed', 'the customer entered a wrong UPI PIN'),
('razorpay', 'input_validation_failed', 'next', 'provider_error', 'Razorpay refused the request'),
('razorpay', 'insufficient_funds', 'fail', 'insufficient_funds', 'insufficient funds'),
('razorpay', 'invalid_vpa', 'fail', 'invalid_vpa', 'the UPI ID is not valid'),
('razorpay', 'payment_cancelled', 'fail', 'cancelled', 'the customer cancelled the payment'),
('razorpay', 'payment_declined', 'fail', 'bank_declined', 'the customer''s bank declined the payment'),
('razorpay', 'payment_failed', 'fail', 'bank_declined', 'the payment failed'),
('razorpay', 'payment_risk_check_failed', 'fail', 'risk_declined', 'Razorpay''s risk check declined it'),
('razorpay', 'payment_timed_out', 'fail', 'expired', 'the customer did not approve in time'),
('razorpay', 'server_error', 'retry', 'provider_error', 'Razorpay had an internal error'),
('razorpay', 'transaction_limit_exceeded', 'fail', 'limit_exceeded', 'a transaction limit was exceeded'),
('cashfree', 'AUTHENTICATION_FAILED', 'fail', 'authentication_failed', 'authentication failed'),
('cashfree', 'AUTHORIZATION_DECLINED', 'fail', 'bank_declined', 'authorisation was declined'),
('cashfree', 'BANK_PROCESSING_FAILURE', 'next', 'provider_error', 'the bank could not process it'),
('cashfree', 'CANCELLED', 'fail', 'cancelled', 'the payment link was cancelled'),
('cashfree', 'EXPIRED', 'fail', 'expired', 'the order or link expired'),
('cashfree', 'INSUFFICIENT_FUNDS', 'fail', 'insufficient_funds', 'insufficient funds'),
('cashfree', 'INVALID_VPA', 'fail', 'invalid_vpa', 'the UPI ID is not valid'),
('cashfree', 'PAYMENT_GATEWAY_ERROR', 'next', 'provider_error', 'the payment gateway had an error'),
('cashfree', 'RISK_DECLINED', 'fail', 'risk_declined', 'Cashfree''s risk checks declined it'),
('cashfree', 'TERMINATED', 'fail', 'cancelled', 'the order was terminated'),
('cashfree', 'TRANSACTION_DECLINED', 'fail', 'bank_declined', 'the bank or UPI app declined it'),
('cashfree', 'USER_DROPPED', 'fail', 'cancelled', 'the customer left without paying'),
('cashfree', 'customer_phone_required', 'next', 'provider_error', 'Cashfree needs the customer''s phone'),
('cashfree', 'payment_not_captured', 'fail', 'not_refundable', 'nothing was captured to refund'),
('cashfree', 'request_failed', 'next', 'provider_error', 'Cashfree refused the request'),
('cashfree', 'request_invalid', 'next', 'provider_error', 'Cashfree refused the request'),
('cashfree', 'unsupported_currency', 'next', 'provider_error', 'Cashfree cannot take this currency'),
('payu', 'E1602', 'fail', 'authentication_failed', 'The customer did not complete authentication'),
('payu', 'E1620', 'next', 'method_unavailable', 'The payment method is not enabled'),
('payu', 'E1632', 'fail', 'invalid_card', 'Card details (CVV or expiry) were not valid'),
('payu', 'E1903', 'fail', 'bank_declined', 'The bank could not authorise the payment'),
('payu', 'E207', 'fail', 'bank_declined', 'The bank refused this transaction'),
('payu', 'E305', 'fail', 'invalid_card', 'The card number is not valid'),
('payu', 'E307', 'fail', 'bank_declined', 'The bank declined the payment (do not honour)'),
('payu', 'E308', 'next', 'provider_error', 'The transaction failed at the bank'),
('payu', 'E310', 'fail', 'card_blocked', 'The card is reported lost and is blocked'),
('payu', 'E341', 'next', 'merchant_config', 'PayU reports the merchant account as invalid'),
('payu', 'E345', 'retry', 'provider_error', 'A technical failure; the payment can be retried'),
('payu', 'E348', 'fail', 'bank_declined', 'The issuing bank declined the payment'),
('payu', 'E4684', 'fail', 'invalid_vpa', 'The UPI id cannot receive this payment request'),
('payu', 'E715', 'next', 'invalid_request', 'The amount was refused by the bank'),
('payu', 'E907', 'next', 'method_unavailable', 'The payment method is not enabled'),
('payu', 'hash_mismatch', 'next', 'authentication_failed', 'PayU rejected the key or hash'),
('payu', 'request_refused', 'next', 'invalid_request', 'PayU refused the request'),
('phonepe', 'AUTHORIZATION_ERROR', 'fail', 'authentication_failed', 'The customer did not authorise'),
('phonepe', 'AUTHORIZATION_FAILED', 'next', 'authentication_failed', 'PhonePe rejected our credentials'),
('phonepe', 'BAD_REQUEST', 'next', 'invalid_request', 'PhonePe refused the request'),
('phonepe', 'EXPIRED', 'fail', 'expired', 'The customer did not pay before the order expired'),
('phonepe', 'INTERNAL_SERVER_ERROR', 'retry', 'provider_error', 'PhonePe had an internal error'),
('phonepe', 'PAYMENT_ERROR', 'fail', 'bank_declined', 'The payment failed'),
('phonepe', 'TXN_AUTO_FAILED', 'fail', 'bank_declined', 'The customer''s bank could not complete it'),
('phonepe', 'U28', 'next', 'bank_unavailable', 'The customer''s bank is not reachable'),
('phonepe', 'U90', 'retry', 'bank_unavailable', 'The customer''s bank is slow to respond'),
('phonepe', 'UT', 'next', 'bank_unavailable', 'Technical issue at the customer''s bank'),
('phonepe', 'Z9', 'fail', 'insufficient_funds', 'Insufficient balance in the customer''s account'),
('phonepe', 'ZM', 'fail', 'authentication_failed', 'The customer entered a wrong UPI PIN'),
('paytm', '141', 'fail', 'customer_cancelled', 'The customer cancelled at the bank page'),
('paytm', '2005', 'next', 'authentication_failed', 'Paytm rejected our checksum'),
('paytm', '2006', 'next', 'authentication_failed', 'Paytm rejected the MID'),
('paytm', '227', 'next', 'authentication_failed', 'Paytm rejected our checksum'),
('paytm', '235', 'fail', 'insufficient_funds', 'Insufficient balance in the customer''s account'),
('paytm', '267', 'fail', 'bank_declined', 'The bank declined the payment'),
('paytm', '295', 'fail', 'invalid_card', 'The card details were not valid'),
('paytm', '330', 'next', 'invalid_request', 'Paytm refused the order id'),
('paytm', '334', 'next', 'duplicate_order', 'Paytm already has an order with this id'),
('paytm', '335', 'fail', 'expired', 'The payment session expired'),
('paytm', '400', 'next', 'invalid_request', 'Paytm refused the request'),
('paytm', '401', 'next', 'authentication_failed', 'Paytm rejected the MID or key'),
('paytm', '501', 'retry', 'provider_error', 'Paytm had a system error'),
('paytm', '810', 'next', 'risk_declined', 'Paytm''s risk system declined the payment'),
('stripe', 'amount_too_large', 'fail', 'refund_exceeds_captured', 'more than is left to refund'),
('stripe', 'api_error', 'retry', 'provider_error', 'Stripe had an internal error'),
('stripe', 'authentication_required', 'fail', 'authentication_failed', 'authentication is required'),
('stripe', 'canceled', 'fail', 'cancelled', 'the payment was canceled'),
('stripe', 'card_declined', 'fail', 'bank_declined', 'the card was declined'),
('stripe', 'charge_already_refunded', 'fail', 'not_refundable', 'the payment is fully refunded'),
('stripe', 'do_not_honor', 'fail', 'bank_declined', 'the card was declined'),
('stripe', 'expired', 'fail', 'expired', 'the checkout session expired'),
('stripe', 'expired_card', 'fail', 'expired', 'the card has expired'),
('stripe', 'fraudulent', 'fail', 'risk_declined', 'Stripe suspects fraud'),
('stripe', 'generic_decline', 'fail', 'bank_declined', 'the card was declined'),
('stripe', 'idempotency_error', 'retry', 'provider_error', 'the idempotency key was reused'),
('stripe', 'incorrect_cvc', 'fail', 'authentication_failed', 'the CVC was wrong'),
('stripe', 'insufficient_funds', 'fail', 'insufficient_funds', 'the card has insufficient funds'),
('stripe', 'invalid_request_error', 'next', 'provider_error', 'Stripe refused the request'),
('stripe', 'lost_card', 'fail', 'risk_declined', 'the card was reported lost'),
('stripe', 'parameter_invalid_integer', 'next', 'provider_error', 'Stripe refused the request'),
('stripe', 'parameter_missing', 'next', 'provider_error', 'Stripe refused the request'),
('stripe', 'payment_intent_authentication_failure', 'fail', 'authentication_failed', 'the customer failed authentication'),
('stripe', 'payment_method_not_supported', 'next', 'provider_error', 'Stripe cannot take this method'),
('stripe', 'processing_error', 'retry', 'provider_error', 'an error occurred processing the card'),
('stripe', 'rate_limit', 'retry', 'provider_error', 'Stripe is rate limiting us'),
('stripe', 'resource_missing', 'fail', 'not_found', 'Stripe has no such object'),
('stripe', 'return_url_required', 'next', 'provider_error', 'Stripe Checkout needs a return URL'),
('stripe', 'stolen_card', 'fail', 'risk_declined', 'the card was reported stolen')
on conflict (provider, code) do nothing;

create function private.classify_provider_error(p_provider text, p_code text)
returns table (decision text, unified_code text, message text)
language sql stable
set search_path = ''
as $$
  select coalesce(e.decision, 'fail'), coalesce(e.unified_code, 'provider_declined'),
    coalesce(e.message, 'the gateway declined the payment')
  from (select 1) as one
  left join lateral (
    select x.decision, x.unified_code, x.message
    from public.provider_error_map as x
    where x.code = coalesce(p_code, '') and x.provider in (p_provider, '*')
    order by x.provider = '*'
    limit 1
  ) as e on true
$$;
comment on function private.classify_provider_error(text, text) is
$$The error map's verdict for a provider's code (its own row first, then '*'); unmapped codes
fail as provider_declined.$$;

-- What a provider call needs: the gateway's provider, environment, credentials from Vault and
-- its catalogue URLs. Null for a gateway archived since.
create function private.charge_target(p_gateway_id uuid) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select private.gateway_credentials(g.id) || jsonb_build_object(
    'gateway_id', g.id, 'base_urls', p.base_urls
  )
  from public.gateways as g
  join public.gateway_providers as p on p.provider = g.provider
  where g.id = p_gateway_id and private.gateway_credentials(g.id) is not null
$$;
comment on function private.charge_target(uuid) is
$$service_role only: {provider, environment, credentials, gateway_id, base_urls} for calling a
gateway (credentials decrypted from Vault); null when archived.$$;

create function private.charge_request(p public.payments, a public.payment_attempts) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'payment_id', p.id, 'attempt_id', a.id, 'attempt_no', a.attempt_no, 'amount', p.amount,
    'currency', p.currency, 'method', p.method, 'upi_vpa', p.upi_vpa,
    'customer', jsonb_strip_nulls(jsonb_build_object(
      'email', p.customer_email, 'phone', p.customer_phone, 'ip', p.customer_ip,
      'user_agent', p.customer_user_agent
    )),
    'description', p.description, 'return_url', p.return_url,
    'provider_order_id', a.provider_order_id, 'provider_payment_id', a.provider_payment_id,
    'attempt_status', a.status
  )
$$;
comment on function private.charge_request(public.payments, public.payment_attempts) is
$$What the worker sends a provider for one attempt (payments.ChargeRequest / ChargeRef).$$;

create function private.fail_payment(p public.payments, p_code text, p_message text)
returns public.payments
language sql volatile
set search_path = ''
as $$
  update public.payments as x set status = 'failed', failure_code = p_code,
    failure_message = left(p_message, 500)
  where x.id = p.id
  returning *
$$;
comment on function private.fail_payment(public.payments, text, text) is
$$Moves a payment to failed with a unified code and message.$$;

-- The next step for a payment the worker was asked to charge:
--   {action: none}                     nothing to do (completed, waiting for the customer)
--   {action: charge, resume: true}     an attempt was recorded but never settled: look it up
--                                      at the provider before creating anything
--   {action: charge, resume: false}    a new attempt, recorded (and its gateway's daily-limit
--                                      reservation made) before the provider is called
-- with the attempt's request and target. No candidate left: the payment fails.
create function private.payment_next_attempt(p_payment_id text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  p public.payments;
  a public.payment_attempts;
  last public.payment_attempts;
  c record;
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
  if p.attempt_count >= max_attempts then
    p := private.fail_payment(
      p, coalesce(last.error_code, 'attempts_exhausted'),
      coalesce(last.error_message, 'no gateway could complete the payment')
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
    p := private.fail_payment(
      p, coalesce(last.error_code, 'no_gateway_available'),
      case when last.id is null
        then 'no active gateway takes this payment (mode, currency, method, amount, region or daily limits)'
        else coalesce(last.error_message, 'no gateway could complete the payment') end
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
payments.max_same_gateway_retries times), or fails the payment when nothing is left.
Returns {action: none|charge, resume, request, target}.$$;

-- A provider's answer for an attempt, from a create call, a lookup, a status check or a
-- webhook. Never moves anything backwards: a stale answer is reported, not applied.
-- Returns {outcome, next: none|cascade|retry, payment_status}.
create function private.record_attempt_result(p_attempt_id text, p_result jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  a public.payment_attempts;
  p public.payments;
  v_status text := p_result ->> 'status';
  v_amount bigint := (p_result ->> 'amount')::bigint;
  v_currency text := upper(p_result ->> 'currency');
  verdict record;
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
    update public.payment_attempts as x set status = 'failed',
      provider_error_code = left(p_result ->> 'error_code', 200),
      error_code = verdict.unified_code,
      error_message = left(coalesce(verdict.message, p_result ->> 'error_message'), 500),
      decision = verdict.decision, next_action = null
    where x.id = a.id
    returning * into a;
    if is_current then
      if verdict.decision = 'fail'
        or p.attempt_count >= (private.setting('payments.max_attempts'))::integer then
        p := private.fail_payment(p, verdict.unified_code, verdict.message);
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
applied; a late success is accepted; nothing moves backwards. Returns {outcome, next:
none|cascade|retry, payment_status}. 22023 unknown status; P0002 unknown attempt.$$;

create function private.expire_payment(p_payment_id text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  p public.payments;
begin
  select * into p from public.payments as x where x.id = p_payment_id for update;
  if not found or p.status not in ('processing', 'requires_action') then
    return jsonb_build_object('expired', false, 'status', p.status);
  end if;
  update public.payment_attempts as a set status = 'cancelled'
  where a.payment_id = p.id and a.status in ('created', 'requires_action', 'pending', 'unknown');
  update public.payments as x set status = 'expired', failure_code = 'expired',
    failure_message = case p.status
      when 'requires_action' then 'the customer did not complete the payment in time'
      else 'the gateway did not confirm the payment in time' end
  where x.id = p.id
  returning * into p;
  return jsonb_build_object('expired', true, 'status', p.status);
end
$$;
comment on function private.expire_payment(text) is
$$service_role (the worker, after the last status check): expires a payment still processing or
waiting for the customer, cancelling its open attempts (a later success is still accepted).$$;

-- Reconciliation: what the worker's status check needs.
create function private.payment_check_target(p_payment_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  p public.payments;
  a public.payment_attempts;
begin
  select * into p from public.payments as x where x.id = p_payment_id;
  if not found or p.status not in ('processing', 'requires_action') then
    return jsonb_build_object('action', 'none', 'status', p.status);
  end if;
  select * into a from public.payment_attempts as x
  where x.payment_id = p.id order by x.attempt_no desc limit 1;
  if not found or a.status in ('failed', 'cancelled', 'succeeded') then
    return jsonb_build_object('action', 'charge', 'status', p.status);
  end if;
  return jsonb_build_object(
    'action', 'check', 'status', p.status, 'request', private.charge_request(p, a),
    'target', private.charge_target(a.gateway_id)
  );
end
$$;
comment on function private.payment_check_target(text) is
$$service_role (the worker): for a payment still processing or requires_action, its open
attempt and target to ask the provider about ({action: check}), or {action: charge} when no
attempt is open (the charge job must run again), or {action: none}.$$;

-- Provider webhooks --------------------------------------------------------------------------
create table public.provider_events (
  id bigint generated always as identity primary key,
  gateway_id uuid not null references public.gateways (id),
  provider text not null,
  event_id text check (char_length(event_id) <= 300),
  event_type text check (char_length(event_type) <= 200),
  status text not null check (status in ('rejected', 'received', 'applied', 'ignored')),
  rejection_reason text check (char_length(rejection_reason) <= 200),
  event jsonb,
  headers jsonb not null default '{}'::jsonb,
  body text,
  body_bytes integer not null check (body_bytes >= 0),
  outcome text check (char_length(outcome) <= 500),
  received_at timestamptz not null default now(),
  applied_at timestamptz,
  created_at timestamptz not null default now(),
  constraint provider_events_once unique (gateway_id, event_id)
);
alter table public.provider_events enable row level security;
create index provider_events_received_idx on public.provider_events (received_at);
create policy provider_events_admin_read on public.provider_events
for select to authenticated using ((select private.is_admin()));
revoke all on public.provider_events from public, anon, authenticated;
grant select on public.provider_events to authenticated;
grant select, insert, update, delete on public.provider_events to service_role;
comment on table public.provider_events is
$$Every inbound provider webhook: verified ones with the raw body and the normalised event
(deduplicated by the provider's event id per gateway), and rejected ones (bad or missing
signature) with the reason and at most 2000 bytes of body. Applied through the payment queue.
Who reads: admins. Kept 30 days. Header values that name secrets are redacted.$$;
comment on column public.provider_events.body_bytes is $$Size of the raw body in bytes.$$;

-- What the inbound webhook route needs: the gateway's provider and every credential set that
-- may have signed (current first, then rotated-out ones still inside their 24 h overlap).
create function private.gateway_webhook_credentials(p_gateway_id uuid, p_provider text)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'gateway_id', g.id, 'provider', g.provider,
    'credentials', coalesce(
      jsonb_agg(s.decrypted_secret::jsonb order by c.rank) filter (where s.id is not null),
      '[]'::jsonb
    )
  )
  from public.gateways as g
  left join lateral (
    select g.credentials_secret_id as secret_id, 0 as rank
    union all
    select p.secret_id, 1 from private.gateway_previous_credentials as p
    where p.gateway_id = g.id and p.valid_until > now()
  ) as c on true
  left join vault.decrypted_secrets as s on s.id = c.secret_id
  where g.id = p_gateway_id and g.provider = p_provider and g.status <> 'archived'
  group by g.id, g.provider
$$;
comment on function private.gateway_webhook_credentials(uuid, text) is
$$service_role only: {gateway_id, provider, credentials: [current, previous...]} for verifying
an inbound webhook; null when no such gateway of that provider (archived ones included).$$;

create function private.record_provider_event(
  p_gateway_id uuid, p_provider text, p_event jsonb, p_headers jsonb, p_body text,
  p_rejection text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_id bigint;
  v_body_bytes integer := octet_length(coalesce(p_body, ''));
  v_status text := 'received';
begin
  if p_rejection is not null then
    insert into public.provider_events (
      gateway_id, provider, status, rejection_reason, headers, body, body_bytes
    ) values (
      p_gateway_id, p_provider, 'rejected', left(p_rejection, 200), private.redact(p_headers),
      left(p_body, 2000), v_body_bytes
    ) returning id into v_id;
    return jsonb_build_object('id', v_id, 'status', 'rejected');
  end if;
  -- An event that only confirms what the attempt already says (the charge call's own answer
  -- got there first) is kept as applied, without a job.
  if p_event ->> 'kind' = 'payment' and exists (
    select 1 from private.attempt_for_event(p_gateway_id, p_event) as a
    where a.id is not null and a.status = p_event ->> 'status'
  ) then
    v_status := 'applied';
  end if;
  insert into public.provider_events (
    gateway_id, provider, event_id, event_type, status, event, headers, body, body_bytes,
    outcome, applied_at
  ) values (
    p_gateway_id, p_provider, p_event ->> 'event_id', p_event ->> 'type', v_status, p_event,
    private.redact(p_headers), p_body, v_body_bytes,
    case when v_status = 'applied' then 'the attempt already had this status' end,
    case when v_status = 'applied' then now() end
  )
  on conflict (gateway_id, event_id) do nothing
  returning id into v_id;
  if v_id is null then
    return jsonb_build_object('status', 'duplicate');
  end if;
  if v_status = 'received' then
    perform private.enqueue(
      'payment', jsonb_build_object('provider_event_id', v_id), 0, 'provider_event:' || v_id
    );
  end if;
  return jsonb_build_object('id', v_id, 'status', v_status);
end
$$;
comment on function private.record_provider_event(uuid, text, jsonb, jsonb, text, text) is
$$service_role (the adapter's webhook route): stores a verified event once per provider event
id and enqueues it (an event confirming the status its attempt already has is stored as
applied, without a job), or records a rejected one (p_rejection: the reason). Returns {id,
status: received | applied | duplicate | rejected}.$$;

create function private.refund_for_event(p_gateway_id uuid, p_event jsonb)
returns public.refunds
language plpgsql stable
set search_path = ''
as $$
declare
  r public.refunds;
begin
  -- One indexed lookup at a time: an OR of all three would scan the gateway's refunds.
  select * into r from public.refunds as x
  where x.id = p_event ->> 'refund_id' and x.gateway_id = p_gateway_id;
  if not found and p_event ->> 'provider_refund_id' is not null then
    select * into r from public.refunds as x
    where x.gateway_id = p_gateway_id and x.provider_refund_id = p_event ->> 'provider_refund_id'
    limit 1;
  end if;
  return r;
end
$$;
comment on function private.refund_for_event(uuid, jsonb) is
$$The refund a provider event names (our refund id, or the provider's refund id).$$;

create function private.attempt_for_event(p_gateway_id uuid, p_event jsonb)
returns public.payment_attempts
language plpgsql stable
set search_path = ''
as $$
declare
  a public.payment_attempts;
begin
  -- One indexed lookup at a time: an OR of all three would scan the gateway's attempts.
  select * into a from public.payment_attempts as x
  where x.id = p_event ->> 'attempt_id' and x.gateway_id = p_gateway_id;
  if not found and p_event ->> 'provider_order_id' is not null then
    select * into a from public.payment_attempts as x
    where x.gateway_id = p_gateway_id and x.provider_order_id = p_event ->> 'provider_order_id'
    limit 1;
  end if;
  if not found and p_event ->> 'provider_payment_id' is not null then
    select * into a from public.payment_attempts as x
    where x.gateway_id = p_gateway_id
      and x.provider_payment_id = p_event ->> 'provider_payment_id'
    limit 1;
  end if;
  return a;
end
$$;
comment on function private.attempt_for_event(uuid, jsonb) is
$$The attempt a provider event is about: by our attempt id as the provider echoes it, else by
the provider's order or payment id, on the same gateway.$$;

-- Refunds, the worker's side --------------------------------------------------------------------
create function private.refund_target(p_refund_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  r public.refunds;
  a public.payment_attempts;
begin
  select * into r from public.refunds as x where x.id = p_refund_id;
  if not found or r.status <> 'pending' then
    return jsonb_build_object('action', 'none', 'status', r.status);
  end if;
  select * into a from public.payment_attempts as x where x.id = r.attempt_id;
  return jsonb_build_object(
    'action', 'refund',
    'request', jsonb_build_object(
      'refund_id', r.id, 'payment_id', r.payment_id, 'attempt_id', r.attempt_id,
      'amount', r.amount, 'currency', r.currency, 'provider_order_id', a.provider_order_id,
      'provider_payment_id', a.provider_payment_id, 'provider_refund_id', r.provider_refund_id,
      'reason', r.reason
    ),
    'provider_calls', r.provider_calls,
    'target', private.charge_target(r.gateway_id)
  );
end
$$;
comment on function private.refund_target(text) is
$$service_role (the worker): a pending refund's provider request and target, and how many
provider calls it has had (more than 0: look it up before refunding again); {action: none}
when it is no longer pending.$$;

create function private.record_refund_result(p_refund_id text, p_result jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  r public.refunds;
  p public.payments;
  v_status text := p_result ->> 'status';
  schedule jsonb := private.setting('refunds.check_schedule_s');
begin
  select * into r from public.refunds as x where x.id = p_refund_id;
  if not found then
    raise exception 'refund % does not exist', p_refund_id using errcode = 'P0002';
  end if;
  select * into p from public.payments as x where x.id = r.payment_id for update;
  select * into r from public.refunds as x where x.id = p_refund_id for update;
  update public.refunds as x set
    provider_refund_id = coalesce(p_result ->> 'provider_refund_id', x.provider_refund_id),
    provider_calls = x.provider_calls + case when p_result ? 'sent' then 1 else 0 end
  where x.id = r.id
  returning * into r;
  if r.status <> 'pending' then
    return jsonb_build_object('outcome', 'stale', 'status', r.status);
  end if;
  if v_status = 'succeeded' then
    update public.refunds as x set status = 'succeeded' where x.id = r.id;
    update public.payments as x set amount_refunded = x.amount_refunded + r.amount,
      status = case when x.amount_refunded + r.amount >= x.amount_captured
        then 'refunded' else 'partially_refunded' end
    where x.id = p.id;
    return jsonb_build_object('outcome', 'succeeded', 'status', 'succeeded');
  end if;
  if v_status = 'failed' then
    update public.refunds as x set status = 'failed',
      failure_code = left(p_result ->> 'error_code', 200),
      failure_message = left(coalesce(p_result ->> 'error_message', 'the gateway refused the refund'), 500)
    where x.id = r.id;
    update public.payments as x set refund_reserved = x.refund_reserved - r.amount
    where x.id = p.id;
    return jsonb_build_object('outcome', 'failed', 'status', 'failed');
  end if;
  if v_status not in ('pending', 'error', 'unknown', 'not_found') then
    raise exception 'result status % is not one of succeeded, failed, error, pending, unknown, not_found',
      coalesce(v_status, 'null') using errcode = '22023';
  end if;
  update public.refunds as x set
    next_check_at = now() + make_interval(
      secs => coalesce((schedule ->> least(x.check_count, jsonb_array_length(schedule) - 1))::integer, 3600)
    )
  where x.id = r.id;
  return jsonb_build_object('outcome', v_status, 'status', 'pending');
end
$$;
comment on function private.record_refund_result(text, jsonb) is
$$service_role (the worker): applies a provider's answer to a pending refund. succeeded: the
payment's amount_refunded grows (partially_refunded / refunded); failed: the reserved amount is
released; pending / error / unknown / not_found: checked (and retried) later
(refunds.check_schedule_s).
A refund that already completed is left alone (stale). 22023 unknown status; P0002 unknown
refund.$$;

-- Applying a stored provider event (the payment queue's provider_event jobs) ------------------
create function private.apply_provider_event(p_event_id bigint) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  e public.provider_events;
  ev jsonb;
  a public.payment_attempts;
  r public.refunds;
  v_outcome jsonb;
  v_status text := 'applied';
begin
  select * into e from public.provider_events as x where x.id = p_event_id for update;
  if not found or e.status <> 'received' then
    return jsonb_build_object('outcome', 'already handled', 'status', e.status);
  end if;
  ev := e.event;
  if ev ->> 'kind' = 'payment' and ev ->> 'status' in ('succeeded', 'failed', 'pending', 'requires_action') then
    a := private.attempt_for_event(e.gateway_id, ev);
    if a.id is null then
      v_status := 'ignored';
      v_outcome := jsonb_build_object('outcome', 'no matching attempt');
    else
      v_outcome := private.record_attempt_result(a.id, jsonb_build_object(
        'status', ev ->> 'status', 'amount', ev -> 'amount', 'currency', ev ->> 'currency',
        'provider_order_id', ev ->> 'provider_order_id',
        'provider_payment_id', ev ->> 'provider_payment_id', 'error_code', ev ->> 'error_code',
        'error_message', ev ->> 'error_message'
      ));
      if v_outcome ->> 'next' in ('cascade', 'retry') then
        perform private.enqueue(
          'payment', jsonb_build_object('payment_id', a.payment_id),
          case v_outcome ->> 'next' when 'retry' then 5 else 0 end,
          'charge:' || a.payment_id || ':after:' || a.id
        );
      end if;
      if v_outcome ->> 'outcome' = 'stale' then
        v_status := 'ignored';
      end if;
    end if;
  elsif ev ->> 'kind' = 'refund' and ev ->> 'status' in ('succeeded', 'failed', 'pending') then
    r := private.refund_for_event(e.gateway_id, ev);
    if r.id is null then
      v_status := 'ignored';
      v_outcome := jsonb_build_object('outcome', 'no matching refund');
    else
      v_outcome := private.record_refund_result(r.id, jsonb_build_object(
        'status', ev ->> 'status', 'provider_refund_id', ev ->> 'provider_refund_id',
        'error_code', ev ->> 'error_code', 'error_message', ev ->> 'error_message'
      ));
      if v_outcome ->> 'outcome' = 'stale' then
        v_status := 'ignored';
      end if;
    end if;
  else
    v_status := 'ignored';
    v_outcome := jsonb_build_object('outcome', 'not an event we act on');
  end if;
  update public.provider_events as x set status = v_status, applied_at = now(),
    outcome = left(v_outcome::text, 500)
  where x.id = e.id;
  return v_outcome || jsonb_build_object('status', v_status);
end
$$;
comment on function private.apply_provider_event(bigint) is
$$service_role (the worker): applies a stored provider event once: a payment event to its
attempt (record_attempt_result; a cascade or retry is enqueued), a refund event to its
refund; stale, unmatched or irrelevant events are marked ignored with the reason.$$;

-- Reconciliation and expiry, driven by pg_cron every minute through the payment queue --------
create function private.schedule_payment_checks(p_limit integer default 1000) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  schedule jsonb := private.setting('payments.check_schedule_s');
  refund_schedule jsonb := private.setting('refunds.check_schedule_s');
  p record;
  r record;
  n integer := 0;
  is_final boolean;
begin
  for p in
    select x.id, x.status, x.check_count, x.action_expires_at from public.payments as x
    where x.status in ('processing', 'requires_action') and x.next_check_at <= now()
    order by x.next_check_at
    limit p_limit
    for update skip locked
  loop
    is_final := p.check_count + 1 >= jsonb_array_length(schedule)
      or (p.status = 'requires_action' and p.action_expires_at <= now());
    perform private.enqueue(
      'payment', jsonb_build_object('payment_id', p.id, 'check', true, 'final', is_final), 0,
      'check:' || p.id || ':' || (p.check_count + 1)
    );
    update public.payments as x set check_count = x.check_count + 1,
      next_check_at = now() + make_interval(
        secs => coalesce((schedule ->> (p.check_count + 1))::integer, 600)
      )
    where x.id = p.id;
    n := n + 1;
  end loop;
  for r in
    select x.id, x.check_count from public.refunds as x
    where x.status = 'pending' and x.next_check_at <= now()
    order by x.next_check_at
    limit p_limit
    for update skip locked
  loop
    perform private.enqueue(
      'payment', jsonb_build_object('refund_id', r.id, 'check', true), 0,
      'refund_check:' || r.id || ':' || (r.check_count + 1)
    );
    update public.refunds as x set check_count = x.check_count + 1,
      next_check_at = now() + make_interval(secs => coalesce(
        (refund_schedule ->> least(r.check_count + 1, jsonb_array_length(refund_schedule) - 1))::integer,
        86400
      ))
    where x.id = r.id;
    n := n + 1;
  end loop;
  return n;
end
$$;
comment on function private.schedule_payment_checks(integer) is
$$pg_cron, every minute: enqueues a status check for each payment still processing or
requires_action whose next check is due (payments.check_schedule_s: 60 s, then 5 min x 5; the
last one, or a requires_action payment past its window, is final: it expires the payment if
the provider still has no outcome), and for each pending refund (refunds.check_schedule_s).
Returns how many checks it enqueued.$$;
select cron.schedule('lsp-payment-checks', '* * * * *', 'select private.schedule_payment_checks()');

create function private.provider_event_retention() returns integer
language sql volatile security definer
set search_path = ''
as $$
  with gone as (
    delete from public.provider_events as e
    where e.id in (
      select x.id from public.provider_events as x
      where x.received_at < now() - interval '30 days'
      order by x.id limit 50000
    )
    returning 1
  )
  select count(*)::integer from gone
$$;
comment on function private.provider_event_retention() is
$$pg_cron, hourly: removes provider webhook events older than 30 days, 50,000 at a time.$$;
select cron.schedule('lsp-provider-event-retention', '29 * * * *', 'select private.provider_event_retention()');

-- Credential fields the payment clients need for inbound webhooks ----------------------------
update public.gateway_providers set
  credential_fields = credential_fields || jsonb_build_array(
    jsonb_build_object(
      'name', 'webhook_secret', 'label', 'Webhook signing secret (whsec_...)', 'required', false,
      'secret', true
    )
  )
where
  provider = 'sandbox'
  and not credential_fields @> '[{"name": "webhook_secret"}]';
update public.gateway_providers set
  credential_fields = credential_fields || jsonb_build_array(
    jsonb_build_object(
      'name', 'webhook_username', 'label', 'Webhook username (dashboard)', 'required', false,
      'secret', false
    ),
    jsonb_build_object(
      'name', 'webhook_password', 'label', 'Webhook password (dashboard)', 'required', false,
      'secret', true
    )
  )
where
  provider = 'phonepe'
  and not credential_fields @> '[{"name": "webhook_username"}]';
update public.gateway_providers set
  credential_fields = credential_fields || jsonb_build_array(
    jsonb_build_object(
      'name', 'website_name', 'label', 'Website name (WEBSTAGING in test, DEFAULT in live)',
      'required', false, 'secret', false
    )
  )
where
  provider = 'paytm'
  and not credential_fields @> '[{"name": "website_name"}]';

-- Grants: the worker and the adapter's trusted routes only -----------------------------------
revoke execute on function private.classify_provider_error(text, text),
private.charge_target(uuid), private.charge_request(public.payments, public.payment_attempts),
private.fail_payment(public.payments, text, text), private.payment_next_attempt(text),
private.record_attempt_result(text, jsonb), private.expire_payment(text),
private.payment_check_target(text), private.gateway_webhook_credentials(uuid, text),
private.record_provider_event(uuid, text, jsonb, jsonb, text, text),
private.refund_for_event(uuid, jsonb), private.attempt_for_event(uuid, jsonb),
private.refund_target(text), private.record_refund_result(text, jsonb),
private.apply_provider_event(bigint), private.schedule_payment_checks(integer),
private.provider_event_retention()
from public, anon, authenticated;
grant execute on function private.classify_provider_error(text, text),
private.charge_target(uuid), private.payment_next_attempt(text),
private.record_attempt_result(text, jsonb), private.expire_payment(text),
private.payment_check_target(text), private.gateway_webhook_credentials(uuid, text),
private.record_provider_event(uuid, text, jsonb, jsonb, text, text),
private.refund_target(text), private.record_refund_result(text, jsonb),
private.apply_provider_event(bigint), private.schedule_payment_checks(integer)
to service_role;

-- A charge job may call a provider several times (create, look up, cascade), each bounded by
-- the worker's provider timeout: give it two minutes before another worker may take it.
update public.queue_controls set visibility_timeout_s = 120
where queue_name = 'payment' and visibility_timeout_s = 60;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
