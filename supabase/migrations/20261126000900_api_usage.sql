-- API usage analytics: per-minute rollups of merchant API traffic (API-key requests),
-- written by the adapter in batches off the request path; read by merchant_usage.

create table public.api_usage_minute (
  merchant_id uuid not null references public.merchants (id),
  api_key_id uuid not null references public.api_keys (id),
  minute timestamptz not null,
  endpoint text not null check (char_length(endpoint) <= 200),
  requests integer not null default 0,
  errors_4xx integer not null default 0,
  errors_5xx integer not null default 0,
  rate_limited integer not null default 0,
  -- latency histogram over private.latency_bounds()
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
  primary key (merchant_id, minute, api_key_id, endpoint)
);
alter table public.api_usage_minute enable row level security;
create index api_usage_minute_key_idx on public.api_usage_minute (api_key_id, minute);

create policy api_usage_minute_read on public.api_usage_minute
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);
revoke all on public.api_usage_minute from public, anon, authenticated;
grant select on public.api_usage_minute to authenticated;
grant select, insert, update, delete on public.api_usage_minute to service_role;

-- Batch of rollups from the adapter: [{merchant_id, api_key_id, minute, endpoint, requests,
-- errors_4xx, errors_5xx, rate_limited, h1..h14}], added to what is there.
create function private.record_api_usage(p_rows jsonb) returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  n integer;
begin
  insert into public.api_usage_minute as s (
    merchant_id, api_key_id, minute, endpoint, requests, errors_4xx, errors_5xx,
    rate_limited, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14
  )
  select (u ->> 'merchant_id')::uuid, (u ->> 'api_key_id')::uuid,
    date_trunc('minute', (u ->> 'minute')::timestamptz), u ->> 'endpoint',
    (u ->> 'requests')::integer, (u ->> 'errors_4xx')::integer, (u ->> 'errors_5xx')::integer,
    (u ->> 'rate_limited')::integer, coalesce((u ->> 'h1')::integer, 0), coalesce((u ->> 'h2')::integer, 0), coalesce((u ->> 'h3')::integer, 0), coalesce((u ->> 'h4')::integer, 0), coalesce((u ->> 'h5')::integer, 0), coalesce((u ->> 'h6')::integer, 0), coalesce((u ->> 'h7')::integer, 0), coalesce((u ->> 'h8')::integer, 0), coalesce((u ->> 'h9')::integer, 0), coalesce((u ->> 'h10')::integer, 0), coalesce((u ->> 'h11')::integer, 0), coalesce((u ->> 'h12')::integer, 0), coalesce((u ->> 'h13')::integer, 0), coalesce((u ->> 'h14')::integer, 0)
  from jsonb_array_elements(p_rows) as u
  on conflict (merchant_id, minute, api_key_id, endpoint) do update set
    requests = s.requests + excluded.requests,
    errors_4xx = s.errors_4xx + excluded.errors_4xx,
    errors_5xx = s.errors_5xx + excluded.errors_5xx,
    rate_limited = s.rate_limited + excluded.rate_limited,
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
  get diagnostics n = row_count;
  return n;
end
$$;

create function private.merchant_usage(
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
        'throttled_now', coalesce(r.tat > now() + make_interval(
          secs => 60.0 / private.rate_limit_for(k.id, null)
            * (greatest(10, private.rate_limit_for(k.id, null) / 10) - 1)
        ), false),
        'breaches_24h', coalesce((
          select sum(b.breaches) from private.rate_limit_breaches as b
          where b.bucket = 'key:' || k.id and b.minute > now() - interval '24 hours'
        ), 0)
      ) order by k.created_at), '[]'::jsonb)
      from public.api_keys as k
      left join private.rate_limits as r on r.bucket = 'key:' || k.id
      where k.merchant_id = m and (k.revoked_at is null or k.revoked_at > now())
    )
  );
end
$$;

create function public.merchant_usage(
  p_merchant_id uuid default null, p_from timestamptz default null,
  p_to timestamptz default null, p_granularity text default 'hour'
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.merchant_usage(p_merchant_id, p_from, p_to, p_granularity) $$;

-- Requests in the last 24 h per key, for the credentials list.
create or replace function private.key_view(k public.api_keys) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', k.id, 'merchant_id', k.merchant_id, 'name', k.name, 'mode', k.mode,
    'display', k.prefix || '…' || k.last4, 'created_at', k.created_at,
    'last_used_at', k.last_used_at, 'expires_at', k.expires_at, 'revoked_at', k.revoked_at,
    'status', case
      when k.revoked_at is not null and k.revoked_at <= now() then 'revoked'
      when k.revoked_at is not null then 'rotating'
      when k.expires_at is not null and k.expires_at <= now() then 'expired'
      else 'active'
    end,
    'rate_limit_per_min', private.rate_limit_for(k.id, null),
    'requests_24h', coalesce((
      select sum(u.requests) from public.api_usage_minute as u
      where u.api_key_id = k.id and u.minute > now() - interval '24 hours'
    ), 0),
    'replaced_by', k.replaced_by
  )
$$;

revoke execute on all functions in schema public from public, anon;
grant execute on function public.merchant_usage(uuid, timestamptz, timestamptz, text)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
grant execute on function private.merchant_usage(uuid, timestamptz, timestamptz, text)
to authenticated, service_role;
grant execute on function private.record_api_usage(jsonb) to service_role;
grant execute on function private.is_service_role(), private.is_admin(),
private.current_role_is(text), private.member_merchant_ids(text[]),
private.has_merchant_role(uuid, text[]), private.require_admin(), private.require_user()
to authenticated, service_role;
