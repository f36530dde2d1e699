-- The API-key gate in one UPDATE on one row. Until now every keyed request joined
-- api_keys, merchants and merchant_rate_limits (three index probes and a join's executor
-- start-up) and then stepped the key's GCRA bucket in private.rate_limits: two statements
-- on four tables. private.key_admissions keeps, per key digest, what that join decides (the
-- key, its merchant and mode, its limit, until when it is usable) next to the bucket's TAT,
-- so an admission is one conditional UPDATE ... RETURNING on the key's row.
--
-- The tables stay the truth. A change to a key marks its row stale, and a change to a
-- merchant's status or limits marks all the merchant's rows stale, in the same transaction
-- (triggers); the gate rebuilds a stale or missing row from the tables before using it. A
-- revocation, suspension or new limit therefore applies from the commit that makes it, as
-- before. A stale row keeps its bucket's TAT: no change (say, revoking a spare key) hands
-- the merchant's other keys a fresh burst.
--
-- pgbench, 8 clients on 2 cores, begin; set role; gate; commit: 171 -> 130 us of CPU per
-- gate. scripts/bench devtools (API key + limiter against JWT, the issue's 15% budget):
-- median 0.150 over 14 runs before; after, 18 runs from 0.082 to 0.182, median 0.114, 15
-- at or under 0.15.
-- GCRA's arithmetic, once, for the key gate, private.rate_limit_take and the adapter's
-- per-user statement. Plain SQL expressions (no SET clause, not security definer) so the
-- planner inlines them into the statements that call them: no function call on the hot
-- path.
create function private.gcra_emission(p_per_min integer) returns interval
language sql immutable
as $$ select interval '1 minute' / greatest(p_per_min, 1) $$;
-- A limit's burst: the adapter's fraction of the per-minute limit, at least 10.
create function private.gcra_burst(p_per_min integer, p_fraction numeric) returns integer
language sql immutable
as $$ select greatest(10, (p_per_min * p_fraction)::integer) $$;
-- How far ahead of now the TAT may run: a burst of B is B - 1 emissions.
create function private.gcra_tolerance(p_per_min integer, p_burst integer) returns interval
language sql immutable
as $$ select (interval '1 minute' / greatest(p_per_min, 1)) * (greatest(p_burst, 1) - 1) $$;
-- After k of a burst of B, B - k remain; never more than B - 1 after an admission.
create function private.gcra_remaining(
  p_tat timestamptz, p_now timestamptz, p_emission interval, p_tolerance interval,
  p_burst integer
) returns integer
language sql immutable
as $$
  select least(greatest(floor(extract(epoch from p_tolerance - (p_tat - p_now))
    / extract(epoch from p_emission))::integer + 1, 0), greatest(p_burst, 1) - 1)
$$;
-- A refusal: when the next request would be admitted (at least 1 ms away).
create function private.gcra_retry_after_ms(
  p_tat timestamptz, p_now timestamptz, p_tolerance interval
) returns integer
language sql immutable
as $$ select greatest(ceil(extract(epoch from (p_tat - p_tolerance) - p_now) * 1000), 1)::integer $$;
-- When the bucket is full again.
create function private.gcra_reset_ms(p_tat timestamptz, p_now timestamptz) returns integer
language sql immutable
as $$ select ceil(extract(epoch from p_tat - p_now) * 1000)::integer $$;
revoke all on function private.gcra_burst(integer, numeric), private.gcra_emission(integer),
private.gcra_tolerance(integer, integer),
private.gcra_remaining(timestamptz, timestamptz, interval, interval, integer),
private.gcra_retry_after_ms(timestamptz, timestamptz, interval),
private.gcra_reset_ms(timestamptz, timestamptz)
from public, anon, authenticated;
-- The adapter's per-user limiter statement (service_role) sizes its burst with it.
grant execute on function private.gcra_burst(integer, numeric) to service_role;

create unlogged table private.key_admissions (
  key_hash bytea primary key,
  -- Not unique: ON CONFLICT arbitrates on key_hash only, and a second unique index would
  -- fail concurrent first admissions of one key with 23505 instead of merging them.
  api_key_id uuid not null,
  merchant_id uuid not null,
  mode text not null,
  per_min integer not null,
  burst_fraction numeric not null,   -- the gate's argument this row was built for
  burst integer not null,
  emission interval not null,        -- GCRA's T: one request's share of a minute
  tolerance interval not null,       -- GCRA's tau: T * (burst - 1)
  -- The earlier of revocation (a grace window) and expiry; -infinity once stale.
  usable_until timestamptz,
  tat timestamptz not null,          -- the bucket's theoretical arrival time
  created_at timestamptz not null default now()
);
create index key_admissions_merchant on private.key_admissions (merchant_id);
create index key_admissions_key on private.key_admissions (api_key_id);
alter table private.key_admissions enable row level security;
revoke all on private.key_admissions from public, anon, authenticated, service_role;
-- Key buckets now live with their admissions.
delete from private.rate_limits
where bucket like 'key:%';

-- Admission rows are rebuilt under a shared advisory lock on the merchant and marked stale
-- under an exclusive one, so a rebuild that read the tables before a change cannot
-- outlive it: either the change commits first and the rebuild (which looks the key up
-- after taking its lock) sees it, or the change waits for the rebuild and then marks the
-- row it wrote.
create function private.key_admissions_lock(p_merchant uuid) returns bigint
language sql immutable
set search_path = ''
as $$ select hashtextextended('private.key_admissions:' || p_merchant::text, 0) $$;
revoke all on function private.key_admissions_lock(uuid) from public, anon, authenticated;

create function private.forget_key_admissions() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  changed jsonb := to_jsonb(coalesce(new, old));
  -- tg_argv[0] names the merchant column of the table the trigger is on.
  merchant uuid := (changed ->> tg_argv[0])::uuid;
begin
  perform pg_advisory_xact_lock(private.key_admissions_lock(merchant));
  if tg_table_name = 'api_keys' and tg_op = 'DELETE' then
    delete from private.key_admissions as a where a.api_key_id = (changed ->> 'id')::uuid;
  elsif tg_table_name = 'api_keys' then
    update private.key_admissions as a set usable_until = '-infinity'
    where a.api_key_id = (changed ->> 'id')::uuid;
  else
    update private.key_admissions as a set usable_until = '-infinity'
    where a.merchant_id = merchant;
  end if;
  return null;
end
$$;
revoke all on function private.forget_key_admissions() from public, anon, authenticated;

create trigger key_admissions_forget
after update of revoked_at, expires_at, rate_limit_per_min, mode, merchant_id, key_hash
or delete on public.api_keys
for each row execute function private.forget_key_admissions('merchant_id');
create trigger key_admissions_forget after update of status or delete on public.merchants
for each row execute function private.forget_key_admissions('id');
create trigger key_admissions_forget after insert or update or delete
on public.merchant_rate_limits
for each row execute function private.forget_key_admissions('merchant_id');

-- (Re)build a key's admission row from the tables, keeping its bucket's TAT; PT401 with
-- the key's state when it cannot be used at p_now.
create function private.build_key_admission(
  p_hash bytea, p_burst_fraction numeric, p_now timestamptz
) returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  merchant uuid;
  r record;
  burst integer;
begin
  select k.merchant_id into merchant from public.api_keys as k where k.key_hash = p_hash;
  if not found then
    raise exception 'no such API key' using errcode = 'PT401', detail = 'unknown_key';
  end if;
  perform pg_advisory_xact_lock_shared(private.key_admissions_lock(merchant));
  select k.id, k.mode,
    case
      when k.revoked_at is not null and k.revoked_at <= p_now then 'revoked'
      when k.expires_at is not null and k.expires_at <= p_now then 'expired'
      when m.status <> 'active' then 'merchant_' || m.status
      else 'active'
    end as state,
    private.rate_limit_for(k.id, null) as per_min,
    least(k.revoked_at, k.expires_at) as usable_until
  into r
  from public.api_keys as k
  join public.merchants as m on m.id = k.merchant_id
  where k.key_hash = p_hash;
  if r.state is null then  -- deleted since the first look
    raise exception 'no such API key' using errcode = 'PT401', detail = 'unknown_key';
  elsif r.state <> 'active' then
    raise exception 'this API key cannot be used' using errcode = 'PT401', detail = r.state;
  end if;
  burst := private.gcra_burst(r.per_min, p_burst_fraction);
  insert into private.key_admissions as a (
    key_hash, api_key_id, merchant_id, mode, per_min, burst_fraction, burst, emission,
    tolerance, usable_until, tat
  ) values (
    p_hash, r.id, merchant, r.mode, r.per_min, p_burst_fraction, burst,
    private.gcra_emission(r.per_min), private.gcra_tolerance(r.per_min, burst), r.usable_until,
    p_now
  )
  on conflict (key_hash) do update set
    api_key_id = excluded.api_key_id, merchant_id = excluded.merchant_id,
    mode = excluded.mode, per_min = excluded.per_min, burst_fraction = excluded.burst_fraction,
    burst = excluded.burst, emission = excluded.emission, tolerance = excluded.tolerance,
    usable_until = excluded.usable_until;
end
$$;
revoke all on function private.build_key_admission(bytea, numeric, timestamptz)
from public, anon, authenticated, service_role;

-- The gate: the same answers and refusals as before (json with api_key_id, merchant_id,
-- mode, per_min, remaining, reset_ms; PT401 with the key's state; PT429 with the limiter's
-- figures). With the limiter on, an admission is one GCRA step on the key's row when the
-- row is current and the bucket has room. Otherwise the row is read again: missing or
-- stale, it is rebuilt and the step tried again; current and without room, the request is
-- refused; current with room (a concurrent first request built it after the step looked),
-- the step is tried again. Exact under concurrency: the UPDATE waits on a concurrent
-- admission's row lock and re-checks its WHERE against the new TAT (READ COMMITTED).
drop function private.api_key_gate(bytea, numeric, boolean);
create function private.api_key_gate(p_hash bytea, p_burst_fraction numeric, p_limit boolean)
returns json
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  now_ts timestamptz := clock_timestamp();
  answer json;
  a private.key_admissions;
begin
  -- Three tries: one rebuild, one row built concurrently, one decision; each needs a
  -- concurrent change to the key's row to be followed by another.
  for attempt in 1..3 loop
    if p_limit then
      update private.key_admissions as k set tat = greatest(k.tat, now_ts) + k.emission
      where k.key_hash = p_hash and k.burst_fraction = p_burst_fraction
        and (k.usable_until is null or k.usable_until > now_ts)
        and greatest(k.tat, now_ts) - now_ts <= k.tolerance
      returning json_build_object(
        'api_key_id', k.api_key_id, 'merchant_id', k.merchant_id, 'mode', k.mode,
        'per_min', k.per_min,
        'remaining', private.gcra_remaining(k.tat, now_ts, k.emission, k.tolerance, k.burst),
        'reset_ms', private.gcra_reset_ms(k.tat, now_ts)
      ) into answer;
    else
      select json_build_object(
        'api_key_id', k.api_key_id, 'merchant_id', k.merchant_id, 'mode', k.mode,
        'per_min', k.per_min, 'remaining', null, 'reset_ms', null
      ) into answer
      from private.key_admissions as k
      where k.key_hash = p_hash and (k.usable_until is null or k.usable_until > now_ts);
    end if;
    if answer is not null then
      return answer;
    end if;
    select * into a from private.key_admissions as k where k.key_hash = p_hash;
    if not found or a.usable_until <= now_ts
      or (p_limit and a.burst_fraction <> p_burst_fraction) then
      perform private.build_key_admission(p_hash, p_burst_fraction, now_ts);  -- or PT401
    elsif p_limit and greatest(a.tat, now_ts) - now_ts > a.tolerance then
      raise exception 'too many requests' using errcode = 'PT429', detail = json_build_object(
        'api_key_id', a.api_key_id, 'merchant_id', a.merchant_id, 'mode', a.mode,
        'limit', a.per_min,
        'retry_after_ms', private.gcra_retry_after_ms(a.tat, now_ts, a.tolerance),
        'reset_ms', private.gcra_reset_ms(a.tat, now_ts)
      )::text;
    end if;
  end loop;
  raise exception 'the admission row for this key did not take' using errcode = 'XX000';
end
$$;
revoke all on function private.api_key_gate(bytea, numeric, boolean) from public, anon;
grant execute on function private.api_key_gate(bytea, numeric, boolean) to service_role;

-- The user limiter's step on the same GCRA helpers (same decisions and figures as 001400).
create or replace function private.rate_limit_take(
  p_bucket text, p_per_min integer, p_burst integer,
  out allowed boolean, out remaining integer, out retry_after_ms integer, out reset_ms integer
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  now_ts timestamptz := clock_timestamp();
  t interval := private.gcra_emission(p_per_min);
  tau interval := private.gcra_tolerance(p_per_min, p_burst);
  tat timestamptz;
begin
  update private.rate_limits as r set tat = greatest(r.tat, now_ts) + t
  where r.bucket = p_bucket and greatest(r.tat, now_ts) - now_ts <= tau
  returning r.tat into tat;
  if tat is null then  -- a new bucket, or a refusal (decided again, under the row lock)
    insert into private.rate_limits as r (bucket, tat) values (p_bucket, now_ts + t)
    on conflict (bucket) do update set tat = greatest(r.tat, now_ts) + t
    where greatest(r.tat, now_ts) - now_ts <= tau
    returning r.tat into tat;
  end if;
  allowed := tat is not null;
  if allowed then
    remaining := private.gcra_remaining(tat, now_ts, t, tau, p_burst);
    retry_after_ms := 0;
  else
    select r.tat into tat from private.rate_limits as r where r.bucket = p_bucket;
    insert into private.rate_limit_breaches as b (bucket, minute, breaches)
    values (p_bucket, date_trunc('minute', now()), 1)
    on conflict (bucket, minute) do update set breaches = b.breaches + 1;
    remaining := 0;
    retry_after_ms := private.gcra_retry_after_ms(tat, now_ts, tau);
  end if;
  reset_ms := private.gcra_reset_ms(tat, now_ts);
end
$$;

-- Usage's rate-limit status reads the key's bucket where it now lives (throttled: the next
-- request would be refused).
create or replace function private.merchant_usage(
  p_merchant_id uuid, p_from timestamptz, p_to timestamptz, p_granularity text
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.resolve_merchant(p_merchant_id);
  v_from timestamptz := coalesce(p_from, now() - interval '24 hours');
  v_to timestamptz := coalesce(p_to, now());
  step interval;
  hist bigint[];
begin
  if p_granularity is null or p_granularity not in ('minute', 'hour', 'day') then
    raise exception 'granularity must be minute, hour or day' using errcode = '22023';
  end if;
  if v_from >= v_to then
    raise exception 'from must be before to' using errcode = '22023';
  end if;
  step := ('1 ' || p_granularity)::interval;
  if extract(epoch from v_to - v_from) / extract(epoch from step) > 2000 then
    raise exception 'that range has more than 2000 % points: use a coarser granularity',
      p_granularity using errcode = '22023';
  end if;
  select array[sum(s.h1), sum(s.h2), sum(s.h3), sum(s.h4), sum(s.h5), sum(s.h6), sum(s.h7), sum(s.h8), sum(s.h9), sum(s.h10), sum(s.h11), sum(s.h12), sum(s.h13), sum(s.h14)]::bigint[] into hist
  from public.api_usage_minute as s
  where s.merchant_id = m and s.minute >= v_from and s.minute < v_to;
  return jsonb_build_object(
    'merchant_id', m, 'from', v_from, 'to', v_to, 'granularity', p_granularity,
    'totals', (
      select jsonb_build_object(
        'requests', coalesce(sum(s.requests), 0), 'errors_4xx', coalesce(sum(s.errors_4xx), 0),
        'errors_5xx', coalesce(sum(s.errors_5xx), 0),
        'rate_limited', coalesce(sum(s.rate_limited), 0),
        'p50_ms', private.hist_percentile(hist, 0.5),
        'p95_ms', private.hist_percentile(hist, 0.95)
      )
      from public.api_usage_minute as s
      where s.merchant_id = m and s.minute >= v_from and s.minute < v_to
    ),
    'series', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'at', x.bucket, 'requests', x.requests, 'errors_4xx', x.e4, 'errors_5xx', x.e5,
        'rate_limited', x.rl
      ) order by x.bucket), '[]'::jsonb)
      from (
        select date_trunc(p_granularity, s.minute) as bucket, sum(s.requests) as requests,
          sum(s.errors_4xx) as e4, sum(s.errors_5xx) as e5, sum(s.rate_limited) as rl
        from public.api_usage_minute as s
        where s.merchant_id = m and s.minute >= v_from and s.minute < v_to
        group by 1
      ) as x
    ),
    'top_endpoints', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'endpoint', x.endpoint, 'requests', x.requests, 'errors', x.errors
      ) order by x.requests desc, x.endpoint), '[]'::jsonb)
      from (
        select s.endpoint, sum(s.requests) as requests,
          sum(s.errors_4xx + s.errors_5xx) as errors
        from public.api_usage_minute as s
        where s.merchant_id = m and s.minute >= v_from and s.minute < v_to
        group by 1 order by 2 desc, 1 limit 10
      ) as x
    ),
    'rate_limits', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'api_key_id', k.id, 'display', k.prefix || '…' || k.last4,
        'limit_per_min', private.rate_limit_for(k.id, null),
        'throttled_now', coalesce(a.tat > now() + a.tolerance, false),
        'breaches_24h', coalesce((
          select sum(b.breaches) from private.rate_limit_breaches as b
          where b.bucket = 'key:' || k.id and b.minute > now() - interval '24 hours'
        ), 0)
      ) order by k.created_at), '[]'::jsonb)
      from public.api_keys as k
      left join private.key_admissions as a on a.api_key_id = k.id
      where k.merchant_id = m and (k.revoked_at is null or k.revoked_at > now())
    )
  );
end
$$;
