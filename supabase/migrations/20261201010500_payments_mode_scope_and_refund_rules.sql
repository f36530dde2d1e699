-- Payments, after a new merchant developer tried them (issue 13's QA):
--   * an API key works in its own mode only: a test key neither sees nor touches live
--     payments, refunds, attempts or events (404 / filtered), and test and live keys have
--     separate Idempotency-Key spaces (as Stripe's do);
--   * refund refusals carry their own codes (payment_not_refundable, nothing_to_refund,
--     refund_exceeds_available), and every successful partial refund emits
--     payment.partially_refunded, not only the first; refund payloads carry the mode;
--   * force-archiving a gateway with payments in flight keeps its credentials until they
--     settle (their webhooks and checks still work), then destroys them (pg_cron);
--   * customer input: phone numbers may be written with spaces, dots, dashes or brackets
--     (stored as digits with an optional +), customer.ip must be an IP address, UPI IDs are
--     case-insensitive (stored in lower case), and an amount above the maximum says so.
-- migration-lint: allow ban-drop-trigger: payments_events is recreated at once to also fire on amount_refunded; both in one transaction

-- Mode ------------------------------------------------------------------------------------

create function private.key_mode() returns text
language sql stable
set search_path = ''
as $$
  select case when auth.jwt() ? 'api_key_id' then auth.jwt() ->> 'key_mode' end
$$;
comment on function private.key_mode() is
$$The calling API key's mode (test or live); null for every other caller (users see both).$$;

create function private.scoped_mode(p_mode text) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  k text := private.key_mode();
begin
  if p_mode is not null and p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if k is not null and p_mode is not null and p_mode <> k then
    raise exception 'this is a % API key: it sees % payments only', k, k using errcode = '22023';
  end if;
  return coalesce(k, p_mode);
end
$$;
comment on function private.scoped_mode(text) is
$$The mode a list may show: the API key's own (22023 if another is asked for), else the
filter given (22023 unless test or live), else null (both).$$;

create or replace function private.idempotency_owner(p_merchant_id uuid default null) returns text
language sql stable
set search_path = ''
as $$
  select case
    when p_merchant_id is not null or auth.jwt() ? 'api_key_id' then
      'merchant:' || coalesce(p_merchant_id::text, auth.jwt() ->> 'merchant_id')
      || coalesce(':' || private.key_mode(), '')
    when auth.uid() is not null then 'user:' || auth.uid()
    else 'role:' || coalesce(auth.role(), current_setting('role', true))
  end
$$;
comment on function private.idempotency_owner(uuid) is
$$Whose key space an Idempotency-Key lives in: the merchant acted for (given, or an API key's),
and for an API key its mode too (merchant:<id>:test and merchant:<id>:live are separate, so
a live key never replays a test answer); else the signed-in user, else the role.$$;

create or replace function private.payment_for(
  p_payment_id text, p_roles text[] default null, p_doing text default null,
  p_lock boolean default false
) returns public.payments
language plpgsql security definer
set search_path = ''
as $$
declare
  p public.payments;
begin
  if p_lock then
    select * into p from public.payments as x where x.id = p_payment_id for update;
  else
    select * into p from public.payments as x where x.id = p_payment_id;
  end if;
  -- Another merchant's payment, or one of the other mode for an API key: not found.
  if not found or not (private.is_admin() or private.has_merchant_role(p.merchant_id))
    or p.mode is distinct from coalesce(private.key_mode(), p.mode) then
    raise exception 'payment % does not exist', p_payment_id using errcode = 'P0002';
  end if;
  perform private.require_merchant(p.merchant_id, p_roles, p_doing);
  return p;
end
$$;

create or replace function public.list_payments(
  p_merchant_id uuid default null, p_status text default null, p_method text default null,
  p_gateway_id uuid default null, p_mode text default null, p_from timestamptz default null,
  p_to timestamptz default null, p_amount_min bigint default null,
  p_amount_max bigint default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$
  select private.list_payments(
    private.require_merchant(p_merchant_id), p_status, p_method, p_gateway_id,
    private.scoped_mode(p_mode), p_from, p_to, p_amount_min, p_amount_max, p_cursor, p_limit
  )
$$;
comment on function public.list_payments(
  uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer
) is
$$A merchant's payments, newest first, filtered by status, method, gateway, mode, created_at
range [from, to) and amount range (minor units), keyset-paginated. An API key sees its own
mode's payments only.
Who: the merchant's members and API keys (merchant_id optional for a member of one merchant),
admins naming the merchant.
Returns: {data: [payment], next_cursor: text | null}; limit 1..200 (default 50).
Errors: 22023 bad filter, limit or cursor, merchant_id needed, or an API key asking for the
other mode; 42501 not a member; P0002 unknown merchant (admins).$$;

-- Row level security: an API key reads its own mode's rows only.
alter policy payments_read on public.payments using (
  ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()))
  and mode = coalesce((select private.key_mode()), mode)
);
alter policy payment_attempts_read on public.payment_attempts using (
  ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()))
  and (
    (select private.key_mode()) is null
    or exists (
      select 1 from public.payments as p
      where p.id = payment_attempts.payment_id and p.mode = (select private.key_mode())
    )
  )
);
alter policy refunds_read on public.refunds using (
  ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()))
  and (
    (select private.key_mode()) is null
    or exists (
      select 1 from public.payments as p
      where p.id = refunds.payment_id and p.mode = (select private.key_mode())
    )
  )
);

