-- Webhooks: merchant endpoints with Standard Webhooks secrets (in Vault; rotation keeps the
-- old secret signing for 24 h), events, one delivery per (event, endpoint), and every
-- attempt recorded. The worker delivers from the `webhook` queue.

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchants (id),
  url text not null check (char_length(url) <= 2000),
  description text check (char_length(description) <= 500),
  event_types text[] not null default '{}',
  enabled boolean not null default true,
  disabled_reason text,
  disabled_at timestamptz,
  failing_since timestamptz,
  secret_id uuid not null,
  previous_secret_id uuid,
  previous_secret_expires_at timestamptz,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.webhook_endpoints enable row level security;
create index webhook_endpoints_merchant_idx on public.webhook_endpoints (merchant_id);

create table public.webhook_events (
  id text primary key default ('msg_' || replace(gen_random_uuid()::text, '-', '')),
  merchant_id uuid not null references public.merchants (id),
  type text not null check (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
  payload jsonb not null,
  created_at timestamptz not null default now()
);
alter table public.webhook_events enable row level security;
create index webhook_events_merchant_idx on public.webhook_events (merchant_id, created_at desc);

create table public.webhook_deliveries (
  id bigint generated always as identity primary key,
  event_id text not null references public.webhook_events (id),
  endpoint_id uuid not null references public.webhook_endpoints (id),
  merchant_id uuid not null references public.merchants (id),
  status text not null default 'pending'
  check (status in ('pending', 'delivered', 'failed', 'skipped')),
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_status_code integer,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint webhook_deliveries_once unique (event_id, endpoint_id)
);
alter table public.webhook_deliveries enable row level security;
create index webhook_deliveries_endpoint_idx on public.webhook_deliveries (endpoint_id, id desc);
create index webhook_deliveries_merchant_idx on public.webhook_deliveries (merchant_id, id desc);

create table public.webhook_attempts (
  id bigint generated always as identity primary key,
  delivery_id bigint not null references public.webhook_deliveries (id),
  merchant_id uuid not null references public.merchants (id),
  attempt integer not null,
  started_at timestamptz not null,
  status_code integer,
  latency_ms integer,
  response_body text check (octet_length(response_body) <= 4096),
  error text check (char_length(error) <= 500),
  created_at timestamptz not null default now(),
  constraint webhook_attempts_once unique (delivery_id, attempt)
);
alter table public.webhook_attempts enable row level security;
create index webhook_attempts_merchant_idx on public.webhook_attempts (merchant_id, id desc);

create trigger webhook_endpoints_touch before update on public.webhook_endpoints
for each row execute function private.touch_updated_at();
create trigger webhook_deliveries_touch before update on public.webhook_deliveries
for each row execute function private.touch_updated_at();
create trigger audit_webhook_endpoints after insert or update or delete
on public.webhook_endpoints
for each row execute function audit.record_change('id', 'secret_id', 'previous_secret_id');

create policy webhook_endpoints_read on public.webhook_endpoints for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy webhook_events_read on public.webhook_events for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy webhook_deliveries_read on public.webhook_deliveries for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy webhook_attempts_read on public.webhook_attempts for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));

revoke all on public.webhook_endpoints, public.webhook_events, public.webhook_deliveries,
public.webhook_attempts from public, anon, authenticated;
revoke all on all sequences in schema public from anon, authenticated;
grant select (
  id, merchant_id, url, description, event_types, enabled, disabled_reason, disabled_at,
  failing_since, previous_secret_expires_at, created_by, created_at, updated_at
) on public.webhook_endpoints to authenticated;
grant select on public.webhook_events, public.webhook_deliveries, public.webhook_attempts
to authenticated;
grant select, insert, update, delete on public.webhook_endpoints, public.webhook_events,
public.webhook_deliveries, public.webhook_attempts to service_role;

-- Helpers -----------------------------------------------------------------------------------
create function private.check_webhook_url(p_url text) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  allow_http boolean := coalesce(current_setting('app.webhooks_allow_http', true), '') = 'on';
begin
  if p_url is null or p_url !~ '^https?://[^/\s?#@]+(/[^\s]*)?$' or char_length(p_url) > 2000 then
    raise exception 'url must be an absolute http(s) URL without credentials'
      using errcode = '22023';
  end if;
  if p_url !~ '^https://' and not allow_http then
    raise exception 'webhook URLs must use https' using errcode = '22023';
  end if;
  return p_url;
