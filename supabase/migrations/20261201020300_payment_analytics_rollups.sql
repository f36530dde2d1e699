-- Payment analytics from rollups kept by triggers, never by scanning payments at query time.
--
-- * public.payment_stats: per grain (minute, hour, day), UTC bucket of the payment's creation,
--   merchant, mode, currency, gateway and method: payments created, how many are in each
--   status now, first-attempt successes, volume (captured minor units of succeeded payments),
--   the platform's fees and their tax, refunds (count and amount, in the bucket of the refund's
--   creation), and a provider latency histogram of the attempts (the gateway figures' bounds).
--   Triggers on payments, payment_credits, refunds and payment_attempts record each change as
--   a delta (the row's old contribution out, its new one in, so a late success moves a payment
--   from failed to succeeded in the bucket it was created in); a deferred trigger applies a
--   transaction's deltas at its commit as one upsert in key order, so the shared rollup rows
--   are locked last and in one order (no deadlocks between payments).
-- * public.payment_failure_stats: failed payments per unified error code, likewise.
-- * Why triggers and not a pg_cron watermark job: figures are exact at commit (a watermark job
--   lags and must re-read payments that changed status, which needs an index on updated_at and
--   a re-aggregation of every bucket touched); the cost is one upsert per transaction (the
--   minute, hour and day rows of the merchant and of the platform), measured by
--   scripts/bench ledger.
-- * Definitions (README "Analytics"): success rate = succeeded / (succeeded + failed) per
--   payment (succeeded counts partially_refunded and refunded payments; processing,
--   requires_action, cancelled and expired count in neither); first-attempt success rate =
--   payments whose first attempt succeeded / (succeeded + failed); average ticket = volume /
--   succeeded, rounded half up; times in UTC, days from 00:00 UTC.

insert into private.settings (key, value, description) values
(
  'analytics.minute_retention_days', '3',
  'days of per-minute payment rollups kept (minute granularity covers this window)'
)
on conflict (key) do nothing;

create table public.payment_stats (
  grain text not null check (grain in ('minute', 'hour', 'day')),
  bucket timestamptz not null,
  merchant_id uuid not null,
  mode text not null,
  currency text not null,
  gateway_id uuid not null,
  method text not null,
  payments integer not null default 0,
  processing integer not null default 0,
  requires_action integer not null default 0,
  succeeded integer not null default 0,
  partially_refunded integer not null default 0,
  refunded integer not null default 0,
  failed integer not null default 0,
  cancelled integer not null default 0,
  expired integer not null default 0,
  first_attempt_succeeded integer not null default 0,
  volume bigint not null default 0,
  fees bigint not null default 0,
  tax bigint not null default 0,
  refunds integer not null default 0,
  refunded_amount bigint not null default 0,
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
  constraint payment_stats_pkey primary key (
    grain, bucket, merchant_id, mode, currency, gateway_id, method
  )
);
alter table public.payment_stats enable row level security;
create index payment_stats_merchant_idx on public.payment_stats (merchant_id, grain, bucket);
comment on table public.payment_stats is
$$Payment rollups per grain (minute, hour, day) and UTC bucket of the payment's creation (of
the refund's, for refunds), merchant, mode, currency, gateway (the zero uuid: none yet) and
method: payments created, per current status, first-attempt successes, volume, fees, tax,
refunds and the attempts' provider latency histogram. Kept by triggers; read by
payment_analytics and analytics_overview. Who reads (RLS): admins; the merchant's members and
API keys.$$;
comment on column public.payment_stats.volume is
$$Captured minor units of the bucket's succeeded (incl. refunded) payments.$$;
comment on column public.payment_stats.fees is $$The platform's MDR on them, minor units.$$;
comment on column public.payment_stats.tax is $$GST on those fees, minor units.$$;
comment on column public.payment_stats.refunded_amount is
$$Minor units of the refunds created in the bucket that succeeded.$$;
comment on column public.payment_stats.h1 is
$$h1..h14: attempts per provider latency bucket (upper bounds private.latency_bounds(), ms),
as in the gateway figures.$$;

create table public.payment_failure_stats (
  grain text not null check (grain in ('minute', 'hour', 'day')),
  bucket timestamptz not null,
  merchant_id uuid not null,
  mode text not null,
  currency text not null,
  gateway_id uuid not null,
  method text not null,
  code text not null,
  failed integer not null default 0,
  created_at timestamptz not null default now(),
  constraint payment_failure_stats_pkey primary key (
    grain, bucket, merchant_id, mode, currency, gateway_id, method, code
  )
);
alter table public.payment_failure_stats enable row level security;
create index payment_failure_stats_merchant_idx on public.payment_failure_stats (
  merchant_id, grain, bucket
);
comment on table public.payment_failure_stats is
$$Failed payments per unified error code (failure_code; unknown when none), per grain and UTC
bucket of creation, merchant, mode, currency, gateway and method. Kept by the payment
trigger; read by payment_analytics. Who reads (RLS): admins; the merchant's members and API
keys.$$;

-- Deltas ----------------------------------------------------------------------------------------
-- Triggers on payments, credits, refunds and attempts only append their deltas to
-- private.payment_stats_pending; one deferred trigger applies them at commit as a single
-- upsert in key order. The rollup rows (the platform's shared by every merchant) are thus
-- locked last, briefly and always in one order: transactions never deadlock on them, and
-- figures stay exact at commit.
create unlogged table private.payment_stats_pending (
  txid xid8 not null default pg_current_xact_id(),
  id bigint generated always as identity,
  at timestamptz not null,
  merchant_id uuid not null,
  mode text not null,
  currency text not null,
  gateway_id uuid not null,
  method text not null,
  code text,
  payments integer not null default 0,
  processing integer not null default 0,
  requires_action integer not null default 0,
  succeeded integer not null default 0,
  partially_refunded integer not null default 0,
  refunded integer not null default 0,
  failed integer not null default 0,
  cancelled integer not null default 0,
  expired integer not null default 0,
  first_attempt_succeeded integer not null default 0,
  volume bigint not null default 0,
  fees bigint not null default 0,
  tax bigint not null default 0,
  refunds integer not null default 0,
  refunded_amount bigint not null default 0,
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
  constraint payment_stats_pending_pkey primary key (txid, id)
) with (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
alter table private.payment_stats_pending enable row level security;
comment on table private.payment_stats_pending is
$$Rollup deltas of the running transaction (txid), waiting for private.apply_payment_stats at
its commit, which deletes them: empty between transactions. at: the creation time whose
buckets the delta goes to; code: a failure-stats delta (failed per code) when set. Unlogged:
nothing here outlives a transaction. No access but the triggers'.$$;
comment on column private.payment_stats_pending.volume is $$Minor units (delta).$$;
comment on column private.payment_stats_pending.fees is $$Minor units (delta).$$;
comment on column private.payment_stats_pending.tax is $$Minor units (delta).$$;
comment on column private.payment_stats_pending.refunded_amount is $$Minor units (delta).$$;

create function private.stat_gateway(p_gateway_id uuid) returns uuid
language sql immutable
set search_path = ''
as $$ select coalesce(p_gateway_id, '00000000-0000-0000-0000-000000000000'::uuid) $$;
comment on function private.stat_gateway(uuid) is
$$A rollup's gateway key: the gateway, or the zero uuid for payments without one yet.$$;

create function private.apply_payment_stats() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  tx xid8 := pg_current_xact_id();
begin
  with d as (
    delete from private.payment_stats_pending as p
    where p.txid = tx and p.code is null
    returning p.*
  )
  insert into public.payment_stats as s (
    grain, bucket, merchant_id, mode, currency, gateway_id, method, payments, processing,
    requires_action, succeeded, partially_refunded, refunded, failed, cancelled, expired,
    first_attempt_succeeded, volume, fees, tax, refunds, refunded_amount,
    h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14
  )
  select
    g.grain, date_trunc(g.grain, d.at, 'UTC') as bucket,
    case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else d.merchant_id end
    as merchant_id,
    d.mode, d.currency, d.gateway_id, d.method,
    sum(d.payments), sum(d.processing), sum(d.requires_action), sum(d.succeeded),
    sum(d.partially_refunded), sum(d.refunded), sum(d.failed), sum(d.cancelled), sum(d.expired),
    sum(d.first_attempt_succeeded), sum(d.volume), sum(d.fees), sum(d.tax), sum(d.refunds),
    sum(d.refunded_amount),
    sum(d.h1), sum(d.h2), sum(d.h3), sum(d.h4), sum(d.h5), sum(d.h6), sum(d.h7), sum(d.h8),
    sum(d.h9), sum(d.h10), sum(d.h11), sum(d.h12), sum(d.h13), sum(d.h14)
  from d
  cross join (values ('minute'), ('hour'), ('day')) as g (grain)
  cross join (values (false), (true)) as o (platform)
  group by 1, 2, 3, 4, 5, 6, 7
  having bool_or(
    d.payments <> 0 or d.processing <> 0 or d.requires_action <> 0 or d.succeeded <> 0
    or d.partially_refunded <> 0 or d.refunded <> 0 or d.failed <> 0 or d.cancelled <> 0
    or d.expired <> 0 or d.first_attempt_succeeded <> 0 or d.volume <> 0 or d.fees <> 0
    or d.tax <> 0 or d.refunds <> 0 or d.refunded_amount <> 0 or d.h1 <> 0 or d.h2 <> 0
    or d.h3 <> 0 or d.h4 <> 0 or d.h5 <> 0 or d.h6 <> 0 or d.h7 <> 0 or d.h8 <> 0
    or d.h9 <> 0 or d.h10 <> 0 or d.h11 <> 0 or d.h12 <> 0 or d.h13 <> 0 or d.h14 <> 0
  )
  -- One order for every transaction: no two of them can wait on each other's rows.
  order by 1, 2, 3, 4, 5, 6, 7
  on conflict (grain, bucket, merchant_id, mode, currency, gateway_id, method) do update set
    payments = s.payments + excluded.payments,
    processing = s.processing + excluded.processing,
    requires_action = s.requires_action + excluded.requires_action,
    succeeded = s.succeeded + excluded.succeeded,
    partially_refunded = s.partially_refunded + excluded.partially_refunded,
    refunded = s.refunded + excluded.refunded,
    failed = s.failed + excluded.failed,
    cancelled = s.cancelled + excluded.cancelled,
    expired = s.expired + excluded.expired,
    first_attempt_succeeded = s.first_attempt_succeeded + excluded.first_attempt_succeeded,
    volume = s.volume + excluded.volume,
    fees = s.fees + excluded.fees,
    tax = s.tax + excluded.tax,
    refunds = s.refunds + excluded.refunds,
    refunded_amount = s.refunded_amount + excluded.refunded_amount,
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
  -- Then the failure rows, in their own order (always after the rollups).
  with d as (
    delete from private.payment_stats_pending as p
    where p.txid = tx and p.code is not null
    returning p.*
  )
  insert into public.payment_failure_stats as s (
    grain, bucket, merchant_id, mode, currency, gateway_id, method, code, failed
  )
  select
    g.grain, date_trunc(g.grain, d.at, 'UTC') as bucket,
    case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else d.merchant_id end
    as merchant_id,
    d.mode, d.currency, d.gateway_id, d.method, d.code, sum(d.failed)
  from d
  cross join (values ('minute'), ('hour'), ('day')) as g (grain)
  cross join (values (false), (true)) as o (platform)
  group by 1, 2, 3, 4, 5, 6, 7, 8
  having sum(d.failed) <> 0
  order by 1, 2, 3, 4, 5, 6, 7, 8
  on conflict (grain, bucket, merchant_id, mode, currency, gateway_id, method, code)
  do update set failed = s.failed + excluded.failed;
  return null;
end
$$;
comment on function private.apply_payment_stats() is
$$Deferred trigger: applies the transaction's pending rollup deltas (minute, hour and day; the
merchant's rows and the platform's) at commit, as one upsert in key order, then deletes them;
later firings in the same commit find nothing.$$;
create constraint trigger payment_stats_apply after insert on private.payment_stats_pending
deferrable initially deferred
for each row execute function private.apply_payment_stats();

create function private.payment_stats_delta() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  first_ok boolean := false;
begin
  if tg_op = 'UPDATE' and new.status = old.status
    and new.gateway_id is not distinct from old.gateway_id
    and new.amount_captured = old.amount_captured
    and new.failure_code is not distinct from old.failure_code then
    return null;
  end if;
  if new.status in ('succeeded', 'partially_refunded', 'refunded') then
    select a.status = 'succeeded' into first_ok from public.payment_attempts as a
    where a.payment_id = new.id and a.attempt_no = 1;
    first_ok := coalesce(first_ok, false);
  end if;
  insert into private.payment_stats_pending (
    at, merchant_id, mode, currency, gateway_id, method, payments, processing,
    requires_action, succeeded, partially_refunded, refunded, failed, cancelled, expired,
    first_attempt_succeeded, volume
  )
  select
    c.created_at, c.merchant_id, c.mode, c.currency, c.gateway_id, c.method,
    c.sign,
    c.sign * (c.status in ('created', 'processing'))::integer,
    c.sign * (c.status = 'requires_action')::integer,
    c.sign * (c.status = 'succeeded')::integer,
    c.sign * (c.status = 'partially_refunded')::integer,
    c.sign * (c.status = 'refunded')::integer,
    c.sign * (c.status = 'failed')::integer,
    c.sign * (c.status = 'cancelled')::integer,
    c.sign * (c.status = 'expired')::integer,
    c.sign * (c.ok and first_ok)::integer,
    c.sign * case when c.ok then c.captured else 0 end
  from (
    select
      -1 as sign, old.created_at, old.merchant_id, old.mode, old.currency,
      private.stat_gateway(old.gateway_id) as gateway_id, old.method, old.status,
      old.status in ('succeeded', 'partially_refunded', 'refunded') as ok,
      old.amount_captured as captured
    where tg_op = 'UPDATE'
    union all
    select
      1, new.created_at, new.merchant_id, new.mode,
      new.currency, private.stat_gateway(new.gateway_id), new.method, new.status,
      new.status in ('succeeded', 'partially_refunded', 'refunded'), new.amount_captured
  ) as c;
  if (tg_op = 'UPDATE' and old.status = 'failed') or new.status = 'failed' then
    insert into private.payment_stats_pending (
      at, merchant_id, mode, currency, gateway_id, method, code, failed
    )
    select
      old.created_at, old.merchant_id, old.mode, old.currency,
      private.stat_gateway(old.gateway_id), old.method, coalesce(old.failure_code, 'unknown'), -1
    where tg_op = 'UPDATE' and old.status = 'failed'
    union all
    select
      new.created_at, new.merchant_id, new.mode, new.currency,
      private.stat_gateway(new.gateway_id), new.method, coalesce(new.failure_code, 'unknown'), 1
    where new.status = 'failed';
  end if;
  return null;
end
$$;
comment on function private.payment_stats_delta() is
$$Trigger: moves a payment's contribution to the rollups (its old status, gateway, capture and
failure code out, the new ones in) in the minute, hour and day of its creation, applied at
commit.$$;
create trigger payments_stats after insert or update of status, gateway_id, amount_captured, failure_code
on public.payments
for each row execute function private.payment_stats_delta();

create function private.credit_stats_delta() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into private.payment_stats_pending (
    at, merchant_id, mode, currency, gateway_id, method, fees, tax
  )
  select
    p.created_at, p.merchant_id, p.mode, p.currency, private.stat_gateway(p.gateway_id),
    p.method, new.fee, new.tax
  from public.payments as p
  where p.id = new.payment_id;
  return null;
end
$$;
comment on function private.credit_stats_delta() is
$$Trigger: a payment's fee and tax (its ledger credit) into the rollups of its creation, applied
at commit.$$;
create trigger payment_credits_stats after insert on public.payment_credits
for each row execute function private.credit_stats_delta();

create function private.refund_stats_delta() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if new.status <> 'succeeded' or old.status = 'succeeded' then
    return null;
  end if;
  insert into private.payment_stats_pending (
    at, merchant_id, mode, currency, gateway_id, method, refunds, refunded_amount
  )
  select
    new.created_at, p.merchant_id, p.mode, p.currency, private.stat_gateway(p.gateway_id),
    p.method, 1, new.amount
  from public.payments as p
  where p.id = new.payment_id;
  return null;
end
$$;
comment on function private.refund_stats_delta() is
$$Trigger: a refund that succeeds counts (and its amount) in the rollups of the refund's
creation, under its payment's gateway and method, applied at commit.$$;
create trigger refunds_stats after update of status on public.refunds
for each row execute function private.refund_stats_delta();

create function private.attempt_latency_delta() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  b integer;
begin
  if new.status not in ('succeeded', 'failed') or new.provider_latency_ms is null then
    return null;
  end if;
  if tg_op = 'UPDATE' and old.status in ('succeeded', 'failed') then
    return null;
  end if;
  b := private.latency_bucket(new.provider_latency_ms);
  insert into private.payment_stats_pending (
    at, merchant_id, mode, currency, gateway_id, method,
    h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14
  )
  select
    p.created_at, p.merchant_id, p.mode, p.currency, new.gateway_id, p.method,
    (b = 1)::integer, (b = 2)::integer, (b = 3)::integer, (b = 4)::integer, (b = 5)::integer,
    (b = 6)::integer, (b = 7)::integer, (b = 8)::integer, (b = 9)::integer, (b = 10)::integer,
    (b = 11)::integer, (b = 12)::integer, (b = 13)::integer, (b = 14)::integer
  from public.payments as p
  where p.id = new.payment_id;
  return null;
end
$$;
comment on function private.attempt_latency_delta() is
$$Trigger: an attempt's provider latency (when the provider answered), the first time it
succeeds or fails, into the histogram of its gateway and its payment's creation bucket,
applied at commit.$$;
create trigger payment_attempts_latency after insert or update of status on public.payment_attempts
for each row execute function private.attempt_latency_delta();

-- What was there before the triggers -------------------------------------------------------------
insert into public.payment_stats (
  grain, bucket, merchant_id, mode, currency, gateway_id, method, payments, processing,
  requires_action, succeeded, partially_refunded, refunded, failed, cancelled, expired,
  first_attempt_succeeded, volume
)
select
  g.grain,
  date_trunc(g.grain, p.created_at, 'UTC') as bucket,
  case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else p.merchant_id end as merchant_id,
  p.mode,
  p.currency,
  private.stat_gateway(p.gateway_id) as gateway_id,
  p.method,
  count(*) as payments,
  count(*) filter (where p.status in ('created', 'processing')) as processing,
  count(*) filter (where p.status = 'requires_action') as requires_action,
  count(*) filter (where p.status = 'succeeded') as succeeded,
  count(*) filter (where p.status = 'partially_refunded') as partially_refunded,
  count(*) filter (where p.status = 'refunded') as refunded,
  count(*) filter (where p.status = 'failed') as failed,
  count(*) filter (where p.status = 'cancelled') as cancelled,
  count(*) filter (where p.status = 'expired') as expired,
  count(*) filter (
    where p.status in ('succeeded', 'partially_refunded', 'refunded') and exists (
      select 1 from public.payment_attempts as a
      where a.payment_id = p.id and a.attempt_no = 1 and a.status = 'succeeded'
    )
  ) as first_attempt_succeeded,
  coalesce(sum(p.amount_captured) filter (
    where p.status in ('succeeded', 'partially_refunded', 'refunded')
  ), 0) as volume
from public.payments as p
cross join (values ('minute'), ('hour'), ('day')) as g (grain)
cross join (values (false), (true)) as o (platform)
group by 1, 2, 3, 4, 5, 6, 7;

insert into public.payment_failure_stats (
  grain, bucket, merchant_id, mode, currency, gateway_id, method, code, failed
)
select
  g.grain,
  date_trunc(g.grain, p.created_at, 'UTC') as bucket,
  case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else p.merchant_id end as merchant_id,
  p.mode,
  p.currency,
  private.stat_gateway(p.gateway_id) as gateway_id,
  p.method,
  coalesce(p.failure_code, 'unknown') as code,
  count(*) as failed
from public.payments as p
cross join (values ('minute'), ('hour'), ('day')) as g (grain)
cross join (values (false), (true)) as o (platform)
where p.status = 'failed'
group by 1, 2, 3, 4, 5, 6, 7, 8;

insert into public.payment_stats as s (
  grain, bucket, merchant_id, mode, currency, gateway_id, method, fees, tax
)
select
  g.grain,
  date_trunc(g.grain, p.created_at, 'UTC') as bucket,
  case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else p.merchant_id end as merchant_id,
  p.mode,
  p.currency,
  private.stat_gateway(p.gateway_id) as gateway_id,
  p.method,
  sum(c.fee) as fees,
  sum(c.tax) as tax
from public.payment_credits as c
inner join public.payments as p on c.payment_id = p.id
cross join (values ('minute'), ('hour'), ('day')) as g (grain)
cross join (values (false), (true)) as o (platform)
group by 1, 2, 3, 4, 5, 6, 7
on conflict (grain, bucket, merchant_id, mode, currency, gateway_id, method) do update set
  fees = s.fees + excluded.fees, tax = s.tax + excluded.tax;

insert into public.payment_stats as s (
  grain, bucket, merchant_id, mode, currency, gateway_id, method, refunds, refunded_amount
)
select
  g.grain,
  date_trunc(g.grain, r.created_at, 'UTC') as bucket,
  case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else p.merchant_id end as merchant_id,
  p.mode,
  p.currency,
  private.stat_gateway(p.gateway_id) as gateway_id,
  p.method,
  count(*) as refunds,
  sum(r.amount) as refunded_amount
from public.refunds as r
inner join public.payments as p on r.payment_id = p.id
cross join (values ('minute'), ('hour'), ('day')) as g (grain)
cross join (values (false), (true)) as o (platform)
where r.status = 'succeeded'
group by 1, 2, 3, 4, 5, 6, 7
on conflict (grain, bucket, merchant_id, mode, currency, gateway_id, method) do update set
  refunds = s.refunds + excluded.refunds,
  refunded_amount = s.refunded_amount + excluded.refunded_amount;

insert into public.payment_stats as s (
  grain, bucket, merchant_id, mode, currency, gateway_id, method,
  h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14
)
select
  g.grain,
  date_trunc(g.grain, p.created_at, 'UTC') as bucket,
  case when o.platform then '00000000-0000-0000-0000-000000000000'::uuid else p.merchant_id end as merchant_id,
  p.mode,
  p.currency,
  a.gateway_id,
  p.method,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 1) as h1,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 2) as h2,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 3) as h3,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 4) as h4,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 5) as h5,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 6) as h6,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 7) as h7,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 8) as h8,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 9) as h9,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 10) as h10,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 11) as h11,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 12) as h12,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 13) as h13,
  count(*) filter (where private.latency_bucket(a.provider_latency_ms) = 14) as h14