-- Webhook events: an API key lists its own mode's payment and refund events (events without
-- a mode, such as api_key.rotated, are the merchant's whatever the mode).
create or replace function private.list_webhook_events(
  p_merchant_id uuid, p_type text, p_cursor text, p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  c record := private.read_cursor(p_cursor);
  k text := private.key_mode();
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
begin
  perform private.check_page_limit(p_limit);
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', ev.id, 'type', ev.type, 'payload', ev.payload, 'created_at', ev.created_at,
    'deliveries', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', d.id, 'endpoint_id', d.endpoint_id, 'status', d.status, 'attempts', d.attempts,
        'last_status_code', d.last_status_code, 'next_attempt_at', d.next_attempt_at,
        'delivered_at', d.delivered_at,
        'attempt_log', (
          select coalesce(jsonb_agg(jsonb_build_object(
            'attempt', a.attempt, 'at', a.started_at, 'status_code', a.status_code,
            'latency_ms', a.latency_ms, 'error', a.error, 'response_body', a.response_body
          ) order by a.attempt), '[]'::jsonb)
          from public.webhook_attempts as a where a.delivery_id = d.id
        )
      ) order by d.id), '[]'::jsonb)
      from public.webhook_deliveries as d where d.event_id = ev.id
    )
  ) order by ev.created_at desc, ev.id desc), '[]'), count(*), min(ev.created_at)
  into page, n, last_at
  from (
    select * from public.webhook_events as x
    where x.merchant_id = m
      and (p_type is null or x.type = p_type)
      and (k is null or coalesce(x.payload ->> 'mode', k) = k)
      and (c.at is null or (x.created_at, x.id) < (c.at, c.id))
    order by x.created_at desc, x.id desc limit p_limit
  ) as ev;
  last_id := page -> -1 ->> 'id';
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;

-- Refunds ----------------------------------------------------------------------------------

create or replace function private.refund_view(r public.refunds) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id, 'object', 'refund', 'payment_id', r.payment_id, 'merchant_id', r.merchant_id,
    'mode', (select p.mode from public.payments as p where p.id = r.payment_id),
    'amount', r.amount, 'currency', r.currency, 'status', r.status, 'reason', r.reason,
    'provider_refund_id', r.provider_refund_id,
    'failure', case when r.status = 'failed' then
      jsonb_build_object('code', r.failure_code, 'message', r.failure_message) end,
    'created_at', r.created_at, 'completed_at', r.completed_at
  )
$$;

