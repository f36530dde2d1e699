-- Gateway management: provider catalogue, credentials in Vault (masked copies for display),
-- connectivity-test results, health probes with hysteresis, per-gateway pre-aggregated
-- transaction buckets, daily-limit reservations, priority routing, and the admin RPCs.

-- Provider catalogue --------------------------------------------------------------------------
create table public.gateway_providers (
  provider text primary key,
  display_name text not null,
  -- [{name, label, required, secret}]
  credential_fields jsonb not null,
  base_urls jsonb not null,
  credential_check jsonb not null,
  docs_url text not null,
  created_at timestamptz not null default now()
);
alter table public.gateway_providers enable row level security;

insert into public.gateway_providers (
  provider, display_name, credential_fields, base_urls, credential_check, docs_url
) values
(
  'sandbox', 'LightSpeedPay Sandbox',
  '[{"name": "api_key", "label": "API key", "required": true, "secret": false},
    {"name": "api_secret", "label": "API secret", "required": true, "secret": true}]',
  '{"test": "http://127.0.0.1:54330/sandbox", "live": "http://127.0.0.1:54330/sandbox"}',
  '{"request": "GET /v1/ping with X-Api-Key and X-Api-Secret headers",
    "outcomes": {"200": "ok", "401": "auth_failed", "429": "rate_limited"}}',
  'README.md#gateways'
),
(
  'razorpay', 'Razorpay',
  '[{"name": "key_id", "label": "Key ID (rzp_test_/rzp_live_)", "required": true, "secret": false},
    {"name": "key_secret", "label": "Key secret", "required": true, "secret": true},
    {"name": "webhook_secret", "label": "Webhook secret", "required": false, "secret": true}]',
  '{"test": "https://api.razorpay.com", "live": "https://api.razorpay.com"}',
  '{"request": "GET /v1/payments?count=1 with HTTP Basic key_id:key_secret",
    "outcomes": {"200": "ok", "401": "auth_failed", "429": "rate_limited"}}',
  'https://razorpay.com/docs/api/payments/fetch-all-payments/'
),
(
  'cashfree', 'Cashfree Payments',
  '[{"name": "client_id", "label": "App ID (x-client-id)", "required": true, "secret": false},
    {"name": "client_secret", "label": "Secret key (x-client-secret)", "required": true,
     "secret": true},
    {"name": "api_version", "label": "API version (x-api-version)", "required": false,
     "secret": false}]',
  '{"test": "https://sandbox.cashfree.com", "live": "https://api.cashfree.com"}',
  '{"request": "GET /pg/orders/{random id} with x-client-id, x-client-secret, x-api-version",
    "outcomes": {"404": "ok (credentials accepted, order unknown)", "200": "ok",
                 "401": "auth_failed", "429": "rate_limited"}}',
  'https://www.cashfree.com/docs/api-reference/payments/latest/orders/get'
),
(
  'payu', 'PayU India',
  '[{"name": "merchant_key", "label": "Merchant key", "required": true, "secret": false},
    {"name": "merchant_salt", "label": "Merchant salt", "required": true, "secret": true}]',
  '{"test": "https://test.payu.in", "live": "https://info.payu.in"}',
  '{"request": "POST /merchant/postservice.php?form=2 command=verify_payment, hash = sha512(key|command|var1|salt)",
    "outcomes": {"status 1": "ok", "status 0 (invalid key/hash)": "auth_failed"}}',
  'https://docs.payu.in/reference/verify_payment_api'
),
(
  'phonepe', 'PhonePe PG (v2)',
  '[{"name": "client_id", "label": "Client ID", "required": true, "secret": false},
    {"name": "client_version", "label": "Client version", "required": true, "secret": false},
    {"name": "client_secret", "label": "Client secret", "required": true, "secret": true}]',
  '{"test": "https://api-preprod.phonepe.com/apis/pg-sandbox",
    "live": "https://api.phonepe.com/apis/identity-manager"}',
  '{"request": "POST /v1/oauth/token (client_credentials, form-encoded)",
    "outcomes": {"200 with access_token": "ok", "400/401/403": "auth_failed",
                 "429": "rate_limited"}}',
  'https://developer.phonepe.com/payment-gateway/website-integration/standard-checkout/api-integration/api-reference/authorization'
),
(
  'paytm', 'Paytm Payment Gateway',
  '[{"name": "mid", "label": "Merchant ID (MID)", "required": true, "secret": false},
    {"name": "merchant_key", "label": "Merchant key", "required": true, "secret": true}]',
  '{"test": "https://securegw-stage.paytm.in", "live": "https://securegw.paytm.in"}',
  '{"request": "POST /v3/order/status with head.signature = Paytm checksum of the body",
    "outcomes": {"resultCode 334/501 (order unknown)": "ok",
                 "resultCode 2005/2006 (checksum/MID invalid)": "auth_failed"}}',
  'https://developer.paytm.com/docs/api/v3/transaction-status-api/'
),
(
  'stripe', 'Stripe',
  '[{"name": "secret_key", "label": "Secret key (sk_test_/sk_live_)", "required": true,
     "secret": true},
    {"name": "publishable_key", "label": "Publishable key", "required": false, "secret": false},
    {"name": "webhook_secret", "label": "Webhook signing secret", "required": false,
     "secret": true}]',
  '{"test": "https://api.stripe.com", "live": "https://api.stripe.com"}',
  '{"request": "GET /v1/balance with Authorization: Bearer <secret key>",
    "outcomes": {"200": "ok", "401": "auth_failed", "429": "rate_limited"}}',
  'https://docs.stripe.com/api/balance/balance_retrieve'
)
on conflict (provider) do nothing;