from public.payment_attempts as a
inner join public.payments as p on a.payment_id = p.id
cross join (values ('minute'), ('hour'), ('day')) as g (grain)
cross join (values (false), (true)) as o (platform)
where a.status in ('succeeded', 'failed') and a.provider_latency_ms is not null
group by 1, 2, 3, 4, 5, 6, 7
on conflict (grain, bucket, merchant_id, mode, currency, gateway_id, method) do update set
  h1 = excluded.h1, h2 = excluded.h2, h3 = excluded.h3, h4 = excluded.h4, h5 = excluded.h5, h6 = excluded.h6, h7 = excluded.h7, h8 = excluded.h8, h9 = excluded.h9, h10 = excluded.h10, h11 = excluded.h11, h12 = excluded.h12, h13 = excluded.h13, h14 = excluded.h14;

-- Retention ---------------------------------------------------------------------------------------
create function private.analytics_retention() returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  keep interval := make_interval(
    days => (private.setting('analytics.minute_retention_days'))::integer
  );
  n integer;
begin
  delete from public.payment_stats as s
  where s.grain = 'minute' and s.bucket < now() - keep;
  get diagnostics n = row_count;
  delete from public.payment_failure_stats as s
  where s.grain = 'minute' and s.bucket < now() - keep;
  return n;