create or replace function private.create_refund(
  p_payment_id text, p_amount bigint, p_reason text, p_idempotency_key text
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  -- The payment row lock serialises refunds of one payment: their sum cannot pass the capture.
  p public.payments := private.payment_for(
    p_payment_id, '{owner,developer,api_key}', 'refund payments', true
  );
  request jsonb := jsonb_build_object(
    'payment_id', p_payment_id, 'amount', p_amount, 'reason', p_reason
  );
  replay jsonb;
  v_left bigint;
  v_amount bigint;
  captured public.payment_attempts;
  r public.refunds;
begin
  replay := private.idempotency_replay(
    'create_refund', p_idempotency_key, request, p.merchant_id
  );
  if replay is not null then
    return replay;
  end if;
  if p_amount is not null and p_amount <= 0 then
    raise exception 'amount must be a positive whole number of minor units' using errcode = '22023';
  end if;
  if char_length(p_reason) > 500 then
    raise exception 'reason must be at most 500 characters' using errcode = '22023';
  end if;
  if p.status not in ('succeeded', 'partially_refunded', 'refunded') then
    perform private.raise_http(
      422, 'payment_not_refundable',
      format('payment %s is %s: only succeeded or partially refunded payments can be refunded',
        p.id, p.status)
    );
  end if;
  v_left := p.amount_captured - p.refund_reserved;
  if v_left <= 0 then
    perform private.raise_http(
      422, 'nothing_to_refund',
      format('payment %s has nothing left to refund: refunds already cover its %s %s',
        p.id, p.amount_captured, p.currency)
    );
  end if;
  v_amount := coalesce(p_amount, v_left);
  if v_amount > v_left then
    perform private.raise_http(
      422, 'refund_exceeds_available',
      format('a refund of %s would exceed what is left to refund (%s of %s %s)',
        v_amount, v_left, p.amount_captured, p.currency)
    );
  end if;
  select * into captured from public.payment_attempts as a
  where a.payment_id = p.id and a.status = 'succeeded'
  order by a.attempt_no desc limit 1;
  insert into public.refunds (
    payment_id, merchant_id, attempt_id, gateway_id, amount, currency, reason, api_key_id,
    created_by, next_check_at
  ) values (
    p.id, p.merchant_id, captured.id, captured.gateway_id, v_amount, p.currency, p_reason,
    (auth.jwt() ->> 'api_key_id')::uuid, auth.uid(),
    now() + make_interval(secs => (private.setting('refunds.check_schedule_s') ->> 0)::integer)
  ) returning * into r;
  update public.payments as x set refund_reserved = x.refund_reserved + v_amount
  where x.id = p.id;
  perform private.enqueue('payment', jsonb_build_object('refund_id', r.id), 0, 'refund:' || r.id);
  return private.idempotency_store(
    'create_refund', p_idempotency_key, request, private.refund_view(r), p.merchant_id
  );
end
$$;
comment on function public.create_refund(text, bigint, text, text) is
$$Refunds all (p_amount null) or part of a succeeded payment, asynchronously: the refund is
pending until the provider answers (refund.succeeded / refund.failed webhooks follow).
Refunds of one payment never add up to more than was captured, however many run at once.
Who: the merchant's owners and developers, its API keys (of the payment's mode), admins.
Returns: the refund {id, object: refund, payment_id, merchant_id, mode, amount, currency,
status: pending, reason, provider_refund_id, failure, created_at, completed_at}.
Errors: P0002 unknown payment (or another merchant's, or another mode's for an API key);
42501 role; 22023 amount not positive, reason over 500 characters, Idempotency-Key not
1..255 characters; PGRST 422 payment_not_refundable (not succeeded or partially refunded),
nothing_to_refund (refunds already cover the capture), refund_exceeds_available (more than
is left), idempotency_key_reused; PGRST 409 idempotency_key_in_use.$$;

-- Every successful partial refund is an event, not only the first status change.
create or replace function private.payment_events() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_type text;
begin
  if tg_op = 'INSERT' then
    v_type := 'payment.created';
  elsif new.status is distinct from old.status then
    v_type := case new.status
      when 'requires_action' then 'payment.requires_action'
      when 'succeeded' then 'payment.succeeded'
      when 'failed' then 'payment.failed'
      when 'cancelled' then 'payment.cancelled'
      when 'expired' then 'payment.expired'
      when 'partially_refunded' then 'payment.partially_refunded'
      when 'refunded' then 'payment.refunded'
    end;
  elsif new.status = 'partially_refunded' and new.amount_refunded > old.amount_refunded then
    v_type := 'payment.partially_refunded';
  end if;
  if v_type is not null then
    perform private.emit_event(new.merchant_id, v_type, private.payment_view(new));
  end if;
  return null;
end
$$;
comment on function private.payment_events() is
$$Trigger: a payment.* webhook event for a new payment, each status change, and each further
successful partial refund (amount_refunded grows while the status stays
partially_refunded).$$;
drop trigger payments_events on public.payments;
create trigger payments_events
after insert or update of status, amount_refunded on public.payments
for each row execute function private.payment_events();

-- Archived gateways ---------------------------------------------------------------------------

create or replace function private.archive_gateway(p_gateway_id uuid, p_force boolean)
returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  g public.gateways;
  in_flight bigint;
