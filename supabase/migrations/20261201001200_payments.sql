-- Payments: payment intents (public.payments), the attempts that charge them through the
-- gateways (public.payment_attempts, which replace public.transactions and take over its
-- gateway accounting: daily-limit reservations and success/latency buckets), refunds, the
-- status machines that guard all three, merchant webhook events on every status change,
-- and the merchant and admin RPCs. The worker side (charging, provider webhooks,
-- reconciliation) is in the next migration.
--
-- Money is bigint minor units with an ISO 4217 currency (public.currencies). Ids are
-- prefixed like Stripe's: pay_, att_, rfd_ + 20 hex characters (80 random bits); attempt
-- ids are what providers echo back (order id, receipt, txnid), so they stay 24 characters.

-- Settings --------------------------------------------------------------------------------
create table private.settings (
  key text primary key check (key ~ '^[a-z_]+(\.[a-z_]+)+$'),
  value jsonb not null,
  description text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table private.settings enable row level security;
revoke all on private.settings from public, anon, authenticated;
grant select, insert, update, delete on private.settings to service_role;
create trigger settings_touch before update on private.settings
for each row execute function private.touch_updated_at();
create trigger audit_settings after insert or update or delete on private.settings
for each row execute function audit.record_change('key');
comment on table private.settings is
$$Platform settings operators tune with SQL (as service_role): key, JSON value, what it means.
Read through private.setting(key). No client role reads or writes it.$$;

insert into private.settings (key, value, description) values
(
  'payments.action_window_s', '900',
  'seconds a payment may wait for the customer (requires_action) before it expires'
),
(
  'payments.check_schedule_s', '[60, 300, 300, 300, 300, 300]',
  'seconds before each status re-check of a processing / requires_action payment; after the last, it expires'
),
(
  'payments.max_attempts', '4',
  'attempts (gateways tried, retries included) one payment may make before it fails'
),
(
  'payments.max_same_gateway_retries', '2',
  'retries on the same gateway when the provider asks to retry (rate limits, busy)'
),
(
  'refunds.check_schedule_s', '[60, 300, 900, 3600, 21600, 86400]',
  'seconds before each status re-check of a pending refund'
)
on conflict (key) do nothing;

create function private.setting(p_key text) returns jsonb
language sql stable security definer
set search_path = ''
as $$ select s.value from private.settings as s where s.key = p_key $$;
comment on function private.setting(text) is
$$A platform setting's JSON value (private.settings), or null.$$;

create function private.new_id(p_prefix text) returns text
language sql volatile
set search_path = ''
as $$ select p_prefix || '_' || encode(extensions.gen_random_bytes(10), 'hex') $$;
comment on function private.new_id(text) is
$$A new id: the prefix, '_' and 20 hex characters (80 random bits), e.g. pay_1f0c...$$;

-- Merchants may take live payments only once an operator enables it.
alter table public.merchants add column live_enabled boolean not null default false;
comment on column public.merchants.live_enabled is
$$Whether the merchant may take live-mode payments (set by admins: admin_set_merchant_live).$$;

-- Payments ----------------------------------------------------------------------------------
create table public.payments (
  id text primary key default private.new_id('pay') check (id ~ '^pay_[0-9a-f]{20}$'),
  merchant_id uuid not null references public.merchants (id),
  mode text not null check (mode in ('test', 'live')),
  status text not null default 'processing' check (
    status in (
      'created', 'processing', 'requires_action', 'succeeded', 'failed', 'cancelled',
      'expired', 'partially_refunded', 'refunded'
    )
  ),
  amount bigint not null check (amount > 0 and amount <= 100000000000000),
  currency text not null references public.currencies (code),
  method text not null check (method in ('upi', 'card', 'netbanking', 'wallet')),
  upi_vpa text check (char_length(upi_vpa) <= 255),
  customer_email text check (char_length(customer_email) <= 254),
  customer_phone text check (char_length(customer_phone) <= 20),
  customer_ip text check (char_length(customer_ip) <= 45),
  customer_user_agent text check (char_length(customer_user_agent) <= 500),
  description text check (char_length(description) <= 500),
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  return_url text check (char_length(return_url) <= 2000),
  region text not null default 'IN' check (region ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'),
  next_action jsonb,
  gateway_id uuid references public.gateways (id),
  provider text,
  attempt_count integer not null default 0 check (attempt_count >= 0),
  amount_captured bigint not null default 0 check (amount_captured >= 0),
  refund_reserved bigint not null default 0,
  amount_refunded bigint not null default 0,
  failure_code text,
  failure_message text check (char_length(failure_message) <= 500),
  review_reason text check (char_length(review_reason) <= 500),
  late_success boolean not null default false,
  action_expires_at timestamptz,
  next_check_at timestamptz,
  check_count integer not null default 0,
  api_key_id uuid references public.api_keys (id),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint payments_refunds_within_capture check (
    amount_refunded >= 0 and amount_refunded <= refund_reserved
    and refund_reserved <= amount_captured
  )
);
alter table public.payments enable row level security;
create index payments_merchant_list_idx on public.payments (merchant_id, created_at desc, id desc);
create index payments_list_idx on public.payments (created_at desc, id desc);
create index payments_checks_idx on public.payments (next_check_at)
where status in ('processing', 'requires_action');
create index payments_gateway_idx on public.payments (gateway_id, created_at);

create table public.payment_attempts (
  id text primary key default private.new_id('att') check (id ~ '^att_[0-9a-f]{20}$'),
  payment_id text not null references public.payments (id),
  merchant_id uuid not null references public.merchants (id),
  gateway_id uuid not null references public.gateways (id),
  provider text not null,
  attempt_no integer not null check (attempt_no >= 1),
  amount bigint not null check (amount > 0),
  currency text not null,
  status text not null default 'created' check (
    status in (
      'created', 'requires_action', 'pending', 'unknown', 'succeeded', 'failed', 'cancelled'
    )
  ),
  provider_order_id text check (char_length(provider_order_id) <= 200),
  provider_payment_id text check (char_length(provider_payment_id) <= 200),
  next_action jsonb,
  provider_error_code text check (char_length(provider_error_code) <= 200),
  error_code text check (char_length(error_code) <= 100),
  error_message text check (char_length(error_message) <= 500),
  decision text check (decision in ('retry', 'next', 'fail')),
  http_status integer,
  provider_latency_ms integer check (provider_latency_ms >= 0),
  review_reason text check (char_length(review_reason) <= 500),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint payment_attempts_number_unique unique (payment_id, attempt_no)
);
alter table public.payment_attempts enable row level security;
create index payment_attempts_gateway_time_idx on public.payment_attempts (gateway_id, created_at);
create index payment_attempts_merchant_time_idx on public.payment_attempts (merchant_id, created_at desc);
create index payment_attempts_provider_ids_idx on public.payment_attempts (
  gateway_id, provider_order_id
) where provider_order_id is not null;
create index payment_attempts_provider_payment_idx on public.payment_attempts (
  gateway_id, provider_payment_id
) where provider_payment_id is not null;
create index payment_attempts_open_idx on public.payment_attempts (gateway_id)
where status in ('created', 'requires_action', 'pending', 'unknown');

create table public.refunds (
  id text primary key default private.new_id('rfd') check (id ~ '^rfd_[0-9a-f]{20}$'),
  payment_id text not null references public.payments (id),
  merchant_id uuid not null references public.merchants (id),
  attempt_id text not null references public.payment_attempts (id),
  gateway_id uuid not null references public.gateways (id),
  amount bigint not null check (amount > 0),
  currency text not null references public.currencies (code),
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  reason text check (char_length(reason) <= 500),
  provider_refund_id text check (char_length(provider_refund_id) <= 200),
  failure_code text check (char_length(failure_code) <= 200),
  failure_message text check (char_length(failure_message) <= 500),
  provider_calls integer not null default 0,
  next_check_at timestamptz,
  check_count integer not null default 0,
  api_key_id uuid references public.api_keys (id),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
alter table public.refunds enable row level security;
create index refunds_payment_idx on public.refunds (payment_id, created_at);
create index refunds_merchant_idx on public.refunds (merchant_id, created_at desc);
create index refunds_checks_idx on public.refunds (next_check_at) where status = 'pending';
create index refunds_provider_idx on public.refunds (gateway_id, provider_refund_id)
where provider_refund_id is not null;

-- Status machines ---------------------------------------------------------------------------
-- Payments never go backwards. A provider's late success after we gave up (failed, expired,
-- cancelled) is money that moved: it is accepted and recorded (late_success).
create function private.check_payment_transition() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  allowed text [];
begin
  if new.status = old.status then
    return new;
  end if;
  allowed := case old.status
    when 'created' then '{processing,failed,cancelled}'::text []
    when 'processing' then '{requires_action,succeeded,failed,cancelled,expired}'::text []
    when 'requires_action' then '{processing,succeeded,failed,cancelled,expired}'::text []
    when 'failed' then '{succeeded}'::text []
    when 'expired' then '{succeeded}'::text []
    when 'cancelled' then '{succeeded}'::text []
    when 'succeeded' then '{partially_refunded,refunded}'::text []
    when 'partially_refunded' then '{refunded}'::text []
    else '{}'::text []
  end;
  if not new.status = any(allowed) then
    raise exception 'payment % cannot move from % to %', old.id, old.status, new.status
      using errcode = 'P0001';
  end if;
  if new.status = 'succeeded' and old.status in ('failed', 'expired', 'cancelled') then
    new.late_success := true;
  end if;
  if new.status in ('succeeded', 'failed', 'cancelled', 'expired') then
    new.completed_at := coalesce(new.completed_at, now());
    new.next_check_at := null;
  end if;
  if new.status <> 'requires_action' then
    new.next_action := null;
    new.action_expires_at := null;
  end if;
  return new;
end
$$;
comment on function private.check_payment_transition() is
$$Trigger: the payment status machine (P0001 on a move it does not allow); stamps
completed_at, late_success, and clears next_action outside requires_action.$$;

create function private.check_attempt_transition() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  allowed text [];
begin
  if new.status = old.status then
    return new;
  end if;
  allowed := case old.status
    when 'created' then '{requires_action,pending,unknown,succeeded,failed,cancelled}'::text []
    when 'requires_action' then '{pending,unknown,succeeded,failed,cancelled}'::text []
    when 'pending' then '{requires_action,unknown,succeeded,failed,cancelled}'::text []
    when 'unknown' then '{requires_action,pending,succeeded,failed,cancelled}'::text []
    when 'failed' then '{succeeded}'::text []
    when 'cancelled' then '{succeeded}'::text []
    else '{}'::text []
  end;
  if not new.status = any(allowed) then
    raise exception 'attempt % cannot move from % to %', old.id, old.status, new.status
      using errcode = 'P0001';
  end if;
  if new.status in ('succeeded', 'failed', 'cancelled') then
    new.completed_at := coalesce(new.completed_at, now());
  end if;
  return new;
end
$$;
comment on function private.check_attempt_transition() is
$$Trigger: the attempt status machine (P0001 on a move it does not allow).$$;

create function private.check_refund_transition() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status = old.status then
    return new;
  end if;
  if old.status <> 'pending' then
    raise exception 'refund % is % and cannot become %', old.id, old.status, new.status
      using errcode = 'P0001';
  end if;
  new.completed_at := now();
  new.next_check_at := null;
  return new;
end
$$;
comment on function private.check_refund_transition() is
$$Trigger: refunds go pending -> succeeded | failed, once (P0001 otherwise).$$;

create trigger payments_status before update of status on public.payments
for each row execute function private.check_payment_transition();
create trigger payment_attempts_status before update of status on public.payment_attempts
for each row execute function private.check_attempt_transition();
create trigger refunds_status before update of status on public.refunds
for each row execute function private.check_refund_transition();
create trigger payments_touch before update on public.payments
for each row execute function private.touch_updated_at();
create trigger payment_attempts_touch before update on public.payment_attempts
for each row execute function private.touch_updated_at();
create trigger refunds_touch before update on public.refunds
for each row execute function private.touch_updated_at();

-- Customer contact data and network identifiers are personal data: never in audit rows.
create trigger audit_payments after insert or update or delete on public.payments
for each row execute function audit.record_change(
  'id', 'customer_email', 'customer_phone', 'customer_ip', 'customer_user_agent', 'upi_vpa'
);
create trigger audit_refunds after insert or update or delete on public.refunds
for each row execute function audit.record_change();

-- Gateway accounting moves from transactions to attempts ---------------------------------------
-- An attempt holds its amount against the gateway's daily limit from the moment it is
-- recorded until it fails or is cancelled; a cascade releases one gateway and reserves the
-- next. The limit is enforced only when a reservation starts: a late success is money
-- already taken and is recorded even past the limit.
create function private.attempt_gateway_accounting() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  released constant text [] := '{failed,cancelled}';
  limit_amount bigint;
  v_day date := private.india_day(coalesce(new.created_at, now()));
  was_reserved boolean := false;
  now_reserved boolean := not new.status = any(released);
begin
  if tg_op = 'UPDATE' then
    was_reserved := not old.status = any(released);
  end if;
  if was_reserved and not now_reserved then
    update public.gateway_daily_usage as u
    set reserved = greatest(u.reserved - old.amount, 0)
    where u.gateway_id = old.gateway_id and u.day = private.india_day(old.created_at);
  elsif now_reserved and not was_reserved then
    insert into public.gateway_daily_usage as u (gateway_id, day, reserved)
    values (new.gateway_id, v_day, 0)
    on conflict (gateway_id, day) do nothing;
    if tg_op = 'INSERT' then
      select g.daily_limit into limit_amount from public.gateways as g where g.id = new.gateway_id;
    end if;
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
comment on function private.attempt_gateway_accounting() is
$$Trigger: an attempt reserves its amount on the gateway's India-day usage while open or
succeeded, releases it when failed or cancelled; P0001 when a new reservation would pass the
gateway's daily limit.$$;

-- Outcome buckets: each attempt counts once, when it first reaches succeeded or failed; its
-- provider latency goes into a histogram bucket only when known.
create function private.attempt_outcome_buckets() returns trigger
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
provider latency bucket when known) into gateway_stats_minute and gateway_stats_hour.$$;

create trigger payment_attempts_gateway_accounting
before insert or update of status on public.payment_attempts
for each row execute function private.attempt_gateway_accounting();
create trigger payment_attempts_outcome_buckets
after insert or update of status on public.payment_attempts
for each row execute function private.attempt_outcome_buckets();

-- The old transactions, forward: each becomes a payment (terminal states kept; anything
-- still open is expired, since nothing will ever charge it) with one attempt when it had a
-- gateway. The accounting triggers are bypassed: these amounts were already counted.
alter table public.payment_attempts disable trigger payment_attempts_gateway_accounting;
alter table public.payment_attempts disable trigger payment_attempts_outcome_buckets;
insert into public.payments (
  id, merchant_id, mode, status, amount, currency, method, metadata, gateway_id, provider,
  attempt_count, amount_captured, refund_reserved, amount_refunded, failure_code,
  failure_message, created_at, updated_at, completed_at
)
select
  'pay_' || left(replace(t.id::text, '-', ''), 20) as id,
  t.merchant_id,
  'test' as mode,
  case
    when t.status in ('succeeded', 'failed', 'cancelled', 'partially_refunded', 'refunded')
      then t.status
    else 'expired'
  end as status,
  t.amount,
  t.currency,
  case
    when t.method in ('upi', 'card', 'netbanking', 'wallet') then t.method else 'card'
  end as method,
  t.metadata || jsonb_build_object('migrated_from_transaction', t.id) as metadata,
  t.gateway_id,
  g.provider,
  case when t.gateway_id is null then 0 else 1 end as attempt_count,
  case
    when t.status in ('succeeded', 'partially_refunded', 'refunded') then t.amount else 0
  end as amount_captured,
  case when t.status = 'refunded' then t.amount else 0 end as refund_reserved,
  case when t.status = 'refunded' then t.amount else 0 end as amount_refunded,
  t.error_code as failure_code,
  left(t.error_message, 500) as failure_message,
  t.created_at,
  t.updated_at,
  coalesce(t.completed_at, t.updated_at) as completed_at
from public.transactions as t
left join public.gateways as g on t.gateway_id = g.id
where exists (
  select 1 from public.currencies as c
  where c.code = t.currency
);
insert into public.payment_attempts (
  id, payment_id, merchant_id, gateway_id, provider, attempt_no, amount, currency, status,
  provider_payment_id, error_code, provider_latency_ms, created_at, updated_at, completed_at
)
select
  'att_' || left(replace(t.id::text, '-', ''), 20) as id,
  'pay_' || left(replace(t.id::text, '-', ''), 20) as payment_id,
  t.merchant_id,
  t.gateway_id,
  g.provider,
  1 as attempt_no,
  t.amount,
  t.currency,
  case
    when t.status in ('succeeded', 'partially_refunded', 'refunded') then 'succeeded'
    when t.status = 'failed' then 'failed'
    else 'cancelled'
  end as status,
  t.provider_reference as provider_payment_id,
  t.error_code,
  t.provider_latency_ms,
  t.created_at,
  t.updated_at,
  coalesce(t.completed_at, t.updated_at) as completed_at
from public.transactions as t
inner join public.gateways as g on t.gateway_id = g.id
where exists (
  select 1 from public.currencies as c
  where c.code = t.currency
);
alter table public.payment_attempts enable trigger payment_attempts_gateway_accounting;
alter table public.payment_attempts enable trigger payment_attempts_outcome_buckets;

-- Ledger lines that named a transaction now name its payment (a one-time move: the ledger is
-- append-only otherwise).
alter table public.wallet_ledger add column payment_id text references public.payments (id);
alter table public.wallet_ledger disable trigger wallet_ledger_append_only;
update public.wallet_ledger set payment_id = 'pay_' || left(replace(transaction_id::text, '-', ''), 20)
where transaction_id is not null;
alter table public.wallet_ledger enable trigger wallet_ledger_append_only;
alter table public.wallet_ledger drop column transaction_id;

drop table public.transactions;
drop function private.check_transaction_transition();
drop function private.transaction_gateway_accounting();
drop function private.transaction_outcome_buckets();

-- Archiving a gateway counts payments in flight on it through the attempts now.
create or replace function private.archive_gateway(p_gateway_id uuid, p_force boolean)
returns jsonb
language plpgsql volatile security definer
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
  select count(*) into in_flight from public.payment_attempts as a
  where a.gateway_id = g.id and a.status in ('created', 'requires_action', 'pending', 'unknown');
  if in_flight > 0 and not coalesce(p_force, false) then
    raise exception 'gateway % has % payments in flight', p_gateway_id, in_flight
      using errcode = 'P0001', hint = 'wait for them to finish, or archive with force';
  end if;
  if g.credentials_secret_id is not null then
    delete from vault.secrets where id = g.credentials_secret_id;
  end if;
  delete from vault.secrets as s where s.id in (
    select p.secret_id from private.gateway_previous_credentials as p where p.gateway_id = g.id
  );
  delete from private.gateway_previous_credentials as p where p.gateway_id = g.id;
  update public.gateways as x set
    status = 'archived', archived_at = now(), credentials_secret_id = null,
    credentials_masked = '{}'::jsonb
  where x.id = g.id
  returning * into g;
  return private.gateway_view(g) || jsonb_build_object('in_flight_at_archive', in_flight);
end
$$;

-- Credentials that were rotated out stay valid for inbound webhooks for 24 h (a provider
-- retries events signed with the old secret), then are destroyed.
create table private.gateway_previous_credentials (
  secret_id uuid primary key,
  gateway_id uuid not null references public.gateways (id) on delete cascade,
  valid_until timestamptz not null,
  created_at timestamptz not null default now()
);
alter table private.gateway_previous_credentials enable row level security;
revoke all on private.gateway_previous_credentials from public, anon, authenticated;
grant select, insert, update, delete on private.gateway_previous_credentials to service_role;
create index gateway_previous_credentials_gateway_idx on private.gateway_previous_credentials (
  gateway_id
);
comment on table private.gateway_previous_credentials is
$$Vault secrets of a gateway's rotated-out credentials, still accepted for inbound webhook
signatures until valid_until (24 h after the rotation), then destroyed by pg_cron.$$;

create or replace function private.store_credentials(g public.gateways, p_credentials jsonb)
returns public.gateways
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if g.credentials_secret_id is not null then
    insert into private.gateway_previous_credentials (secret_id, gateway_id, valid_until)
    values (g.credentials_secret_id, g.id, now() + interval '24 hours')
    on conflict (secret_id) do nothing;
    g.credentials_rotated_at := now();
  end if;
  g.credentials_secret_id := vault.create_secret(
    p_credentials::text, 'gateway:' || g.id || ':' || gen_random_uuid(),
    'credentials of gateway ' || g.id
  );
  g.credentials_masked := private.mask_credentials(g.provider, p_credentials);
  return g;
end
$$;
comment on function private.store_credentials(public.gateways, jsonb) is
$$Puts the credentials in Vault and sets the masked copy on the row value; the previous secret
stays valid for inbound webhooks for 24 h (private.gateway_previous_credentials). Callers
check the role.$$;

create function private.expire_previous_credentials() returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  n integer;
begin
  with gone as (
    delete from private.gateway_previous_credentials as p
    where p.valid_until < now()
    returning p.secret_id
  )
  delete from vault.secrets as s where s.id in (select g.secret_id from gone as g);
  get diagnostics n = row_count;
  return n;
end
$$;
comment on function private.expire_previous_credentials() is
$$pg_cron, every 10 minutes: destroys rotated-out gateway secrets whose 24 h overlap ended.$$;
select cron.schedule(
  'lsp-previous-credentials', '*/10 * * * *', 'select private.expire_previous_credentials()'
);

-- Views -------------------------------------------------------------------------------------
create function private.attempt_view(a public.payment_attempts) returns jsonb
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
    'created_at', a.created_at, 'completed_at', a.completed_at
  )