end
$$;
comment on function private.analytics_retention() is
$$pg_cron, hourly: drops per-minute payment rollups older than
analytics.minute_retention_days (hours and days stay); the number of rows dropped.$$;
select cron.schedule('lsp-analytics-retention', '37 * * * *', 'select private.analytics_retention()');

-- Queries ------------------------------------------------------------------------------------------
create function private.stats_figures(
  p_payments numeric, p_succeeded numeric, p_failed numeric, p_first numeric, p_volume numeric,
  p_fees numeric, p_tax numeric, p_refunds numeric, p_refunded numeric, p_latency bigint[]
) returns jsonb
language sql immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'payments', p_payments::bigint, 'volume', p_volume::bigint, 'succeeded', p_succeeded::bigint,
    'failed', p_failed::bigint,
    'success_rate', case when p_succeeded + p_failed > 0
      then round(p_succeeded / (p_succeeded + p_failed), 4) end,
    'first_attempt_success_rate', case when p_succeeded + p_failed > 0
      then round(p_first / (p_succeeded + p_failed), 4) end,
    'average_ticket', case when p_succeeded > 0 then private.round_half_up(p_volume, p_succeeded) end,
    'refunds', p_refunds::bigint, 'refunded_amount', p_refunded::bigint, 'fees', p_fees::bigint,
    'tax', p_tax::bigint,
    'p50_latency_ms', private.hist_percentile(p_latency, 0.5),
    'p95_latency_ms', private.hist_percentile(p_latency, 0.95)
  )
