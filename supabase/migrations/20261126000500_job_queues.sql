-- Job queues on pgmq. pgmq is the transport (the q_/a_ tables and their functions); what
-- an operator needs around it lives here: per-queue controls (pause, concurrency, attempts,
-- visibility timeout, backoff, retention), per-attempt history, worker heartbeats,
-- per-minute counters, dead-letter lineage, and the admin RPCs over all of it.
--
-- Only functions hosted Supabase's pgmq 1.5.1 has are called: create, send, read, archive,
-- delete, set_vt (see tests/integration/test_pgmq_surface.py).
--
-- Job ids are stable strings '<queue>:<msg_id>', e.g. 'payment:42' or 'payment_dlq:7'.
-- Every message body is {"key": <job key>, "payload": <object>}: the key survives
-- redelivery and dead-letter retries, so handlers apply each job's effect once.

select pgmq.create(q.name)
from
  unnest(array[
    'payment', 'webhook', 'settlement', 'gateway_health',
    'payment_dlq', 'webhook_dlq', 'settlement_dlq', 'gateway_health_dlq'
  ]) as q (name)
where not exists (
  select 1 from pgmq.meta as m
  where m.queue_name = q.name
);

-- No client role touches pgmq directly; the worker (service_role) does.
revoke all on schema pgmq from public, anon, authenticated;
revoke all on all tables in schema pgmq from public, anon, authenticated;
revoke execute on all functions in schema pgmq from public, anon, authenticated;
grant usage on schema pgmq to service_role;
grant select, insert, update, delete on all tables in schema pgmq to service_role;
grant usage, select on all sequences in schema pgmq to service_role;
grant execute on all functions in schema pgmq to service_role;