$$;
comment on function private.attempt_view(public.payment_attempts) is
$$An attempt as the API shows it (no secrets; provider ids and error codes only).$$;

create function private.refund_view(r public.refunds) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id, 'object', 'refund', 'payment_id', r.payment_id, 'merchant_id', r.merchant_id,
    'amount', r.amount, 'currency', r.currency, 'status', r.status, 'reason', r.reason,
    'provider_refund_id', r.provider_refund_id,
    'failure', case when r.status = 'failed' then
      jsonb_build_object('code', r.failure_code, 'message', r.failure_message) end,
    'created_at', r.created_at, 'completed_at', r.completed_at
  )
$$;
comment on function private.refund_view(public.refunds) is
$$A refund as the API shows it; amount in minor units of currency.$$;

-- The payment's public snapshot: what the API answers, merchant webhooks carry and the live
-- stream shows. Amounts in minor units of `currency`; times ISO 8601.
create function private.payment_view(p public.payments) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p.id, 'object', 'payment', 'merchant_id', p.merchant_id, 'mode', p.mode,
    'status', p.status, 'amount', p.amount, 'currency', p.currency, 'method', p.method,
    'upi', case when p.upi_vpa is not null then jsonb_build_object('vpa', p.upi_vpa) end,
    'customer', jsonb_strip_nulls(jsonb_build_object(
      'email', p.customer_email, 'phone', p.customer_phone
    )),
    'description', p.description, 'metadata', p.metadata, 'return_url', p.return_url,
    'region', p.region, 'next_action', p.next_action,
    'action_expires_at', p.action_expires_at,
    'gateway', case when p.gateway_id is not null then
      jsonb_build_object('id', p.gateway_id, 'provider', p.provider) end,
    'attempt_count', p.attempt_count, 'amount_captured', p.amount_captured,
    'amount_refunded', p.amount_refunded,
    'amount_refundable', p.amount_captured - p.refund_reserved,
    'failure', case when p.failure_code is not null then
      jsonb_build_object('code', p.failure_code, 'message', p.failure_message) end,
    'late_success', p.late_success, 'review_reason', p.review_reason,
    'created_at', p.created_at, 'updated_at', p.updated_at, 'completed_at', p.completed_at
  )