-- Gateway health and test state ----------------------------------------------------------------
alter table public.gateways
add column credentials_masked jsonb not null default '{}'::jsonb,
add column credentials_rotated_at timestamptz,
add column health_state text not null default 'unknown'
check (health_state in ('unknown', 'healthy', 'degraded', 'down')),
add column health_changed_at timestamptz,
add column consecutive_failures integer not null default 0,
add column consecutive_successes integer not null default 0,
add column last_probe jsonb,
add column last_test jsonb;

create table public.gateway_probes (
  id bigint generated always as identity primary key,
  gateway_id uuid not null references public.gateways (id) on delete cascade,
  source text not null check (source in ('probe', 'manual')),
  ok boolean not null,
  latency_ms integer check (latency_ms >= 0),
  http_status integer,
  error_class text check (
    error_class in ('auth_failed', 'unreachable', 'timeout', 'rate_limited', 'unexpected_response')
  ),
  message text check (char_length(message) <= 500),
  created_at timestamptz not null default now()
);
alter table public.gateway_probes enable row level security;
create index gateway_probes_gateway_time_idx on public.gateway_probes (gateway_id, created_at);

-- Pre-aggregated transaction outcomes: per minute (1 h windows) and per hour (24 h windows).
-- h1..h14 count provider latencies into the buckets of private.latency_bounds() (h1: up
-- to 25 ms ... h14: over 10 s); columns rather than an array so windows sum in one pass.
create table public.gateway_stats_minute (
  gateway_id uuid not null references public.gateways (id) on delete cascade,
  minute timestamptz not null,
  succeeded integer not null default 0,
  failed integer not null default 0,
  volume bigint not null default 0,
  h1 integer not null default 0,
  h2 integer not null default 0,
  h3 integer not null default 0,
  h4 integer not null default 0,
  h5 integer not null default 0,
  h6 integer not null default 0,
  h7 integer not null default 0,
  h8 integer not null default 0,
  h9 integer not null default 0,
  h10 integer not null default 0,
  h11 integer not null default 0,
  h12 integer not null default 0,
  h13 integer not null default 0,
  h14 integer not null default 0,
  created_at timestamptz not null default now(),
  primary key (gateway_id, minute)
);
alter table public.gateway_stats_minute enable row level security;

create table public.gateway_stats_hour (
  gateway_id uuid not null references public.gateways (id) on delete cascade,
  hour timestamptz not null,
  succeeded integer not null default 0,
  failed integer not null default 0,
  volume bigint not null default 0,
  created_at timestamptz not null default now(),
  primary key (gateway_id, hour)
);
alter table public.gateway_stats_hour enable row level security;

-- Amounts committed to a gateway per (India) day: pending plus succeeded. The daily limit
-- is enforced on this row under its lock, so concurrent payments cannot jointly overshoot.
create table public.gateway_daily_usage (
  gateway_id uuid not null references public.gateways (id) on delete cascade,
  day date not null,
  reserved bigint not null default 0 check (reserved >= 0),
  created_at timestamptz not null default now(),
  primary key (gateway_id, day)
);
alter table public.gateway_daily_usage enable row level security;

-- No SET clause: lets the planner inline this hot-path helper (names are qualified).
create function private.latency_bounds() returns integer[]
language sql immutable
as $$ select array[25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 2147483647] $$;

-- No SET clause: lets the planner inline this hot-path helper (names are qualified).
create function private.latency_bucket(p_ms integer) returns integer
language sql immutable
as $$
  select coalesce(
    (select min(b.i) from unnest(private.latency_bounds()) with ordinality as b (bound, i)
     where p_ms <= b.bound), 14
  )::integer
$$;

-- Approximate percentile from summed histograms: the upper bound of the bucket holding it.
create function private.hist_percentile(p_hist bigint[], p_fraction numeric) returns integer
language plpgsql immutable
set search_path = ''
as $$
declare
  total bigint := 0;
  running bigint := 0;
  i integer;
begin
  select coalesce(sum(x), 0) into total from unnest(p_hist) as x;
  if total = 0 then
    return null;
  end if;
  for i in 1 .. cardinality(p_hist) loop
    running := running + p_hist[i];
    if running >= ceil(total * p_fraction) then
      return (private.latency_bounds())[i];
    end if;
  end loop;
  return null;
end
$$;

