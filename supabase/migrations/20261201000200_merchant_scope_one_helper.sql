-- Merchant scope in one helper: "the merchant from the argument, the API key's claims, or the
-- caller's only membership, then require one of these roles" (private.require_merchant)
-- replaces private.resolve_merchant, private.webhook_manager and create_api_key's own
-- prelude. A member of exactly one merchant no longer needs to send merchant_id; a member of
-- several gets a 22023 that names the choice.

create function private.require_merchant(
  p_merchant_id uuid, p_roles text[] default null, p_doing text default null
) returns uuid
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := coalesce(p_merchant_id, (auth.jwt() ->> 'merchant_id')::uuid);
  choices uuid[];
begin
  if m is null then
    select array_agg(x.id order by x.id) into choices
    from private.member_merchant_ids() as x (id);
    if cardinality(choices) = 1 then
      m := choices[1];
    elsif cardinality(choices) > 1 then
      raise exception 'you belong to % merchants: pass merchant_id (one of %)',
        cardinality(choices), array_to_string(choices, ', ') using errcode = '22023';
    else
      raise exception 'merchant_id is required' using errcode = '22023';
    end if;
  end if;
  if private.is_admin() then
    if not exists (select 1 from public.merchants as x where x.id = m) then
      raise exception 'merchant % does not exist', m using errcode = 'P0002';
    end if;
  elsif not private.has_merchant_role(m, p_roles) then
    if p_roles is null or not private.has_merchant_role(m) then
      raise exception 'you are not a member of merchant %', m using errcode = '42501';
    end if;
    raise exception 'only the merchant''s % can %', array_to_string(p_roles, 's and ') || 's',
      coalesce(p_doing, 'do this') using errcode = '42501';
  end if;
  return m;
end
$$;

revoke execute on function private.require_merchant(uuid, text[], text) from public, anon;
grant execute on function private.require_merchant(uuid, text[], text) to authenticated, service_role;

create or replace function private.list_api_keys(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
begin
  return jsonb_build_object(
    'merchant_id', m,
    'keys', coalesce((
      select jsonb_agg(private.key_view(k) order by k.created_at desc)
      from public.api_keys as k where k.merchant_id = m
    ), '[]'::jsonb)
  );
end
$$;

create or replace function private.list_webhook_endpoints(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
begin
  return jsonb_build_object('merchant_id', m, 'endpoints', coalesce((
    select jsonb_agg(private.endpoint_view(e) order by e.created_at)
    from public.webhook_endpoints as e where e.merchant_id = m
  ), '[]'::jsonb));
end
$$;

create or replace function private.list_webhook_events(p_merchant_id uuid, p_limit integer) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  return jsonb_build_object('events', coalesce((
    select jsonb_agg(jsonb_build_object(
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
    ) order by ev.created_at desc)
    from (
      select * from public.webhook_events as x where x.merchant_id = m
      order by x.created_at desc limit p_limit
    ) as ev
  ), '[]'::jsonb));
end
$$;

create or replace function private.merchant_usage(
  p_merchant_id uuid, p_from timestamptz, p_to timestamptz, p_granularity text
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
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

create or replace function private.create_webhook_endpoint(
  p_merchant_id uuid, p_url text, p_event_types text[], p_description text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id, '{owner,developer}', 'manage webhooks');
  e public.webhook_endpoints;
  s record;
begin
  e.id := gen_random_uuid();
  select * into s from private.new_webhook_secret(e.id);
  insert into public.webhook_endpoints (
    id, merchant_id, url, description, event_types, secret_id, created_by
  ) values (
    e.id, m, private.check_webhook_url(p_url), left(p_description, 500),
    private.check_event_types(p_event_types), s.id, auth.uid()
  ) returning * into e;
  return private.endpoint_view(e) || jsonb_build_object('secret', s.secret, 'secret_shown_once', true);
end
$$;

create or replace function private.create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_prefix text, p_last4 text, p_hash bytea,
  p_expires_at timestamptz
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  k public.api_keys;
begin
  p_merchant_id := private.require_merchant(p_merchant_id, '{owner,developer}', 'manage API keys');
  if p_name is null or char_length(btrim(p_name)) not between 1 and 100 then
    raise exception 'name must be 1 to 100 characters' using errcode = '22023';
  end if;
  perform private.check_key_parts(p_mode, p_prefix, p_last4, p_hash);
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = '22023';
  end if;
  insert into public.api_keys (
    merchant_id, name, mode, prefix, last4, key_hash, created_by, expires_at
  ) values (
    p_merchant_id, btrim(p_name), p_mode, p_prefix, p_last4, p_hash, auth.uid(), p_expires_at
  ) returning * into k;
  return private.key_view(k);
end
$$;

drop function private.resolve_merchant(uuid);
drop function private.webhook_manager(uuid);
