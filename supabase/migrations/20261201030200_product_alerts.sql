-- Product alerts: rules as rows (public.alert_rules: kind, thresholds with hysteresis,
-- minimum volume, window, enabled), evaluated every minute by pg_cron (and at once when a
-- gateway's health changes), into public.alerts with a fingerprint (rule + subject) so a
-- condition that persists is ONE alert: firing -> acknowledged -> resolved. Every state
-- transition is published live (admin:alerts, and merchant:<id>:alerts for merchant-scoped
-- ones) and sent to the operators' alert destinations through the existing signed webhook
-- delivery: a destination is a webhook endpoint with no merchant (merchant_id null), so the
-- webhook queue, the worker, Standard Webhooks signing, retries and auto-disable all apply
-- unchanged. These are the product's alerts (what the dashboard shows and operators act on);
-- the platform's own health is watched by Prometheus rules elsewhere.
--
-- Value semantics: every rule reduces its condition to one number per subject where higher
-- is worse. It fires when value >= threshold AND volume >= min_volume (a minimum-volume
-- guard, as in https://docs.datadoghq.com/monitors/guide/add-a-minimum-request-threshold-for-error-rate-alerts:
-- 1 failure out of 2 is not an outage), and resolves only when value < clear_threshold
-- (hysteresis: clear_threshold <= threshold, so a value hovering at the threshold does not
-- flap). A value of null (no data in the window) changes nothing.
--
-- Also here: the notification rows that had no API (list, mark read).

-- migration-lint: allow ban-drop-not-null: operator alert destinations are webhook endpoints without a merchant; merchant endpoints, events and deliveries still always carry theirs (the merchant RPCs set it)
-- migration-lint: allow require-concurrent-index-creation: the partial index covers operator endpoints only over a table of at most a few thousand rows; it builds in milliseconds

-- Operator alert destinations: webhook endpoints without a merchant ------------------------------
alter table public.webhook_endpoints alter column merchant_id drop not null;
alter table public.webhook_events alter column merchant_id drop not null;
alter table public.webhook_deliveries alter column merchant_id drop not null;
alter table public.webhook_attempts alter column merchant_id drop not null;
create index webhook_endpoints_operator_idx on public.webhook_endpoints (created_at)
where merchant_id is null;
comment on column public.webhook_endpoints.merchant_id is
$$The merchant whose events the endpoint receives; null = an operator alert destination
(admin_put_alert_destinations), which receives alert.* events and is readable by admins only.$$;
comment on column public.webhook_events.merchant_id is
$$The merchant the event happened to; null = an operator event (alert.*).$$;
comment on column public.webhook_deliveries.merchant_id is
$$The endpoint's merchant; null for operator alert destinations.$$;
comment on column public.webhook_attempts.merchant_id is
$$The endpoint's merchant; null for operator alert destinations.$$;

create function private.emit_operator_event(p_type text, p_payload jsonb) returns text
language plpgsql security definer
set search_path = ''
as $$
declare
  ev public.webhook_events;
  d record;
begin
  if not exists (
    select 1 from public.webhook_endpoints as e
    where e.merchant_id is null and e.enabled
      and (e.event_types = '{}' or p_type = any(e.event_types)
        or split_part(p_type, '.', 1) || '.*' = any(e.event_types))
  ) then
    return null;
  end if;
  insert into public.webhook_events (merchant_id, type, payload)
  values (null, p_type, coalesce(p_payload, '{}'::jsonb))
  returning * into ev;
  for d in
    insert into public.webhook_deliveries (event_id, endpoint_id, merchant_id)
    select ev.id, e.id, null
    from public.webhook_endpoints as e
    where e.merchant_id is null and e.enabled
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
comment on function private.emit_operator_event(text, jsonb) is
$$Triggers: records an operator event (no merchant) and queues one signed delivery per enabled
alert destination, exactly as private.emit_event does for merchants; null when there is no
destination.$$;

-- Rules -----------------------------------------------------------------------------------------
create function private.alert_rule_bounds(
  p_kind text, out bounds numrange, out unit text
)
language sql immutable
set search_path = ''
as $$
  select
    case
      when p_kind = 'gateway_down' then numrange(0, 2, '(]')
      when p_kind in ('gateway_degraded', 'queue_stalled') then numrange(0, 1, '(]')
      when p_kind in ('gateway_success_drop', 'payment_failure_spike') then numrange(0, 1, '(]')
      when p_kind = 'gateway_latency_spike' then numrange(1, 100, '(]')
      when p_kind in ('queue_backlog', 'webhook_endpoint_failing') then numrange(0, 604800, '(]')
      when p_kind in ('dead_letter_growth', 'rate_limit_breaches', 'provider_settlement_mismatch')
        then numrange(0, 1000000, '(]')
    end,
    case
      when p_kind in ('gateway_down', 'gateway_degraded', 'queue_stalled') then 'level'
      when p_kind in ('gateway_success_drop', 'payment_failure_spike') then 'fraction'
      when p_kind = 'gateway_latency_spike' then 'ratio'
      when p_kind in ('queue_backlog', 'webhook_endpoint_failing') then 'seconds'
      when p_kind in ('dead_letter_growth', 'rate_limit_breaches', 'provider_settlement_mismatch')
        then 'count'
    end
$$;
comment on function private.alert_rule_bounds(text) is
$$The range threshold and clear_threshold of a rule of this kind must lie in (lower bound
excluded, upper included) and their unit: levels 0..2 for gateway_down, 0..1 for
gateway_degraded and queue_stalled; fractions of failures 0..1; the latency ratio 1..100;
seconds up to 7 days; counts up to 1000000. A value outside could never fire or never clear.
Used by the alert_rules_bounds check and admin_update_alert_rules' messages.$$;

create table public.alert_rules (
  id text primary key check (id ~ '^[a-z][a-z0-9_]{0,62}$'),
  kind text not null check (kind in (
    'gateway_down', 'gateway_degraded', 'gateway_success_drop', 'gateway_latency_spike',
    'queue_backlog', 'queue_stalled', 'dead_letter_growth', 'webhook_endpoint_failing',
    'rate_limit_breaches', 'payment_failure_spike', 'provider_settlement_mismatch'
  )),
  description text not null check (char_length(description) between 1 and 500),
  severity text not null check (severity in ('critical', 'warning', 'info')),
  enabled boolean not null default true,
  threshold numeric not null check (threshold > 0),
  clear_threshold numeric not null check (clear_threshold >= 0),
  min_volume integer not null check (min_volume >= 0),
  window_s integer not null check (window_s between 60 and 86400),
  updated_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint alert_rules_hysteresis check (clear_threshold <= threshold),
  constraint alert_rules_bounds check (
    threshold <@ (private.alert_rule_bounds(kind)).bounds
    and clear_threshold <@ (private.alert_rule_bounds(kind)).bounds
  ),
  constraint alert_rules_min_volume_range check (min_volume <= 1000000)
);
alter table public.alert_rules enable row level security;
create trigger alert_rules_touch before update on public.alert_rules
for each row execute function private.touch_updated_at();
create trigger audit_alert_rules after insert or update or delete on public.alert_rules
for each row execute function audit.record_change('id');
comment on table public.alert_rules is
$$The product's alert rules, one row each: what condition (kind), how bad (threshold, in the
kind's unit; value >= threshold fires), when it is over (clear_threshold <= threshold:
value < clear_threshold resolves), how much evidence first (min_volume within window_s),
severity and enabled. Read (RLS): platform admins. Written by admin_update_alert_rules; the
minute job private.evaluate_alerts reads them. Audited.$$;
comment on column public.alert_rules.kind is
$$What is measured (value / volume, higher value is worse):
gateway_down: 2 while down, 1 degraded, 0 healthy / probes in the window;
gateway_degraded: 1 while degraded / probes in the window;
gateway_success_drop: 24 h success rate minus the window's, as a fraction / attempts decided
in the window (the 24 h baseline needs min_volume too);
gateway_latency_spike: window p95 / 24 h p95 / latency samples in the window (baseline too);
queue_backlog: oldest pending job age in seconds (0 while paused) / pending jobs;
queue_stalled: 1 while stalled / pending jobs;
dead_letter_growth: jobs dead-lettered in the window / jobs finished in the window;
webhook_endpoint_failing: seconds failing continuously (auto-disabled endpoints always past
the threshold) / failed attempts in the window;
rate_limit_breaches: requests an API key had refused (429) in the window / its requests;
payment_failure_spike: failed / (succeeded + failed) of a merchant's payments created in the
window / those payments;
provider_settlement_mismatch: a gateway's provider settlements ingested in the window that did
not match our payments and refunds / settlements ingested in the window.$$;
comment on column public.alert_rules.threshold is
$$Fires at value >= threshold (the kind's unit: level, fraction, ratio, seconds or count;
within private.alert_rule_bounds(kind): levels (0, 2] for gateway_down and (0, 1] for
gateway_degraded and queue_stalled, fractions (0, 1], the latency ratio (1, 100], seconds
(0, 604800], counts (0, 1000000]).$$;
comment on column public.alert_rules.clear_threshold is
$$Resolves at value < clear_threshold (same unit and bounds; <= threshold: the hysteresis
band).$$;
comment on column public.alert_rules.min_volume is
$$Fires only with at least this much evidence in the window (the kind's volume), 0..1000000.$$;
comment on column public.alert_rules.window_s is
$$Seconds of history each evaluation looks at.$$;

insert into public.alert_rules (
  id, kind, description, severity, threshold, clear_threshold, min_volume, window_s
) values
(
  'gateway_down', 'gateway_down',
  'A gateway is down (3 failed probes in a row); resolves once it is healthy again',
  'critical', 2, 1, 3, 900
),
(
  'gateway_degraded', 'gateway_degraded',
  'A gateway is degraded (a failed or slow probe); resolves when healthy (or down: gateway_down takes over)',
  'warning', 1, 1, 2, 900
),
(
  'gateway_success_drop', 'gateway_success_drop',
  'A gateway''s success rate over 15 min fell 20 points below its own 24 h rate (with 20+ attempts)',
  'critical', 0.2, 0.1, 20, 900
),
(
  'gateway_latency_spike', 'gateway_latency_spike',
  'A gateway''s p95 latency over 15 min is twice its 24 h p95 (with 20+ samples)',
  'warning', 2, 1.5, 20, 900
),
(
  'queue_backlog', 'queue_backlog',
  'A queue''s oldest pending job has waited 60 s or more',
  'warning', 60, 30, 1, 300
),
(
  'queue_stalled', 'queue_stalled',
  'A queue has work and no live worker, or nothing finished for 2 minutes',
  'critical', 1, 1, 1, 300
),
(
  'dead_letter_growth', 'dead_letter_growth',
  'Jobs were dead-lettered in the last 15 minutes',
  'warning', 1, 1, 1, 900
),
(
  'webhook_endpoint_failing', 'webhook_endpoint_failing',
  'A webhook endpoint has failed continuously for 15 minutes (3+ failed attempts in the hour) or was auto-disabled',
  'warning', 900, 1, 3, 3600
),
(
  'rate_limit_breaches', 'rate_limit_breaches',
  'An API key had 100+ requests refused by its rate limit in 15 minutes',
  'warning', 100, 10, 100, 900
),
(
  'payment_failure_spike', 'payment_failure_spike',
  'Half or more of a merchant''s payments in 15 minutes failed (with 20+ payments)',
  'warning', 0.5, 0.3, 20, 900
),
(
  'provider_settlement_mismatch', 'provider_settlement_mismatch',
  'A provider''s settlement report did not match our payments and refunds (GET /api/v1/admin/provider-settlements?status=mismatched); resolves a day after the last one',
  'warning', 1, 1, 1, 86400
)
on conflict (id) do nothing;

-- Alerts --------------------------------------------------------------------------------------
create table public.alerts (
  id uuid primary key default gen_random_uuid(),
  rule_id text not null references public.alert_rules (id),
  kind text not null,
  fingerprint text not null check (char_length(fingerprint) <= 300),
  subject_type text not null check (
    subject_type in ('gateway', 'queue', 'webhook_endpoint', 'api_key', 'merchant')
  ),
  subject_id text not null check (char_length(subject_id) <= 200),
  merchant_id uuid references public.merchants (id),
  severity text not null check (severity in ('critical', 'warning', 'info')),
  state text not null default 'firing' check (state in ('firing', 'acknowledged', 'resolved')),
  title text not null check (char_length(title) <= 500),
  value numeric,
  threshold numeric not null,
  details jsonb not null default '{}'::jsonb check (jsonb_typeof(details) = 'object'),
  fired_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  acknowledged_at timestamptz,
  acknowledged_by uuid references auth.users (id) on delete set null,
  resolved_at timestamptz,
  resolution text check (resolution in ('cleared', 'rule_disabled', 'subject_gone')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.alerts enable row level security;
create unique index alerts_open_fingerprint_idx on public.alerts (fingerprint)
where state <> 'resolved';
create index alerts_list_idx on public.alerts (fired_at desc, id desc);
create index alerts_merchant_idx on public.alerts (merchant_id, fired_at desc, id desc)
where merchant_id is not null;
create trigger alerts_touch before update on public.alerts
for each row execute function private.touch_updated_at();
create trigger audit_alerts after insert or update of state on public.alerts
for each row execute function audit.record_change('id');
comment on table public.alerts is
$$One occurrence of an alert rule's condition on one subject (a gateway, queue, webhook
endpoint, API key or merchant): firing -> acknowledged (an operator) -> resolved (the
condition cleared, the rule was disabled or the subject is gone). At most one open alert per
fingerprint (rule + subject): while the condition holds, evaluations update value and
last_seen_at and publish nothing. Read (RLS): platform admins; merchant-scoped alerts
(merchant_id set) also the merchant's members and API keys. Written by
private.evaluate_alerts and admin_acknowledge_alert. State changes are audited.$$;
comment on column public.alerts.fingerprint is
$$rule id : subject type : subject id; unique among open (not resolved) alerts.$$;
comment on column public.alerts.merchant_id is
$$Set for merchant-scoped alerts (the merchant's webhook endpoint, API key or payments).$$;
comment on column public.alerts.value is
$$The last evaluated value, in the rule kind's unit (see alert_rules.kind).$$;
comment on column public.alerts.threshold is
$$The rule's threshold when the alert fired (same unit as value).$$;
comment on column public.alerts.last_seen_at is
$$The last evaluation at which the condition still held.$$;

create function private.alert_view(a public.alerts) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', a.id, 'object', 'alert', 'rule_id', a.rule_id, 'kind', a.kind,
    'severity', a.severity, 'state', a.state, 'title', a.title,
    'subject', jsonb_build_object('type', a.subject_type, 'id', a.subject_id),
    'merchant_id', a.merchant_id, 'value', a.value, 'threshold', a.threshold,
    'details', a.details, 'fired_at', a.fired_at, 'last_seen_at', a.last_seen_at,
    'acknowledged_at', a.acknowledged_at, 'acknowledged_by', a.acknowledged_by,
    'resolved_at', a.resolved_at, 'resolution', a.resolution
  )
$$;
comment on function private.alert_view(public.alerts) is
$$An alert as the API, live events and alert destinations show it.$$;

create function private.alert_events() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_event text := 'alert.' || new.state;
  v jsonb := private.alert_view(new);
begin
  if tg_op = 'UPDATE' and new.state is not distinct from old.state then
    return null;
  end if;
  perform private.publish(
    case when new.merchant_id is null then array['admin:alerts']
      else array[
        'admin:alerts', 'merchant:' || new.merchant_id || ':alerts',
        -- figures of both modes: the merchant's API keys of either mode see them
        'merchant:' || new.merchant_id || ':alerts:test',
        'merchant:' || new.merchant_id || ':alerts:live'
      ] end,
    v_event, v
  );
  perform private.emit_operator_event(v_event, v);
  return null;
end
$$;
comment on function private.alert_events() is
$$Trigger: each alert transition (alert.firing, alert.acknowledged, alert.resolved) goes live on
admin:alerts (and the merchant's alerts topics: merchant:<id>:alerts and its :test and :live
topics) and to the operators' alert destinations.$$;
create trigger alerts_events after insert or update of state on public.alerts
for each row execute function private.alert_events();

-- Evaluation ----------------------------------------------------------------------------------
-- queue_overview answers admins and service_role only; the minute job runs as neither.
create function private.queue_overview_for_jobs() returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  prev text := current_setting('request.jwt.claims', true);
  result jsonb;
begin
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
  result := private.queue_overview();
  perform set_config('request.jwt.claims', coalesce(prev, ''), true);
  return result;
end
$$;
comment on function private.queue_overview_for_jobs() is
$$pg_cron jobs (alerts, live queue snapshots): private.queue_overview run as service_role,
the caller's claims restored after.$$;

create function private.alert_conditions(p_kinds text[] default null)
returns table (
  rule_id text, subject_type text, subject_id text, merchant_id uuid, title text,
  value numeric, volume bigint, details jsonb
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  r public.alert_rules;
  win interval;
  queues jsonb;
begin
  for r in
    select * from public.alert_rules as x
    where x.enabled and (p_kinds is null or x.kind = any(p_kinds))
    order by x.id
  loop
    win := make_interval(secs => r.window_s);
    case r.kind
    when 'gateway_down', 'gateway_degraded' then
      return query
      select r.id, 'gateway'::text, g.id::text, null::uuid,
        format('Gateway %s (%s) is %s', g.display_name, g.provider, g.health_state),
        (case
          when r.kind = 'gateway_down' then
            case g.health_state when 'down' then 2 when 'degraded' then 1 else 0 end
          else case g.health_state when 'degraded' then 1 else 0 end
        end)::numeric,
        (
          select count(*) from public.gateway_probes as p
          where p.gateway_id = g.id and p.source = 'probe' and p.created_at > now() - win
        ),
        jsonb_build_object(
          'gateway_id', g.id, 'provider', g.provider, 'display_name', g.display_name,
          'environment', g.environment, 'health_state', g.health_state,
          'health_changed_at', g.health_changed_at,
          'consecutive_failures', g.consecutive_failures, 'last_probe', g.last_probe
        )
      from public.gateways as g
      where g.status <> 'archived';
    when 'gateway_success_drop' then
      return query
      select r.id, 'gateway'::text, g.id::text, null::uuid,
        format(
          'Gateway %s (%s) success rate %s%% over %s min, %s%% over 24 h',
          g.display_name, g.provider, round(100.0 * w.s / nullif(w.t, 0), 1), r.window_s / 60,
          round(100.0 * b.s / nullif(b.t, 0), 1)
        ),
        case when w.t > 0 and b.t >= r.min_volume
          then round(b.s::numeric / b.t - w.s::numeric / w.t, 4) end,
        coalesce(w.t, 0),
        jsonb_build_object(
          'gateway_id', g.id, 'provider', g.provider, 'display_name', g.display_name,
          'window', jsonb_build_object('succeeded', w.s, 'attempts', w.t),
          'baseline_24h', jsonb_build_object('succeeded', b.s, 'attempts', b.t)
        )
      from public.gateways as g
      cross join lateral (
        select coalesce(sum(m.succeeded), 0) as s, coalesce(sum(m.succeeded + m.failed), 0) as t
        from public.gateway_stats_minute as m
        where m.gateway_id = g.id and m.minute >= date_trunc('minute', now() - win)
      ) as w
      cross join lateral (
        select coalesce(sum(m.succeeded), 0) as s, coalesce(sum(m.succeeded + m.failed), 0) as t
        from public.gateway_stats_minute as m
        where m.gateway_id = g.id and m.minute >= now() - interval '24 hours'
          and m.minute < date_trunc('minute', now() - win)
      ) as b
      where g.status <> 'archived';
    when 'gateway_latency_spike' then
      return query
      select r.id, 'gateway'::text, g.id::text, null::uuid,
        format(
          'Gateway %s (%s) p95 latency %s ms over %s min, %s ms over 24 h',
          g.display_name, g.provider, private.hist_percentile(w.h, 0.95), r.window_s / 60,
          private.hist_percentile(b.h, 0.95)
        ),
        case when w.n > 0 and b.n >= r.min_volume
          then round(
            private.hist_percentile(w.h, 0.95)::numeric
            / private.hist_percentile(b.h, 0.95), 4
          ) end,
        w.n,
        jsonb_build_object(
          'gateway_id', g.id, 'provider', g.provider, 'display_name', g.display_name,
          'window_p95_ms', private.hist_percentile(w.h, 0.95), 'window_samples', w.n,
          'baseline_p95_ms', private.hist_percentile(b.h, 0.95), 'baseline_samples', b.n
        )
      from public.gateways as g
      cross join lateral (
        select
          array[
            sum(m.h1), sum(m.h2), sum(m.h3), sum(m.h4), sum(m.h5), sum(m.h6), sum(m.h7),
            sum(m.h8), sum(m.h9), sum(m.h10), sum(m.h11), sum(m.h12), sum(m.h13), sum(m.h14)
          ]::bigint [] as h,
          coalesce(sum(
            m.h1 + m.h2 + m.h3 + m.h4 + m.h5 + m.h6 + m.h7 + m.h8 + m.h9 + m.h10 + m.h11
            + m.h12 + m.h13 + m.h14
          ), 0)::bigint as n
        from public.gateway_stats_minute as m
        where m.gateway_id = g.id and m.minute >= date_trunc('minute', now() - win)
      ) as w
      cross join lateral (
        select
          array[
            sum(m.h1), sum(m.h2), sum(m.h3), sum(m.h4), sum(m.h5), sum(m.h6), sum(m.h7),
            sum(m.h8), sum(m.h9), sum(m.h10), sum(m.h11), sum(m.h12), sum(m.h13), sum(m.h14)
          ]::bigint [] as h,
          coalesce(sum(
            m.h1 + m.h2 + m.h3 + m.h4 + m.h5 + m.h6 + m.h7 + m.h8 + m.h9 + m.h10 + m.h11
            + m.h12 + m.h13 + m.h14
          ), 0)::bigint as n
        from public.gateway_stats_minute as m
        where m.gateway_id = g.id and m.minute >= now() - interval '24 hours'
          and m.minute < date_trunc('minute', now() - win)
      ) as b
      where g.status <> 'archived';
    when 'queue_backlog', 'queue_stalled' then
      queues := coalesce(queues, private.queue_overview_for_jobs() -> 'data');
      return query
      select r.id, 'queue'::text, q ->> 'queue', null::uuid,
        case r.kind
          when 'queue_backlog' then format(
            'Queue %s: oldest pending job waited %s s (%s pending)',
            q ->> 'queue', round((q ->> 'oldest_pending_age_s')::numeric), q ->> 'pending'
          )
          else format('Queue %s is stalled (%s pending)', q ->> 'queue', q ->> 'pending')
        end,
        case r.kind
          when 'queue_backlog' then
            case when (q -> 'paused' ->> 'paused')::boolean then 0
              else (q ->> 'oldest_pending_age_s')::numeric end
          else (q ->> 'state' = 'stalled')::integer::numeric
        end,
        (q ->> 'pending')::bigint,
        jsonb_build_object(
          'queue', q ->> 'queue', 'state', q ->> 'state', 'pending', (q ->> 'pending')::bigint,
          'oldest_pending_age_s', (q ->> 'oldest_pending_age_s')::numeric,
          'has_live_worker', (q ->> 'has_live_worker')::boolean,
          'paused', (q -> 'paused' ->> 'paused')::boolean
        )
      from jsonb_array_elements(queues) as q;
    when 'dead_letter_growth' then
      return query
      select r.id, 'queue'::text, c.queue_name, null::uuid,
        format('Queue %s: %s jobs dead-lettered in %s min', c.queue_name, s.dead, r.window_s / 60),
        s.dead::numeric, s.finished,
        jsonb_build_object(
          'queue', c.queue_name, 'dead_lettered', s.dead, 'finished', s.finished,
          'window_s', r.window_s
        )
      from public.queue_controls as c
      cross join lateral (
        select coalesce(sum(m.dead_lettered), 0)::bigint as dead,
          coalesce(sum(m.completed + m.dead_lettered), 0)::bigint as finished
        from public.queue_stats_minute as m
        where m.queue_name = c.queue_name and m.minute >= date_trunc('minute', now() - win)
      ) as s;
    when 'webhook_endpoint_failing' then
      return query
      select r.id, 'webhook_endpoint'::text, e.id::text, e.merchant_id,
        case when x.auto_disabled
          then format('Webhook endpoint %s was disabled: %s', e.url, e.disabled_reason)
          else format(
            'Webhook endpoint %s has been failing for %s min', e.url,
            coalesce(round(extract(epoch from now() - e.failing_since) / 60), 0)
          )
        end,
        case
          when x.auto_disabled then greatest(
            round(extract(epoch from now() - coalesce(e.failing_since, e.disabled_at, now()))),
            r.threshold
          )
          when e.enabled and e.failing_since is not null
            then round(extract(epoch from now() - e.failing_since))
          else 0
        end::numeric,
        case when x.auto_disabled then greatest(f.n, r.min_volume) else f.n end,
        jsonb_build_object(
          'endpoint_id', e.id, 'url', e.url, 'enabled', e.enabled,
          'failing_since', e.failing_since, 'disabled_reason', e.disabled_reason,
          'failed_attempts', f.n, 'window_s', r.window_s
        )
      from public.webhook_endpoints as e
      cross join lateral (
        select not e.enabled
          and coalesce(e.disabled_reason, '') not in (
            'disabled by the merchant', 'removed from alert destinations'
          ) as auto_disabled
      ) as x
      cross join lateral (
        select count(*) as n
        from public.webhook_deliveries as d
        join public.webhook_attempts as a on a.delivery_id = d.id
        where d.endpoint_id = e.id and a.created_at > now() - win
          and not coalesce(a.status_code between 200 and 299, false)
      ) as f
      where (e.enabled and e.failing_since is not null)
        or x.auto_disabled
        or exists (
          select 1 from public.alerts as o
          where o.rule_id = r.id and o.state <> 'resolved' and o.subject_id = e.id::text
        );
    when 'provider_settlement_mismatch' then
      return query
      select r.id, 'gateway'::text, g.id::text, null::uuid,
        format(
          'Gateway %s (%s): %s of %s provider settlements in %s h did not match our payments',
          g.display_name, g.provider, s.bad, s.n, r.window_s / 3600
        ),
        s.bad::numeric, s.n,
        jsonb_build_object(
          'gateway_id', g.id, 'provider', g.provider, 'display_name', g.display_name,
          'mismatched', s.bad, 'settlements', s.n, 'unmatched_lines', s.lines,
          'latest_mismatched_id', s.latest, 'window_s', r.window_s
        )
      from public.gateways as g
      cross join lateral (
        select
          count(*) as n,
          count(*) filter (where p.status = 'mismatched') as bad,
          coalesce(sum(p.unmatched_count), 0) as lines,
          (array_agg(p.id order by p.created_at desc)
            filter (where p.status = 'mismatched'))[1] as latest
        from public.provider_settlements as p
        where p.gateway_id = g.id and p.created_at > now() - win
      ) as s
      where s.n > 0 or exists (
        select 1 from public.alerts as o
        where o.rule_id = r.id and o.state <> 'resolved' and o.subject_id = g.id::text
      );
    when 'rate_limit_breaches' then
      return query
      select r.id, 'api_key'::text, k.id::text, k.merchant_id,
        format(
          'API key %s…%s: %s requests refused by the rate limit in %s min',
          k.prefix, k.last4, b.n, r.window_s / 60
        ),
        b.n::numeric, greatest(u.n, b.n),
        jsonb_build_object(
          'api_key_id', k.id, 'display', k.prefix || '…' || k.last4, 'refused', b.n,
          'requests', greatest(u.n, b.n), 'window_s', r.window_s
        )
      from public.api_keys as k
      cross join lateral (
        select coalesce(sum(x.breaches), 0)::bigint as n
        from private.rate_limit_breaches as x
        where x.bucket = 'key:' || k.id and x.minute >= date_trunc('minute', now() - win)
      ) as b
      cross join lateral (
        select coalesce(sum(x.requests), 0)::bigint as n
        from public.api_usage_minute as x
        where x.merchant_id = k.merchant_id and x.api_key_id = k.id
          and x.minute >= date_trunc('minute', now() - win)
      ) as u
      where k.id in (
        select substr(x.bucket, 5)::uuid from private.rate_limit_breaches as x
        where x.bucket like 'key:%' and x.minute >= date_trunc('minute', now() - win)
        union
        select o.subject_id::uuid from public.alerts as o
        where o.rule_id = r.id and o.state <> 'resolved'
      );
    when 'payment_failure_spike' then
      return query
      select r.id, 'merchant'::text, m.id::text, m.id,
        format(
          'Merchant %s: %s of %s payments failed in %s min', m.name, s.failed, s.total,
          r.window_s / 60
        ),
        case when s.total > 0 then round(s.failed::numeric / s.total, 4) end,
        s.total,
        jsonb_build_object(
          'merchant_id', m.id, 'failed', s.failed, 'succeeded', s.total - s.failed,
          'window_s', r.window_s
        )
      from public.merchants as m
      cross join lateral (
        select count(*) filter (where p.status = 'failed') as failed,
          count(*) filter (
            where p.status in ('failed', 'succeeded', 'partially_refunded', 'refunded')
          ) as total
        from public.payments as p
        where p.merchant_id = m.id and p.created_at >= now() - win
      ) as s
      where m.id in (
        select p.merchant_id from public.payments as p where p.created_at >= now() - win
        union
        select o.merchant_id from public.alerts as o
        where o.rule_id = r.id and o.state <> 'resolved'
      );
    end case;
  end loop;
end
$$;
comment on function private.alert_conditions(text[]) is
$$Every enabled rule's (of p_kinds, or all) current value and volume per subject, with a title
and details; private.evaluate_alerts turns them into alert transitions.$$;

create function private.evaluate_alerts(p_kinds text[] default null) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  c record;
  r public.alert_rules;
  a public.alerts;
  fp text;
  seen text[] := '{}';
  holds boolean;
  fired integer := 0;
  resolved integer := 0;
  open_count integer := 0;
begin
  -- One evaluation at a time (the minute job and a gateway's health change).
  perform pg_advisory_xact_lock(hashtextextended('lsp.alerts', 0));
  for c in select * from private.alert_conditions(p_kinds) loop
    select * into r from public.alert_rules as x where x.id = c.rule_id;
    fp := c.rule_id || ':' || c.subject_type || ':' || c.subject_id;
    seen := seen || fp;
    holds := c.value is not null and c.value >= r.threshold and c.volume >= r.min_volume;
    select * into a from public.alerts as x
    where x.fingerprint = fp and x.state <> 'resolved' for update;
    if not found then
      if holds then
        insert into public.alerts (
          rule_id, kind, fingerprint, subject_type, subject_id, merchant_id, severity, title,
          value, threshold, details
        ) values (
          r.id, r.kind, fp, c.subject_type, c.subject_id, c.merchant_id, r.severity,
          left(c.title, 500), c.value, r.threshold, c.details
        );
        fired := fired + 1;
      end if;
    elsif c.value is not null and c.value < r.clear_threshold then
      update public.alerts as x set
        state = 'resolved', resolved_at = now(), resolution = 'cleared', value = c.value,
        details = c.details
      where x.id = a.id;
      resolved := resolved + 1;
    else
      -- Still open: one alert while the condition holds; nothing is published.
      open_count := open_count + 1;
      update public.alerts as x set
        value = coalesce(c.value, x.value), details = c.details,
        last_seen_at = case when holds then now() else x.last_seen_at end
      where x.id = a.id
        and (x.value is distinct from coalesce(c.value, x.value) or x.details <> c.details
          or holds);
    end if;
  end loop;
  -- Open alerts whose rule was disabled or whose subject is gone.
  with gone as (
    update public.alerts as x set
      state = 'resolved', resolved_at = now(),
      resolution = case when rr.enabled then 'subject_gone' else 'rule_disabled' end
    from public.alert_rules as rr
    where rr.id = x.rule_id and x.state <> 'resolved'
      and (p_kinds is null or x.kind = any(p_kinds))
      and not (x.fingerprint = any(seen))
    returning 1
  )

  select resolved + count(*) into resolved from gone;
  return jsonb_build_object('fired', fired, 'resolved', resolved, 'still_open', open_count);
end
$$;
comment on function private.evaluate_alerts(text[]) is
$$pg_cron every minute (all rules) and the gateway health trigger (gateway_down,
gateway_degraded): fires a new alert when a rule's value reaches its threshold with enough
volume and no alert for that fingerprint is open, resolves open ones whose value fell below
clear_threshold (or whose rule is disabled or subject gone), and otherwise only refreshes
value and last_seen_at. Returns {fired, resolved, still_open}.$$;

-- API: alerts ----------------------------------------------------------------------------------
create function private.list_alerts(
  p_merchant_id uuid, p_state text, p_from timestamptz, p_to timestamptz, p_cursor text,
  p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  c record := private.read_cursor(p_cursor);
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  if p_state is not null and p_state not in ('firing', 'acknowledged', 'resolved', 'open') then
    raise exception 'state must be firing, acknowledged, resolved or open' using errcode = '22023';
  end if;
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  select coalesce(jsonb_agg(private.alert_view(x) order by x.fired_at desc, x.id desc), '[]'),
    count(*), min(x.fired_at)
  into page, n, last_at
  from (
    select * from public.alerts as a
    where (p_merchant_id is null or a.merchant_id = p_merchant_id)
      and (p_state is null or a.state = p_state or (p_state = 'open' and a.state <> 'resolved'))
      and (p_from is null or a.fired_at >= p_from)
      and (p_to is null or a.fired_at < p_to)
      and (c.at is null or (a.fired_at, a.id::text) < (c.at, c.id))
    order by a.fired_at desc, a.id desc
    limit p_limit
  ) as x;
  if n = p_limit then
    select e ->> 'id' into last_id
    from jsonb_array_elements(page) with ordinality as t (e, i) order by t.i desc limit 1;
  end if;
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;
comment on function private.list_alerts(uuid, text, timestamptz, timestamptz, text, integer) is
$$A page of alerts (newest fired first) of one merchant or, with p_merchant_id null, all
(callers check who may ask); {data, next_cursor}.$$;

create function public.admin_list_alerts(
  p_state text default null, p_from timestamptz default null, p_to timestamptz default null,
  p_cursor text default null, p_limit integer default 50
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform private.require_admin();
  return private.list_alerts(null, p_state, p_from, p_to, p_cursor, p_limit);
end
$$;
comment on function public.admin_list_alerts(text, timestamptz, timestamptz, text, integer) is
$$Every alert, newest fired first, filtered by state (firing, acknowledged, resolved, or open =
not resolved) and fired_at range [from, to), keyset-paginated.
Who: platform admins and service_role; anyone else gets 42501.
Returns: {data: [alert], next_cursor}; limit 1..200 (default 50).
Errors: 42501 not an admin; 22023 bad state, range, limit or cursor.$$;

create function public.merchant_list_alerts(
  p_merchant_id uuid default null, p_state text default null, p_from timestamptz default null,
  p_to timestamptz default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$
  select private.list_alerts(
    private.require_merchant(p_merchant_id), p_state, p_from, p_to, p_cursor, p_limit
  )
$$;
comment on function public.merchant_list_alerts(
  uuid, text, timestamptz, timestamptz, text, integer
) is
$$A merchant's own alerts (its webhook endpoints failing, its API keys rate limited, its
payments failing), newest fired first, with the same filters as admin_list_alerts.
Who: the merchant's members (viewers included) and API keys (merchant_id optional for a
member of one merchant), admins naming the merchant.
Returns: {data: [alert], next_cursor}; limit 1..200 (default 50).
Errors: 22023 bad filter, limit or cursor, or merchant_id needed; 42501 not a member; P0002
unknown merchant (admins).$$;

create function private.acknowledge_alert(p_alert_id uuid, p_idempotency_key text)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  a public.alerts;
  request jsonb := jsonb_build_object('alert_id', p_alert_id);
  replay jsonb;
begin
  perform private.require_admin();
  replay := private.idempotency_replay('acknowledge_alert', p_idempotency_key, request);
  if replay is not null then
    return replay;
  end if;
  select * into a from public.alerts as x where x.id = p_alert_id for update;
  if not found then
    raise exception 'alert % does not exist', p_alert_id using errcode = 'P0002';
  end if;
  if a.state = 'resolved' then
    raise exception 'alert % is resolved already', p_alert_id using errcode = 'P0001';
  end if;
  if a.state = 'firing' then
    update public.alerts as x set
      state = 'acknowledged', acknowledged_at = now(), acknowledged_by = auth.uid()
    where x.id = a.id
    returning * into a;
  end if;
  return private.idempotency_store(
    'acknowledge_alert', p_idempotency_key, request, private.alert_view(a)
  );
end
$$;
comment on function private.acknowledge_alert(uuid, text) is
$$Admins: firing -> acknowledged (an acknowledged alert stays so); see
public.admin_acknowledge_alert.$$;

create function public.admin_acknowledge_alert(
  p_alert_id uuid, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.acknowledge_alert(p_alert_id, p_idempotency_key) $$;
comment on function public.admin_acknowledge_alert(uuid, text) is
$$Acknowledges a firing alert: someone is on it. It stays open (and deduplicated) until its
condition clears; acknowledging again changes nothing. Published as alert.acknowledged.
Who: platform admins and service_role; anyone else gets 42501.
Returns: the alert.
Errors: 42501 not an admin; P0002 unknown alert; P0001 the alert is resolved; PGRST 409/422
Idempotency-Key in use / reused with other parameters.$$;

-- API: rules -----------------------------------------------------------------------------------
create function private.alert_rule_view(r public.alert_rules) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id, 'kind', r.kind, 'description', r.description, 'severity', r.severity,
    'enabled', r.enabled, 'threshold', r.threshold, 'clear_threshold', r.clear_threshold,
    'min_volume', r.min_volume, 'window_s', r.window_s, 'updated_at', r.updated_at,
    'updated_by', r.updated_by
  )
$$;
comment on function private.alert_rule_view(public.alert_rules) is
$$An alert rule as the API shows it.$$;

create function private.alert_rules_json() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object('data', coalesce(
    jsonb_agg(private.alert_rule_view(r) order by r.id), '[]'::jsonb
  ), 'next_cursor', null)
  from public.alert_rules as r
$$;
comment on function private.alert_rules_json() is
$$Every alert rule as {data: [rule], next_cursor: null}; callers check the role.$$;

create function public.admin_list_alert_rules() returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform private.require_admin();
  return private.alert_rules_json();
end
$$;
comment on function public.admin_list_alert_rules() is
$$The product alert rules: kind, severity, enabled, threshold and clear_threshold (the kind's
unit, see alert_rules.kind), min_volume, window_s.
Who: platform admins and service_role; anyone else gets 42501.
Returns: {data: [rule], next_cursor: null}.
Errors: 42501 not an admin.$$;

create function private.update_alert_rules(p_rules jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  item jsonb;
  r public.alert_rules;
  was public.alert_rules;
  b record;
  k text;
  seen text[] := '{}';
begin
  perform private.require_admin();
  if p_rules is null or jsonb_typeof(p_rules) <> 'array' or jsonb_array_length(p_rules) = 0 then
    raise exception 'send rules as a non-empty list' using errcode = '22023';
  end if;
  for item in select * from jsonb_array_elements(p_rules) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'id') <> 'string' then
      raise exception 'each rule needs its id' using errcode = '22023';
    end if;
    if item ->> 'id' = any(seen) then
      raise exception 'rule % is listed twice', item ->> 'id' using errcode = '22023';
    end if;
    seen := seen || (item ->> 'id');
    select * into r from public.alert_rules as x where x.id = item ->> 'id' for update;
    if not found then
      raise exception 'alert rule % does not exist', item ->> 'id' using errcode = 'P0002';
    end if;
    was := r;
    for k in select jsonb_object_keys(item) loop
      continue when k = 'id' or jsonb_typeof(item -> k) = 'null'; -- null: unchanged
      case k
        when 'enabled' then
          if jsonb_typeof(item -> k) <> 'boolean' then
            raise exception 'enabled must be true or false' using errcode = '22023';
          end if;
          r.enabled := (item ->> k)::boolean;
        when 'severity' then
          if (item ->> k) not in ('critical', 'warning', 'info') then
            raise exception 'severity must be critical, warning or info' using errcode = '22023';
          end if;
          r.severity := item ->> k;
        when 'threshold', 'clear_threshold' then
          if jsonb_typeof(item -> k) <> 'number' then
            raise exception '% must be a number', k using errcode = '22023';
          end if;
          if k = 'threshold' then
            r.threshold := (item ->> k)::numeric;
          else
            r.clear_threshold := (item ->> k)::numeric;
          end if;
        when 'min_volume' then
          if jsonb_typeof(item -> k) <> 'number' or (item ->> k) !~ '^[0-9]{1,7}$'
            or (item ->> k)::integer > 1000000 then
            raise exception 'min_volume must be a whole number from 0 to 1000000'
              using errcode = '22023';
          end if;
          r.min_volume := (item ->> k)::integer;
        when 'window_s' then
          if jsonb_typeof(item -> k) <> 'number' or (item ->> k) !~ '^[0-9]{1,5}$'
            or (item ->> k)::integer not between 60 and 86400 then
            raise exception 'window_s must be a whole number of seconds from 60 to 86400'
              using errcode = '22023';
          end if;
          r.window_s := (item ->> k)::integer;
        else
          raise exception 'unknown field % (id, enabled, severity, threshold, clear_threshold, min_volume, window_s)', k
            using errcode = '22023';
      end case;
    end loop;
    -- The table's checks hold the same bounds; these say which field and why, in words.
    b := private.alert_rule_bounds(r.kind);
    foreach k in array array['threshold', 'clear_threshold'] loop
      if not (case k when 'threshold' then r.threshold else r.clear_threshold end <@ b.bounds) then
        raise exception '% of rule % must be above % and at most % (kind %, unit: %)',
          k, r.id, lower(b.bounds), upper(b.bounds), r.kind, b.unit
          using errcode = '22023';
      end if;
    end loop;
    if r.clear_threshold > r.threshold then
      raise exception 'clear_threshold of rule % must be at most its threshold % (it resolves below clear_threshold)',
        r.id, r.threshold using errcode = '22023';
    end if;
    if (r.enabled, r.severity, r.threshold, r.clear_threshold, r.min_volume, r.window_s)
      is distinct from
      (was.enabled, was.severity, was.threshold, was.clear_threshold, was.min_volume, was.window_s)
    then
      update public.alert_rules as x set
        enabled = r.enabled, severity = r.severity, threshold = r.threshold,
        clear_threshold = r.clear_threshold, min_volume = r.min_volume, window_s = r.window_s,
        updated_by = auth.uid()
      where x.id = r.id;
    end if;
    if not r.enabled then
      update public.alerts as x set
        state = 'resolved', resolved_at = now(), resolution = 'rule_disabled'
      where x.rule_id = r.id and x.state <> 'resolved';
    end if;
  end loop;
  return private.alert_rules_json();
end
$$;
comment on function private.update_alert_rules(jsonb) is
$$Admins: applies the sent fields of each named rule; disabling one resolves its open alerts;
see public.admin_update_alert_rules.$$;

create function public.admin_update_alert_rules(p_rules jsonb) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.update_alert_rules(p_rules) $$;
comment on function public.admin_update_alert_rules(jsonb) is
$$Changes alert rules: a list of {id, and any of enabled, severity, threshold,
clear_threshold, min_volume, window_s}; fields not sent, or sent as null, keep their value.
threshold and clear_threshold are in the rule kind's unit and within its bounds
(private.alert_rule_bounds: levels (0, 2] for gateway_down and (0, 1] for gateway_degraded
and queue_stalled, fractions of failures (0, 1], the latency ratio (1, 100], seconds
(0, 604800], counts (0, 1000000]), clear_threshold <= threshold; min_volume 0..1000000;
window_s 60..86400. Disabling a rule resolves its open alerts (resolution rule_disabled). A
rule whose values do not change is not written (updated_at and updated_by stay).
Idempotent (the same body twice sets the same values).
Who: platform admins and service_role; anyone else gets 42501.
Returns: {data: [rule], next_cursor: null} (every rule).
Errors: 42501 not an admin; 22023 not a list, a rule listed twice, unknown field, wrong
type, a value outside its bounds (the message names the field and the bound), clear_threshold
above threshold, unknown severity; P0002 unknown rule.$$;

-- API: alert destinations -------------------------------------------------------------------------
create function private.alert_destinations_json(p_secrets jsonb default '{}'::jsonb) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object('data', coalesce(jsonb_agg(
    private.endpoint_view(e)
    || case when p_secrets ? e.id::text then jsonb_build_object(
      'secret', p_secrets ->> e.id::text, 'secret_shown_once', true
    ) else '{}'::jsonb end
    order by e.created_at, e.id
  ), '[]'::jsonb), 'next_cursor', null)
  from public.webhook_endpoints as e
  where e.merchant_id is null
    and coalesce(e.disabled_reason, '') <> 'removed from alert destinations'
$$;
comment on function private.alert_destinations_json(jsonb) is
$$The operator alert destinations as {data: [endpoint], next_cursor: null}, with the signing secret of those in
p_secrets (just created); callers check the role.$$;

create function public.admin_list_alert_destinations() returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  perform private.require_admin();
  return private.alert_destinations_json();
end
$$;
comment on function public.admin_list_alert_destinations() is
$$The operators' alert destinations: URLs that receive every alert transition (alert.firing,
alert.acknowledged, alert.resolved) as signed webhooks (Standard Webhooks, each with its own
secret), with last delivery and 24 h success rate.
Who: platform admins and service_role; anyone else gets 42501.
Returns: {data: [endpoint], next_cursor: null}.
Errors: 42501 not an admin.$$;

-- A scheme is case-insensitive (RFC 3986 section 3.1: "HTTPS://" is "https://"); it used to
-- be refused as "not an absolute http(s) URL". Now accepted and stored in lower case, for
-- merchant endpoints and alert destinations alike.
create or replace function private.check_webhook_url(p_url text) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  allow_http boolean := coalesce(current_setting('app.webhooks_allow_http', true), '') = 'on';
  v_url text;
begin
  if p_url is null or p_url !~* '^https?://[^/\s?#@]+(/[^\s]*)?$' or char_length(p_url) > 2000 then
    raise exception 'url must be an absolute http(s) URL without credentials'
      using errcode = '22023';
  end if;
  v_url := lower(split_part(p_url, ':', 1)) || substr(p_url, strpos(p_url, ':'));
  if v_url !~ '^https://' and not allow_http then
    raise exception 'webhook URLs must use https' using errcode = '22023';
  end if;
  return v_url;
end
$$;
comment on function private.check_webhook_url(text) is
$$The webhook URL as stored (scheme in lower case), or 22023: an absolute http(s) URL without
credentials, at most 2000 characters, https unless app.webhooks_allow_http is on
(development); callers check the role.$$;

create function private.put_alert_destinations(p_destinations jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  item jsonb;
  e public.webhook_endpoints;
  s record;
  k text;
  v_url text;
  urls text[] := '{}';
  secrets jsonb := '{}'::jsonb;
  is_new boolean;
begin
  perform private.require_admin();
  if p_destinations = '{}'::jsonb then
    p_destinations := '[]'; -- an empty list that travelled as an empty Postgres array
  end if;
  if p_destinations is null or jsonb_typeof(p_destinations) <> 'array' then
    raise exception 'send destinations as a list' using errcode = '22023';
  end if;
  if jsonb_array_length(p_destinations) > 20 then
    raise exception 'at most 20 alert destinations' using errcode = '22023';
  end if;
  for item in select * from jsonb_array_elements(p_destinations) loop
    if jsonb_typeof(item) <> 'object' or jsonb_typeof(item -> 'url') <> 'string' then
      raise exception 'each destination needs a url' using errcode = '22023';
    end if;
    for k in select jsonb_object_keys(item) loop
      if k not in ('url', 'description', 'enabled') then
        raise exception 'unknown field % (url, description, enabled)', k using errcode = '22023';
      end if;
    end loop;
    if item ? 'enabled' and jsonb_typeof(item -> 'enabled') not in ('boolean', 'null') then
      raise exception 'enabled must be true or false' using errcode = '22023';
    end if;
    v_url := private.check_webhook_url(item ->> 'url');
    if v_url = any(urls) then
      raise exception 'destination % is listed twice', v_url using errcode = '22023';
    end if;
    urls := urls || v_url;
    select * into e from public.webhook_endpoints as x
    where x.merchant_id is null and x.url = v_url
    order by x.created_at limit 1 for update;
    is_new := not found;
    if not is_new and e.disabled_reason = 'removed from alert destinations' then
      -- Re-added after removal: a new secret (shown once, below); the old ones are gone.
      select * into s from private.new_webhook_secret(e.id);
      delete from vault.secrets as v where v.id in (e.secret_id, e.previous_secret_id);
      update public.webhook_endpoints as x set
        secret_id = s.id, previous_secret_id = null, previous_secret_expires_at = null
      where x.id = e.id;
      secrets := secrets || jsonb_build_object(e.id::text, s.secret);
    end if;
    if is_new then
      e.id := gen_random_uuid();
      select * into s from private.new_webhook_secret(e.id);
      insert into public.webhook_endpoints (
        id, merchant_id, url, description, event_types, secret_id, created_by, enabled,
        disabled_reason, disabled_at
      ) values (
        e.id, null, v_url, left(item ->> 'description', 500), '{alert.*}', s.id, auth.uid(),
        coalesce((item ->> 'enabled')::boolean, true),
        case when (item ->> 'enabled')::boolean is false then 'disabled by an operator' end,
        case when (item ->> 'enabled')::boolean is false then now() end
      );
      secrets := secrets || jsonb_build_object(e.id::text, s.secret);
    else
      update public.webhook_endpoints as x set
        description = case when item ? 'description' then left(item ->> 'description', 500)
          else x.description end,
        enabled = coalesce((item ->> 'enabled')::boolean, true),
        disabled_reason = case when coalesce((item ->> 'enabled')::boolean, true) then null
          else 'disabled by an operator' end,
        disabled_at = case when coalesce((item ->> 'enabled')::boolean, true) then null
          else coalesce(x.disabled_at, now()) end,
        failing_since = case when coalesce((item ->> 'enabled')::boolean, true)
          and not x.enabled then null else x.failing_since end
      where x.id = e.id;
    end if;
  end loop;
  update public.webhook_endpoints as x set
    enabled = false, disabled_reason = 'removed from alert destinations',
    disabled_at = now()
  where x.merchant_id is null and not (x.url = any(urls))
    and coalesce(x.disabled_reason, '') <> 'removed from alert destinations';
  return private.alert_destinations_json(secrets);
end
$$;
comment on function private.put_alert_destinations(jsonb) is
$$Admins: makes the operator alert destinations exactly the list sent (matched by url); see
public.admin_put_alert_destinations.$$;

create function public.admin_put_alert_destinations(p_destinations jsonb) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.put_alert_destinations(p_destinations) $$;
comment on function public.admin_put_alert_destinations(jsonb) is
$$Replaces the operators' alert destinations with the list sent: [{url, description, enabled}]
(at most 20; https, or http where the database allows it in development; enabled left out
or null: true). The API also refuses private, loopback and metadata addresses and names. A new url gets its
own Standard Webhooks signing secret (whsec_..., in Vault), shown in this answer only; a url
already listed keeps its secret; one left out stops receiving (kept for its delivery history); one sent again after its
removal gets a new secret, shown in that answer (the old one is deleted). A url's scheme is
stored in lower case. Idempotent by url: sending the same list again creates nothing. To
replace a secret, an admin calls POST /api/v1/merchant/webhooks/{id}/rotate-secret (the old
secret keeps signing alongside for 24 hours).
Who: platform admins and service_role; anyone else gets 42501.
Returns: {data: [endpoint (+ secret for new ones)], next_cursor: null}.
Errors: 42501 not an admin; 22023 not a list, unknown field, bad or repeated url, more than 20.$$;

-- API: notifications ---------------------------------------------------------------------------
create function private.notification_view(n public.notifications) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', n.id, 'object', 'notification', 'merchant_id', n.merchant_id, 'user_id', n.user_id,
    'kind', n.kind, 'title', n.title, 'details', n.details, 'read_at', n.read_at,
    'created_at', n.created_at
  )
$$;
comment on function private.notification_view(public.notifications) is
$$A notification as the API and live events show it.$$;

create function private.list_notifications(
  p_merchant_id uuid, p_unread boolean, p_cursor text, p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  c record := private.read_cursor(p_cursor);
  everyone boolean := private.is_admin();
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  select coalesce(jsonb_agg(private.notification_view(x) order by x.id desc), '[]'), count(*)
  into page, n
  from (
    select * from public.notifications as y
    where y.merchant_id = m
      and (everyone or y.user_id is null or y.user_id = auth.uid())
      and (not coalesce(p_unread, false) or y.read_at is null)
      and (c.id is null or y.id < c.id::bigint)
    order by y.id desc
    limit p_limit
  ) as x;
  if n = p_limit then
    select (e ->> 'created_at')::timestamptz, e ->> 'id' into last_at, last_id
    from jsonb_array_elements(page) with ordinality as t (e, i) order by t.i desc limit 1;
  end if;
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;
comment on function private.list_notifications(uuid, boolean, text, integer) is
$$A page of the caller's notifications of one merchant; see
public.merchant_list_notifications.$$;

create function public.merchant_list_notifications(
  p_merchant_id uuid default null, p_unread boolean default null, p_cursor text default null,
  p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_notifications(p_merchant_id, p_unread, p_cursor, p_limit) $$;
comment on function public.merchant_list_notifications(uuid, boolean, text, integer) is
$$The caller's notifications from one merchant (those addressed to them and to every member;
API keys see the latter; admins see all), newest first, optionally unread only,
keyset-paginated. New ones are also published live on merchant:<id>:notifications.
Who: the merchant's members (viewers included) and API keys (merchant_id optional for a
member of one merchant), admins naming the merchant.
Returns: {data: [notification], next_cursor}; limit 1..200 (default 50).
Errors: 22023 bad limit or cursor, or merchant_id needed; 42501 not a member; P0002 unknown
merchant (admins).$$;

create function private.mark_notification_read(p_notification_id bigint) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  n public.notifications;
begin
  select * into n from public.notifications as x where x.id = p_notification_id for update;
  -- Only its addressee (any member when user_id is null) reads it: a platform admin who is
  -- neither is told it does not exist, like anyone else.
  if not found or not (
    private.has_merchant_role(n.merchant_id) and (n.user_id is null or n.user_id = auth.uid())
  ) then
    raise exception 'notification % does not exist', p_notification_id using errcode = 'P0002';
  end if;
  if auth.uid() is null then
    raise exception 'only signed-in members mark notifications read' using errcode = '42501';
  end if;
  if n.read_at is null then
    update public.notifications as x set read_at = now() where x.id = n.id returning * into n;
  end if;
  return private.notification_view(n);
end
$$;
comment on function private.mark_notification_read(bigint) is
$$Members: sets read_at on a notification addressed to them (or to every member); see
public.merchant_mark_notification_read.$$;

create function public.merchant_mark_notification_read(p_notification_id bigint) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.mark_notification_read(p_notification_id) $$;
comment on function public.merchant_mark_notification_read(bigint) is
$$Marks a notification read (read_at = the first time). Idempotent: marking it again changes
nothing. A notification addressed to every member is read for all of them.
Who: the signed-in members of its merchant it is addressed to (every member when user_id
is null); API keys get 42501; anyone else, platform admins included, P0002.
Returns: the notification.
Errors: P0002 unknown, another merchant's or another member's notification (admins too);
42501 API key.$$;

-- Policies and grants ----------------------------------------------------------------------------
create policy alert_rules_admin_read on public.alert_rules
for select to authenticated
using ((select private.is_admin()));
create policy alerts_read on public.alerts
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));

revoke all on public.alert_rules, public.alerts from public, anon, authenticated;
grant select on public.alert_rules, public.alerts to authenticated;
grant select, insert, update, delete on public.alert_rules, public.alerts to service_role;

select cron.schedule('lsp-alert-rules', '* * * * *', 'select private.evaluate_alerts()');

revoke execute on function
private.emit_operator_event(text, jsonb), private.alert_view(public.alerts),
private.alert_events(), private.queue_overview_for_jobs(), private.alert_conditions(text[]),
private.evaluate_alerts(text[]),
private.list_alerts(uuid, text, timestamptz, timestamptz, text, integer),
public.admin_list_alerts(text, timestamptz, timestamptz, text, integer),
public.merchant_list_alerts(uuid, text, timestamptz, timestamptz, text, integer),
private.acknowledge_alert(uuid, text), public.admin_acknowledge_alert(uuid, text),
private.alert_rule_view(public.alert_rules), private.alert_rules_json(),
public.admin_list_alert_rules(), private.update_alert_rules(jsonb),
public.admin_update_alert_rules(jsonb), private.alert_destinations_json(jsonb),
public.admin_list_alert_destinations(), private.put_alert_destinations(jsonb),
public.admin_put_alert_destinations(jsonb), private.notification_view(public.notifications),
private.list_notifications(uuid, boolean, text, integer),
public.merchant_list_notifications(uuid, boolean, text, integer),
private.mark_notification_read(bigint), public.merchant_mark_notification_read(bigint)
from public, anon, authenticated;
grant execute on function
private.alert_view(public.alerts),
private.list_alerts(uuid, text, timestamptz, timestamptz, text, integer),
public.admin_list_alerts(text, timestamptz, timestamptz, text, integer),
public.merchant_list_alerts(uuid, text, timestamptz, timestamptz, text, integer),
private.acknowledge_alert(uuid, text), public.admin_acknowledge_alert(uuid, text),
private.alert_rule_view(public.alert_rules), private.alert_rules_json(),
public.admin_list_alert_rules(), private.update_alert_rules(jsonb),
public.admin_update_alert_rules(jsonb), private.alert_destinations_json(jsonb),
public.admin_list_alert_destinations(), private.put_alert_destinations(jsonb),
public.admin_put_alert_destinations(jsonb), private.notification_view(public.notifications),
private.list_notifications(uuid, boolean, text, integer),
public.merchant_list_notifications(uuid, boolean, text, integer),
private.mark_notification_read(bigint), public.merchant_mark_notification_read(bigint)
to authenticated, service_role;
grant execute on function
private.emit_operator_event(text, jsonb), private.queue_overview_for_jobs(),
private.alert_conditions(text[]), private.evaluate_alerts(text[])
to service_role;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
