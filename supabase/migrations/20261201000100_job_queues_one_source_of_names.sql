-- Job queues: queue_controls is the one list of queue names. SQL reads it (check_queue,
-- parse_job_id), the worker and the API check theirs against it at start-up, and new queues
-- are made by private.create_queue (the row and both pgmq queues in one step). NOTIFY channel
-- names come from private.channel(), which the worker reads instead of spelling them.

alter table public.queue_controls drop constraint queue_controls_queue_name_check;
alter table public.queue_controls add constraint queue_controls_queue_name_check
check (queue_name ~ '^[a-z][a-z0-9_]{0,40}$' and queue_name !~ '_dlq$');

-- No SET clause: an immutable SQL function the planner inlines into each pg_notify call.
create function private.channel(p_kind text) returns text
language sql immutable
as $$
  select case p_kind
    when 'jobs' then 'lsp_jobs'
    when 'queue_controls' then 'lsp_queue_controls'
  end
$$;

create or replace function private.check_queue(p_queue text) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if p_queue is null or not exists (
    select 1 from public.queue_controls as c where c.queue_name = p_queue
  ) then
    raise exception 'unknown queue %: use one of %', coalesce(p_queue, 'null'), (
      select string_agg(c.queue_name, ', ' order by c.queue_name) from public.queue_controls as c
    ) using errcode = '22023';
  end if;
  return p_queue;
end
$$;

-- 'payment:42' -> ('payment', 42); the queue part may name a dead-letter queue.
create or replace function private.parse_job_id(
  p_job_id text, out queue_name text, out msg_id bigint
)
language plpgsql stable
set search_path = ''
as $$
begin
  if p_job_id is null or p_job_id !~ '^[a-z][a-z0-9_]{0,44}:[0-9]{1,18}$' or not exists (
    select 1 from public.queue_controls as c
    where c.queue_name = regexp_replace(split_part(p_job_id, ':', 1), '_dlq$', '')
  ) then
    raise exception 'job id % is not valid: expected <queue>:<message id>, e.g. payment:42',
      coalesce(p_job_id, 'null') using errcode = '22023';
  end if;
  queue_name := split_part(p_job_id, ':', 1);
  msg_id := split_part(p_job_id, ':', 2)::bigint;
end
$$;

-- A new queue: its controls row and its pgmq queue and dead-letter queue (service_role, from
-- migrations). Idempotent.
create function private.create_queue(
  p_queue text, p_concurrency integer default 10, p_max_attempts integer default 5,
  p_visibility_timeout_s integer default 30
) returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  t text;
begin
  insert into public.queue_controls (queue_name, concurrency, max_attempts, visibility_timeout_s)
  values (p_queue, p_concurrency, p_max_attempts, p_visibility_timeout_s)
  on conflict (queue_name) do nothing;
  if not exists (select 1 from pgmq.meta as m where m.queue_name = p_queue) then
    perform pgmq.create(p_queue);
  end if;
  if not exists (select 1 from pgmq.meta as m where m.queue_name = p_queue || '_dlq') then
    perform pgmq.create(p_queue || '_dlq');
  end if;
  -- The worker (service_role) works the new tables as it does the first queues'.
  for t in
    select c.relname from pg_catalog.pg_class as c
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    where n.nspname = 'pgmq' and c.relkind = 'r'
      and c.relname in ('q_' || p_queue, 'a_' || p_queue, 'q_' || p_queue || '_dlq', 'a_' || p_queue || '_dlq')
  loop
    execute format('grant select, insert, update, delete on pgmq.%I to service_role', t);
  end loop;
end
$$;

create or replace function private.enqueue(
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
  perform pg_notify(private.channel('jobs'), p_queue);
  return jsonb_build_object('job_id', p_queue || ':' || v_msg_id, 'key', v_key);
end
$$;

create or replace function private.pause_queue(p_queue text, p_paused boolean, p_reason text)
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
  perform pg_notify(private.channel('queue_controls'), coalesce(p_queue, 'all'));
  return jsonb_build_object('paused', p_paused, 'queues', changed);
end
$$;

create or replace function private.retry_jobs(
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
  perform pg_notify(private.channel('jobs'), coalesce(p_queue, 'all'));
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

-- What the worker reads at start: the queues and the channels it listens on.
create function private.worker_config() returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'queues', (select jsonb_agg(c.queue_name order by c.queue_name) from public.queue_controls as c),
    'channels', jsonb_build_object(
      'jobs', private.channel('jobs'), 'queue_controls', private.channel('queue_controls')
    )
  )
$$;

revoke execute on function private.channel(text), private.create_queue(text, integer, integer, integer),
private.worker_config() from public, anon, authenticated;
grant execute on function private.channel(text), private.worker_config() to service_role;