$$;
comment on function private.stats_figures(
  numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric, bigint[]
) is $$The analytics figures from summed rollup counters (rates to 4 decimals, null without
decided payments; amounts in minor units; latency percentiles from the histogram).$$;

create function private.analytics_scope(
  p_merchant_id uuid, p_mode text, p_currency text,
  out merchant_id uuid, out mode text, out currency text
) returns record
language plpgsql stable security definer
set search_path = ''
as $$
declare
  key_mode text := auth.jwt() ->> 'key_mode';
begin
  if p_mode is not null and p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if key_mode is not null and p_mode is not null and p_mode <> key_mode then
    raise exception 'this is a % API key: it reads % analytics only', key_mode, key_mode
      using errcode = '22023';
  end if;
  currency := private.check_currency(coalesce(p_currency, 'INR'));
  mode := coalesce(key_mode, p_mode, 'live');
  merchant_id := case when p_merchant_id is null and private.is_admin() then null
    else private.require_merchant(p_merchant_id) end;
end
$$;
comment on function private.analytics_scope(uuid, text, text) is
$$Whose analytics a call reads (admins: every merchant without merchant_id; members and API
keys: their merchant), in which mode (an API key: its own; else live unless asked) and
currency (INR unless asked).$$;

create function private.payment_analytics(
  p_merchant_id uuid, p_from timestamptz, p_to timestamptz, p_granularity text,
  p_group_by text, p_mode text, p_currency text
) returns jsonb
language plpgsql stable security definer
-- One generic plan per session: planning this query anew costs more than running it.
set plan_cache_mode = 'force_generic_plan'
set search_path = ''
as $$
declare
  scope record;
  v_grain text := coalesce(p_granularity, 'hour');
  -- Whose rows: one merchant's; every merchant's (grouped by merchant); or the platform's rows
  -- (the zero merchant), which sum every merchant for the admins' views.
  v_owner uuid;
  step interval;
  v_to timestamptz;
  v_from timestamptz;
  points integer;
  head jsonb;
  result jsonb;
