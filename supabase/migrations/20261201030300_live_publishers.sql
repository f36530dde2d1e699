-- What is published live (all through private.publish):
--   payments   payment.created and payment.<status> on every status change, with the
--              payment's public snapshot (private.payment_view), on merchant:<id>:payments
--              and admin:payments; payment.failed also on merchant:<id>:alerts;
--   gateways   gateway.health_changed (from, to, probe and figures) on admin:gateways when a
--              gateway's health_state changes, which also re-evaluates the gateway health
--              alert rules at once; gateway.figures every minute (pg_cron): success rate,
--              p50/p95 latency and volume per gateway;
--   queues     queue.snapshot every few seconds while the platform is not idle (pg_cron;
--              depth by state, rates, oldest age, state), never one event per job, and
--              queue.dead_letters when a queue's dead-letter queue grew since the last
--              snapshot, on admin:queues;
--   notifications  notification.created on merchant:<id>:notifications.
-- Alerts publish themselves (20261201030200_product_alerts.sql).

insert into private.settings (key, value, description) values
(
  'live.queue_snapshot_interval_s', '5',
  'seconds between live queue snapshots (queue.snapshot on admin:queues)'
)
on conflict (key) do nothing;

-- Payments -----------------------------------------------------------------------------------
create function private.publish_payment_event() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  v_event text;
  v jsonb;
begin
  if tg_op = 'INSERT' then
    v_event := 'payment.created';
  elsif new.status is distinct from old.status then
    v_event := 'payment.' || new.status;
  else
    return null;
  end if;
  v := private.payment_view(new);
  -- Each merchant topic also per mode: API keys read their own mode's topic only.
  perform private.publish(
    array[
      'merchant:' || new.merchant_id || ':payments',
      'merchant:' || new.merchant_id || ':payments:' || new.mode,
      'admin:payments'
    ] || case when v_event = 'payment.failed' then
      array[
        'merchant:' || new.merchant_id || ':alerts',
        'merchant:' || new.merchant_id || ':alerts:' || new.mode
      ]
    else '{}'::text [] end,
    v_event, v
  );
  return null;
end
$$;
comment on function private.publish_payment_event() is
$$Trigger on payments: payment.created and payment.<status> live events with the payment's
snapshot (merchant:<id>:payments, merchant:<id>:payments:<mode>, admin:payments;
payment.failed also merchant:<id>:alerts and merchant:<id>:alerts:<mode>).$$;
create trigger payments_live after insert or update of status on public.payments
for each row execute function private.publish_payment_event();

-- Gateways -----------------------------------------------------------------------------------
create function private.gateway_live_figures(p_ids uuid[]) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', g.id, 'provider', g.provider, 'display_name', g.display_name,
    'environment', g.environment, 'status', g.status, 'health_state', g.health_state,
    'success_rate_1h', case when f.total_1h > 0
      then round(f.succeeded_1h::numeric / f.total_1h, 4) end,
    'success_rate_24h', case when f.total_24h > 0
      then round(f.succeeded_24h::numeric / f.total_24h, 4) end,
    'transactions_1h', coalesce(f.total_1h, 0), 'transactions_24h', coalesce(f.total_24h, 0),
    'p50_ms', f.p50_ms, 'p95_ms', f.p95_ms, 'volume_today', coalesce(f.reserved, 0)
  ) order by g.priority, g.id), '[]'::jsonb)
  from public.gateways as g
  join private.gateway_figures(p_ids) as f on f.gateway_id = g.id
$$;
comment on function private.gateway_live_figures(uuid[]) is
$$Live figures of the given gateways: success rate over 1 h and 24 h, transactions (attempts
decided), p50/p95 latency (ms) and today's volume (minor units, India day).$$;

create function private.publish_gateway_health() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform private.publish('admin:gateways', 'gateway.health_changed', jsonb_build_object(
    'gateway_id', new.id, 'provider', new.provider, 'display_name', new.display_name,
    'environment', new.environment, 'from', old.health_state, 'to', new.health_state,
    'changed_at', new.health_changed_at, 'consecutive_failures', new.consecutive_failures,
    'consecutive_successes', new.consecutive_successes, 'last_probe', new.last_probe,
    'figures', private.gateway_live_figures(array[new.id]) -> 0
  ));
  -- A gateway going down is an alert now, not at the next minute's evaluation.
  perform private.evaluate_alerts(array['gateway_down', 'gateway_degraded']);
  return null;