-- Controls ------------------------------------------------------------------------------------
create table public.queue_controls (
  queue_name text primary key
  check (queue_name in ('payment', 'webhook', 'settlement', 'gateway_health')),
  paused boolean not null default false,
  paused_reason text check (char_length(paused_reason) <= 500),
  paused_by uuid references auth.users (id) on delete set null,
  paused_at timestamptz,
  concurrency integer not null default 10 check (concurrency between 1 and 500),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  visibility_timeout_s integer not null default 30 check (visibility_timeout_s between 1 and 43200),
  backoff_base_s numeric not null default 1 check (backoff_base_s > 0 and backoff_base_s <= 3600),
  backoff_max_s integer not null default 3600 check (backoff_max_s between 1 and 86400),
  retention_days integer not null default 7 check (retention_days between 1 and 365),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.queue_controls enable row level security;
insert into public.queue_controls (queue_name, concurrency, max_attempts, visibility_timeout_s)
values
('payment', 20, 5, 60),
('webhook', 50, 8, 30),
('settlement', 5, 5, 300),
('gateway_health', 10, 1, 30)
on conflict (queue_name) do nothing;

create trigger queue_controls_touch before update on public.queue_controls
for each row execute function private.touch_updated_at();
create trigger audit_queue_controls after insert or update or delete on public.queue_controls
for each row execute function audit.record_change('queue_name');

-- History and telemetry -------------------------------------------------------------------
create table public.job_attempts (
  id bigint generated always as identity primary key,
  queue_name text not null,
  msg_id bigint not null,
  attempt integer not null check (attempt >= 1),
  job_key text,
  worker_id text,
  started_at timestamptz,
  finished_at timestamptz not null default now(),
  outcome text not null check (outcome in ('succeeded', 'failed', 'timed_out', 'lost')),
  error_class text,
  error_message text check (char_length(error_message) <= 2000),
  traceback text check (char_length(traceback) <= 4000),
  duration_ms integer check (duration_ms >= 0),
  created_at timestamptz not null default now()
);
alter table public.job_attempts enable row level security;
create index job_attempts_job_idx on public.job_attempts (queue_name, msg_id, attempt);
-- BRIN: retention scans by age; a btree would cost every insert more than it saves.
create index job_attempts_created_idx on public.job_attempts using brin (created_at);

create table public.worker_heartbeats (
  worker_id text primary key,
  hostname text not null,
  pid integer not null,
  queues text[] not null,
  started_at timestamptz not null,
  last_seen_at timestamptz not null default now(),
  stopped_at timestamptz,
  in_flight integer not null default 0,
  in_flight_jobs text[] not null default '{}',
  processed bigint not null default 0,
  failed bigint not null default 0,
  created_at timestamptz not null default now()
);
alter table public.worker_heartbeats enable row level security;

create table public.queue_stats_minute (
  queue_name text not null,
  minute timestamptz not null,
  enqueued integer not null default 0,
  completed integer not null default 0,
  failed integer not null default 0,
  retried integer not null default 0,
  dead_lettered integer not null default 0,
  created_at timestamptz not null default now(),
  primary key (queue_name, minute)
);
alter table public.queue_stats_minute enable row level security;

-- How jobs moved between queues: dead_lettered (job -> its DLQ copy), retried (DLQ copy ->
-- new job). One retry per dead letter: a second retry of the same job is a no-op.
create table public.job_lineage (
  id bigint generated always as identity primary key,
  from_job text not null,
  to_job text not null,
  kind text not null check (kind in ('dead_lettered', 'retried')),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  constraint job_lineage_once unique (from_job, kind)
);
alter table public.job_lineage enable row level security;
create index job_lineage_to_idx on public.job_lineage (to_job);

create policy queue_controls_admin_read on public.queue_controls
for select to authenticated using ((select private.is_admin()));
create policy job_attempts_admin_read on public.job_attempts
for select to authenticated using ((select private.is_admin()));
create policy worker_heartbeats_admin_read on public.worker_heartbeats
for select to authenticated using ((select private.is_admin()));
create policy queue_stats_minute_admin_read on public.queue_stats_minute
for select to authenticated using ((select private.is_admin()));
create policy job_lineage_admin_read on public.job_lineage
for select to authenticated using ((select private.is_admin()));

revoke all on public.queue_controls, public.job_attempts, public.worker_heartbeats,
public.queue_stats_minute, public.job_lineage from public, anon, authenticated;
revoke all on all sequences in schema public from anon, authenticated;
grant select on public.queue_controls, public.job_attempts, public.worker_heartbeats,
public.queue_stats_minute, public.job_lineage to authenticated;
grant select, insert, update, delete on public.queue_controls, public.job_attempts,
public.worker_heartbeats, public.queue_stats_minute, public.job_lineage to service_role;

-- Audit entries for admin actions that are not a row change of a business table.
alter table audit.log drop constraint log_action_check;
alter table audit.log add constraint log_action_check
check (action in ('insert', 'update', 'delete') or action ~ '^[a-z_]+\.[a-z_]+$');

create function private.audit_action(
  p_action text, p_target_table text, p_target_id text, p_details jsonb
) returns void
language sql volatile security definer
set search_path = ''
as $$
  insert into audit.log (
    actor_id, actor_role, action, table_schema, table_name, row_id, new_values, request_id
  ) values (
    auth.uid(),
    coalesce(auth.role(), nullif(current_setting('role', true), 'none'), session_user),
    p_action, 'pgmq', p_target_table, p_target_id, private.redact(p_details),
    left(nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id', 128)
  )
$$;

-- Helpers -----------------------------------------------------------------------------------
create function private.check_queue(p_queue text) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if p_queue is null or not exists (
    select 1 from public.queue_controls as c where c.queue_name = p_queue
  ) then
    raise exception 'unknown queue %: use one of payment, webhook, settlement, gateway_health',
      coalesce(p_queue, 'null') using errcode = '22023';
  end if;
  return p_queue;
end
$$;

-- 'payment:42' -> ('payment', 42); the queue part may name a dead-letter queue.
create function private.parse_job_id(p_job_id text, out queue_name text, out msg_id bigint)
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_job_id is null
    or p_job_id !~ '^(payment|webhook|settlement|gateway_health)(_dlq)?:[0-9]{1,18}$' then
    raise exception 'job id % is not valid: expected <queue>:<message id>, e.g. payment:42',
      coalesce(p_job_id, 'null') using errcode = '22023';
  end if;
  queue_name := split_part(p_job_id, ':', 1);
  msg_id := split_part(p_job_id, ':', 2)::bigint;
end
$$;

create function private.bump_queue_stats(
  p_queue text, p_enqueued integer default 0, p_completed integer default 0,
  p_failed integer default 0, p_retried integer default 0, p_dead integer default 0
) returns void
language sql volatile
set search_path = ''
as $$
  insert into public.queue_stats_minute as s (
    queue_name, minute, enqueued, completed, failed, retried, dead_lettered
  ) values (
    p_queue, date_trunc('minute', now()), p_enqueued, p_completed, p_failed, p_retried, p_dead
  )
  on conflict (queue_name, minute) do update set
    enqueued = s.enqueued + excluded.enqueued,
    completed = s.completed + excluded.completed,
    failed = s.failed + excluded.failed,
    retried = s.retried + excluded.retried,
    dead_lettered = s.dead_lettered + excluded.dead_lettered
$$;

-- Enqueue: the one path every producer uses. Wakes idle workers with NOTIFY so start
-- latency is not bound by their poll interval.
create function private.enqueue(
  p_queue text, p_payload jsonb, p_delay_seconds integer default 0, p_job_key text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_key text := coalesce(p_job_key, gen_random_uuid()::text);
  v_msg_id bigint;
begin
  perform private.check_queue(p_queue);
  if p_payload is null or jsonb_typeof(p_payload) <> 'object' then
    raise exception 'payload must be a JSON object' using errcode = '22023';
  end if;
  if p_delay_seconds is null or p_delay_seconds not between 0 and 604800 then
    raise exception 'delay must be between 0 and 604800 seconds' using errcode = '22023';
  end if;
  if char_length(v_key) not between 1 and 200 then
    raise exception 'job key must be 1 to 200 characters' using errcode = '22023';
  end if;
  v_msg_id := pgmq.send(
    p_queue, jsonb_build_object('key', v_key, 'payload', p_payload), p_delay_seconds
  );
  perform private.bump_queue_stats(p_queue, p_enqueued => 1);
  perform pg_notify('lsp_jobs', p_queue);
  return jsonb_build_object('job_id', p_queue || ':' || v_msg_id, 'key', v_key);
end
$$;

create function private.enqueue_job(
  p_queue text, p_payload jsonb, p_delay_seconds integer, p_job_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return private.enqueue(p_queue, p_payload, coalesce(p_delay_seconds, 0), p_job_key);
end
$$;

-- Worker-side functions (service_role only) ---------------------------------------------------
-- Success for a batch: archive, record attempts, count. Parallel arrays keep the call cheap.
create function private.worker_complete(
  p_queue text, p_msg_ids bigint[], p_attempts integer[], p_started_at float8[],
  p_durations_ms integer[], p_worker_id text
) returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  n integer;
begin
  -- archive() skips ids that are already gone, so a re-sent batch is harmless.
  select count(*)::integer into n from pgmq.archive(p_queue, p_msg_ids) as archived;
  insert into public.job_attempts (
    queue_name, msg_id, attempt, worker_id, started_at, finished_at, outcome, duration_ms
  )
  select
    p_queue, d.msg_id, d.attempt, p_worker_id, to_timestamp(d.started_at),
    to_timestamp(d.started_at) + make_interval(secs => d.duration_ms / 1000.0), 'succeeded',
    d.duration_ms
  from unnest(p_msg_ids, p_attempts, p_started_at, p_durations_ms)
    as d (msg_id, attempt, started_at, duration_ms);
  perform private.bump_queue_stats(p_queue, p_completed => n);
  return n;
end
$$;

-- A failed attempt: retry in place after p_retry_in_s, or, past max attempts, move to the
-- dead-letter queue with the last error and archive the original, in one transaction.
create function private.worker_fail(
  p_queue text, p_msg_id bigint, p_attempt jsonb, p_retry_in_s integer, p_dead_letter boolean
) returns text
language plpgsql volatile
set search_path = ''
as $$
declare
  msg jsonb;
  dlq_id bigint;
begin
  insert into public.job_attempts (
    queue_name, msg_id, attempt, job_key, worker_id, started_at, finished_at, outcome,
    error_class, error_message, traceback, duration_ms
  ) values (
    p_queue, p_msg_id, (p_attempt ->> 'attempt')::integer, p_attempt ->> 'key',
    p_attempt ->> 'worker_id', to_timestamp((p_attempt ->> 'started_at')::float8),
    to_timestamp((p_attempt ->> 'finished_at')::float8), coalesce(p_attempt ->> 'outcome', 'failed'),
    left(p_attempt ->> 'error_class', 200), left(p_attempt ->> 'error_message', 2000),
    left(p_attempt ->> 'traceback', 4000), (p_attempt ->> 'duration_ms')::integer
  );
  if not p_dead_letter then
    perform pgmq.set_vt(p_queue, p_msg_id, greatest(p_retry_in_s, 0));
    perform private.bump_queue_stats(p_queue, p_failed => 1, p_retried => 1);
    return 'retrying';
  end if;
  execute format('select message from pgmq.%I where msg_id = $1', 'q_' || p_queue)
  into msg using p_msg_id;
  if msg is null then
    return 'gone';
  end if;
  dlq_id := pgmq.send(
    p_queue || '_dlq',
    msg || jsonb_build_object(
      'origin', p_queue || ':' || p_msg_id,
      'attempts', (p_attempt ->> 'attempt')::integer,
      'last_error', jsonb_build_object(
        'class', p_attempt ->> 'error_class',
        'message', left(p_attempt ->> 'error_message', 2000),
        'at', to_timestamp((p_attempt ->> 'finished_at')::float8)
      )
    ),
    0
  );
  perform pgmq.archive(p_queue, p_msg_id);
  insert into public.job_lineage (from_job, to_job, kind)
  values (p_queue || ':' || p_msg_id, p_queue || '_dlq:' || dlq_id, 'dead_lettered')
  on conflict (from_job, kind) do nothing;
  perform private.bump_queue_stats(p_queue, p_failed => 1, p_dead => 1);
  return p_queue || '_dlq:' || dlq_id;
end
$$;

-- A redelivered message whose previous attempt left no record: the worker died or its
-- visibility timeout ran out. Recorded so the history has no silent gaps.
create function private.worker_note_lost(p_queue text, p_msg_id bigint, p_attempt integer)
returns void
language sql volatile
set search_path = ''
as $$
  insert into public.job_attempts (queue_name, msg_id, attempt, outcome, error_class, error_message)
  select p_queue, p_msg_id, p_attempt, 'lost', 'WorkerLost',
    'no outcome was recorded: the worker stopped or the visibility timeout ran out'
  where not exists (
    select 1 from public.job_attempts as a
    where a.queue_name = p_queue and a.msg_id = p_msg_id and a.attempt = p_attempt
  )
$$;

create function private.worker_release(p_queue text, p_msg_ids bigint[]) returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  i bigint;
  n integer := 0;
begin
  foreach i in array coalesce(p_msg_ids, '{}'::bigint[]) loop
    perform pgmq.set_vt(p_queue, i, 0);
    n := n + 1;
  end loop;
  return n;
end
$$;

create function private.worker_heartbeat(
  p_worker_id text, p_hostname text, p_pid integer, p_queues text[], p_started_at timestamptz,
  p_in_flight_jobs text[], p_processed bigint, p_failed bigint, p_stopped boolean default false
) returns void
language sql volatile
set search_path = ''
as $$
  insert into public.worker_heartbeats as h (
    worker_id, hostname, pid, queues, started_at, last_seen_at, stopped_at, in_flight,
    in_flight_jobs, processed, failed
  ) values (
    p_worker_id, p_hostname, p_pid, p_queues, p_started_at, now(),
    case when p_stopped then now() end, cardinality(p_in_flight_jobs), p_in_flight_jobs,
    p_processed, p_failed
  )
  on conflict (worker_id) do update set
    last_seen_at = now(),
    stopped_at = excluded.stopped_at,
    queues = excluded.queues,
    in_flight = excluded.in_flight,
    in_flight_jobs = excluded.in_flight_jobs,
    processed = excluded.processed,
    failed = excluded.failed
$$;

-- Admin RPC bodies --------------------------------------------------------------------------
-- Queue states (documented thresholds):
--   paused     : an operator paused it;
--   stalled    : work is waiting (oldest pending > 60 s) and nothing finished in 2 minutes,
--                or no live worker consumes the queue while work is pending;
--   backlogged : oldest pending job older than 30 s, or more than 1,000 pending;
--   healthy    : otherwise.
create function private.queue_overview() returns jsonb
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
  return jsonb_build_object('queues', result, 'generated_at', now());
end
$$;

create function private.dlq_msg_ids(p_queue text, p_limit integer) returns setof bigint
language plpgsql stable
set search_path = ''
as $$
begin
  if p_queue is not null then
    return query execute format(
      'select msg_id from pgmq.%I order by msg_id limit $1', 'q_' || p_queue || '_dlq'
    ) using p_limit;
  end if;
end
$$;

-- Move dead letters back to their queue, keeping the payload and recording lineage.
create function private.retry_jobs(
  p_queue text, p_job_ids text[], p_limit integer, p_delay_seconds integer
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  job record;
  msg jsonb;
  new_id bigint;
  origin_queue text;
  retried jsonb := '[]'::jsonb;
  skipped integer := 0;
  missing integer := 0;
begin
  perform private.require_admin();
  if p_delay_seconds is null or p_delay_seconds not between 0 and 86400 then
    raise exception 'delay must be between 0 and 86400 seconds' using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception 'limit must be between 1 and 10000' using errcode = '22023';
  end if;
  if (p_queue is null) = (p_job_ids is null) then
    raise exception 'give either a queue (to retry its failed jobs) or job_ids, not both'
      using errcode = '22023';
  end if;
  if p_job_ids is not null and coalesce(cardinality(p_job_ids), 0) not between 1 and 1000 then
    raise exception 'job_ids must hold 1 to 1000 ids' using errcode = '22023';
  end if;
  if p_queue is not null then
    perform private.check_queue(p_queue);
  end if;
  if exists (
    select 1 from unnest(p_job_ids) as j (job_id)
    where (private.parse_job_id(j.job_id)).queue_name !~ '_dlq$'
  ) then
    raise exception 'only dead letters can be retried: ids look like payment_dlq:7'
      using errcode = '22023';
  end if;

  for job in
    (
      select p.queue_name, p.msg_id
      from unnest(p_job_ids) as j (job_id)
      cross join lateral private.parse_job_id(j.job_id) as p
      union
      select p_queue || '_dlq', d.msg_id from private.dlq_msg_ids(p_queue, p_limit) as d (msg_id)
    )
    limit p_limit
  loop
    origin_queue := regexp_replace(job.queue_name, '_dlq$', '');
    if exists (
      select 1 from public.job_lineage as l
      where l.from_job = job.queue_name || ':' || job.msg_id and l.kind = 'retried'
    ) then
      skipped := skipped + 1;
      continue;
    end if;
    execute format(
      'select message from pgmq.%I where msg_id = $1 for update skip locked',
      'q_' || job.queue_name
    ) into msg using job.msg_id;
    if msg is null then
      missing := missing + 1;
      continue;
    end if;
    new_id := pgmq.send(
      origin_queue,
      jsonb_build_object('key', msg -> 'key', 'payload', msg -> 'payload'),
      p_delay_seconds
    );
    perform pgmq.archive(job.queue_name, job.msg_id);
    insert into public.job_lineage (from_job, to_job, kind, created_by)
    values (
      job.queue_name || ':' || job.msg_id, origin_queue || ':' || new_id, 'retried', auth.uid()
    );
    perform private.bump_queue_stats(origin_queue, p_enqueued => 1);
    retried := retried || jsonb_build_object(
      'from', job.queue_name || ':' || job.msg_id, 'to', origin_queue || ':' || new_id
    );
  end loop;
  perform pg_notify('lsp_jobs', coalesce(p_queue, 'all'));
  perform private.audit_action(
    'queue.retry', coalesce(p_queue, 'jobs'), null,
    jsonb_build_object(
      'jobs', retried, 'skipped', skipped, 'not_found', missing, 'delay_seconds', p_delay_seconds
    )
  );
  return jsonb_build_object(
    'retried', jsonb_array_length(retried), 'skipped', skipped, 'not_found', missing,
    'jobs', retried
  );
end
$$;

-- Clean finished work: completed = archived rows of the queue; failed = dead letters, which
-- are archived (still queryable) unless p_delete. At most p_limit rows, in batches of 500
-- so no queue table is locked for long.
create function private.clean_queue(
  p_queue text, p_state text, p_older_than_seconds integer, p_limit integer, p_delete boolean
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  batch bigint[];
  done integer := 0;
  n integer;
  tbl text;
begin
  perform private.require_admin();
  perform private.check_queue(p_queue);
  if p_state is null or p_state not in ('completed', 'failed') then
    raise exception 'state must be completed or failed' using errcode = '22023';
  end if;
  if p_older_than_seconds is null or p_older_than_seconds < 0 then
    raise exception 'older_than_seconds must be zero or more' using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 100000 then
    raise exception 'limit must be between 1 and 100000' using errcode = '22023';
  end if;
  tbl := case p_state when 'completed' then 'a_' || p_queue else 'q_' || p_queue || '_dlq' end;
  loop
    execute format(
      'select array_agg(msg_id) from (select msg_id from pgmq.%I where %I < now() - make_interval(secs => $1)
         order by msg_id limit $2) as x',
      tbl, case p_state when 'completed' then 'archived_at' else 'enqueued_at' end
    ) into batch using p_older_than_seconds, least(500, p_limit - done);
    exit when batch is null;
    if p_state = 'completed' then
      execute format('delete from pgmq.%I where msg_id = any($1)', tbl) using batch;
      get diagnostics n = row_count;
    elsif p_delete then
      select count(*)::integer into n from pgmq.delete(p_queue || '_dlq', batch) as d;
    else
      select count(*)::integer into n from pgmq.archive(p_queue || '_dlq', batch) as a;
    end if;
    done := done + n;
    exit when done >= p_limit or n = 0;
  end loop;
  perform private.audit_action(
    'queue.clean', p_queue, null,
    jsonb_build_object(
      'state', p_state, 'older_than_seconds', p_older_than_seconds, 'limit', p_limit,
      'deleted', p_delete or p_state = 'completed', 'count', done
    )
  );
  return jsonb_build_object(
    'queue', p_queue, 'state', p_state, 'cleaned', done,
    'action', case when p_delete or p_state = 'completed' then 'deleted' else 'archived' end
  );
end
$$;

-- Per-minute series for the last hour and the workers.
create function private.queue_stats() returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  return jsonb_build_object(
    'series', (
      select coalesce(jsonb_object_agg(c.queue_name, (
        select coalesce(jsonb_agg(jsonb_build_object(
          'minute', m.minute,
          'enqueued', coalesce(s.enqueued, 0), 'completed', coalesce(s.completed, 0),
          'failed', coalesce(s.failed, 0), 'retried', coalesce(s.retried, 0),
          'dead_lettered', coalesce(s.dead_lettered, 0)
        ) order by m.minute), '[]'::jsonb)
        from generate_series(
          date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()),
          interval '1 minute'
        ) as m (minute)
        left join public.queue_stats_minute as s
          on s.queue_name = c.queue_name and s.minute = m.minute
      )), '{}'::jsonb)
      from public.queue_controls as c
    ),
    'workers', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'worker_id', h.worker_id, 'hostname', h.hostname, 'pid', h.pid, 'queues', h.queues,
        'status', case
          when h.stopped_at is not null then 'stopped'
          when h.last_seen_at > now() - interval '15 seconds' then 'alive'
          else 'stale'
        end,
        'started_at', h.started_at, 'last_seen_at', h.last_seen_at, 'stopped_at', h.stopped_at,
        'in_flight', h.in_flight, 'in_flight_jobs', h.in_flight_jobs,
        'processed', h.processed, 'failed', h.failed
      ) order by h.last_seen_at desc), '[]'::jsonb)
      from public.worker_heartbeats as h
      where h.stopped_at is null or h.stopped_at > now() - interval '1 hour'
    ),
    'generated_at', now()
  );
