-- One envelope for every collection: {data: [...], next_cursor}, as payments have. Lists
-- that grow with use (API keys, webhook endpoints and events, the audit log) are keyset-
-- paginated with an opaque text cursor and a limit; fixed sets (gateways, their health and
-- catalogue, the queues) come whole with next_cursor null. The credentials list also
-- reports the merchant's webhook configuration status.
-- migration-lint: allow ban-drop-function: the list RPCs gain cursor and limit parameters; old and new signatures are swapped in one transaction, and the adapter that calls them ships with it (no released clients)

create or replace function private.list_gateways(p_include_archived boolean) returns json
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return json_build_object(
    'data', coalesce((
      select json_agg(
        private.gateway_json(
          g, f.succeeded_1h, f.total_1h, f.p50_ms, f.p95_ms, f.succeeded_24h, f.total_24h, f.reserved
        ) order by g.status = 'archived', g.priority, g.created_at
      )
      from public.gateways as g
      join private.gateway_figures(array(
        select x.id from public.gateways as x
        where coalesce(p_include_archived, false) or x.status <> 'archived'
      )) as f on f.gateway_id = g.id
    ), '[]'::json),
    'next_cursor', null,
    'generated_at', now()
  );
end
$$;

create or replace function private.gateway_health() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return jsonb_build_object(
    'data', coalesce((
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
        g, f.succeeded_1h, f.total_1h, f.p50_ms, f.p95_ms, f.succeeded_24h, f.total_24h, f.reserved
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
    'next_cursor', null,
    'generated_at', now()
  );
end
$$;

create or replace function private.gateway_catalog() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return jsonb_build_object('data', (
    select jsonb_agg(jsonb_build_object(
      'provider', p.provider, 'display_name', p.display_name,
      'credential_fields', p.credential_fields, 'base_urls', p.base_urls,
      'credential_check', p.credential_check, 'docs_url', p.docs_url
    ) order by p.provider)
    from public.gateway_providers as p
  ), 'next_cursor', null);
end
$$;

create or replace function private.queue_overview() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  result jsonb := '[]'::jsonb;
  c public.queue_controls;
  pending bigint;
  delayed bigint;
  processing bigint;
  oldest_age numeric;
  dlq_depth bigint;
  rates jsonb;
  latest jsonb;
  has_worker boolean;
  finished_2m bigint;
  state text;
begin
  perform private.require_admin();
  for c in select * from public.queue_controls order by queue_name loop
    execute format(
      'select count(*) filter (where vt <= now()) as pending,
              count(*) filter (where vt > now() and read_ct = 0) as delayed,
              count(*) filter (where vt > now() and read_ct > 0) as processing,
              extract(epoch from now() - min(enqueued_at) filter (where vt <= now())) as oldest_age
       from pgmq.%I', 'q_' || c.queue_name
    ) into pending, delayed, processing, oldest_age;
    execute format('select count(*) from pgmq.%I', 'q_' || c.queue_name || '_dlq') into dlq_depth;
    select jsonb_build_object(
      'enqueued', jsonb_build_object(
        '1m', coalesce(sum(s.enqueued) filter (where s.minute >= date_trunc('minute', now())), 0),
        '5m', coalesce(sum(s.enqueued) filter (where s.minute > now() - interval '5 minutes'), 0),
        '1h', coalesce(sum(s.enqueued), 0)),
      'completed', jsonb_build_object(
        '1m', coalesce(sum(s.completed) filter (where s.minute >= date_trunc('minute', now())), 0),
        '5m', coalesce(sum(s.completed) filter (where s.minute > now() - interval '5 minutes'), 0),
        '1h', coalesce(sum(s.completed), 0)),
      'failed', jsonb_build_object(
        '1m', coalesce(sum(s.failed) filter (where s.minute >= date_trunc('minute', now())), 0),
        '5m', coalesce(sum(s.failed) filter (where s.minute > now() - interval '5 minutes'), 0),
        '1h', coalesce(sum(s.failed), 0))
    ),
    coalesce(sum(s.completed + s.dead_lettered) filter (
      where s.minute >= date_trunc('minute', now() - interval '2 minutes')
    ), 0)
    into rates, finished_2m
    from public.queue_stats_minute as s
    where s.queue_name = c.queue_name and s.minute > now() - interval '1 hour';
    execute format(
      'select coalesce(jsonb_agg(x order by x.failed_at desc), ''[]''::jsonb) from (
         select %L || msg_id as job_id, enqueued_at as failed_at,
                message ->> ''origin'' as origin, message -> ''last_error'' as last_error,
                (message ->> ''attempts'')::int as attempts
         from pgmq.%I order by msg_id desc limit 5) as x',
      c.queue_name || '_dlq:', 'q_' || c.queue_name || '_dlq'
    ) into latest;
    select exists (
      select 1 from public.worker_heartbeats as h
      where c.queue_name = any(h.queues) and h.stopped_at is null
        and h.last_seen_at > now() - interval '15 seconds'
    ) into has_worker;
    state := case
      when c.paused then 'paused'
      when pending > 0 and (not has_worker or (oldest_age > 60 and finished_2m = 0))
        then 'stalled'
      when oldest_age > 30 or pending > 1000 then 'backlogged'
      else 'healthy'
    end;
    result := result || jsonb_build_object(
      'queue', c.queue_name,
      'state', state,
      'pending', pending,
      'delayed', delayed,
      'processing', processing,
      'failed', dlq_depth,
      'completed_1h', rates -> 'completed' -> '1h',
      'oldest_pending_age_s', round(coalesce(oldest_age, 0), 3),
      'rates', rates,
      'paused', jsonb_build_object(
        'paused', c.paused, 'reason', c.paused_reason, 'by', c.paused_by, 'at', c.paused_at
      ),
      'settings', jsonb_build_object(
        'concurrency', c.concurrency, 'max_attempts', c.max_attempts,
        'visibility_timeout_s', c.visibility_timeout_s, 'backoff_base_s', c.backoff_base_s,
        'backoff_max_s', c.backoff_max_s, 'retention_days', c.retention_days
      ),
      'has_live_worker', has_worker,
      'latest_failed', latest
    );
  end loop;
  return jsonb_build_object('data', result, 'next_cursor', null, 'generated_at', now());
end
$$;

comment on function public.admin_list_gateways(boolean) is
$$Every gateway with its routing settings, masked credentials, today's volume against its
daily limit, success rates, latency percentiles and health, for the operators' dashboard.
Archived gateways only with p_include_archived. Figures come from per-minute and per-hour
buckets, so the 1 h window spans 60-61 minutes and the 24 h window 24-25 hours.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {data: [gateway view], next_cursor: null (the whole set), generated_at}, by
priority, archived last. A gateway view is {id, provider, display_name, environment,
status, priority, min_amount, max_amount, daily_limit, currencies, methods, regions,
config, credentials (masked), credentials_rotated_at, today: {day, volume, daily_limit,
remaining}, success_rate: {1h, 24h}, transactions: {1h|24h: {succeeded, failed}},
latency_ms: {p50, p95}, health: {state, changed_at, consecutive_failures, last_probe},
last_test, created_at, updated_at, archived_at}. Amounts and limits are minor units (paise
for INR); today.day is the India (Asia/Kolkata) date; success rates are fractions 0..1
(null without outcomes); latency_ms are histogram bucket upper bounds in milliseconds.
Errors: 42501 not an admin.$$;

comment on function public.admin_gateway_health() is
$$Health of every non-archived gateway (from the scheduled probes and transaction
outcomes) and availability per region, for the operators' dashboard. 3 consecutive failed
probes make a gateway down; once down, 2 consecutive successes make it healthy; a failure
short of that, or a success slower than 2 s, makes it degraded.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {data: [{id, provider, display_name, status, state, changed_at,
consecutive_failures, last_probe, probe_success_rate_1h, transactions_1h: {succeeded,
failed}, success_rate_1h, latency_ms: {p50, p95}, regions}], next_cursor: null, regions:
{<region, or * for gateways serving all>: {gateways, available, state}}, thresholds:
{down_after_consecutive_failures, up_after_consecutive_successes, degraded_latency_ms},
generated_at}. state is unknown, healthy, degraded or down; rates are fractions 0..1 (null
without data); latency in milliseconds. A region is down when none of its active gateways
is healthy or unknown, degraded when some are not.
Errors: 42501 not an admin.$$;

comment on function public.admin_gateway_catalog() is
$$The payment providers a gateway can use (sandbox, Razorpay, Cashfree, PayU, PhonePe,
Paytm, Stripe): their credential fields, base URLs and how credentials are checked.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {data: [{provider, display_name, credential_fields: [{name, label, required,
secret}], base_urls: {test, live}, credential_check: {request, outcomes}, docs_url}],
next_cursor: null}, by provider.
Errors: 42501 not an admin.$$;

comment on function public.admin_list_queues() is
$$Overview of every job queue (payment, webhook, settlement, gateway_health) for the
operators' dashboard: depth, age, throughput, pause state, settings and recent failures.
state is paused; stalled (work pending and no live worker, or oldest pending over 60 s
with nothing finished in 2 minutes); backlogged (oldest pending over 30 s or more than
1,000 pending); otherwise healthy.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {data: [{queue, state, pending, delayed, processing, failed (dead-letter depth),
completed_1h, oldest_pending_age_s (seconds), rates: {enqueued|completed|failed: {1m, 5m,
1h}} (job counts), paused: {paused, reason, by, at}, settings: {concurrency, max_attempts,
visibility_timeout_s, backoff_base_s, backoff_max_s, retention_days}, has_live_worker,
latest_failed: [up to 5 {job_id, failed_at, origin, last_error, attempts}]}], next_cursor:
null, generated_at}.
Errors: 42501 not an admin.$$;

-- The audit log: items become data and the cursor is text (the last id, as digits).
drop function public.list_audit_logs(uuid, text, text, text, timestamptz, timestamptz, bigint, integer);
create function public.list_audit_logs(
  p_actor uuid default null, p_table text default null, p_action text default null,
  p_row_id text default null, p_from timestamptz default null, p_to timestamptz default null,
  p_cursor text default null, p_limit integer default 50
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  page jsonb;
  last_id bigint;
  n integer;
begin
  perform private.require_admin();
  if p_limit is null or p_limit < 1 or p_limit > 500 then
    raise exception 'limit must be between 1 and 500' using errcode = '22023';
  end if;
  if p_action is not null and p_action not in ('insert', 'update', 'delete') then
    raise exception 'action must be one of insert, update, delete' using errcode = '22023';
  end if;
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  if p_cursor is not null and p_cursor !~ '^[1-9][0-9]{0,17}$' then
    raise exception 'cursor is not valid: pass back next_cursor as it was given'
      using errcode = '22023';
  end if;

  select coalesce(jsonb_agg(to_jsonb(l) order by l.id desc), '[]'::jsonb), min(l.id), count(*)
  into page, last_id, n
  from (
    select
      a.id, a.created_at, a.actor_id, a.actor_role, a.action, a.table_schema, a.table_name,
      a.row_id, a.old_values, a.new_values, a.changed_columns, a.request_id
    from audit.log as a
    where (p_actor is null or a.actor_id = p_actor)
      and (p_table is null or a.table_name = p_table)
      and (p_action is null or a.action = p_action)
      and (p_row_id is null or a.row_id = p_row_id)
      and (p_from is null or a.created_at >= p_from)
      and (p_to is null or a.created_at < p_to)
      and (p_cursor is null or a.id < p_cursor::bigint)
    order by a.id desc
    limit p_limit
  ) as l;

  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then last_id::text end
  );
end
$$;
comment on function public.list_audit_logs(uuid, text, text, text, timestamptz, timestamptz, text, integer) is
$$Reads the append-only audit log, newest first, filtered by actor, table name, action,
row id and time, one page at a time (keyset pagination on the log id).
Who: platform admins and service_role; everyone else gets 42501.
Returns: {data: [{id, created_at, actor_id, actor_role, action, table_schema, table_name,
row_id, old_values, new_values, changed_columns, request_id}], next_cursor}. next_cursor is
the text to pass as p_cursor for the next page, null on the last page. p_from is inclusive
and p_to exclusive (timestamptz); p_limit 1..500, default 50. Values of secret-looking keys
were redacted when the row was written.
Errors: 22023 limit outside 1..500, action not insert/update/delete, from after to, cursor
not one this function gave; 42501 not an admin.$$;

-- Pages of a merchant's rows: the limit every keyset list checks, in one place.
create function private.check_page_limit(p_limit integer) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
end
$$;
comment on function private.check_page_limit(integer) is
$$22023 unless 1 <= p_limit <= 200 (the page size of keyset lists).$$;

-- A merchant's webhook configuration at a glance, for the credentials page.
create function private.webhook_status(p_merchant_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'endpoints', (select count(*) from public.webhook_endpoints as e where e.merchant_id = p_merchant_id),
    'enabled', (
      select count(*) from public.webhook_endpoints as e
      where e.merchant_id = p_merchant_id and e.enabled
    ),
    'disabled', (
      select count(*) from public.webhook_endpoints as e
      where e.merchant_id = p_merchant_id and not e.enabled
    ),
    'failing', (
      select count(*) from public.webhook_endpoints as e
      where e.merchant_id = p_merchant_id and e.enabled and e.failing_since is not null
    ),
    'last_delivery', (
      select jsonb_build_object(
        'endpoint_id', d.endpoint_id, 'event_id', d.event_id, 'status', d.status,
        'status_code', d.last_status_code, 'at', d.updated_at
      )
      from public.webhook_deliveries as d
      where d.merchant_id = p_merchant_id and d.attempts > 0
      order by d.id desc limit 1
    ),
    'success_rate_24h', (
      select round(avg((a.status_code between 200 and 299)::integer), 4)
      from public.webhook_attempts as a
      where a.merchant_id = p_merchant_id and a.created_at > now() - interval '24 hours'
    )
  )
$$;
comment on function private.webhook_status(uuid) is
$${endpoints, enabled, disabled, failing (enabled, failing since a first failure), last_delivery:
{endpoint_id, event_id, status, status_code, at} | null (the newest attempted delivery),
success_rate_24h (fraction 0..1 of the last 24 h's attempts answered 2xx, null without
attempts)}. Callers check the role.$$;

drop function public.merchant_list_api_keys(uuid);
drop function private.list_api_keys(uuid);
create function private.list_api_keys(p_merchant_id uuid, p_cursor text, p_limit integer)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  c record := private.read_cursor(p_cursor);
  page jsonb;
  n integer;
  last public.api_keys;
begin
  perform private.check_page_limit(p_limit);
  select coalesce(jsonb_agg(private.key_view(k) order by k.created_at desc, k.id desc), '[]'), count(*)
  into page, n
  from (
    select * from public.api_keys as x
    where x.merchant_id = m and (c.at is null or (x.created_at, x.id) < (c.at, c.id::uuid))
    order by x.created_at desc, x.id desc limit p_limit
  ) as k;
  if n = p_limit then
    select * into last from public.api_keys as x where x.id = (page -> -1 ->> 'id')::uuid;
  end if;
  return jsonb_build_object(
    'merchant_id', m,
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last.created_at, last.id::text) end,
    'webhooks', private.webhook_status(m)
  );