$$;
comment on function private.payment_view(public.payments) is
$$A payment's public snapshot (API answers, merchant webhooks, live events): amounts in minor
units of currency; never provider secrets.$$;

-- Merchant webhook events, once per status change --------------------------------------------
create function private.payment_events() returns trigger
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
  end if;
  if v_type is not null then
    perform private.emit_event(new.merchant_id, v_type, private.payment_view(new));
  end if;
  return null;
end
$$;
comment on function private.payment_events() is
$$Trigger: one merchant webhook event per payment state change (payment.created,
.requires_action, .succeeded, .failed, .cancelled, .expired, .partially_refunded, .refunded)
carrying the payment's snapshot.$$;

create function private.refund_events() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_type text;
begin
  if tg_op = 'INSERT' then
    v_type := 'refund.created';
  elsif new.status is distinct from old.status then
    v_type := 'refund.' || new.status;
  end if;
  if v_type is not null then
    perform private.emit_event(new.merchant_id, v_type, private.refund_view(new));
  end if;
  return null;
end
$$;
comment on function private.refund_events() is
$$Trigger: refund.created, refund.succeeded and refund.failed merchant webhook events.$$;

create trigger payments_events after insert or update of status on public.payments
for each row execute function private.payment_events();
create trigger refunds_events after insert or update of status on public.refunds
for each row execute function private.refund_events();