end
$$;

create function private.pause_queue(p_queue text, p_paused boolean, p_reason text)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  changed jsonb;
begin
  perform private.require_admin();
  if p_queue is not null then
    perform private.check_queue(p_queue);
  end if;
  if p_paused is null then
    raise exception 'paused must be true or false' using errcode = '22023';
  end if;
  if p_paused and (p_reason is null or char_length(btrim(p_reason)) not between 1 and 500) then
    raise exception 'pausing needs a reason of 1 to 500 characters' using errcode = '22023';
  end if;
  with updated as (
    update public.queue_controls as c set
      paused = p_paused,
      paused_reason = case when p_paused then btrim(p_reason) end,
      paused_by = case when p_paused then auth.uid() end,
      paused_at = case when p_paused then now() end
    where (p_queue is null or c.queue_name = p_queue) and c.paused is distinct from p_paused
    returning c.queue_name
  )
  select coalesce(jsonb_agg(u.queue_name order by u.queue_name), '[]'::jsonb) into changed
  from updated as u;
  perform pg_notify('lsp_queue_controls', coalesce(p_queue, 'all'));
  return jsonb_build_object('paused', p_paused, 'queues', changed);
end
$$;

create function private.get_job(p_job_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  ref record;
  found_id bigint;
  read_ct integer;
  enqueued_at timestamptz;
  visible_at timestamptz;
  archived_at timestamptz;
  state text;
  msg jsonb;
begin
  perform private.require_admin();
  select * into ref from private.parse_job_id(p_job_id);
  execute format(
    'select msg_id, read_ct, enqueued_at, vt, message from pgmq.%I where msg_id = $1',
    'q_' || ref.queue_name
  ) into found_id, read_ct, enqueued_at, visible_at, msg using ref.msg_id;
  if found_id is not null then
    state := case
      when ref.queue_name ~ '_dlq$' then 'failed'
      when visible_at > now() and read_ct = 0 then 'delayed'
      when visible_at > now() and read_ct > 0 then 'processing'
      when read_ct > 0 then 'retrying'
      else 'pending'
    end;
  else
    visible_at := null;
    execute format(
      'select msg_id, read_ct, enqueued_at, archived_at, message from pgmq.%I where msg_id = $1',
      'a_' || ref.queue_name
    ) into found_id, read_ct, enqueued_at, archived_at, msg using ref.msg_id;
    if found_id is null then
      raise exception 'job % does not exist (or was cleaned)', p_job_id using errcode = 'P0002';
    end if;
    state := case
      when exists (select 1 from public.job_lineage as l
        where l.from_job = p_job_id and l.kind = 'dead_lettered') then 'dead_lettered'
      when exists (select 1 from public.job_lineage as l
        where l.from_job = p_job_id and l.kind = 'retried') then 'retried'
      when ref.queue_name ~ '_dlq$' then 'discarded'
      else 'completed'
    end;
  end if;
  return jsonb_build_object(
    'job_id', p_job_id,
    'queue', ref.queue_name,
    'state', state,
    'key', msg ->> 'key',
    'payload', private.redact(msg -> 'payload'),
    'last_error', msg -> 'last_error',
    'origin', msg ->> 'origin',
    'read_count', read_ct,
    'enqueued_at', enqueued_at,
    'visible_at', visible_at,
    'finished_at', archived_at,
    'attempts', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'attempt', a.attempt, 'outcome', a.outcome, 'worker_id', a.worker_id,
        'started_at', a.started_at, 'finished_at', a.finished_at, 'duration_ms', a.duration_ms,
        'error_class', a.error_class, 'error_message', a.error_message, 'traceback', a.traceback
      ) order by a.attempt, a.id), '[]'::jsonb)
      from public.job_attempts as a
      where a.queue_name = ref.queue_name and a.msg_id = ref.msg_id
    ),
    'lineage', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'from', l.from_job, 'to', l.to_job, 'kind', l.kind, 'at', l.created_at
      ) order by l.id), '[]'::jsonb)
      from public.job_lineage as l
      where l.from_job = p_job_id or l.to_job = p_job_id
    )
  );