end
$$;

create function private.check_event_types(p_types text[]) returns text[]
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_types is null then
    return '{}';
  end if;
  if cardinality(p_types) > 100 or exists (
    select 1 from unnest(p_types) as t where t !~ '^([a-z_]+(\.[a-z_]+)+|[a-z_]+\.\*)$'
  ) then
    raise exception 'event_types must be names such as payment.succeeded or api_key.*'
      using errcode = '22023';
  end if;
  return array(select distinct t from unnest(p_types) as t order by t);
end
$$;

create function private.new_webhook_secret(p_endpoint uuid) returns table (id uuid, secret text)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v text := 'whsec_' || encode(extensions.gen_random_bytes(24), 'base64');
begin
  return query select
    vault.create_secret(v, 'webhook:' || p_endpoint || ':' || gen_random_uuid(),
      'webhook signing secret'),
    v;
end
$$;

create function private.endpoint_view(e public.webhook_endpoints) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', e.id, 'merchant_id', e.merchant_id, 'url', e.url, 'description', e.description,
    'event_types', e.event_types, 'enabled', e.enabled, 'disabled_reason', e.disabled_reason,
    'disabled_at', e.disabled_at, 'failing_since', e.failing_since,
    'previous_secret_expires_at', e.previous_secret_expires_at,
    'created_at', e.created_at, 'updated_at', e.updated_at,
    'last_delivery', (
      select jsonb_build_object('event_id', d.event_id, 'status', d.status,
        'status_code', d.last_status_code, 'at', d.updated_at)
      from public.webhook_deliveries as d where d.endpoint_id = e.id order by d.id desc limit 1
    ),
    'success_rate_24h', (
      select round(avg((a.status_code between 200 and 299)::integer), 4)
      from public.webhook_attempts as a
      join public.webhook_deliveries as d on d.id = a.delivery_id
      where d.endpoint_id = e.id and a.created_at > now() - interval '24 hours'
    )
  )
$$;

create function private.webhook_manager(p_merchant_id uuid) returns uuid
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := coalesce(p_merchant_id, (auth.jwt() ->> 'merchant_id')::uuid);
begin
  if m is null then
    raise exception 'merchant_id is required' using errcode = '22023';
  end if;
  if not (private.is_admin() or private.has_merchant_role(m, '{owner,developer}')) then
    raise exception 'only the merchant''s owners and developers manage webhooks'
      using errcode = '42501';
  end if;
  return m;
end
$$;

-- Events: recorded once, one delivery per matching enabled endpoint, each queued.
create function private.emit_event(p_merchant_id uuid, p_type text, p_payload jsonb)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  ev public.webhook_events;
  d record;
begin
  insert into public.webhook_events (merchant_id, type, payload)
  values (p_merchant_id, p_type, coalesce(p_payload, '{}'::jsonb))
  returning * into ev;
  for d in
    insert into public.webhook_deliveries (event_id, endpoint_id, merchant_id)
    select ev.id, e.id, e.merchant_id
    from public.webhook_endpoints as e
    where e.merchant_id = p_merchant_id and e.enabled
      and (e.event_types = '{}' or p_type = any(e.event_types)
        or split_part(p_type, '.', 1) || '.*' = any(e.event_types))
    returning id
  loop
    perform private.enqueue('webhook', jsonb_build_object('delivery_id', d.id), 0,
      'delivery:' || d.id || ':1');
  end loop;
  return ev.id;
end
$$;