begin
  select * into scope from private.analytics_scope(p_merchant_id, p_mode, p_currency);
  v_owner := case
    when scope.merchant_id is not null then scope.merchant_id
    when p_group_by = 'merchant' then null
    else '00000000-0000-0000-0000-000000000000'::uuid
  end;
  if v_grain not in ('minute', 'hour', 'day') then
    raise exception 'granularity must be minute, hour or day' using errcode = '22023';
  end if;
  if p_group_by is not null and p_group_by not in ('gateway', 'method', 'status', 'merchant') then
    raise exception 'group_by must be gateway, method, status or merchant' using errcode = '22023';
  end if;
  step := ('1 ' || v_grain)::interval;
  v_to := coalesce(p_to, now());
  v_from := coalesce(p_from, v_to - interval '24 hours');
  if v_from >= v_to then
    raise exception 'from must be before to' using errcode = '22023';
  end if;
  -- Whole buckets: from rounds down, to rounds up (UTC).
  v_from := date_trunc(v_grain, v_from, 'UTC');
  v_to := case when date_trunc(v_grain, v_to, 'UTC') = v_to then v_to
    else date_trunc(v_grain, v_to, 'UTC') + step end;
  points := (extract(epoch from v_to - v_from) / extract(epoch from step))::integer;
  if points > 1500 then
    raise exception 'that range has % % buckets: at most 1500 (use a coarser granularity)',
      points, v_grain using errcode = '22023';
  end if;
  if v_grain = 'minute' and v_from < now() - make_interval(
    days => (private.setting('analytics.minute_retention_days'))::integer
  ) then
    raise exception 'minute figures are kept % days: use hour or day for older ranges',
      private.setting('analytics.minute_retention_days') using errcode = '22023';
  end if;
  head := jsonb_build_object(
    'object', 'payment_analytics', 'from', v_from, 'to', v_to, 'granularity', v_grain,
    'group_by', p_group_by, 'timezone', 'UTC', 'day_boundary', '00:00 UTC',
    'merchant_id', scope.merchant_id, 'mode', scope.mode, 'currency', scope.currency
  );

  if p_group_by = 'status' then
    -- Payments per status now, per bucket of creation.
    with counts as (
      select s.bucket, x.status, sum(x.n) as n
      from public.payment_stats as s
      cross join lateral (
        values
        ('processing', s.processing), ('requires_action', s.requires_action),
        ('succeeded', s.succeeded), ('partially_refunded', s.partially_refunded),
        ('refunded', s.refunded), ('failed', s.failed), ('cancelled', s.cancelled),
        ('expired', s.expired)
      ) as x (status, n)
      where s.grain = v_grain and s.bucket >= v_from and s.bucket < v_to
        and s.merchant_id = v_owner
        and s.mode = scope.mode and s.currency = scope.currency
      group by s.bucket, x.status
    ),
    grid as (
      select k.status, t.t
      from unnest(array[
        'processing', 'requires_action', 'succeeded', 'partially_refunded', 'refunded', 'failed',
        'cancelled', 'expired'
      ]) with ordinality as k (status, o)
      cross join generate_series(v_from, v_to - step, step) as t (t)
    ),
    series as (
      select g.status, sum(coalesce(c.n, 0)) as total,
        jsonb_agg(jsonb_build_object('t', g.t, 'payments', coalesce(c.n, 0)) order by g.t) as points
      from grid as g
      left join counts as c on g.status = c.status and g.t = c.bucket
      group by g.status
    )
    select head || jsonb_build_object(
      -- the same totals as without a grouping
      'totals', private.payment_analytics(
        p_merchant_id, p_from, p_to, p_granularity, null, p_mode, p_currency
      ) -> 'totals',
      'groups', jsonb_agg(jsonb_build_object(
        'key', x.status, 'totals', jsonb_build_object('payments', x.total), 'series', x.points
      ) order by x.status)
    ) into result
    from series as x;
    return result;
  end if;

  with rows as (
    select
      coalesce(case p_group_by
        when 'gateway' then nullif(s.gateway_id, '00000000-0000-0000-0000-000000000000'::uuid)::text
        when 'method' then s.method
        when 'merchant' then s.merchant_id::text
      end, '') as k,
      s.bucket, s.payments, s.succeeded + s.partially_refunded + s.refunded as ok, s.failed,
      s.first_attempt_succeeded as first_ok, s.volume, s.fees, s.tax, s.refunds,
      s.refunded_amount, s.h1,
      s.h2, s.h3, s.h4, s.h5, s.h6, s.h7, s.h8, s.h9, s.h10, s.h11, s.h12, s.h13, s.h14
    from public.payment_stats as s
    where s.grain = v_grain and s.bucket >= v_from and s.bucket < v_to
      and s.merchant_id = v_owner
      and s.mode = scope.mode and s.currency = scope.currency
    union all
    select
      coalesce(case p_group_by
        when 'gateway' then nullif(s.gateway_id, '00000000-0000-0000-0000-000000000000'::uuid)::text
        when 'method' then s.method
        when 'merchant' then s.merchant_id::text
      end, '') as k,
      s.bucket, s.payments, s.succeeded + s.partially_refunded + s.refunded as ok, s.failed,
      s.first_attempt_succeeded as first_ok, s.volume, s.fees, s.tax, s.refunds,
      s.refunded_amount, s.h1,
      s.h2, s.h3, s.h4, s.h5, s.h6, s.h7, s.h8, s.h9, s.h10, s.h11, s.h12, s.h13, s.h14
    from public.payment_stats as s
    where s.grain = v_grain and s.bucket >= v_from and s.bucket < v_to
      and v_owner is null and s.merchant_id <> '00000000-0000-0000-0000-000000000000'::uuid
      and s.mode = scope.mode and s.currency = scope.currency
  ),
  per_bucket as (
    select r.k, r.bucket, sum(r.payments) as payments, sum(r.ok) as ok, sum(r.failed) as failed,
      sum(r.first_ok) as first_ok, sum(r.volume) as volume, sum(r.fees) as fees,
      sum(r.tax) as tax, sum(r.refunds) as refunds, sum(r.refunded_amount) as refunded_amount,
      array[
        sum(r.h1), sum(r.h2), sum(r.h3), sum(r.h4), sum(r.h5), sum(r.h6), sum(r.h7), sum(r.h8),
        sum(r.h9), sum(r.h10), sum(r.h11), sum(r.h12), sum(r.h13), sum(r.h14)
      ]::bigint[] as latency
    from rows as r
    group by r.k, r.bucket
  ),
  keys as (
    select '' as k
    where p_group_by is null
    union all
    -- a key whose payments all moved on (to a gateway) leaves rows of zeros: not a group
    select r.k from rows as r
    where p_group_by is not null
    group by r.k
    having bool_or(
      r.payments <> 0 or r.refunds <> 0
      or r.h1 + r.h2 + r.h3 + r.h4 + r.h5 + r.h6 + r.h7 + r.h8 + r.h9 + r.h10 + r.h11 + r.h12
      + r.h13 + r.h14 <> 0
    )
  ),
  grid as (
    select k.k, t.t from keys as k
    cross join generate_series(v_from, v_to - step, step) as t (t)
  ),
  series as (
    select g.k,
      jsonb_agg(jsonb_build_object('t', g.t) || private.stats_figures(
        coalesce(b.payments, 0), coalesce(b.ok, 0), coalesce(b.failed, 0),
        coalesce(b.first_ok, 0), coalesce(b.volume, 0), coalesce(b.fees, 0), coalesce(b.tax, 0),
        coalesce(b.refunds, 0), coalesce(b.refunded_amount, 0), b.latency
      ) order by g.t) as points
    from grid as g
    left join per_bucket as b on g.k = b.k and g.t = b.bucket
    group by g.k
  ),
  key_totals as (
    select r.k, sum(r.payments) as payments, sum(r.ok) as ok, sum(r.failed) as failed,
      sum(r.first_ok) as first_ok, sum(r.volume) as volume, sum(r.fees) as fees,
      sum(r.tax) as tax, sum(r.refunds) as refunds, sum(r.refunded_amount) as refunded_amount,
      array[
        sum(r.h1), sum(r.h2), sum(r.h3), sum(r.h4), sum(r.h5), sum(r.h6), sum(r.h7), sum(r.h8),
        sum(r.h9), sum(r.h10), sum(r.h11), sum(r.h12), sum(r.h13), sum(r.h14)
      ]::bigint[] as latency
    from rows as r
    group by r.k
  ),
  failures as (
    select
      coalesce(case p_group_by
        when 'gateway' then nullif(f.gateway_id, '00000000-0000-0000-0000-000000000000'::uuid)::text
        when 'method' then f.method
        when 'merchant' then f.merchant_id::text
      end, '') as k,
      f.code, sum(f.failed) as n
    from public.payment_failure_stats as f
    where f.grain = v_grain and f.bucket >= v_from and f.bucket < v_to
      and (f.merchant_id = v_owner or (v_owner is null and f.merchant_id <> '00000000-0000-0000-0000-000000000000'::uuid))
      and f.mode = scope.mode and f.currency = scope.currency
    group by 1, 2
    having sum(f.failed) > 0
  ),
  key_failures as (
    select x.k, jsonb_agg(jsonb_build_object('code', x.code, 'count', x.n)
      order by x.n desc, x.code) as top
    from (
      select f.k, f.code, f.n,
        row_number() over (partition by f.k order by f.n desc, f.code) as rank
      from failures as f
    ) as x
    where x.rank <= 5
    group by x.k
  ),
  all_failures as (
    select jsonb_agg(jsonb_build_object('code', x.code, 'count', x.n)
      order by x.n desc, x.code) as top
    from (
      select f.code, sum(f.n) as n from failures as f
      group by f.code
      order by sum(f.n) desc, f.code
      limit 5
    ) as x
  ),
  overall as (
    select private.stats_figures(
      coalesce(sum(t.payments), 0), coalesce(sum(t.ok), 0), coalesce(sum(t.failed), 0),
      coalesce(sum(t.first_ok), 0), coalesce(sum(t.volume), 0), coalesce(sum(t.fees), 0),
      coalesce(sum(t.tax), 0), coalesce(sum(t.refunds), 0), coalesce(sum(t.refunded_amount), 0),
      array(
        select coalesce(sum(t2.latency[i]), 0)::bigint from generate_series(1, 14) as i
        cross join key_totals as t2
        group by i
        order by i
      )
    ) || jsonb_build_object(
      'top_failure_reasons', coalesce((select a.top from all_failures as a), '[]'::jsonb)
    ) as totals
    from key_totals as t
  )
  select head || jsonb_build_object(
    'totals', (select o.totals from overall as o),
    'groups', coalesce(jsonb_agg(jsonb_build_object(
      'key', nullif(s.k, ''),
      'totals', private.stats_figures(
        coalesce(t.payments, 0), coalesce(t.ok, 0), coalesce(t.failed, 0),
        coalesce(t.first_ok, 0), coalesce(t.volume, 0), coalesce(t.fees, 0), coalesce(t.tax, 0),
        coalesce(t.refunds, 0), coalesce(t.refunded_amount, 0), t.latency
      ) || jsonb_build_object('top_failure_reasons', coalesce(kf.top, '[]'::jsonb)),
      'series', s.points
    ) order by nullif(s.k, '') nulls first), '[]'::jsonb)
  ) into result
  from series as s
  left join key_totals as t on s.k = t.k
  left join key_failures as kf on s.k = kf.k;
  return result;