end
$$;

-- Retention (pg_cron): archives and attempt history past each queue's retention, in
-- batches; counters after 7 days; stopped workers after a day.
create function private.queue_retention(p_batch integer default 5000) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  c public.queue_controls;
  q text;
  n integer;
  removed jsonb := '{}'::jsonb;
begin
  for c in select * from public.queue_controls loop
    foreach q in array array[c.queue_name, c.queue_name || '_dlq'] loop
      execute format(
        'delete from pgmq.%1$I where msg_id in (select msg_id from pgmq.%1$I
           where archived_at < now() - make_interval(days => $1) order by msg_id limit $2)',
        'a_' || q
      ) using c.retention_days, p_batch;
      get diagnostics n = row_count;
      removed := removed || jsonb_build_object(q, n);
    end loop;
    delete from public.job_attempts as a where a.id in (
      select x.id from public.job_attempts as x
      where x.queue_name = c.queue_name
        and x.created_at < now() - make_interval(days => c.retention_days)
      order by x.id limit p_batch
    );
  end loop;
  delete from public.queue_stats_minute as s where s.minute < now() - interval '7 days';
  delete from public.worker_heartbeats as h
  where coalesce(h.stopped_at, h.last_seen_at) < now() - interval '1 day';
  return removed;
end
$$;