begin
  perform private.require_admin();
  select * into g from public.gateways as x where x.id = p_gateway_id for update;
  if not found then
    raise exception 'gateway % does not exist', p_gateway_id using errcode = 'P0002';
  end if;
  if g.status = 'archived' then
    return private.gateway_view(g) || jsonb_build_object('already_archived', true);
  end if;
  in_flight := private.gateway_in_flight(g.id);
  if in_flight > 0 and not coalesce(p_force, false) then
    raise exception 'gateway % has % payments in flight', p_gateway_id, in_flight
      using errcode = 'P0001', hint = 'wait for them to finish, or archive with force';
  end if;
  update public.gateways as x set status = 'archived', archived_at = now()
  where x.id = g.id
  returning * into g;
  -- With payments in flight the credentials stay until they settle: their webhooks, status
  -- checks and refunds still need them (private.purge_archived_credentials).
  if in_flight = 0 then
    perform private.destroy_gateway_credentials(g.id);
    select * into g from public.gateways as x where x.id = g.id;
  end if;
  return private.gateway_view(g) || jsonb_build_object(
    'in_flight_at_archive', in_flight, 'credentials_kept_until_settled', in_flight > 0
  );
end
$$;
comment on function private.archive_gateway(uuid, boolean) is
$$Admins: takes a gateway out of routing for good; its credentials are destroyed at once, or,
when forced with payments in flight, once those settle; see public.admin_archive_gateway.$$;

