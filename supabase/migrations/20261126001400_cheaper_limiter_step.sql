-- The limiter step, cheaper on the path every API-key request takes (same decisions):
-- 1. An existing bucket is moved on by a plain conditional UPDATE. The upsert it replaces
--    first probed the unique index for a conflict, then locked the row, then updated it:
--    two writes of the row per request. The upsert remains for a bucket's first request
--    and for refusals (its WHERE decides the same way, so a refusal is still exact).
-- 2. One function result instead of a set: rate_limit_take returns its four figures as OUT
--    parameters, so the gate assigns them (r := ...) instead of scanning a one-row
--    tuplestore. A set-returning plpgsql call measured about 25 us more than a plain one.
-- Single-client pgbench, 12 alternating rounds, median latency of
-- begin; set role; gate; commit: 222 us before, 209 us after (the same batch with the
-- gate's limiter off: 177 us).
-- Exactness is unchanged: the UPDATE waits on the row lock of a concurrent admission and
-- re-checks its WHERE against the new tat (READ COMMITTED), as the upsert did.
drop function private.rate_limit_take(text, integer, integer);
create function private.rate_limit_take(
  p_bucket text, p_per_min integer, p_burst integer,
  out allowed boolean, out remaining integer, out retry_after_ms integer, out reset_ms integer
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  now_ts timestamptz := clock_timestamp();
  t interval := interval '1 minute' / greatest(p_per_min, 1);
  tau interval := (interval '1 minute' / greatest(p_per_min, 1)) * (greatest(p_burst, 1) - 1);
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
    -- After k of a burst of B, B - k remain; never more than B - 1 after an admission.
    remaining := least(greatest(floor(extract(epoch from tau - (tat - now_ts))
      / extract(epoch from t))::integer + 1, 0), greatest(p_burst, 1) - 1);
    retry_after_ms := 0;
  else
    select r.tat into tat from private.rate_limits as r where r.bucket = p_bucket;
    insert into private.rate_limit_breaches as b (bucket, minute, breaches)
    values (p_bucket, date_trunc('minute', now()), 1)
    on conflict (bucket, minute) do update set breaches = b.breaches + 1;
    remaining := 0;
    retry_after_ms := greatest(ceil(extract(epoch from (tat - tau) - now_ts) * 1000), 1);
  end if;
  reset_ms := ceil(extract(epoch from tat - now_ts) * 1000);
end
$$;
revoke all on function private.rate_limit_take(text, integer, integer) from public, anon;
grant execute on function private.rate_limit_take(text, integer, integer) to service_role;

-- The gate, unchanged but for taking the step's figures by assignment.
create or replace function private.api_key_gate(p_hash bytea, p_burst_fraction numeric, p_limit boolean)
returns table (
  api_key_id uuid, merchant_id uuid, mode text, per_min integer, remaining integer,
  reset_ms integer
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  state text;
  r record;
begin
  select k.id, k.merchant_id, k.mode,
    case
      when k.revoked_at is not null and k.revoked_at <= now() then 'revoked'
      when k.expires_at is not null and k.expires_at <= now() then 'expired'
      when m.status <> 'active' then 'merchant_' || m.status
      else 'active'
    end,
    coalesce(k.rate_limit_per_min, l.api_key_per_min, 600)
  into api_key_id, merchant_id, mode, state, per_min
  from public.api_keys as k
  join public.merchants as m on m.id = k.merchant_id
  left join public.merchant_rate_limits as l on l.merchant_id = k.merchant_id
  where k.key_hash = p_hash;
  if not found then
    raise exception 'no such API key' using errcode = 'PT401', detail = 'unknown_key';
  elsif state <> 'active' then
    raise exception 'this API key cannot be used' using errcode = 'PT401', detail = state;
  end if;
  if p_limit then
    r := private.rate_limit_take(
      'key:' || api_key_id, per_min, greatest(10, (per_min * p_burst_fraction)::integer)
    );
    if not r.allowed then
      raise exception 'too many requests' using errcode = 'PT429', detail = json_build_object(
        'api_key_id', api_key_id, 'merchant_id', merchant_id, 'mode', mode,
        'limit', per_min, 'retry_after_ms', r.retry_after_ms, 'reset_ms', r.reset_ms
      )::text;
    end if;
    remaining := r.remaining;
    reset_ms := r.reset_ms;
  end if;
  return next;
end
$$;