select cron.schedule('lsp-queue-retention', '*/10 * * * *', 'select private.queue_retention()');

-- Public RPCs -------------------------------------------------------------------------------
create function public.enqueue_job(
  p_queue text, p_payload jsonb, p_delay_seconds integer default 0, p_job_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.enqueue_job(p_queue, p_payload, p_delay_seconds, p_job_key) $$;

create function public.admin_list_queues() returns jsonb
language sql stable
set search_path = ''
as $$ select private.queue_overview() $$;

create function public.admin_retry_jobs(
  p_queue text default null, p_job_ids text[] default null, p_limit integer default 100,
  p_delay_seconds integer default 0
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.retry_jobs(p_queue, p_job_ids, p_limit, p_delay_seconds) $$;

create function public.admin_clean_queue(
  p_queue text, p_state text, p_older_than_seconds integer default 3600,
  p_limit integer default 1000, p_delete boolean default false
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.clean_queue(p_queue, p_state, p_older_than_seconds, p_limit, p_delete) $$;

create function public.admin_queue_stats() returns jsonb
language sql stable
set search_path = ''
as $$ select private.queue_stats() $$;

create function public.admin_pause_queue(
  p_paused boolean, p_reason text default null, p_queue text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.pause_queue(p_queue, p_paused, p_reason) $$;

create function public.admin_get_job(p_job_id text) returns jsonb
language sql stable
set search_path = ''
as $$ select private.get_job(p_job_id) $$;

revoke execute on all functions in schema public from public, anon;
grant execute on function public.enqueue_job(text, jsonb, integer, text),
public.admin_list_queues(), public.admin_retry_jobs(text, text[], integer, integer),
public.admin_clean_queue(text, text, integer, integer, boolean), public.admin_queue_stats(),
public.admin_pause_queue(boolean, text, text), public.admin_get_job(text)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
grant execute on function private.enqueue_job(text, jsonb, integer, text),
private.queue_overview(), private.retry_jobs(text, text[], integer, integer),
private.clean_queue(text, text, integer, integer, boolean), private.queue_stats(),
private.pause_queue(text, boolean, text), private.get_job(text)
to authenticated, service_role;
grant execute on function private.enqueue(text, jsonb, integer, text),
private.worker_complete(text, bigint[], integer[], float8[], integer[], text),
private.worker_fail(text, bigint, jsonb, integer, boolean),
private.worker_note_lost(text, bigint, integer), private.worker_release(text, bigint[]),
private.worker_heartbeat(text, text, integer, text[], timestamptz, text[], bigint, bigint, boolean),
private.bump_queue_stats(text, integer, integer, integer, integer, integer),
private.check_queue(text), private.parse_job_id(text), private.queue_retention(integer)
to service_role;