end
$$;
comment on function private.list_api_keys(uuid, text, integer) is
$$Members: a page of a merchant's API keys plus its webhook status; see
public.merchant_list_api_keys.$$;

create function public.merchant_list_api_keys(
  p_merchant_id uuid default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_api_keys(p_merchant_id, p_cursor, p_limit) $$;
comment on function public.merchant_list_api_keys(uuid, text, integer) is
$$A merchant's credentials page: its API keys (never the keys themselves, nor their digests),
newest first and keyset-paginated, with its webhook configuration status. p_merchant_id
defaults to the calling API key's merchant, or the caller's only merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {merchant_id, data: [key view], next_cursor: text | null, webhooks: {endpoints,
enabled, disabled, failing, last_delivery: {endpoint_id, event_id, status, status_code, at}
| null, success_rate_24h}}; p_limit 1..200 (default 50). A key view is {id, merchant_id,
name, mode, display (prefix...last4), created_at, last_used_at, expires_at, revoked_at,
status, rate_limit_per_min, requests_24h, replaced_by}; status is active, rotating
(revoked_at in the future: the grace window after a regenerate), revoked or expired;
rate_limit_per_min is requests per minute (the key's own, else the merchant's override,
else 600); success_rate_24h is the fraction 0..1 of the last 24 h's delivery attempts
answered 2xx (null without attempts).
Errors: 22023 merchant_id missing or ambiguous, limit outside 1..200, cursor not valid;
42501 not a member.$$;

drop function public.merchant_list_webhook_endpoints(uuid);
drop function private.list_webhook_endpoints(uuid);
create function private.list_webhook_endpoints(p_merchant_id uuid, p_cursor text, p_limit integer)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  c record := private.read_cursor(p_cursor);
  page jsonb;
  n integer;
  last public.webhook_endpoints;
begin
  perform private.check_page_limit(p_limit);
  select coalesce(jsonb_agg(private.endpoint_view(e) order by e.created_at, e.id), '[]'), count(*)
  into page, n
  from (
    select * from public.webhook_endpoints as x
    where x.merchant_id = m and (c.at is null or (x.created_at, x.id) > (c.at, c.id::uuid))
    order by x.created_at, x.id limit p_limit
  ) as e;
  if n = p_limit then
    select * into last from public.webhook_endpoints as x where x.id = (page -> -1 ->> 'id')::uuid;
  end if;
  return jsonb_build_object(
    'merchant_id', m,
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last.created_at, last.id::text) end
  );