end
$$;
comment on function private.payment_analytics(
  uuid, timestamptz, timestamptz, text, text, text, text
) is $$Payment figures from the rollups; see public.payment_analytics.$$;

create function public.payment_analytics(
  p_merchant_id uuid default null, p_from timestamptz default null, p_to timestamptz default null,
  p_granularity text default 'hour', p_group_by text default null, p_mode text default null,
  p_currency text default null
) returns jsonb
language sql stable
set search_path = ''
as $$
  select private.payment_analytics(
    p_merchant_id, p_from, p_to, p_granularity, p_group_by, p_mode, p_currency
  )
$$;
comment on function public.payment_analytics(uuid, timestamptz, timestamptz, text, text, text, text) is
$$Payment analytics over [from, to) (default: the last 24 h by hour), in UTC buckets of
minute (last analytics.minute_retention_days days), hour or day (days from 00:00 UTC),
optionally per gateway, method, status or merchant: payments created, volume (captured minor
units), succeeded, failed, success rate (succeeded / (succeeded + failed) per payment;
succeeded includes refunded ones), first-attempt success rate (first attempt succeeded /
(succeeded + failed)), average ticket (volume / succeeded), refunds and refunded amount (by
the refund's creation), the platform's fees and tax, p50 / p95 provider latency (attempts),
top failure reasons by unified error code; every series zero-filled. From rollups kept by
triggers, never from payments. A payment counts in the bucket it was created in, with its
status now. group_by=status gives payments per status only.
Who: the merchant's members and API keys (their merchant; an API key its mode), admins (every
merchant without merchant_id).
Returns: {object payment_analytics, from, to, granularity, group_by, timezone UTC,
day_boundary, merchant_id, mode, currency, totals {...}, groups: [{key, totals, series: [{t,
...}]}]}; amounts in minor units of currency (default INR); mode default live.
Errors: 22023 bad granularity, group_by, mode, currency or range (at most 1500 buckets);
42501 not a member; P0002 unknown merchant.$$;