-- Endpoint management ------------------------------------------------------------------------
create function private.create_webhook_endpoint(
  p_merchant_id uuid, p_url text, p_event_types text[], p_description text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m uuid := private.webhook_manager(p_merchant_id);
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

create function private.update_webhook_endpoint(p_endpoint_id uuid, p_changes jsonb)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  e public.webhook_endpoints;
  k text;
begin
  select * into e from public.webhook_endpoints as x where x.id = p_endpoint_id for update;
  if not found or not private.has_merchant_role(e.merchant_id) and not private.is_admin() then
    raise exception 'webhook endpoint % does not exist', p_endpoint_id using errcode = 'P0002';
  end if;
  perform private.webhook_manager(e.merchant_id);
  if p_changes is null or jsonb_typeof(p_changes) <> 'object' or p_changes = '{}'::jsonb then
    raise exception 'send the fields to change' using errcode = '22023';
  end if;
  for k in select jsonb_object_keys(p_changes) loop
    case k
      when 'url' then e.url := private.check_webhook_url(p_changes ->> 'url');
      when 'description' then e.description := left(p_changes ->> 'description', 500);
      when 'event_types' then
        if jsonb_typeof(p_changes -> 'event_types') <> 'array' then
          raise exception 'event_types must be a list' using errcode = '22023';
        end if;
        e.event_types := private.check_event_types(
          array(select jsonb_array_elements_text(p_changes -> 'event_types'))
        );
      when 'enabled' then
        if jsonb_typeof(p_changes -> 'enabled') <> 'boolean' then
          raise exception 'enabled must be true or false' using errcode = '22023';
        end if;
        e.enabled := (p_changes ->> 'enabled')::boolean;
        e.disabled_reason := case when e.enabled then null else 'disabled by the merchant' end;
        e.disabled_at := case when e.enabled then null else now() end;
        e.failing_since := case when e.enabled then null else e.failing_since end;
      else
        raise exception 'unknown field %', k using errcode = '22023';
    end case;
  end loop;
  update public.webhook_endpoints as x set
    url = e.url, description = e.description, event_types = e.event_types,
    enabled = e.enabled, disabled_reason = e.disabled_reason, disabled_at = e.disabled_at,
    failing_since = e.failing_since
  where x.id = e.id returning * into e;
  return private.endpoint_view(e);
end
$$;

-- Rotation: a new secret signs from now on; the old one also signs for 24 h.
create function private.rotate_webhook_secret(p_endpoint_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  e public.webhook_endpoints;
  s record;
begin
  select * into e from public.webhook_endpoints as x where x.id = p_endpoint_id for update;
  if not found or not private.has_merchant_role(e.merchant_id) and not private.is_admin() then
    raise exception 'webhook endpoint % does not exist', p_endpoint_id using errcode = 'P0002';
  end if;
  perform private.webhook_manager(e.merchant_id);
  if e.previous_secret_id is not null then
    delete from vault.secrets where id = e.previous_secret_id;
  end if;
  select * into s from private.new_webhook_secret(e.id);
  update public.webhook_endpoints as x set
    previous_secret_id = e.secret_id, previous_secret_expires_at = now() + interval '24 hours',
    secret_id = s.id
  where x.id = e.id returning * into e;
  return private.endpoint_view(e) || jsonb_build_object('secret', s.secret, 'secret_shown_once', true);
end
$$;

create function private.list_webhook_endpoints(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.resolve_merchant(p_merchant_id);
begin
  return jsonb_build_object('merchant_id', m, 'endpoints', coalesce((
    select jsonb_agg(private.endpoint_view(e) order by e.created_at)
    from public.webhook_endpoints as e where e.merchant_id = m
  ), '[]'::jsonb));
end
$$;

create function private.list_webhook_events(p_merchant_id uuid, p_limit integer) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.resolve_merchant(p_merchant_id);
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

-- Redeliver one delivery by hand: a fresh attempt now, whatever its state.
create function private.redeliver(p_delivery_id bigint) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  d public.webhook_deliveries;
begin
  select * into d from public.webhook_deliveries as x where x.id = p_delivery_id for update;
  if not found or not private.has_merchant_role(d.merchant_id) and not private.is_admin() then
    raise exception 'delivery % does not exist', p_delivery_id using errcode = 'P0002';
  end if;
  perform private.webhook_manager(d.merchant_id);
  update public.webhook_deliveries as x set status = 'pending', next_attempt_at = now()
  where x.id = d.id;
  perform private.enqueue('webhook', jsonb_build_object('delivery_id', d.id, 'manual', true), 0,
    'delivery:' || d.id || ':' || (d.attempts + 1));
  return jsonb_build_object('delivery_id', d.id, 'status', 'pending');
end
$$;

-- Worker side (service_role only) ------------------------------------------------------------
create function private.webhook_delivery_job(p_delivery_id bigint) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'delivery_id', d.id, 'status', d.status, 'attempts', d.attempts,
    'endpoint', jsonb_build_object('id', e.id, 'url', e.url, 'enabled', e.enabled,
      'failing_since', e.failing_since),
    'event', jsonb_build_object('id', ev.id, 'type', ev.type, 'payload', ev.payload,
      'created_at', ev.created_at),
    'secrets', array_remove(array[
      (select s.decrypted_secret from vault.decrypted_secrets as s where s.id = e.secret_id),
      (select s.decrypted_secret from vault.decrypted_secrets as s
        where s.id = e.previous_secret_id and e.previous_secret_expires_at > now())
    ], null)
  )
  from public.webhook_deliveries as d
  join public.webhook_endpoints as e on e.id = d.endpoint_id
  join public.webhook_events as ev on ev.id = d.event_id
  where d.id = p_delivery_id
$$;

-- Record an attempt and decide what follows: delivered; disabled (410, or failing longer
-- than p_disable_after_s); a retry after p_retry_in_s; or failed for good.
create function private.record_webhook_attempt(
  p_delivery_id bigint, p_attempt jsonb, p_retry_in_s integer, p_disable_after_s integer
) returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  d public.webhook_deliveries;
  e public.webhook_endpoints;
  code integer := (p_attempt ->> 'status_code')::integer;
  ok boolean := code between 200 and 299;
  n integer;
  outcome text;
begin
  select * into d from public.webhook_deliveries as x where x.id = p_delivery_id for update;
  -- No lock on the endpoint: every delivery to it would queue behind one row.
  select * into e from public.webhook_endpoints as x where x.id = d.endpoint_id;
  n := d.attempts + 1;
  insert into public.webhook_attempts (
    delivery_id, merchant_id, attempt, started_at, status_code, latency_ms, response_body, error
  ) values (
    d.id, d.merchant_id, n, (p_attempt ->> 'started_at')::timestamptz, code,
    (p_attempt ->> 'latency_ms')::integer, left(p_attempt ->> 'response_body', 4000),
    left(p_attempt ->> 'error', 500)
  );
  if ok then
    outcome := 'delivered';
    if e.failing_since is not null then
      update public.webhook_endpoints as x set failing_since = null where x.id = e.id;
    end if;
  elsif code = 410 then
    outcome := 'disabled';
    update public.webhook_endpoints as x set enabled = false, disabled_at = now(),
      disabled_reason = 'the endpoint answered 410 Gone'
    where x.id = e.id;
  elsif coalesce(e.failing_since, now()) < now() - make_interval(secs => p_disable_after_s) then
    outcome := 'disabled';
    update public.webhook_endpoints as x set enabled = false, disabled_at = now(),
      disabled_reason = 'failing continuously since ' || e.failing_since
    where x.id = e.id;
    insert into public.notifications (merchant_id, user_id, kind, title, details)
    select e.merchant_id, m.user_id, 'webhook.endpoint_disabled',
      'Webhook endpoint disabled after failing continuously',
      jsonb_build_object('endpoint_id', e.id, 'url', e.url, 'failing_since', e.failing_since)
    from public.merchant_members as m
    where m.merchant_id = e.merchant_id and m.role in ('owner', 'developer');
  elsif p_retry_in_s is not null then
    outcome := 'retrying';
    update public.webhook_endpoints as x set failing_since = now()
    where x.id = e.id and x.failing_since is null;
    perform private.enqueue('webhook', jsonb_build_object('delivery_id', d.id), p_retry_in_s,
      'delivery:' || d.id || ':' || (n + 1));
  else
    outcome := 'failed';
    update public.webhook_endpoints as x set failing_since = now()
    where x.id = e.id and x.failing_since is null;
  end if;
  update public.webhook_deliveries as x set
    attempts = n, last_status_code = code,
    status = case outcome when 'delivered' then 'delivered' when 'retrying' then 'pending'
      else 'failed' end,
    delivered_at = case when ok then now() end,
    next_attempt_at = case when outcome = 'retrying'
      then now() + make_interval(secs => p_retry_in_s) end
  where x.id = d.id;
  return outcome;
end
$$;

-- webhook.test: a real event and delivery for one endpoint, delivered by the adapter now.
create function private.prepare_webhook_test(p_endpoint_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  e public.webhook_endpoints;
  ev public.webhook_events;
  d public.webhook_deliveries;
begin
  select * into e from public.webhook_endpoints as x where x.id = p_endpoint_id;
  if not found or not private.has_merchant_role(e.merchant_id) and not private.is_admin() then
    raise exception 'webhook endpoint % does not exist', p_endpoint_id using errcode = 'P0002';
  end if;
  perform private.webhook_manager(e.merchant_id);
  insert into public.webhook_events (merchant_id, type, payload)
  values (e.merchant_id, 'webhook.test', jsonb_build_object(
    'endpoint_id', e.id, 'message', 'This is a test event from LightSpeedPay'))
  returning * into ev;
  insert into public.webhook_deliveries (event_id, endpoint_id, merchant_id)
  values (ev.id, e.id, e.merchant_id) returning * into d;
  return jsonb_build_object('delivery_id', d.id, 'url', e.url);
end
$$;

-- API-key rotations reach the merchant's webhooks too.
create or replace function private.notify_key_rotation() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if new.revoked_reason = 'rotated' and old.revoked_reason is distinct from 'rotated' then
    perform private.emit_event(new.merchant_id, 'api_key.rotated', jsonb_build_object(
      'api_key_id', new.id, 'replaced_by', new.replaced_by, 'old_key_valid_until', new.revoked_at,
      'display', new.prefix || '…' || new.last4
    ));
  end if;
  return null;
end
$$;
create trigger api_keys_rotation_event after update of revoked_reason on public.api_keys
for each row execute function private.notify_key_rotation();

-- Public RPCs ------------------------------------------------------------------------------------
create function public.merchant_create_webhook_endpoint(
  p_url text, p_merchant_id uuid default null, p_event_types text[] default null,
  p_description text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.create_webhook_endpoint(p_merchant_id, p_url, p_event_types, p_description) $$;

create function public.merchant_update_webhook_endpoint(p_endpoint_id uuid, p_changes jsonb)
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.update_webhook_endpoint(p_endpoint_id, p_changes) $$;

create function public.merchant_rotate_webhook_secret(p_endpoint_id uuid) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.rotate_webhook_secret(p_endpoint_id) $$;

create function public.merchant_list_webhook_endpoints(p_merchant_id uuid default null)
returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_webhook_endpoints(p_merchant_id) $$;

create function public.merchant_list_webhook_events(
  p_merchant_id uuid default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_webhook_events(p_merchant_id, p_limit) $$;

create function public.merchant_redeliver_webhook(p_delivery_id bigint) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.redeliver(p_delivery_id) $$;

create function public.merchant_prepare_webhook_test(p_endpoint_id uuid) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.prepare_webhook_test(p_endpoint_id) $$;

revoke execute on all functions in schema public from public, anon;
grant execute on function
public.merchant_create_webhook_endpoint(text, uuid, text[], text),
public.merchant_update_webhook_endpoint(uuid, jsonb),
public.merchant_rotate_webhook_secret(uuid), public.merchant_list_webhook_endpoints(uuid),
public.merchant_list_webhook_events(uuid, integer), public.merchant_redeliver_webhook(bigint),
public.merchant_prepare_webhook_test(uuid)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
grant execute on function private.create_webhook_endpoint(uuid, text, text[], text),
private.update_webhook_endpoint(uuid, jsonb), private.rotate_webhook_secret(uuid),
private.list_webhook_endpoints(uuid), private.list_webhook_events(uuid, integer),
private.redeliver(bigint), private.prepare_webhook_test(uuid)
to authenticated, service_role;
grant execute on function private.emit_event(uuid, text, jsonb),
private.webhook_delivery_job(bigint),
private.record_webhook_attempt(bigint, jsonb, integer, integer)
to service_role;
grant execute on function private.is_service_role(), private.is_admin(),
private.current_role_is(text), private.member_merchant_ids(text[]),
private.has_merchant_role(uuid, text[]), private.require_admin(), private.require_user()
to authenticated, service_role;
