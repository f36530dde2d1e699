-- Gateway RPCs: catalogue, list with live figures, create/update/archive with Vault-held
-- credentials, connectivity-test and probe recording, health, atomic priority reorders,
-- and the routing decision. All admin-only except where noted.

-- Credentials ---------------------------------------------------------------------------------
-- First 2 + last 2 characters; fully masked when short, so the length of short secrets and
-- most of every secret stay hidden.
create function private.mask_value(p_value jsonb) returns jsonb
language sql immutable
set search_path = ''
as $$
  select case
    when jsonb_typeof(p_value) = 'string' and char_length(p_value #>> '{}') >= 10
      then to_jsonb(left(p_value #>> '{}', 2) || '****' || right(p_value #>> '{}', 2))
    when jsonb_typeof(p_value) in ('string', 'number', 'boolean') then '"********"'::jsonb
    else p_value
  end
$$;

-- Every field the catalogue does not list as non-secret is masked, nested values included.
create function private.mask_credentials(p_provider text, p_credentials jsonb) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  visible text[];
  k text;
  v jsonb;
  result jsonb := '{}'::jsonb;
begin
  select array_agg(f ->> 'name') into visible
  from public.gateway_providers as p, jsonb_array_elements(p.credential_fields) as f
  where p.provider = p_provider and not (f ->> 'secret')::boolean;
  for k, v in select e.key, e.value from jsonb_each(coalesce(p_credentials, '{}'::jsonb)) as e loop
    if k = any(coalesce(visible, '{}')) and jsonb_typeof(v) in ('string', 'number') then
      result := result || jsonb_build_object(k, v);
    elsif jsonb_typeof(v) = 'object' then
      result := result || jsonb_build_object(k, (
        select coalesce(jsonb_object_agg(n.key, private.mask_credentials('', jsonb_build_object('x', n.value)) -> 'x'), '{}')
        from jsonb_each(v) as n
      ));
    elsif jsonb_typeof(v) = 'array' then
      result := result || jsonb_build_object(k, (
        select coalesce(jsonb_agg(private.mask_credentials('', jsonb_build_object('x', a.value)) -> 'x'), '[]')
        from jsonb_array_elements(v) as a
      ));
    else
      result := result || jsonb_build_object(k, private.mask_value(v));
    end if;
  end loop;
  return result;
end
$$;

create function private.check_credentials(p_provider text, p_credentials jsonb) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  f jsonb;
  known text[];
  extra text;
begin
  if p_credentials is null or jsonb_typeof(p_credentials) <> 'object' then
    raise exception 'credentials must be an object with the provider''s fields'
      using errcode = '22023';
  end if;
  select array_agg(x ->> 'name') into known
  from public.gateway_providers as p, jsonb_array_elements(p.credential_fields) as x
  where p.provider = p_provider;
  for f in
    select x from public.gateway_providers as p, jsonb_array_elements(p.credential_fields) as x
    where p.provider = p_provider and (x ->> 'required')::boolean
  loop
    if coalesce(btrim(p_credentials ->> (f ->> 'name')), '') = '' then
      raise exception 'credentials.% is required for %', f ->> 'name', p_provider
        using errcode = '22023';
    end if;
  end loop;
  select k into extra from jsonb_object_keys(p_credentials) as k where not k = any(known) limit 1;
  if extra is not null then
    raise exception 'credentials.% is not a % credential field (expected one of %)',
      extra, p_provider, array_to_string(known, ', ') using errcode = '22023';
  end if;
  if exists (
    select 1 from jsonb_each(p_credentials) as e
    where jsonb_typeof(e.value) <> 'string' or char_length(e.value #>> '{}') > 2000
  ) then
    raise exception 'credential values must be strings of at most 2000 characters'
      using errcode = '22023';
  end if;
end
$$;

-- Validates and applies the fields present in p_changes (anything omitted stays as it is).
create function private.apply_gateway_changes(g public.gateways, p_changes jsonb)
returns public.gateways
language plpgsql stable
set search_path = ''
as $$
declare
  allowed constant text[] := '{display_name,environment,status,priority,min_amount,max_amount,daily_limit,currencies,methods,regions,config}';
  k text;
  v jsonb;
begin
  for k, v in select e.key, e.value from jsonb_each(p_changes) as e loop
    if k in ('provider', 'credentials', 'test') then
      continue; -- handled by the caller
    end if;
    if not k = any(allowed) then
      raise exception 'unknown gateway field %', k using errcode = '22023';
    end if;
    begin
      case k
        when 'display_name' then
          if jsonb_typeof(v) <> 'string' or char_length(btrim(v #>> '{}')) not between 1 and 100 then
            raise exception 'display_name must be 1 to 100 characters' using errcode = '22023';
          end if;
          g.display_name := btrim(v #>> '{}');
        when 'environment' then
          if v #>> '{}' not in ('test', 'live') or jsonb_typeof(v) <> 'string' then
            raise exception 'environment must be test or live' using errcode = '22023';
          end if;
          g.environment := v #>> '{}';
        when 'status' then
          if jsonb_typeof(v) <> 'string' or v #>> '{}' not in ('active', 'inactive') then
            raise exception 'status must be active or inactive (archive with DELETE)'
              using errcode = '22023';
          end if;
          g.status := v #>> '{}';
        when 'priority' then
          if jsonb_typeof(v) <> 'number' or (v #>> '{}')::numeric not between 0 and 100000
            or (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric) then
            raise exception 'priority must be a whole number from 0 to 100000'
              using errcode = '22023';
          end if;
          g.priority := (v #>> '{}')::integer;
        when 'min_amount', 'max_amount', 'daily_limit' then
          if not (jsonb_typeof(v) = 'null' and k <> 'min_amount')
            and (jsonb_typeof(v) <> 'number' or (v #>> '{}')::numeric <= 0
              or (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
              or (v #>> '{}')::numeric > 9000000000000000) then
            raise exception '% must be a positive whole number of minor units%', k,
              case when k = 'min_amount' then '' else ' or null for no limit' end
              using errcode = '22023';
          end if;
          if k = 'min_amount' then
            g.min_amount := (v #>> '{}')::bigint;
          elsif k = 'max_amount' then
            g.max_amount := (v #>> '{}')::bigint;
          else
            g.daily_limit := (v #>> '{}')::bigint;
          end if;
        when 'currencies' then
          if jsonb_typeof(v) <> 'array' or jsonb_array_length(v) = 0 or exists (
            select 1 from jsonb_array_elements(v) as c
            where jsonb_typeof(c) <> 'string' or c #>> '{}' !~ '^[A-Z]{3}$'
          ) then
            raise exception 'currencies must be a non-empty list of ISO 4217 codes such as INR'
              using errcode = '22023';
          end if;
          g.currencies := array(select distinct c from jsonb_array_elements_text(v) as c order by c);
        when 'methods' then
          if jsonb_typeof(v) <> 'array' or exists (
            select 1 from jsonb_array_elements(v) as m
            where jsonb_typeof(m) <> 'string'
              or m #>> '{}' not in ('card', 'upi', 'netbanking', 'wallet', 'emi', 'paylater')
          ) then
            raise exception 'methods must be a list drawn from card, upi, netbanking, wallet, emi, paylater'
              using errcode = '22023';
          end if;
          g.methods := array(select distinct m from jsonb_array_elements_text(v) as m order by m);
        when 'regions' then
          if jsonb_typeof(v) <> 'array' or exists (
            select 1 from jsonb_array_elements(v) as r
            where jsonb_typeof(r) <> 'string' or r #>> '{}' !~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'
          ) then
            raise exception 'regions must be a list of ISO 3166 codes such as IN or IN-KA'
              using errcode = '22023';
          end if;
          g.regions := array(select distinct r from jsonb_array_elements_text(v) as r order by r);
        when 'config' then
          if jsonb_typeof(v) <> 'object' then
            raise exception 'config must be an object' using errcode = '22023';
          end if;
          if private.redact(v)::text <> v::text then
            raise exception 'config holds secret-looking keys: put secrets in credentials'
              using errcode = '22023';
          end if;
          g.config := v;
      end case;
    exception when numeric_value_out_of_range or invalid_text_representation then
      raise exception '% has an invalid value', k using errcode = '22023';
    end;
  end loop;
  if g.max_amount is not null and g.max_amount < g.min_amount then
    raise exception 'max_amount must not be below min_amount' using errcode = '22023';
  end if;
  return g;
end
$$;

create function private.store_credentials(g public.gateways, p_credentials jsonb)
returns public.gateways
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if g.credentials_secret_id is not null then
    delete from vault.secrets where id = g.credentials_secret_id;
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

-- Rolling windows, refreshed every minute by pg_cron: the last hour's complete minutes
-- and the last day's complete hours per gateway, so a list reads one row per gateway plus
-- the few buckets newer than the snapshot (never the transactions table).
create table public.gateway_windows (
  gateway_id uuid primary key references public.gateways (id) on delete cascade,
  through_minute timestamptz not null,
  succeeded_1h bigint not null,
  total_1h bigint not null,
  hist_1h bigint[] not null,
  through_hour timestamptz not null,
  succeeded_24h bigint not null,
  total_24h bigint not null,
  created_at timestamptz not null default now()
);
alter table public.gateway_windows enable row level security;
create policy gateway_windows_admin_read on public.gateway_windows
for select to authenticated using ((select private.is_admin()));
revoke all on public.gateway_windows from public, anon, authenticated;
grant select on public.gateway_windows to authenticated;
grant select, insert, update, delete on public.gateway_windows to service_role;

create function private.refresh_gateway_windows() returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m timestamptz := date_trunc('minute', now());
  h timestamptz := date_trunc('hour', now());
  n integer;
begin
  insert into public.gateway_windows as w (
    gateway_id, through_minute, succeeded_1h, total_1h, hist_1h, through_hour,
    succeeded_24h, total_24h
  )
  select g.id, m, coalesce(mm.succeeded, 0), coalesce(mm.total, 0),
    coalesce(mm.hist, array_fill(0::bigint, array[14])), h,
    coalesce(hh.succeeded, 0), coalesce(hh.total, 0)
  from public.gateways as g
  left join lateral (
    select sum(s.succeeded) as succeeded, sum(s.succeeded + s.failed) as total,
      array[sum(s.h1), sum(s.h2), sum(s.h3), sum(s.h4), sum(s.h5), sum(s.h6), sum(s.h7), sum(s.h8), sum(s.h9), sum(s.h10), sum(s.h11), sum(s.h12), sum(s.h13), sum(s.h14)]::bigint[] as hist
    from public.gateway_stats_minute as s
    where s.gateway_id = g.id and s.minute >= m - interval '1 hour' and s.minute < m
  ) as mm on true
  left join lateral (
    select sum(s.succeeded) as succeeded, sum(s.succeeded + s.failed) as total
    from public.gateway_stats_hour as s
    where s.gateway_id = g.id and s.hour >= h - interval '1 day' and s.hour < h
  ) as hh on true
  where g.status <> 'archived'
  on conflict (gateway_id) do update set
    through_minute = excluded.through_minute, succeeded_1h = excluded.succeeded_1h,
    total_1h = excluded.total_1h, hist_1h = excluded.hist_1h,
    through_hour = excluded.through_hour, succeeded_24h = excluded.succeeded_24h,
    total_24h = excluded.total_24h;
  get diagnostics n = row_count;
  return n;
end
$$;

-- Live figures: the window snapshot plus buckets newer than it (all of the last hour / day
-- when there is no snapshot yet). Windows therefore span 60-61 minutes and 24-25 hours.
create function private.gateway_figures(p_ids uuid[])
returns table (
  gateway_id uuid, succeeded_1h bigint, total_1h bigint, hist bigint[], succeeded_24h bigint,
  total_24h bigint, reserved bigint
)
language plpgsql stable
set search_path = ''
as $$
begin
  -- plpgsql keeps this plan across calls on a connection (a SQL function would re-plan).
  return query
  select g.id,
    coalesce(w.succeeded_1h, 0) + coalesce(lm.succeeded, 0),
    coalesce(w.total_1h, 0) + coalesce(lm.total, 0),
    array(
      select coalesce(a, 0) + coalesce(b, 0)
      from unnest(w.hist_1h, lm.hist) with ordinality as x (a, b, i) order by i
    ),
    coalesce(w.succeeded_24h, 0) + coalesce(lh.succeeded, 0),
    coalesce(w.total_24h, 0) + coalesce(lh.total, 0),
    u.reserved
  from unnest(p_ids) as g (id)
  left join public.gateway_windows as w on w.gateway_id = g.id
  left join lateral (
    select sum(s.succeeded) as succeeded, sum(s.succeeded + s.failed) as total,
      array[sum(s.h1), sum(s.h2), sum(s.h3), sum(s.h4), sum(s.h5), sum(s.h6), sum(s.h7), sum(s.h8), sum(s.h9), sum(s.h10), sum(s.h11), sum(s.h12), sum(s.h13), sum(s.h14)]::bigint[] as hist
    from public.gateway_stats_minute as s
    where s.gateway_id = g.id
      and s.minute >= coalesce(w.through_minute, date_trunc('minute', now()) - interval '1 hour')
  ) as lm on true
  left join lateral (
    select sum(s.succeeded) as succeeded, sum(s.succeeded + s.failed) as total
    from public.gateway_stats_hour as s
    where s.gateway_id = g.id
      and s.hour >= coalesce(w.through_hour, date_trunc('hour', now()) - interval '1 day')
  ) as lh on true
  left join public.gateway_daily_usage as u
    on u.gateway_id = g.id and u.day = private.india_day(now());
end
$$;

-- What the dashboard shows for one gateway: settings, today's volume against the daily
-- limit, success rates (per transaction), latency percentiles, health, last test, and
-- credentials masked. Never the Vault reference.
-- No SET clause: lets the planner inline this hot-path helper (names are qualified).
create function private.gateway_json(
  g public.gateways, succeeded_1h bigint, total_1h bigint, hist bigint[],
  succeeded_24h bigint, total_24h bigint, reserved bigint
) returns jsonb
language sql stable
as $$
  select jsonb_build_object(
    'id', g.id, 'provider', g.provider, 'display_name', g.display_name,
    'environment', g.environment, 'status', g.status, 'priority', g.priority,
    'min_amount', g.min_amount, 'max_amount', g.max_amount, 'daily_limit', g.daily_limit,
    'currencies', g.currencies, 'methods', g.methods, 'regions', g.regions, 'config', g.config,
    'credentials', g.credentials_masked, 'credentials_rotated_at', g.credentials_rotated_at,
    'today', jsonb_build_object(
      'day', private.india_day(now()),
      'volume', coalesce(reserved, 0),
      'daily_limit', g.daily_limit,
      'remaining', case when g.daily_limit is not null
        then greatest(g.daily_limit - coalesce(reserved, 0), 0) end
    ),
    'success_rate', jsonb_build_object(
      '1h', case when total_1h > 0 then round(succeeded_1h::numeric / total_1h, 4) end,
      '24h', case when total_24h > 0 then round(succeeded_24h::numeric / total_24h, 4) end
    ),
    'transactions', jsonb_build_object(
      '1h', jsonb_build_object(
        'succeeded', coalesce(succeeded_1h, 0), 'failed', coalesce(total_1h - succeeded_1h, 0)
      ),
      '24h', jsonb_build_object(
        'succeeded', coalesce(succeeded_24h, 0), 'failed', coalesce(total_24h - succeeded_24h, 0)
      )
    ),
    'latency_ms', jsonb_build_object(
      'p50', private.hist_percentile(hist, 0.5), 'p95', private.hist_percentile(hist, 0.95)
    ),
    'health', jsonb_build_object(
      'state', g.health_state, 'changed_at', g.health_changed_at,
      'consecutive_failures', g.consecutive_failures, 'last_probe', g.last_probe
    ),
    'last_test', g.last_test,
    'created_at', g.created_at, 'updated_at', g.updated_at, 'archived_at', g.archived_at
  )
$$;

-- No SET clause: lets the planner inline this hot-path helper (names are qualified).
create function private.gateway_view(g public.gateways) returns jsonb
language sql stable
as $$
  select private.gateway_json(
    g, f.succeeded_1h, f.total_1h, f.hist, f.succeeded_24h, f.total_24h, f.reserved
  )
  from private.gateway_figures(array[g.id]) as f
$$;

create function private.gateway_catalog() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return (
    select jsonb_agg(jsonb_build_object(
      'provider', p.provider, 'display_name', p.display_name,
      'credential_fields', p.credential_fields, 'base_urls', p.base_urls,
      'credential_check', p.credential_check, 'docs_url', p.docs_url
    ) order by p.provider)
    from public.gateway_providers as p
  );
end
$$;

create function private.list_gateways(p_include_archived boolean) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return jsonb_build_object(
    'gateways', coalesce((
      select jsonb_agg(
        private.gateway_json(
          g, f.succeeded_1h, f.total_1h, f.hist, f.succeeded_24h, f.total_24h, f.reserved
        ) order by g.status = 'archived', g.priority, g.created_at
      )
      from public.gateways as g
      join private.gateway_figures(array(
        select x.id from public.gateways as x
        where coalesce(p_include_archived, false) or x.status <> 'archived'
      )) as f on f.gateway_id = g.id
    ), '[]'::jsonb),
    'generated_at', now()
  );
end
$$;

create function private.create_gateway(
  p_gateway jsonb, p_test_result jsonb, p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  replay jsonb;
  g public.gateways;
  provider_name text := p_gateway ->> 'provider';
begin
  perform private.require_admin();
  if p_gateway is null or jsonb_typeof(p_gateway) <> 'object' then
    raise exception 'send the gateway as an object' using errcode = '22023';
  end if;
  replay := private.idempotency_replay('create_gateway', p_idempotency_key, p_gateway);
  if replay is not null then
    return replay;
  end if;
  if provider_name is null or not exists (
    select 1 from public.gateway_providers as p where p.provider = provider_name
  ) then
    raise exception 'provider must be one of %', (
      select string_agg(p.provider, ', ' order by p.provider) from public.gateway_providers as p
    ) using errcode = '22023';
  end if;
  if not p_gateway ? 'display_name' then
    raise exception 'display_name is required' using errcode = '22023';
  end if;
  perform private.check_credentials(provider_name, p_gateway -> 'credentials');

  g.id := gen_random_uuid();
  g.provider := provider_name;
  g.environment := 'test';
  g.status := 'inactive';
  g.min_amount := 100;
  g.currencies := '{INR}';
  g.methods := '{}';
  g.regions := '{}';
  g.config := '{}';
  g.priority := coalesce((select max(x.priority) + 1 from public.gateways as x where x.status <> 'archived'), 1);
  g := private.apply_gateway_changes(g, p_gateway);
  g := private.store_credentials(g, p_gateway -> 'credentials');
  g.created_by := auth.uid();
  g.last_test := p_test_result;

  insert into public.gateways (
    id, provider, display_name, environment, status, priority, min_amount, max_amount,
    daily_limit, currencies, methods, regions, config, credentials_secret_id,
    credentials_masked, created_by, last_test
  ) values (
    g.id, g.provider, g.display_name, g.environment, g.status, g.priority, g.min_amount,
    g.max_amount, g.daily_limit, g.currencies, g.methods, g.regions, g.config,
    g.credentials_secret_id, g.credentials_masked, g.created_by, g.last_test
  ) returning * into g;
  return private.idempotency_store(
    'create_gateway', p_idempotency_key, p_gateway, private.gateway_view(g)
  );
end
$$;

create function private.update_gateway(p_gateway_id uuid, p_changes jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  g public.gateways;
begin
  perform private.require_admin();
  if p_changes is null or jsonb_typeof(p_changes) <> 'object' or p_changes = '{}'::jsonb then
    raise exception 'send the fields to change as a non-empty object' using errcode = '22023';
  end if;
  if p_changes ? 'provider' then
    raise exception 'provider cannot change: create a new gateway' using errcode = '22023';
  end if;
  select * into g from public.gateways as x where x.id = p_gateway_id for update;
  if not found then
    raise exception 'gateway % does not exist', p_gateway_id using errcode = 'P0002';
  end if;
  if g.status = 'archived' then
    raise exception 'gateway % is archived and cannot change', p_gateway_id using errcode = 'P0001';
  end if;
  g := private.apply_gateway_changes(g, p_changes);
  if p_changes ? 'credentials' then
    perform private.check_credentials(g.provider, p_changes -> 'credentials');
    g := private.store_credentials(g, p_changes -> 'credentials');
  end if;
  update public.gateways as x set
    display_name = g.display_name, environment = g.environment, status = g.status,
    priority = g.priority, min_amount = g.min_amount, max_amount = g.max_amount,
    daily_limit = g.daily_limit, currencies = g.currencies, methods = g.methods,
    regions = g.regions, config = g.config, credentials_secret_id = g.credentials_secret_id,
    credentials_masked = g.credentials_masked, credentials_rotated_at = g.credentials_rotated_at
  where x.id = g.id
  returning * into g;
  return private.gateway_view(g);
end
$$;

-- Archive: out of routing, secrets destroyed, transactions kept. Refused while payments are
-- still in flight on the gateway unless forced.
create function private.archive_gateway(p_gateway_id uuid, p_force boolean) returns jsonb
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
  select count(*) into in_flight from public.transactions as t
  where t.gateway_id = g.id and t.status in ('created', 'pending', 'processing');
  if in_flight > 0 and not coalesce(p_force, false) then
    raise exception 'gateway % has % payments in flight', p_gateway_id, in_flight
      using errcode = 'P0001', hint = 'wait for them to finish, or archive with force';
  end if;
  if g.credentials_secret_id is not null then
    delete from vault.secrets where id = g.credentials_secret_id;
  end if;
  update public.gateways as x set
    status = 'archived', archived_at = now(), credentials_secret_id = null,
    credentials_masked = '{}'::jsonb
  where x.id = g.id
  returning * into g;
  return private.gateway_view(g) || jsonb_build_object('in_flight_at_archive', in_flight);
end
$$;

create function private.set_gateway_priority(p_gateway_ids uuid[]) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  active_ids uuid[];
  before jsonb;
begin
  perform private.require_admin();
  if p_gateway_ids is null or cardinality(p_gateway_ids) = 0 then
    raise exception 'send the whole ordered list of active gateway ids' using errcode = '22023';
  end if;
  if cardinality(p_gateway_ids) <> (select count(distinct x) from unnest(p_gateway_ids) as x) then
    raise exception 'the list repeats a gateway id' using errcode = '22023';
  end if;
  -- Lock every non-archived gateway so concurrent reorders apply one after the other.
  select array_agg(g.id order by g.priority, g.id),
    jsonb_agg(g.id order by g.priority, g.id)
  into active_ids, before
  from (
    select x.id, x.priority from public.gateways as x where x.status <> 'archived'
    order by x.id for update
  ) as g;
  if exists (select 1 from unnest(p_gateway_ids) as x where x <> all(coalesce(active_ids, '{}'))) then
    raise exception 'the list names unknown or archived gateways' using errcode = '22023';
  end if;
  if exists (select 1 from unnest(active_ids) as x where x <> all(p_gateway_ids)) then
    raise exception 'the list leaves out gateways: send every non-archived gateway'
      using errcode = '22023';
  end if;
  update public.gateways as g set priority = o.ord
  from unnest(p_gateway_ids) with ordinality as o (id, ord)
  where g.id = o.id and g.priority is distinct from o.ord;
  perform private.audit_action(
    'gateway.reorder', 'gateways', null,
    jsonb_build_object('before', before, 'after', to_jsonb(p_gateway_ids))
  );
  return jsonb_build_object('order', to_jsonb(p_gateway_ids));
end
$$;

-- Connectivity tests (the adapter makes the call) and scheduled probes (the worker) ------------
create function private.gateway_test_target(p_gateway_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  g public.gateways;
begin
  perform private.require_admin();
  select * into g from public.gateways as x where x.id = p_gateway_id;
  if not found then
    raise exception 'gateway % does not exist', p_gateway_id using errcode = 'P0002';
  end if;
  if g.status = 'archived' or g.credentials_secret_id is null then
    raise exception 'gateway % is archived: it has no credentials to test', p_gateway_id
      using errcode = 'P0001';
  end if;
  return jsonb_build_object('id', g.id, 'provider', g.provider, 'environment', g.environment);
end
$$;

-- The decrypted credentials, for the adapter's and worker's outbound calls (service_role only).
create function private.gateway_credentials(p_gateway_id uuid) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'provider', g.provider, 'environment', g.environment,
    'credentials', s.decrypted_secret::jsonb
  )
  from public.gateways as g
  join vault.decrypted_secrets as s on s.id = g.credentials_secret_id
  where g.id = p_gateway_id and g.status <> 'archived'
$$;

create function private.check_result(p_result jsonb) returns jsonb
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_result is null or jsonb_typeof(p_result -> 'ok') <> 'boolean'
    or (p_result ? 'error_class' and jsonb_typeof(p_result -> 'error_class') <> 'null'
      and p_result ->> 'error_class' not in (
        'auth_failed', 'unreachable', 'timeout', 'rate_limited', 'unexpected_response'
      )) then
    raise exception 'a check result needs ok and a known error_class' using errcode = '22023';
  end if;
  return jsonb_build_object(
    'ok', (p_result ->> 'ok')::boolean,
    'latency_ms', (p_result ->> 'latency_ms')::integer,
    'http_status', (p_result ->> 'http_status')::integer,
    'error_class', p_result ->> 'error_class',
    'message', left(p_result ->> 'message', 500),
    'at', now()
  );
end
$$;

create function private.record_gateway_test(p_gateway_id uuid, p_result jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  r jsonb := private.check_result(p_result);
begin
  perform private.require_admin();
  insert into public.gateway_probes (
    gateway_id, source, ok, latency_ms, http_status, error_class, message
  ) values (
    p_gateway_id, 'manual', (r ->> 'ok')::boolean, (r ->> 'latency_ms')::integer,
    (r ->> 'http_status')::integer, r ->> 'error_class', r ->> 'message'
  );
  update public.gateways set last_test = r where id = p_gateway_id;
  return r;
end
$$;

-- Health hysteresis: 3 consecutive failed probes mark a gateway down; once down, 2
-- consecutive successes bring it back. A failed probe short of that, or a successful one
-- slower than 2 s, makes it degraded. Manual tests do not move health.
create function private.record_gateway_probe(p_gateway_id uuid, p_result jsonb) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  r jsonb := private.check_result(p_result);
  ok boolean := (r ->> 'ok')::boolean;
  g public.gateways;
  next_state text;
begin
  select * into g from public.gateways as x where x.id = p_gateway_id for update;
  if not found or g.status = 'archived' then
    return null;
  end if;
  insert into public.gateway_probes (
    gateway_id, source, ok, latency_ms, http_status, error_class, message
  ) values (
    p_gateway_id, 'probe', ok, (r ->> 'latency_ms')::integer, (r ->> 'http_status')::integer,
    r ->> 'error_class', r ->> 'message'
  );
  if ok then
    g.consecutive_successes := g.consecutive_successes + 1;
    g.consecutive_failures := 0;
    next_state := case
      when g.health_state = 'down' and g.consecutive_successes < 2 then 'down'
      when coalesce((r ->> 'latency_ms')::integer, 0) > 2000 then 'degraded'
      else 'healthy'
    end;
  else
    g.consecutive_failures := g.consecutive_failures + 1;
    g.consecutive_successes := 0;
    next_state := case when g.consecutive_failures >= 3 then 'down'
      when g.health_state = 'down' then 'down' else 'degraded' end;
  end if;
  update public.gateways as x set
    consecutive_successes = g.consecutive_successes,
    consecutive_failures = g.consecutive_failures,
    health_state = next_state,
    health_changed_at = case when next_state <> g.health_state then now() else g.health_changed_at end,
    last_probe = r
  where x.id = g.id;
  return r || jsonb_build_object('health_state', next_state);
end
$$;

create function private.enqueue_gateway_probes() returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  g record;
  n integer := 0;
begin
  for g in select x.id from public.gateways as x where x.status = 'active' loop
    perform private.enqueue(
      'gateway_health', jsonb_build_object('gateway_id', g.id), 0,
      'probe:' || g.id || ':' || to_char(now(), 'YYYYMMDDHH24MI')
    );
    n := n + 1;
  end loop;
  return n;
end
$$;

create function private.gateway_health() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return jsonb_build_object(
    'gateways', coalesce((
      select jsonb_agg(jsonb_build_object(
        'id', g.id, 'provider', g.provider, 'display_name', g.display_name, 'status', g.status,
        'state', g.health_state, 'changed_at', g.health_changed_at,
        'consecutive_failures', g.consecutive_failures,
        'last_probe', g.last_probe,
        'probe_success_rate_1h', (
          select round(avg(p.ok::integer), 4) from public.gateway_probes as p
          where p.gateway_id = g.id and p.source = 'probe'
            and p.created_at > now() - interval '1 hour'
        ),
        'transactions_1h', v -> 'transactions' -> '1h',
        'success_rate_1h', v -> 'success_rate' -> '1h',
        'latency_ms', v -> 'latency_ms',
        'regions', g.regions
      ) order by g.priority)
      from public.gateways as g
      join private.gateway_figures(array(
        select x.id from public.gateways as x where x.status <> 'archived'
      )) as f on f.gateway_id = g.id
      cross join lateral private.gateway_json(
        g, f.succeeded_1h, f.total_1h, f.hist, f.succeeded_24h, f.total_24h, f.reserved
      ) as v
    ), '[]'::jsonb),
    'regions', coalesce((
      select jsonb_object_agg(r.region, jsonb_build_object(
        'gateways', r.total, 'available', r.available,
        'state', case when r.available = 0 then 'down'
          when r.available < r.total then 'degraded' else 'healthy' end
      ))
      from (
        select reg as region, count(*) as total,
          count(*) filter (where g.health_state in ('healthy', 'unknown')) as available
        from public.gateways as g
        cross join lateral unnest(case when g.regions = '{}' then '{*}'::text[] else g.regions end) as reg
        where g.status = 'active'
        group by reg
      ) as r
    ), '{}'::jsonb),
    'thresholds', jsonb_build_object(
      'down_after_consecutive_failures', 3, 'up_after_consecutive_successes', 2,
      'degraded_latency_ms', 2000
    ),
    'generated_at', now()
  );
end
$$;

-- Routing ---------------------------------------------------------------------------------------
-- Candidates for a payment, best first: active, not down, supporting the method, currency
-- and region, amount within per-transaction limits and within what is left of today's
-- limit; by priority, ties broken by the last hour's success rate. Reservation happens when
-- the transaction is written with its gateway (the accounting trigger), so two payments
-- cannot jointly overshoot a daily limit even if both saw room here.
create function private.route_gateways(
  p_amount bigint, p_currency text, p_method text, p_region text
) returns table (gateway_id uuid, provider text, priority integer, success_rate numeric, remaining bigint)
language sql stable
set search_path = ''
as $$
  select g.id, g.provider, g.priority,
    coalesce((
      select sum(s.succeeded)::numeric / nullif(sum(s.succeeded + s.failed), 0)
      from public.gateway_stats_minute as s
      where s.gateway_id = g.id and s.minute > now() - interval '1 hour'
    ), 0.5) as success_rate,
    g.daily_limit - coalesce(u.reserved, 0) as remaining
  from public.gateways as g
  left join public.gateway_daily_usage as u
    on u.gateway_id = g.id and u.day = private.india_day(now())
  where g.status = 'active'
    and g.health_state <> 'down'
    and p_currency = any(g.currencies)
    and (g.methods = '{}' or p_method = any(g.methods))
    and (g.regions = '{}' or p_region = any(g.regions) or split_part(p_region, '-', 1) = any(g.regions))
    and p_amount >= g.min_amount
    and (g.max_amount is null or p_amount <= g.max_amount)
    and (g.daily_limit is null or coalesce(u.reserved, 0) + p_amount <= g.daily_limit)
  order by g.priority, success_rate desc, g.id
$$;

create function private.route_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_region text
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
  if p_currency is null or p_currency !~ '^[A-Z]{3}$' then
    raise exception 'currency must be an ISO 4217 code such as INR' using errcode = '22023';
  end if;
  if p_method is null or p_method not in ('card', 'upi', 'netbanking', 'wallet', 'emi', 'paylater') then
    raise exception 'method must be one of card, upi, netbanking, wallet, emi, paylater'
      using errcode = '22023';
  end if;
  if p_region is null or p_region !~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$' then
    raise exception 'region must be an ISO 3166 code such as IN or IN-KA' using errcode = '22023';
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
    from private.route_gateways(p_amount, p_currency, p_method, p_region) as r
  ), '[]'::jsonb));
end
$$;

-- Retention: probes 7 days, minute buckets 2 days, hour buckets 35 days.
create function private.gateway_retention() returns void
language sql volatile security definer
set search_path = ''
as $$
  delete from public.gateway_probes where id in (
    select p.id from public.gateway_probes as p
    where p.created_at < now() - interval '7 days' order by p.id limit 50000
  );
  delete from public.gateway_stats_minute where minute < now() - interval '2 days';
  delete from public.gateway_stats_hour where hour < now() - interval '35 days';
$$;

select cron.schedule('lsp-gateway-probes', '* * * * *', 'select private.enqueue_gateway_probes()');
select cron.schedule('lsp-gateway-retention', '17 * * * *', 'select private.gateway_retention()');
select cron.schedule(
  'lsp-gateway-windows', '* * * * *', 'select private.refresh_gateway_windows()'
);

-- Public RPCs -----------------------------------------------------------------------------------
create function public.admin_gateway_catalog() returns jsonb
language sql stable
set search_path = ''
as $$ select private.gateway_catalog() $$;

create function public.admin_list_gateways(p_include_archived boolean default false)
returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_gateways(p_include_archived) $$;

create function public.admin_create_gateway(
  p_gateway jsonb, p_test_result jsonb default null, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.create_gateway(p_gateway, p_test_result, p_idempotency_key) $$;

create function public.admin_update_gateway(p_gateway_id uuid, p_changes jsonb) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.update_gateway(p_gateway_id, p_changes) $$;

create function public.admin_archive_gateway(p_gateway_id uuid, p_force boolean default false)
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.archive_gateway(p_gateway_id, p_force) $$;

create function public.admin_set_gateway_priority(p_gateway_ids uuid[]) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.set_gateway_priority(p_gateway_ids) $$;

create function public.admin_gateway_health() returns jsonb
language sql stable
set search_path = ''
as $$ select private.gateway_health() $$;

create function public.admin_gateway_test_target(p_gateway_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$ select private.gateway_test_target(p_gateway_id) $$;

create function public.admin_record_gateway_test(p_gateway_id uuid, p_result jsonb) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.record_gateway_test(p_gateway_id, p_result) $$;

create function public.route_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_region text default 'IN'
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.route_payment(p_merchant_id, p_amount, p_currency, p_method, p_region) $$;

revoke execute on all functions in schema public from public, anon;
grant execute on function public.admin_gateway_catalog(), public.admin_list_gateways(boolean),
public.admin_create_gateway(jsonb, jsonb, text), public.admin_update_gateway(uuid, jsonb),
public.admin_archive_gateway(uuid, boolean), public.admin_set_gateway_priority(uuid[]),
public.admin_gateway_health(), public.admin_gateway_test_target(uuid),
public.admin_record_gateway_test(uuid, jsonb),
public.route_payment(uuid, bigint, text, text, text)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
grant execute on function private.gateway_catalog(), private.list_gateways(boolean),
private.create_gateway(jsonb, jsonb, text), private.update_gateway(uuid, jsonb),
private.archive_gateway(uuid, boolean), private.set_gateway_priority(uuid[]),
private.gateway_health(), private.gateway_test_target(uuid),
private.record_gateway_test(uuid, jsonb),
private.route_payment(uuid, bigint, text, text, text)
to authenticated, service_role;
grant execute on function private.refresh_gateway_windows(), private.gateway_credentials(uuid),
private.record_gateway_probe(uuid, jsonb), private.check_result(jsonb),
private.enqueue_gateway_probes(), private.gateway_retention(),
private.route_gateways(bigint, text, text, text)
to service_role;
-- Definer helpers the policies and RPC bodies use are re-granted as before.
grant execute on function private.is_service_role(), private.is_admin(),
private.current_role_is(text), private.member_merchant_ids(text[]),
private.has_merchant_role(uuid, text[]), private.require_admin(), private.require_user()
to authenticated, service_role;
-- Pure helpers used inside invoker functions that service_role runs (routing, probes).
grant execute on function private.india_day(timestamptz), private.latency_bounds(),
private.latency_bucket(integer), private.hist_percentile(bigint[], numeric)
to service_role;