create function private.analytics_overview(p_merchant_id uuid, p_mode text, p_currency text) returns jsonb
language plpgsql stable security definer
set plan_cache_mode = 'force_generic_plan'
set search_path = ''
as $$
declare
  scope record;
  today timestamptz := date_trunc('day', now(), 'UTC');
  result jsonb;
begin
  select * into scope from private.analytics_scope(p_merchant_id, p_mode, p_currency);
  with rows as (
    select s.* from public.payment_stats as s
    where s.grain = 'day' and s.bucket >= today - interval '29 days'
      and s.merchant_id = coalesce(scope.merchant_id, '00000000-0000-0000-0000-000000000000'::uuid)
      and s.mode = scope.mode and s.currency = scope.currency
  ),
  windows as (
    select w.name, w.since from (
      values ('today', today), ('last_7_days', today - interval '6 days'),
      ('last_30_days', today - interval '29 days')
    ) as w (name, since)
  )
  select jsonb_build_object(
    'object', 'analytics_overview', 'as_of', now(), 'timezone', 'UTC',
    'day_boundary', '00:00 UTC', 'merchant_id', scope.merchant_id, 'mode', scope.mode,
    'currency', scope.currency,
    'windows', (
      select jsonb_object_agg(w.name, (
        select private.stats_figures(
          coalesce(sum(r.payments), 0), coalesce(sum(r.succeeded + r.partially_refunded + r.refunded), 0),
          coalesce(sum(r.failed), 0), coalesce(sum(r.first_attempt_succeeded), 0),
          coalesce(sum(r.volume), 0), coalesce(sum(r.fees), 0), coalesce(sum(r.tax), 0),
          coalesce(sum(r.refunds), 0), coalesce(sum(r.refunded_amount), 0),
          array[
            sum(r.h1), sum(r.h2), sum(r.h3), sum(r.h4), sum(r.h5), sum(r.h6), sum(r.h7),
            sum(r.h8), sum(r.h9), sum(r.h10), sum(r.h11), sum(r.h12), sum(r.h13), sum(r.h14)
          ]::bigint[]
        ) || jsonb_build_object('from', w.since)
        from rows as r
        where r.bucket >= w.since
      ))
      from windows as w
    ),
    'top_gateways', coalesce((
      select jsonb_agg(x.v order by x.volume desc, x.k)
      from (
        select
          r.gateway_id::text as k, sum(r.volume) as volume,
          jsonb_build_object(
            'gateway_id', r.gateway_id, 'volume', sum(r.volume),
            'payments', sum(r.payments),
            'success_rate', case when sum(r.succeeded + r.partially_refunded + r.refunded + r.failed) > 0
              then round(sum(r.succeeded + r.partially_refunded + r.refunded)::numeric
                / sum(r.succeeded + r.partially_refunded + r.refunded + r.failed), 4) end
          ) as v
        from rows as r
        where r.gateway_id <> '00000000-0000-0000-0000-000000000000'::uuid
        group by r.gateway_id
        order by sum(r.volume) desc, r.gateway_id
        limit 5
      ) as x
    ), '[]'::jsonb),
    'top_methods', coalesce((
      select jsonb_agg(x.v order by x.volume desc, x.k)
      from (
        select
          r.method as k, sum(r.volume) as volume,
          jsonb_build_object(
            'method', r.method, 'volume', sum(r.volume), 'payments', sum(r.payments),
            'success_rate', case when sum(r.succeeded + r.partially_refunded + r.refunded + r.failed) > 0
              then round(sum(r.succeeded + r.partially_refunded + r.refunded)::numeric
                / sum(r.succeeded + r.partially_refunded + r.refunded + r.failed), 4) end
          ) as v
        from rows as r
        group by r.method
        order by sum(r.volume) desc, r.method
        limit 5
      ) as x
    ), '[]'::jsonb)
  ) into result;
  return result;
