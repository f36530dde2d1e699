-- The API-key gate: key status and the rate-limit decision for one request, made in the same
-- round trip as the call it admits. The adapter sends one simple-query batch
--   set role service_role; gate; commit; begin; the caller's settings; the call; commit
-- so the gate commits on its own (a call that fails still spends its token), and a refusal
-- must stop the batch: the gate raises, with PostgREST's convention of PTxxx SQLSTATEs for
-- HTTP statuses. PT401: detail is the key's state (unknown_key, revoked, expired,
-- merchant_<status>). PT429: detail is the key and the limiter's figures as JSON. A raise
-- rolls back the limiter's breach counter, so the adapter counts breaches itself and adds
-- them in batches. The gate is also how a key is first looked up: it replaces
-- authenticate_and_limit and authenticate_api_key (one path for every API-key request).
create function private.api_key_gate(p_hash bytea, p_burst_fraction numeric, p_limit boolean)
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
    select * into r from private.rate_limit_take(
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

-- Breaches the gate refused (its own insert was rolled back with the raise), in batches.
create function private.add_rate_limit_breaches(
  p_buckets text[], p_minutes timestamptz[], p_counts integer[]
) returns integer
language sql volatile security definer
set search_path = ''
as $$
  with added as (
    insert into private.rate_limit_breaches as b (bucket, minute, breaches)
    select t.bucket, date_trunc('minute', t.minute), sum(t.n)
    from unnest(p_buckets, p_minutes, p_counts) as t (bucket, minute, n)
    group by 1, 2
    on conflict (bucket, minute) do update set breaches = b.breaches + excluded.breaches
    returning 1
  )
  select count(*)::integer from added
$$;

drop function private.authenticate_and_limit(bytea, numeric);
drop function private.authenticate_api_key(bytea);

revoke all on function private.api_key_gate(bytea, numeric, boolean),
private.add_rate_limit_breaches(text[], timestamptz[], integer[]) from public;
grant execute on function private.api_key_gate(bytea, numeric, boolean),
private.add_rate_limit_breaches(text[], timestamptz[], integer[]) to service_role;

-- RateLimit-Remaining was one short: after k of a burst of B requests, B - k remain (the
-- backlog may reach tau = (B - 1) * t before a request is refused); and never more than
-- B - 1 after an admission. Otherwise unchanged.
create or replace function private.rate_limit_take(p_bucket text, p_per_min integer, p_burst integer)
returns table (allowed boolean, remaining integer, retry_after_ms integer, reset_ms integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  t interval := interval '1 minute' / greatest(p_per_min, 1);
  tau interval := (interval '1 minute' / greatest(p_per_min, 1)) * (greatest(p_burst, 1) - 1);
  new_tat timestamptz;
  current_tat timestamptz;
begin
  insert into private.rate_limits as r (bucket, tat)
  values (p_bucket, clock_timestamp() + t)
  on conflict (bucket) do update
  set tat = greatest(r.tat, clock_timestamp()) + t
  where greatest(r.tat, clock_timestamp()) - clock_timestamp() <= tau
  returning r.tat into new_tat;
  if new_tat is not null then
    -- At most burst - 1 remain after an admission (the clock moved on since the update;
    -- at very high limits that drift alone would be worth a few tokens).
    return query select true,
      least(greatest(floor(extract(epoch from tau - (new_tat - clock_timestamp()))
        / extract(epoch from t))::integer + 1, 0), greatest(p_burst, 1) - 1),
      0,
      ceil(extract(epoch from new_tat - clock_timestamp()) * 1000)::integer;
    return;
  end if;
  select r.tat into current_tat from private.rate_limits as r where r.bucket = p_bucket;
  insert into private.rate_limit_breaches as b (bucket, minute, breaches)
  values (p_bucket, date_trunc('minute', now()), 1)
  on conflict (bucket, minute) do update set breaches = b.breaches + 1;
  return query select false, 0,
    greatest(ceil(extract(epoch from (current_tat - tau) - clock_timestamp()) * 1000), 1)::integer,
    ceil(extract(epoch from current_tat - clock_timestamp()) * 1000)::integer;
end
$$;
