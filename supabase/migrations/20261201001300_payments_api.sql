-- Payments API: create, read, list, cancel and refund payments (merchant members and API keys;
-- viewers read only), the admin list, and the admin switch for live mode. Every write takes an
-- Idempotency-Key (private.idempotency_replay/store), checks the caller's role through
-- private.require_merchant, and enqueues the work for the worker.

-- Input checks, each raising 22023 with a message a developer can act on ------------------------
create function private.check_payment_input(
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
    if p_customer ->> 'phone' !~ '^\+?[0-9]{8,15}$' then
      raise exception 'customer.phone must be 8 to 15 digits, optionally with a leading +'
        using errcode = '22023';
    end if;
    if char_length(p_customer ->> 'ip') > 45 or char_length(p_customer ->> 'user_agent') > 500 then
      raise exception 'customer.ip or customer.user_agent is too long' using errcode = '22023';
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
comment on function private.check_payment_input(text, text, jsonb, text, jsonb, text, text) is
$$Validates a new payment's fields (22023 naming the field): method, upi.vpa (UPI only),
return_url (required for redirect methods), customer {email, phone, ip, user_agent},
description <= 500 chars, metadata <= 20 string values of <= 500 chars, region.$$;

-- The payment a caller may see (P0002 otherwise), locked when asked; roles as in
-- private.require_merchant.
create function private.payment_for(
  p_payment_id text, p_roles text[] default null, p_doing text default null,
  p_lock boolean default false
) returns public.payments
language plpgsql volatile security definer
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
  if not found or not (private.is_admin() or private.has_merchant_role(p.merchant_id)) then
    raise exception 'payment % does not exist', p_payment_id using errcode = 'P0002';
  end if;
  perform private.require_merchant(p.merchant_id, p_roles, p_doing);
  return p;
end
$$;
comment on function private.payment_for(text, text[], text, boolean) is
$$The payment if the caller may act on it: P0002 when it does not exist or belongs to another
merchant, 42501 when the caller lacks p_roles; optionally locked FOR UPDATE.$$;

-- Create ------------------------------------------------------------------------------------
create function private.create_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_upi jsonb,
  p_customer jsonb, p_description text, p_metadata jsonb, p_return_url text, p_region text,
  p_mode text, p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(
    p_merchant_id, '{owner,developer,api_key}', 'create payments'
  );
  key_mode text := auth.jwt() ->> 'key_mode';
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
  if p_amount is null or p_amount <= 0 or p_amount > 100000000000000 then
    raise exception 'amount must be a positive whole number of minor units (paise for INR)'
      using errcode = '22023';
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
    m, v_mode, p_amount, p_currency, p_method, v_vpa, p_customer ->> 'email',
    p_customer ->> 'phone', p_customer ->> 'ip', p_customer ->> 'user_agent', p_description,
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
comment on function private.create_payment(
  uuid, bigint, text, text, jsonb, jsonb, text, jsonb, text, text, text, text
) is
$$Records a payment (processing) and enqueues its charge; see public.create_payment.$$;

-- Read and list -----------------------------------------------------------------------------
create function private.get_payment(p_payment_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  p public.payments := private.payment_for(p_payment_id);
begin
  return private.payment_view(p) || jsonb_build_object(
    'attempts', coalesce((
      select jsonb_agg(private.attempt_view(a) order by a.attempt_no)
      from public.payment_attempts as a where a.payment_id = p.id
    ), '[]'::jsonb),
    'refunds', coalesce((
      select jsonb_agg(private.refund_view(r) order by r.created_at, r.id)
      from public.refunds as r where r.payment_id = p.id
    ), '[]'::jsonb)
  );
end
$$;
comment on function private.get_payment(text) is
$$One payment with its attempts and refunds, if the caller may see it (P0002 otherwise).$$;

-- Keyset pagination: the cursor is the last row's (created_at, id), base64url-encoded.
create function private.page_cursor(p_at timestamptz, p_id text) returns text
language sql immutable
set search_path = ''
as $$
  select translate(encode(convert_to(
    to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || p_id, 'UTF8'
  ), 'base64'), E'+/=\n', '-_')
$$;
comment on function private.page_cursor(timestamptz, text) is
$$An opaque keyset cursor for (created_at, id): base64url of 'timestamp|id', on one line
(Postgres's base64 breaks lines every 76 characters; a uuid id makes the text longer).$$;

create function private.read_cursor(p_cursor text, out at timestamptz, out id text)
language plpgsql immutable
set search_path = ''
as $$
declare
  plain text;
begin
  if p_cursor is null then
    return;
  end if;
  begin
    plain := convert_from(decode(
      rpad(translate(p_cursor, '-_', '+/'), ((char_length(p_cursor) + 3) / 4) * 4, '='),
      'base64'
    ), 'UTF8');
    at := split_part(plain, '|', 1)::timestamptz;
    id := split_part(plain, '|', 2);
  exception when others then
    at := null;
  end;
  if at is null or id = '' then
    raise exception 'cursor is not valid: pass back next_cursor as it was given'
      using errcode = '22023';
  end if;
end
$$;
comment on function private.read_cursor(text) is
$$Decodes private.page_cursor (22023 when it is not one).$$;

create function private.list_payments(
  p_merchant_id uuid, p_status text, p_method text, p_gateway_id uuid, p_mode text,
  p_from timestamptz, p_to timestamptz, p_amount_min bigint, p_amount_max bigint,
  p_cursor text, p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  c record := private.read_cursor(p_cursor);
  page jsonb;
  last_at timestamptz;
  last_id text;
  n integer;
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  if p_status is not null and p_status not in (
    'created', 'processing', 'requires_action', 'succeeded', 'failed', 'cancelled', 'expired',
    'partially_refunded', 'refunded'
  ) then
    raise exception 'status % is not a payment status', p_status using errcode = '22023';
  end if;
  if p_method is not null and p_method not in ('upi', 'card', 'netbanking', 'wallet') then
    raise exception 'method must be one of upi, card, netbanking, wallet' using errcode = '22023';
  end if;
  if p_mode is not null and p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  select
    coalesce(jsonb_agg(private.payment_view(x) order by x.created_at desc, x.id desc), '[]'),
    count(*)
  into page, n
  from (
    select * from public.payments as p
    where (p_merchant_id is null or p.merchant_id = p_merchant_id)
      and (p_status is null or p.status = p_status)
      and (p_method is null or p.method = p_method)
      and (p_gateway_id is null or p.gateway_id = p_gateway_id)
      and (p_mode is null or p.mode = p_mode)
      and (p_from is null or p.created_at >= p_from)
      and (p_to is null or p.created_at < p_to)
      and (p_amount_min is null or p.amount >= p_amount_min)
      and (p_amount_max is null or p.amount <= p_amount_max)
      and (c.at is null or (p.created_at, p.id) < (c.at, c.id))
    order by p.created_at desc, p.id desc
    limit p_limit
  ) as x;
  if n = p_limit then
    select (e ->> 'created_at')::timestamptz, e ->> 'id' into last_at, last_id
    from jsonb_array_elements(page) with ordinality as t (e, i)
    order by t.i desc limit 1;
  end if;
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;
comment on function private.list_payments(
  uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer
) is
$$A page of payments (newest first) for one merchant or, with p_merchant_id null, all of them
(callers check who may ask); {data, next_cursor}.$$;

-- Cancel and refund -------------------------------------------------------------------------
create function private.cancel_payment(p_payment_id text, p_idempotency_key text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  p public.payments := private.payment_for(
    p_payment_id, '{owner,developer,api_key}', 'cancel payments', true
  );
  request jsonb := jsonb_build_object('payment_id', p_payment_id);
  replay jsonb;
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
  update public.payment_attempts as a set status = 'cancelled'
  where a.payment_id = p.id and a.status in ('created', 'requires_action', 'pending', 'unknown');
  update public.payments as x set
    status = 'cancelled', failure_code = 'cancelled', failure_message = 'cancelled by the merchant'
  where x.id = p.id
  returning * into p;
  return private.idempotency_store(
    'cancel_payment', p_idempotency_key, request, private.payment_view(p), p.merchant_id
  );
end
$$;
comment on function private.cancel_payment(text, text) is
$$Cancels a payment that has not completed, and its open attempts; see public.cancel_payment.$$;

create function private.create_refund(
  p_payment_id text, p_amount bigint, p_reason text, p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
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
  if p.status not in ('succeeded', 'partially_refunded') then
    raise exception 'payment % is %: only succeeded payments can be refunded', p.id, p.status
      using errcode = 'P0001';
  end if;
  v_amount := coalesce(p_amount, p.amount_captured - p.refund_reserved);
  if v_amount <= 0 then
    raise exception 'amount must be a positive whole number of minor units' using errcode = '22023';
  end if;
  if p.refund_reserved + v_amount > p.amount_captured then
    raise exception 'a refund of % would exceed what is left to refund (% of % %)',
      v_amount, p.amount_captured - p.refund_reserved, p.amount_captured, p.currency
      using errcode = 'P0001';
  end if;
  if char_length(p_reason) > 500 then
    raise exception 'reason must be at most 500 characters' using errcode = '22023';
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
comment on function private.create_refund(text, bigint, text, text) is
$$Records a pending refund under the payment's row lock and enqueues it; see
public.create_refund.$$;

create function private.set_merchant_live(p_merchant_id uuid, p_enabled boolean) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m public.merchants;
begin
  perform private.require_admin();
  if p_enabled is null then
    raise exception 'enabled must be true or false' using errcode = '22023';
  end if;
  update public.merchants as x set live_enabled = p_enabled where x.id = p_merchant_id
  returning * into m;
  if not found then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  return to_jsonb(m);
end
$$;
comment on function private.set_merchant_live(uuid, boolean) is
$$Admins only: allows or stops a merchant's live-mode payments.$$;

-- A merchant's gateway allowlist: when it has rows, routing picks only those gateways (for
-- merchants contracted to particular acquirers); no rows means every gateway.
create table public.merchant_gateways (
  merchant_id uuid not null references public.merchants (id) on delete cascade,
  gateway_id uuid not null references public.gateways (id) on delete cascade,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (merchant_id, gateway_id)
);
alter table public.merchant_gateways enable row level security;
create index merchant_gateways_gateway_idx on public.merchant_gateways (gateway_id);
create policy merchant_gateways_admin_read on public.merchant_gateways
for select to authenticated using ((select private.is_admin()));
revoke all on public.merchant_gateways from public, anon, authenticated;
grant select on public.merchant_gateways to authenticated;
grant select, insert, update, delete on public.merchant_gateways to service_role;
create trigger audit_merchant_gateways after insert or delete on public.merchant_gateways
for each row execute function audit.record_change('merchant_id,gateway_id');
comment on table public.merchant_gateways is
$$Which gateways may carry a merchant's payments: with rows, routing considers only those;
without, every gateway. Who reads: admins; written by admin_set_merchant_gateways.$$;

create function private.set_merchant_gateways(p_merchant_id uuid, p_gateway_ids uuid[])
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  missing uuid;
begin
  perform private.require_admin();
  if not exists (select 1 from public.merchants as m where m.id = p_merchant_id) then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  if p_gateway_ids is null then
    raise exception 'gateway_ids must be a list (empty: every gateway)' using errcode = '22023';
  end if;
  select x into missing from unnest(p_gateway_ids) as x
  where not exists (
    select 1 from public.gateways as g where g.id = x and g.status <> 'archived'
  ) limit 1;
  if missing is not null then
    raise exception 'gateway % does not exist or is archived', missing using errcode = '22023';
  end if;
  delete from public.merchant_gateways as r
  where r.merchant_id = p_merchant_id and not r.gateway_id = any(p_gateway_ids);
  insert into public.merchant_gateways (merchant_id, gateway_id, created_by)
  select p_merchant_id, x, auth.uid() from unnest(p_gateway_ids) as x
  on conflict (merchant_id, gateway_id) do nothing;
  return jsonb_build_object(
    'merchant_id', p_merchant_id,
    'gateway_ids', coalesce((
      select jsonb_agg(r.gateway_id order by r.created_at, r.gateway_id)
      from public.merchant_gateways as r where r.merchant_id = p_merchant_id
    ), '[]'::jsonb)
  );
end
$$;
comment on function private.set_merchant_gateways(uuid, uuid[]) is
$$Admins only: replaces a merchant's gateway allowlist; see public.admin_set_merchant_gateways.$$;

-- Routing only picks gateways whose environment is the payment's mode.
drop function public.route_payment(uuid, bigint, text, text, text);
drop function private.route_payment(uuid, bigint, text, text, text);
drop function private.route_gateways(bigint, text, text, text);
create function private.route_gateways(
  p_amount bigint, p_currency text, p_method text, p_region text, p_mode text,
  p_merchant_id uuid default null
) returns table (
  gateway_id uuid, provider text, priority integer, success_rate numeric, remaining bigint
)
language sql stable
set search_path = ''
as $$
  select g.id, g.provider, g.priority,
    coalesce(
      (coalesce(w.succeeded_1h, 0) + coalesce(lm.succeeded, 0))::numeric
      / nullif(coalesce(w.total_1h, 0) + coalesce(lm.total, 0), 0),
      0.5
    ) as success_rate,
    g.daily_limit - coalesce(u.reserved, 0) as remaining
  from public.gateways as g
  left join public.gateway_windows as w on w.gateway_id = g.id
  left join lateral (
    select sum(s.succeeded) as succeeded, sum(s.succeeded + s.failed) as total
    from public.gateway_stats_minute as s
    where s.gateway_id = g.id
      and s.minute >= coalesce(w.through_minute, date_trunc('minute', now()) - interval '1 hour')
  ) as lm on true
  left join public.gateway_daily_usage as u
    on u.gateway_id = g.id and u.day = private.india_day(now())
  where g.status = 'active'
    and g.environment = p_mode
    and g.health_state <> 'down'
    and p_currency = any(g.currencies)
    and (g.methods = '{}' or p_method = any(g.methods))
    and (g.regions = '{}' or p_region = any(g.regions) or split_part(p_region, '-', 1) = any(g.regions))
    and p_amount >= g.min_amount
    and (g.max_amount is null or p_amount <= g.max_amount)
    and (g.daily_limit is null or coalesce(u.reserved, 0) + p_amount <= g.daily_limit)
    and (
      p_merchant_id is null
      or not exists (select 1 from public.merchant_gateways as r where r.merchant_id = p_merchant_id)
      or exists (
        select 1 from public.merchant_gateways as r
        where r.merchant_id = p_merchant_id and r.gateway_id = g.id
      )
    )
  order by g.priority, success_rate desc, g.id
$$;
comment on function private.route_gateways(bigint, text, text, text, text, uuid) is
$$Candidate gateways for a payment, best first: active, environment = mode, not down, the
currency, method (empty list = all) and region (empty = all; IN-KA matches IN), amount within
min/max, room left under today's (India day) limit, and the merchant's allowlist
(public.merchant_gateways) when it has one; by priority, then the last hour's success rate
(0.5 without data).$$;

create function private.route_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_region text,
  p_mode text
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  merchant_status text;
begin
  perform private.require_admin();
  if p_amount is null or p_amount <= 0 then
    raise exception 'amount must be a positive whole number of minor units' using errcode = '22023';
  end if;
  perform private.check_currency(p_currency);
  if p_method is null or p_method not in ('card', 'upi', 'netbanking', 'wallet', 'emi', 'paylater') then
    raise exception 'method must be one of card, upi, netbanking, wallet, emi, paylater'
      using errcode = '22023';
  end if;
  if p_region is null or p_region !~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$' then
    raise exception 'region must be an ISO 3166 code such as IN or IN-KA' using errcode = '22023';
  end if;
  if p_mode is null or p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  select m.status into merchant_status from public.merchants as m where m.id = p_merchant_id;
  if merchant_status is null then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  elsif merchant_status <> 'active' then
    raise exception 'merchant % is %: it cannot take payments', p_merchant_id, merchant_status
      using errcode = 'P0001';
  end if;
  return jsonb_build_object('candidates', coalesce((
    select jsonb_agg(jsonb_build_object(
      'gateway_id', r.gateway_id, 'provider', r.provider, 'priority', r.priority,
      'success_rate_1h', round(r.success_rate, 4), 'remaining_today', r.remaining
    ))
    from private.route_gateways(
      p_amount, p_currency, p_method, p_region, p_mode, p_merchant_id
    ) as r
  ), '[]'::jsonb));
end
$$;
comment on function private.route_payment(uuid, bigint, text, text, text, text) is
$$Admins only: the routing preview; see public.route_payment.$$;

-- Public RPCs -------------------------------------------------------------------------------
create function public.route_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text,
  p_region text default 'IN', p_mode text default 'test'
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.route_payment(p_merchant_id, p_amount, p_currency, p_method, p_region, p_mode) $$;
comment on function public.route_payment(uuid, bigint, text, text, text, text) is
$$Previews the routing decision for a payment: the candidate gateways in the order the worker
would try them.
Who: platform admins and service_role; anyone else gets 42501.
Returns: {candidates: [{gateway_id, provider, priority, success_rate_1h (0..1), remaining_today
(minor units, null without a limit)}]}. p_amount in minor units; p_mode test | live picks
gateways of that environment.
Errors: 42501 not an admin; 22023 bad amount, currency (not ISO 4217), method, region or mode;
P0002 unknown merchant; P0001 merchant not active.$$;

create function public.create_payment(
  p_amount bigint, p_currency text, p_method text, p_upi jsonb default null,
  p_customer jsonb default null, p_description text default null, p_metadata jsonb default null,
  p_return_url text default null, p_region text default null, p_mode text default null,
  p_merchant_id uuid default null, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.create_payment(
    p_merchant_id, p_amount, p_currency, p_method, p_upi, p_customer, p_description,
    p_metadata, p_return_url, p_region, p_mode, p_idempotency_key
  )
$$;
comment on function public.create_payment(
  bigint, text, text, jsonb, jsonb, text, jsonb, text, text, text, uuid, text
) is
$$Creates a payment (status processing) and enqueues its charge; the worker routes it to a
gateway, and the payment moves to requires_action (next_action: redirect / UPI collect or
intent), succeeded or failed. Card details are never accepted: card, netbanking and wallet
payments redirect to the provider's page (return_url required).
Who: the merchant's owners and developers (JWT; merchant_id optional for a member of one
merchant) and its API keys; viewers and other merchants get 42501.
Returns: the payment snapshot (id pay_..., status, amount in minor units of currency, mode).
Mode comes from the API key (lsp_test_ / lsp_live_); a JWT makes test payments unless p_mode
is live and the merchant is enabled for live. Repeats with the same p_idempotency_key (kept
24 h) return the first answer.
Errors: 22023 bad amount (positive integer of minor units), currency (ISO 4217 upper case),
method, upi.vpa, customer, description, metadata (<= 20 string values), return_url, region,
mode; 42501 role; P0001 merchant not active or not enabled for live; PGRST 422
idempotency_key_reused; PGRST 409 idempotency_key_in_use.$$;

create function public.get_payment(p_payment_id text) returns jsonb
language sql stable
set search_path = ''
as $$ select private.get_payment(p_payment_id) $$;
comment on function public.get_payment(text) is
$$One payment with its attempts (gateway, provider ids, unified error, latency) and refunds.
Who: the merchant's members (viewers too) and API keys, admins.
Returns: the payment snapshot plus attempts[] and refunds[]; amounts in minor units.
Errors: P0002 unknown payment or another merchant's.$$;

create function public.list_payments(
  p_merchant_id uuid default null, p_status text default null, p_method text default null,
  p_gateway_id uuid default null, p_mode text default null, p_from timestamptz default null,
  p_to timestamptz default null, p_amount_min bigint default null,
  p_amount_max bigint default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$
  select private.list_payments(
    private.require_merchant(p_merchant_id), p_status, p_method, p_gateway_id, p_mode, p_from,
    p_to, p_amount_min, p_amount_max, p_cursor, p_limit
  )
$$;
comment on function public.list_payments(
  uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer
) is
$$A merchant's payments, newest first, filtered by status, method, gateway, mode, created_at
range [from, to) and amount range (minor units), keyset-paginated.
Who: the merchant's members and API keys (merchant_id optional for a member of one merchant),
admins naming the merchant.
Returns: {data: [payment], next_cursor: text | null}; limit 1..200 (default 50).
Errors: 22023 bad filter, limit or cursor, or merchant_id needed; 42501 not a member; P0002
unknown merchant (admins).$$;

create function public.admin_list_payments(
  p_merchant_id uuid default null, p_status text default null, p_method text default null,
  p_gateway_id uuid default null, p_mode text default null, p_from timestamptz default null,
  p_to timestamptz default null, p_amount_min bigint default null,
  p_amount_max bigint default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform private.require_admin();
  return private.list_payments(
    p_merchant_id, p_status, p_method, p_gateway_id, p_mode, p_from, p_to, p_amount_min,
    p_amount_max, p_cursor, p_limit
  );
end
$$;
comment on function public.admin_list_payments(
  uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer
) is
$$Every merchant's payments (or one merchant's), newest first, with the same filters as
list_payments.
Who: platform admins and service_role; anyone else gets 42501.
Returns: {data: [payment], next_cursor}; amounts in minor units.
Errors: 42501 not an admin; 22023 bad filter, limit or cursor.$$;

create function public.cancel_payment(p_payment_id text, p_idempotency_key text default null)
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.cancel_payment(p_payment_id, p_idempotency_key) $$;
comment on function public.cancel_payment(text, text) is
$$Cancels a payment while it is created, processing or requires_action; open attempts are
cancelled and release their gateway reservation. A provider's later success is still
recorded (late_success, review_reason) so it can be refunded.
Who: the merchant's owners and developers and its API keys; viewers get 42501.
Returns: the payment snapshot (status cancelled).
Errors: P0002 unknown payment; 42501 role; P0001 the payment already completed; PGRST 422 /
409 idempotency.$$;

create function public.create_refund(
  p_payment_id text, p_amount bigint default null, p_reason text default null,
  p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.create_refund(p_payment_id, p_amount, p_reason, p_idempotency_key) $$;
comment on function public.create_refund(text, bigint, text, text) is
$$Refunds all (p_amount null) or part of a succeeded payment through the gateway that captured
it; the worker calls the provider and the refund becomes succeeded or failed. Pending and
succeeded refunds never add up to more than the captured amount, even when requested
concurrently (the payment's row lock).
Who: the merchant's owners and developers and its API keys; viewers get 42501.
Returns: the refund {id rfd_..., amount (minor units), currency, status pending}.
Errors: P0002 unknown payment; 42501 role; P0001 not succeeded, or more than is left to
refund; 22023 amount not positive, reason too long; PGRST 422 / 409 idempotency.$$;

create function public.admin_set_merchant_gateways(p_merchant_id uuid, p_gateway_ids uuid[])
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.set_merchant_gateways(p_merchant_id, p_gateway_ids) $$;
comment on function public.admin_set_merchant_gateways(uuid, uuid[]) is
$$Sets which gateways may carry a merchant's payments (an empty list: every gateway).
Who: platform admins and service_role; anyone else gets 42501.
Returns: {merchant_id, gateway_ids}.
Errors: 42501 not an admin; P0002 unknown merchant; 22023 list missing, or a gateway that
does not exist or is archived.$$;

create function public.admin_set_merchant_live(p_merchant_id uuid, p_enabled boolean)
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.set_merchant_live(p_merchant_id, p_enabled) $$;
comment on function public.admin_set_merchant_live(uuid, boolean) is
$$Enables or disables a merchant's live-mode payments.
Who: platform admins and service_role; anyone else gets 42501.
Returns: the merchant row.
Errors: 42501 not an admin; 22023 enabled missing; P0002 unknown merchant.$$;

revoke execute on function
private.check_payment_input(text, text, jsonb, text, jsonb, text, text),
private.payment_for(text, text[], text, boolean),
private.create_payment(uuid, bigint, text, text, jsonb, jsonb, text, jsonb, text, text, text, text),
private.get_payment(text), private.page_cursor(timestamptz, text), private.read_cursor(text),
private.list_payments(uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer),
private.cancel_payment(text, text), private.create_refund(text, bigint, text, text),
private.set_merchant_live(uuid, boolean), private.set_merchant_gateways(uuid, uuid[]),
public.admin_set_merchant_gateways(uuid, uuid[]),
private.route_gateways(bigint, text, text, text, text, uuid),
private.route_payment(uuid, bigint, text, text, text, text),
public.route_payment(uuid, bigint, text, text, text, text),
public.create_payment(bigint, text, text, jsonb, jsonb, text, jsonb, text, text, text, uuid, text),
public.get_payment(text),
public.list_payments(uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer),
public.admin_list_payments(uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer),
public.cancel_payment(text, text), public.create_refund(text, bigint, text, text),
public.admin_set_merchant_live(uuid, boolean)
from public, anon;
grant execute on function
private.check_payment_input(text, text, jsonb, text, jsonb, text, text),
private.payment_for(text, text[], text, boolean),
private.create_payment(uuid, bigint, text, text, jsonb, jsonb, text, jsonb, text, text, text, text),
private.get_payment(text), private.page_cursor(timestamptz, text), private.read_cursor(text),
private.list_payments(uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer),
private.cancel_payment(text, text), private.create_refund(text, bigint, text, text),
private.set_merchant_live(uuid, boolean), private.set_merchant_gateways(uuid, uuid[]),
public.admin_set_merchant_gateways(uuid, uuid[]),
private.route_payment(uuid, bigint, text, text, text, text),
public.route_payment(uuid, bigint, text, text, text, text),
public.create_payment(bigint, text, text, jsonb, jsonb, text, jsonb, text, text, text, uuid, text),
public.get_payment(text),
public.list_payments(uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer),
public.admin_list_payments(uuid, text, text, uuid, text, timestamptz, timestamptz, bigint, bigint, text, integer),
public.cancel_payment(text, text), public.create_refund(text, bigint, text, text),
public.admin_set_merchant_live(uuid, boolean)
to authenticated, service_role;
grant execute on function private.route_gateways(bigint, text, text, text, text, uuid) to service_role;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