-- No SET clause: lets the planner inline this hot-path helper (names are qualified).
create function private.india_day(p_at timestamptz) returns date
language sql immutable
as $$ select (p_at at time zone 'Asia/Kolkata')::date $$;

-- Daily-limit reservation and release, and outcome buckets, kept by triggers on
-- transactions so every writer (API, worker, service_role) goes through them.
create function private.transaction_gateway_accounting() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  terminal_fail constant text[] := '{failed,cancelled}';
  limit_amount bigint;
  v_day date := private.india_day(coalesce(new.created_at, now()));
  was_reserved boolean := false;
  now_reserved boolean;
begin
  if tg_op = 'UPDATE' then
    was_reserved := old.gateway_id is not null and not old.status = any(terminal_fail);
  end if;
  now_reserved := new.gateway_id is not null and not new.status = any(terminal_fail);

  if was_reserved and (not now_reserved or new.gateway_id is distinct from old.gateway_id) then
    update public.gateway_daily_usage as u
    set reserved = greatest(u.reserved - old.amount, 0)
    where u.gateway_id = old.gateway_id and u.day = private.india_day(old.created_at);
  end if;

  if now_reserved and (not was_reserved or new.gateway_id is distinct from old.gateway_id) then
    select g.daily_limit into limit_amount from public.gateways as g where g.id = new.gateway_id;
    insert into public.gateway_daily_usage as u (gateway_id, day, reserved)
    values (new.gateway_id, v_day, 0)
    on conflict (gateway_id, day) do nothing;
    update public.gateway_daily_usage as u
    set reserved = u.reserved + new.amount
    where u.gateway_id = new.gateway_id and u.day = v_day
      and (limit_amount is null or u.reserved + new.amount <= limit_amount);
    if not found then
      raise exception 'gateway % has reached its daily limit', new.gateway_id
        using errcode = 'P0001', hint = 'route the payment to the next candidate gateway';
    end if;
  end if;
  return new;
end
$$;

create function private.transaction_outcome_buckets() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  b integer := coalesce(private.latency_bucket(new.provider_latency_ms), 0);
  ok boolean := new.status = 'succeeded';
begin
  if new.gateway_id is null or new.status not in ('succeeded', 'failed') then
    return null;
  end if;
  if tg_op = 'UPDATE' and old.status in ('succeeded', 'failed') then
    return null; -- counted once per transaction, when it first reaches an outcome
  end if;
  insert into public.gateway_stats_minute as s (
    gateway_id, minute, succeeded, failed, volume, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14
  ) values (
    new.gateway_id, date_trunc('minute', now()), ok::integer, (not ok)::integer,
    case when ok then new.amount else 0 end, (b = 1)::integer, (b = 2)::integer, (b = 3)::integer, (b = 4)::integer, (b = 5)::integer, (b = 6)::integer, (b = 7)::integer, (b = 8)::integer, (b = 9)::integer, (b = 10)::integer, (b = 11)::integer, (b = 12)::integer, (b = 13)::integer, (b = 14)::integer
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

create trigger transactions_gateway_accounting
before insert or update of gateway_id, status on public.transactions
for each row execute function private.transaction_gateway_accounting();
create trigger transactions_outcome_buckets
after insert or update of status on public.transactions
for each row execute function private.transaction_outcome_buckets();

-- Priority-only changes come from set_gateway_priority, which writes one audit entry for
-- the whole reorder instead of one per gateway.
drop trigger audit_gateways on public.gateways;
create trigger audit_gateways_insert_delete after insert or delete on public.gateways
for each row execute function audit.record_change('id', 'credentials_secret_id');
create trigger audit_gateways_update after update on public.gateways
for each row when (
  (to_jsonb(old) - '{priority,updated_at}'::text[])
  is distinct from (to_jsonb(new) - '{priority,updated_at}'::text[])
)
execute function audit.record_change('id', 'credentials_secret_id');

-- Policies and grants ----------------------------------------------------------------------------
create policy gateway_providers_admin_read on public.gateway_providers
for select to authenticated using ((select private.is_admin()));
create policy gateway_probes_admin_read on public.gateway_probes
for select to authenticated using ((select private.is_admin()));
create policy gateway_stats_minute_admin_read on public.gateway_stats_minute
for select to authenticated using ((select private.is_admin()));
create policy gateway_stats_hour_admin_read on public.gateway_stats_hour
for select to authenticated using ((select private.is_admin()));
create policy gateway_daily_usage_admin_read on public.gateway_daily_usage
for select to authenticated using ((select private.is_admin()));

revoke all on public.gateway_providers, public.gateway_probes, public.gateway_stats_minute,
public.gateway_stats_hour, public.gateway_daily_usage from public, anon, authenticated;
revoke all on all sequences in schema public from anon, authenticated;
grant select on public.gateway_providers, public.gateway_probes, public.gateway_stats_minute,
public.gateway_stats_hour, public.gateway_daily_usage to authenticated;
grant select, insert, update, delete on public.gateway_providers, public.gateway_probes,
public.gateway_stats_minute, public.gateway_stats_hour, public.gateway_daily_usage
to service_role;