end
$$;
comment on function private.analytics_overview(uuid, text, text) is
$$The dashboard's analytics overview; see public.analytics_overview.$$;

create function public.analytics_overview(
  p_merchant_id uuid default null, p_mode text default null, p_currency text default null
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.analytics_overview(p_merchant_id, p_mode, p_currency) $$;
comment on function public.analytics_overview(uuid, text, text) is
$$The dashboard's Analytics tab: for today, the last 7 and the last 30 UTC days (including
today): payments, volume, succeeded, failed, success rate, first-attempt success rate,
average ticket, refunds, fees, tax and provider latency; and the top 5 gateways and methods of
the 30 days by volume with their success rates. From the daily rollups.
Who: the merchant's members and API keys (an API key: its mode), admins (every merchant
without merchant_id).
Returns: {object analytics_overview, as_of, timezone UTC, day_boundary, merchant_id, mode,
currency, windows: {today, last_7_days, last_30_days}, top_gateways, top_methods}; amounts in
minor units (default INR, mode default live).
Errors: 22023 bad mode or currency; 42501 not a member; P0002 unknown merchant.$$;

-- Policies and grants ---------------------------------------------------------------------------
create policy payment_stats_read on public.payment_stats
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy payment_failure_stats_read on public.payment_failure_stats
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
revoke all on public.payment_stats, public.payment_failure_stats from public, anon, authenticated;
grant select on public.payment_stats, public.payment_failure_stats to authenticated;
grant select, insert, update, delete on public.payment_stats, public.payment_failure_stats
to service_role;

grant execute on function private.analytics_scope(uuid, text, text) to authenticated, service_role;
grant execute on function private.payment_analytics(
  uuid, timestamptz, timestamptz, text, text, text, text
) to authenticated, service_role;
grant execute on function private.analytics_overview(uuid, text, text) to authenticated, service_role;
grant execute on function private.analytics_retention() to service_role;
revoke all on function public.payment_analytics(
  uuid, timestamptz, timestamptz, text, text, text, text
) from public, anon;
revoke all on function public.analytics_overview(uuid, text, text) from public, anon;
grant execute on function public.payment_analytics(
  uuid, timestamptz, timestamptz, text, text, text, text
) to authenticated, service_role;
grant execute on function public.analytics_overview(uuid, text, text) to authenticated, service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