comment on function public.admin_archive_gateway(uuid, boolean) is
$$Archives a gateway: out of routing for good, history kept. Its credentials (Vault) are
destroyed at once; when forced while payments or refunds are in flight on it, they are kept
until those settle (so the provider's webhooks, status checks and refunds still work) and
destroyed by pg_cron within 10 minutes after.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the gateway view plus in_flight_at_archive and credentials_kept_until_settled (or
already_archived: true).
Errors: P0002 unknown gateway; P0001 payments in flight and p_force not set; 42501 not an
admin.$$;

create function private.gateway_in_flight(p_gateway_id uuid) returns bigint
language sql stable security definer
set search_path = ''
as $$
  select
    (select count(*) from public.payment_attempts as a
      where a.gateway_id = p_gateway_id
        and a.status in ('created', 'requires_action', 'pending', 'unknown'))
    + (select count(*) from public.refunds as r
      where r.gateway_id = p_gateway_id and r.status = 'pending')
$$;
comment on function private.gateway_in_flight(uuid) is
$$Attempts not yet final plus refunds still pending on a gateway.$$;

create function private.destroy_gateway_credentials(p_gateway_id uuid) returns void
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  delete from vault.secrets as s where s.id in (
    select g.credentials_secret_id from public.gateways as g where g.id = p_gateway_id
    union all
    select p.secret_id from private.gateway_previous_credentials as p
    where p.gateway_id = p_gateway_id
  );
  delete from private.gateway_previous_credentials as p where p.gateway_id = p_gateway_id;
  update public.gateways as x set credentials_secret_id = null, credentials_masked = '{}'::jsonb
  where x.id = p_gateway_id;
end
$$;
comment on function private.destroy_gateway_credentials(uuid) is
$$Deletes a gateway's current and previous credentials from Vault (callers check the role).$$;

create function private.purge_archived_credentials() returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  g record;
  n integer := 0;
begin
  for g in
    select x.id from public.gateways as x
    where x.status = 'archived' and x.credentials_secret_id is not null
      and private.gateway_in_flight(x.id) = 0
    for update skip locked
  loop
    perform private.destroy_gateway_credentials(g.id);
    n := n + 1;
  end loop;
  return n;
end
$$;
comment on function private.purge_archived_credentials() is
$$pg_cron, every 10 minutes: destroys the credentials of archived gateways with nothing left
in flight. Returns how many gateways.$$;
select cron.schedule(
  'lsp-archived-credentials', '*/10 * * * *', 'select private.purge_archived_credentials()'
);

-- An archived gateway still holding credentials still hears from its provider.
create or replace function private.gateway_webhook_credentials(p_gateway_id uuid, p_provider text)
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
  where g.id = p_gateway_id and g.provider = p_provider
    and (g.status <> 'archived' or g.credentials_secret_id is not null)
  group by g.id, g.provider
$$;
comment on function private.gateway_webhook_credentials(uuid, text) is
$$service_role: the credentials (current first, then previous ones still valid) to verify an
inbound webhook; null when no such gateway of that provider, or an archived one whose
credentials are gone.$$;

-- Customer input ------------------------------------------------------------------------------

create function private.normalized_phone(p_phone text) returns text
language sql immutable
set search_path = ''
as $$ select regexp_replace(p_phone, '[\s().-]', '', 'g') $$;
comment on function private.normalized_phone(text) is
$$A phone number without the separators people write (spaces, dots, dashes, brackets).$$;

create function private.is_ip_address(p_text text) returns boolean
language plpgsql immutable
set search_path = ''
as $$
begin
  perform p_text::inet;
  return p_text !~ '/';
exception when invalid_text_representation then
  return false;
end
$$;
comment on function private.is_ip_address(text) is
$$True for an IPv4 or IPv6 address (no prefix length).$$;

create or replace function private.check_payment_input(
  p_method text, p_upi_vpa text, p_customer jsonb, p_description text, p_metadata jsonb,
  p_return_url text, p_region text
) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  k text;
  v jsonb;
begin
  if p_method is null or p_method not in ('upi', 'card', 'netbanking', 'wallet') then
    raise exception 'method must be one of upi, card, netbanking, wallet' using errcode = '22023';
  end if;
  if p_upi_vpa is not null and p_method <> 'upi' then
    raise exception 'upi.vpa goes with method upi only' using errcode = '22023';
  end if;
  if p_upi_vpa is not null and p_upi_vpa !~ '^[A-Za-z0-9._-]{2,255}@[A-Za-z][A-Za-z0-9]{1,63}$' then
    raise exception 'upi.vpa must be a UPI ID such as name@bank' using errcode = '22023';
  end if;
  if p_method in ('card', 'netbanking', 'wallet') and p_return_url is null then
    raise exception 'return_url is required for %: the customer pays on the provider''s page and comes back to it',
      p_method using errcode = '22023';
  end if;
  if p_return_url is not null
    and (p_return_url !~ '^https?://[^\s/?#]+[^\s]*$' or char_length(p_return_url) > 2000) then
    raise exception 'return_url must be an http(s) URL of at most 2000 characters'
      using errcode = '22023';
  end if;
  if p_customer is not null then
    if jsonb_typeof(p_customer) <> 'object' then
      raise exception 'customer must be an object' using errcode = '22023';
    end if;
    for k, v in select e.key, e.value from jsonb_each(p_customer) as e loop
      if k not in ('email', 'phone', 'ip', 'user_agent') then
        raise exception 'customer.% is not a field: use email, phone, ip, user_agent', k
          using errcode = '22023';
      end if;
      if jsonb_typeof(v) <> 'string' then
        raise exception 'customer.% must be a string', k using errcode = '22023';
      end if;
    end loop;
    if p_customer ->> 'email' !~ '^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$'
      or char_length(p_customer ->> 'email') > 254 then
      raise exception 'customer.email is not an email address' using errcode = '22023';
    end if;
    if char_length(p_customer ->> 'phone') > 30
      or private.normalized_phone(p_customer ->> 'phone') !~ '^\+?[0-9]{8,15}$' then
      raise exception 'customer.phone must be 8 to 15 digits, optionally with a leading + (spaces, dots, dashes and brackets are ignored)'
        using errcode = '22023';
    end if;
    if p_customer ? 'ip' and (
      char_length(p_customer ->> 'ip') > 45 or not private.is_ip_address(p_customer ->> 'ip')
    ) then
      raise exception 'customer.ip must be an IPv4 or IPv6 address' using errcode = '22023';
    end if;
    if char_length(p_customer ->> 'user_agent') > 500 then
      raise exception 'customer.user_agent is longer than 500 characters' using errcode = '22023';
    end if;
  end if;
  if char_length(p_description) > 500 then
    raise exception 'description must be at most 500 characters' using errcode = '22023';
  end if;
  if p_metadata is not null then
    if jsonb_typeof(p_metadata) <> 'object' then
      raise exception 'metadata must be an object of string values' using errcode = '22023';
    end if;
    if (select count(*) from jsonb_object_keys(p_metadata)) > 20 then
      raise exception 'metadata holds at most 20 keys' using errcode = '22023';
    end if;
    for k, v in select e.key, e.value from jsonb_each(p_metadata) as e loop
      if char_length(k) not between 1 and 40 then
        raise exception 'metadata keys must be 1 to 40 characters' using errcode = '22023';
      end if;
      if jsonb_typeof(v) <> 'string' or char_length(v #>> '{}') > 500 then
        raise exception 'metadata.% must be a string of at most 500 characters', k
          using errcode = '22023';
      end if;
    end loop;
  end if;
  if p_region is not null and p_region !~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$' then
    raise exception 'region must be an ISO 3166 code such as IN or IN-KA' using errcode = '22023';
  end if;
end
$$;

create or replace function private.create_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_upi jsonb,
  p_customer jsonb, p_description text, p_metadata jsonb, p_return_url text, p_region text,
  p_mode text, p_idempotency_key text
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(
    p_merchant_id, '{owner,developer,api_key}', 'create payments'
  );
  key_mode text := private.key_mode();
  v_mode text := coalesce(key_mode, p_mode, 'test');
  v_vpa text;
  request jsonb := jsonb_build_object(
    'amount', p_amount, 'currency', p_currency, 'method', p_method, 'upi', p_upi,
    'customer', p_customer, 'description', p_description, 'metadata', p_metadata,
    'return_url', p_return_url, 'region', p_region, 'mode', p_mode
  );
  replay jsonb;
  merchant public.merchants;
  p public.payments;
begin
  replay := private.idempotency_replay('create_payment', p_idempotency_key, request, m);
  if replay is not null then
    return replay;
  end if;
  if p_mode is not null and p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if key_mode is not null and p_mode is not null and p_mode <> key_mode then
    raise exception 'this is a % API key: it creates % payments only', key_mode, key_mode
      using errcode = '22023';
  end if;
  if p_amount is null or p_amount <= 0 then
    raise exception 'amount must be a positive whole number of minor units (paise for INR)'
      using errcode = '22023';
  end if;
  if p_amount > 100000000000000 then
    raise exception 'amount must be at most 100000000000000 minor units' using errcode = '22023';
  end if;
  perform private.check_currency(p_currency);
  if p_upi is not null and (
    jsonb_typeof(p_upi) <> 'object' or exists (
      select 1 from jsonb_object_keys(p_upi) as k where k <> 'vpa'
    ) or jsonb_typeof(p_upi -> 'vpa') not in ('string', 'null')
  ) then
    raise exception 'upi must be an object {"vpa": "name@bank"}' using errcode = '22023';
  end if;
  v_vpa := p_upi ->> 'vpa';
  perform private.check_payment_input(
    p_method, v_vpa, p_customer, p_description, p_metadata, p_return_url, p_region
  );
  select * into merchant from public.merchants as x where x.id = m;
  if merchant.status <> 'active' then
    raise exception 'merchant % is %: it cannot take payments', m, merchant.status
      using errcode = 'P0001';
  end if;
  if v_mode = 'live' and not merchant.live_enabled then
    raise exception 'merchant % is not enabled for live payments yet', m
      using errcode = 'P0001', hint = 'use test mode, or ask LightSpeedPay to enable live mode';
  end if;
  insert into public.payments (
    merchant_id, mode, amount, currency, method, upi_vpa, customer_email, customer_phone,
    customer_ip, customer_user_agent, description, metadata, return_url, region, api_key_id,
    created_by, next_check_at
  ) values (
    m, v_mode, p_amount, p_currency, p_method, lower(v_vpa), p_customer ->> 'email',
    private.normalized_phone(p_customer ->> 'phone'), p_customer ->> 'ip',
    p_customer ->> 'user_agent', p_description,
    coalesce(p_metadata, '{}'::jsonb), p_return_url, coalesce(p_region, 'IN'),
    (auth.jwt() ->> 'api_key_id')::uuid, auth.uid(),
    now() + make_interval(secs => (private.setting('payments.check_schedule_s') ->> 0)::integer)
  ) returning * into p;
  perform private.enqueue('payment', jsonb_build_object('payment_id', p.id), 0, 'charge:' || p.id);
  return private.idempotency_store(
    'create_payment', p_idempotency_key, request, private.payment_view(p), m
  );
end
$$;

revoke execute on function private.key_mode(), private.scoped_mode(text),
private.gateway_in_flight(uuid), private.destroy_gateway_credentials(uuid),
private.purge_archived_credentials(), private.normalized_phone(text),
private.is_ip_address(text)
from public, anon;
grant execute on function private.key_mode(), private.scoped_mode(text),
private.normalized_phone(text), private.is_ip_address(text)
to authenticated, service_role;
grant execute on function private.gateway_in_flight(uuid), private.destroy_gateway_credentials(uuid),
private.purge_archived_credentials()
to service_role;