end
$$;
comment on function private.list_webhook_endpoints(uuid, text, integer) is
$$Members: a page of a merchant's webhook endpoints; see
public.merchant_list_webhook_endpoints.$$;

create function public.merchant_list_webhook_endpoints(
  p_merchant_id uuid default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_webhook_endpoints(p_merchant_id, p_cursor, p_limit) $$;
comment on function public.merchant_list_webhook_endpoints(uuid, text, integer) is
$$A merchant's webhook endpoints, oldest first and keyset-paginated, with their last delivery
and 24 h success rate; never their signing secrets. p_merchant_id defaults to the calling
API key's merchant, or the caller's only merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {merchant_id, data: [endpoint view], next_cursor: text | null}; p_limit 1..200
(default 50). An endpoint view is {id, merchant_id, url, description, event_types, enabled,
disabled_reason, disabled_at, failing_since, previous_secret_expires_at, created_at,
updated_at, last_delivery: {event_id, status, status_code, at}, success_rate_24h};
success_rate_24h is the fraction 0..1 of the last 24 h's attempts answered 2xx, null
without attempts.
Errors: 22023 merchant_id missing or ambiguous, limit outside 1..200, cursor not valid;
42501 not a member.$$;

drop function public.merchant_list_webhook_events(uuid, integer);
drop function private.list_webhook_events(uuid, integer);
create function private.list_webhook_events(
  p_merchant_id uuid, p_type text, p_cursor text, p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  c record := private.read_cursor(p_cursor);
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
begin
  perform private.check_page_limit(p_limit);
  select coalesce(jsonb_agg(jsonb_build_object(
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
  ) order by ev.created_at desc, ev.id desc), '[]'), count(*), min(ev.created_at)
  into page, n, last_at
  from (
    select * from public.webhook_events as x
    where x.merchant_id = m
      and (p_type is null or x.type = p_type)
      and (c.at is null or (x.created_at, x.id) < (c.at, c.id))
    order by x.created_at desc, x.id desc limit p_limit
  ) as ev;
  last_id := page -> -1 ->> 'id';
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;
comment on function private.list_webhook_events(uuid, text, text, integer) is
$$Members: a page of a merchant's webhook events with deliveries and attempts; see
public.merchant_list_webhook_events.$$;

create function public.merchant_list_webhook_events(
  p_merchant_id uuid default null, p_type text default null, p_cursor text default null,
  p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_webhook_events(p_merchant_id, p_type, p_cursor, p_limit) $$;
comment on function public.merchant_list_webhook_events(uuid, text, text, integer) is
$$A merchant's webhook events, newest first and keyset-paginated, optionally of one type
(p_type, e.g. payment.succeeded), with each delivery and its attempt log. p_merchant_id
defaults to the calling API key's merchant, or the caller's only merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {data: [{id, type, payload, created_at, deliveries: [{id, endpoint_id, status,
attempts, last_status_code, next_attempt_at, delivered_at, attempt_log: [{attempt, at,
status_code, latency_ms, error, response_body}]}]}], next_cursor: text | null}; p_limit
1..200 (default 50). id is the webhook-id receivers dedupe on (msg_...); status is pending,
delivered, failed or skipped; latency_ms in milliseconds; response_body is the first 4 KB
of the answer.
Errors: 22023 merchant_id missing or ambiguous, limit outside 1..200, cursor not valid;
42501 not a member.$$;

-- Helpers run inside the security definer lists above; no client role calls them.
revoke execute on function private.check_page_limit(integer), private.webhook_status(uuid)
from public, anon, authenticated;

revoke execute on function
private.list_api_keys(uuid, text, integer), public.merchant_list_api_keys(uuid, text, integer),
private.list_webhook_endpoints(uuid, text, integer),
public.merchant_list_webhook_endpoints(uuid, text, integer),
private.list_webhook_events(uuid, text, text, integer),
public.merchant_list_webhook_events(uuid, text, text, integer),
public.list_audit_logs(uuid, text, text, text, timestamptz, timestamptz, text, integer)
from public, anon;
grant execute on function
private.list_api_keys(uuid, text, integer), public.merchant_list_api_keys(uuid, text, integer),
private.list_webhook_endpoints(uuid, text, integer),
public.merchant_list_webhook_endpoints(uuid, text, integer),
private.list_webhook_events(uuid, text, text, integer),
public.merchant_list_webhook_events(uuid, text, text, integer),
public.list_audit_logs(uuid, text, text, text, timestamptz, timestamptz, text, integer)
to authenticated, service_role;