end
$$;
comment on function private.publish_gateway_health() is
$$Trigger on gateways' health_state changes: gateway.health_changed on admin:gateways, then
the gateway health alert rules are evaluated at once.$$;
create trigger gateways_live_health after update of health_state on public.gateways
for each row when (old.health_state is distinct from new.health_state)
execute function private.publish_gateway_health();

create function private.publish_gateway_figures() returns void
language plpgsql security definer
set search_path = ''
as $$
declare
  ids uuid[] := array(select g.id from public.gateways as g where g.status <> 'archived');
begin
  if cardinality(ids) > 0 then
    perform private.publish('admin:gateways', 'gateway.figures', jsonb_build_object(
      'gateways', private.gateway_live_figures(ids), 'at', now()
    ));
  end if;
end
$$;
comment on function private.publish_gateway_figures() is
$$pg_cron every minute: gateway.figures on admin:gateways with every non-archived gateway's
live figures.$$;

-- Queues --------------------------------------------------------------------------------------
create table private.live_queue_marks (
  queue_name text primary key,
  dead_letters bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table private.live_queue_marks enable row level security;
revoke all on private.live_queue_marks from public, anon, authenticated;
grant select on private.live_queue_marks to service_role;
comment on table private.live_queue_marks is
$$Each queue's dead-letter depth at the last live snapshot, so DLQ growth is published once as
queue.dead_letters. No client role reads or writes it.$$;
comment on column private.live_queue_marks.dead_letters is
$$Jobs in <queue>_dlq at the last snapshot.$$;

create function private.publish_queue_snapshot() returns void
language plpgsql security definer
set search_path = ''
as $$
declare
  overview jsonb := private.queue_overview_for_jobs();
  q jsonb;
  before bigint;
begin
  -- An idle platform (no job waiting, running or dead, none in the last hour) says nothing.
  if exists (
    select 1 from jsonb_array_elements(overview -> 'data') as x
    where (x ->> 'pending')::bigint + (x ->> 'delayed')::bigint + (x ->> 'processing')::bigint
      + (x ->> 'failed')::bigint > 0
      or (x -> 'rates' -> 'enqueued' ->> '1h')::bigint > 0
      or (x -> 'rates' -> 'completed' ->> '1h')::bigint > 0
      or (x -> 'rates' -> 'failed' ->> '1h')::bigint > 0
  ) then
    perform private.publish('admin:queues', 'queue.snapshot', jsonb_build_object(
      'queues', (
        select jsonb_agg(jsonb_build_object(
          'queue', x ->> 'queue', 'state', x ->> 'state', 'pending', x -> 'pending',
          'delayed', x -> 'delayed', 'processing', x -> 'processing', 'failed', x -> 'failed',
          'oldest_pending_age_s', x -> 'oldest_pending_age_s', 'rates', x -> 'rates',
          'paused', x -> 'paused' -> 'paused', 'has_live_worker', x -> 'has_live_worker'
        ))
        from jsonb_array_elements(overview -> 'data') as x
      ),
      'at', overview -> 'generated_at'
    ));
  end if;
  for q in select * from jsonb_array_elements(overview -> 'data') loop
    select m.dead_letters into before from private.live_queue_marks as m
    where m.queue_name = q ->> 'queue';
    if (q ->> 'failed')::bigint > coalesce(before, 0) then
      perform private.publish('admin:queues', 'queue.dead_letters', jsonb_build_object(
        'queue', q ->> 'queue', 'added', (q ->> 'failed')::bigint - coalesce(before, 0),
        'dead_letters', (q ->> 'failed')::bigint,
        'latest', coalesce((
          select jsonb_agg(jsonb_build_object(
            'job_id', j ->> 'job_id', 'origin', j ->> 'origin', 'failed_at', j -> 'failed_at',
            'attempts', j -> 'attempts', 'error_class', j -> 'last_error' ->> 'class',
            'error', left(j -> 'last_error' ->> 'message', 200)
          ))
          from jsonb_array_elements(q -> 'latest_failed') as j
        ), '[]'::jsonb)
      ));
    end if;
    if (q ->> 'failed')::bigint <> coalesce(before, 0) then
      insert into private.live_queue_marks as m (queue_name, dead_letters)
      values (q ->> 'queue', (q ->> 'failed')::bigint)
      on conflict (queue_name) do update
      set dead_letters = excluded.dead_letters, updated_at = now();
    end if;
  end loop;
end
$$;
comment on function private.publish_queue_snapshot() is
$$pg_cron every few seconds: queue.snapshot on admin:queues (every queue's depth by state,
rates, oldest pending age, state) unless the platform is idle (nothing waiting, running or
dead, no job in the last hour), and queue.dead_letters for each queue whose dead-letter
queue grew since the last snapshot.$$;

-- The clock of live events: numbering the outbox every second (the adapter does it every
-- 20-100 ms while it runs; this keeps Realtime broadcasts going without it) and a queue
-- snapshot every live.queue_snapshot_interval_s. pg_cron 1.5+ (hosted Supabase) schedules
-- in seconds; older pg_cron (Debian's 1.4 here) runs a procedure each minute that ticks
-- every second for the minute. Transaction control is not allowed in procedures with SET or
-- SECURITY DEFINER, hence the schema-qualified names and no search_path.
create procedure private.live_ticks_for_a_minute()
language plpgsql
as $$
declare
  every_s integer := greatest(
    coalesce((private.setting('live.queue_snapshot_interval_s'))::integer, 5), 1
  );
  started timestamptz := clock_timestamp();
  next_snapshot timestamptz := clock_timestamp();
begin
  loop
    if clock_timestamp() >= next_snapshot then
      perform private.publish_queue_snapshot();
      commit;
      next_snapshot := next_snapshot + make_interval(secs => every_s);
    end if;
    perform private.live_sequence();
    commit;
    exit when clock_timestamp() > started + interval '58 seconds';
    perform pg_catalog.pg_sleep(1);
    commit; -- the next tick's transaction (and its now()) starts after the sleep
  end loop;
end
$$;
comment on procedure private.live_ticks_for_a_minute is
$$pg_cron (before 1.5) each minute: for the minute, private.live_sequence every second and
private.publish_queue_snapshot every live.queue_snapshot_interval_s, committing each.$$;

do $$
begin
  if (
    select string_to_array(split_part(e.extversion, '-', 1), '.')::integer []
    from pg_extension as e where e.extname = 'pg_cron'
  ) >= array[1, 5] then
    perform cron.schedule('lsp-live-sequence', '1 seconds', 'select private.live_sequence()');
    perform cron.schedule(
      'lsp-live-queues',
      ((private.setting('live.queue_snapshot_interval_s'))::integer)::text || ' seconds',
      'select private.publish_queue_snapshot()'
    );
  else
    perform cron.schedule(
      'lsp-live-ticks', '* * * * *', 'call private.live_ticks_for_a_minute()'
    );
  end if;
end
$$;
select cron.schedule(
  'lsp-live-gateway-figures', '* * * * *', 'select private.publish_gateway_figures()'
);

-- Notifications ----------------------------------------------------------------------------------
create function private.publish_notification() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform private.publish(
    'merchant:' || new.merchant_id || ':notifications'
    || coalesce(':' || new.user_id::text, ''),
    'notification.created',
    private.notification_view(new)
  );
  return null;
end
$$;
comment on function private.publish_notification() is
$$Trigger on notifications: notification.created on merchant:<id>:notifications when it is
for every member (user_id null), else on merchant:<id>:notifications:<user_id>, which only
that user (and admins) may read.$$;
create trigger notifications_live after insert on public.notifications
for each row execute function private.publish_notification();

revoke execute on function
private.publish_payment_event(), private.gateway_live_figures(uuid[]),
private.publish_gateway_health(), private.publish_gateway_figures(),
private.publish_queue_snapshot(), private.publish_notification()
from public, anon, authenticated;
revoke execute on procedure private.live_ticks_for_a_minute()
from public, anon, authenticated;
grant execute on function
private.gateway_live_figures(uuid[]), private.publish_gateway_figures(),
private.publish_queue_snapshot()
to service_role;
grant execute on procedure private.live_ticks_for_a_minute() to service_role;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