-- Policies ----------------------------------------------------------------------------------
create policy payments_read on public.payments
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy payment_attempts_read on public.payment_attempts
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy refunds_read on public.refunds
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));

revoke all on public.payments, public.payment_attempts, public.refunds
from public, anon, authenticated;
grant select on public.payments, public.payment_attempts, public.refunds to authenticated;
grant select, insert, update, delete on public.payments, public.payment_attempts, public.refunds
to service_role;

comment on table public.payments is
$$A payment intent: one amount a merchant asks a customer to pay, charged through one or more
gateway attempts. Status machine: processing -> requires_action -> succeeded | failed |
cancelled | expired, then partially_refunded | refunded (a late success after failed /
expired / cancelled is accepted and flagged). Who reads: the merchant's members and API keys
(RLS), admins. Writes: only RPCs (create_payment, cancel_payment, create_refund) and the
worker. Customer email, phone, IP, user agent and UPI VPA are personal data, redacted in
audit rows.$$;
comment on column public.payments.amount is $$Minor units of currency (paise for INR).$$;
comment on column public.payments.amount_captured is
$$Minor units captured (the amount, once succeeded; 0 before).$$;
comment on column public.payments.refund_reserved is
$$Minor units held by pending and succeeded refunds; never above amount_captured.$$;
comment on column public.payments.amount_refunded is
$$Minor units of succeeded refunds.$$;
comment on column public.payments.action_expires_at is
$$When a requires_action payment expires (created + payments.action_window_s, default 900 s).$$;
comment on column public.payments.next_check_at is
$$When reconciliation next asks the provider for the status (payments.check_schedule_s).$$;
comment on column public.payments.review_reason is
$$Set when something needs an operator: a success for another amount or currency (not applied),
or a late success after the payment was cancelled.$$;
comment on table public.payment_attempts is
$$One charge attempt of a payment on one gateway, recorded before the provider is called; its
id is the reference the provider echoes. Feeds the gateway's daily-limit reservation and
success/latency buckets. Who reads: the merchant's members and API keys, admins; the worker
writes.$$;
comment on column public.payment_attempts.amount is $$Minor units of currency.$$;
comment on column public.payment_attempts.provider_latency_ms is
$$Milliseconds the provider took to answer the call that decided this attempt.$$;
comment on column public.payment_attempts.decision is
$$What the error map decided for a failure: retry (same gateway later), next (next gateway
now) or fail (stop).$$;
comment on table public.refunds is
$$A refund of (part of) a succeeded payment, through the gateway that captured it: pending ->
succeeded | failed. The sum of pending and succeeded refunds never exceeds the captured
amount. Who reads: the merchant's members and API keys, admins; writes: create_refund and
the worker.$$;
comment on column public.refunds.amount is $$Minor units of currency.$$;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
