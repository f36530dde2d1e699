-- operations_figures: what only Postgres knows about the platform's own health, for the
-- worker's metrics exporter and the operators: pg_cron jobs (last start, last success, the
-- schedule as an interval) and usable API keys by digest pepper version. Queue and gateway
-- figures already come from admin_list_queues, admin_list_gateways and admin_gateway_health.

create or replace function private.cron_interval_s(p_schedule text) returns integer
language sql immutable set search_path = '' as $$
  select case
    when p_schedule ~ '^\s*[0-9]+ seconds?\s*$'
      then substring(p_schedule from '[0-9]+')::integer
    when p_schedule ~ '^\*\s+\*\s+\*\s+\*\s+\*$' then 60
    when p_schedule ~ '^\*/[0-9]+\s+\*\s+\*\s+\*\s+\*$'
      then 60 * substring(p_schedule from '^\*/([0-9]+)')::integer
    when p_schedule ~ '^[0-9]+\s+\*\s+\*\s+\*\s+\*$' then 3600
    when p_schedule ~ '^[0-9]+\s+[0-9]+\s+\*\s+\*\s+\*$' then 86400
  end
$$;

comment on function private.cron_interval_s(text) is
'A pg_cron schedule as an interval in seconds (N seconds, every minute, every N minutes,
hourly, daily); null for other schedules.';

create or replace function private.operations_snapshot() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
begin
  perform private.require_admin();
  return jsonb_build_object(
    'cron_jobs', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'job', j.jobname,
        'schedule', j.schedule,
        'active', j.active,
        'interval_s', private.cron_interval_s(j.schedule),
        'last_start_epoch', extract(epoch from r.start_time),
        'last_status', r.status,
        'last_success_epoch', extract(epoch from s.end_time)
      ) order by j.jobname), '[]'::jsonb)
      from cron.job as j
      -- Newest first by run id: a short backward scan of the run history's primary key.
      left join lateral (
        select d.start_time, d.status from cron.job_run_details as d
        where d.jobid = j.jobid order by d.runid desc limit 1
      ) as r on true
      left join lateral (
        select d.end_time from cron.job_run_details as d
        where d.jobid = j.jobid and d.status = 'succeeded' order by d.runid desc limit 1
      ) as s on true
      where j.jobname like 'lsp-%'
    ),
    'api_key_digests', (
      select coalesce(jsonb_agg(jsonb_build_object('pepper_version', v.pepper_version,
        'keys', v.keys) order by v.pepper_version nulls last), '[]'::jsonb)
      from (
        select k.pepper_version, count(*) as keys from public.api_keys as k
        where (k.revoked_at is null or k.revoked_at > now())
          and (k.expires_at is null or k.expires_at > now())
        group by k.pepper_version
      ) as v
    ),
    'generated_at', now()
  );
end
$$;

comment on function private.operations_snapshot() is
'Admins and service_role: pg_cron job runs and usable API keys by pepper version; see
public.admin_operations_snapshot.';

create or replace function public.admin_operations_snapshot() returns jsonb
language sql stable security invoker set search_path = '' as $$
  select private.operations_snapshot()
$$;

comment on function public.admin_operations_snapshot() is
'The platform''s own health as only the database knows it, for the metrics exporter and on-call
operators: every lsp-* pg_cron job (its last run and last success) and the usable API keys
per digest pepper version (retire an old pepper when its count is 0).
Who: platform admins and service_role; everyone else gets 42501.
Returns: {cron_jobs: [{job, schedule, active, interval_s (seconds, null for irregular
schedules), last_start_epoch, last_success_epoch (Unix seconds, null if never), last_status
(starting, running, sending, connecting, succeeded, failed; null if never run)}],
api_key_digests: [{pepper_version (null = not labelled yet), keys (count)}], generated_at}.
Errors: 42501 not an admin.';

revoke execute on function public.admin_operations_snapshot() from public, anon;
grant execute on function public.admin_operations_snapshot() to authenticated, service_role;
revoke execute on function private.operations_snapshot(), private.cron_interval_s(text)
from public, anon;
grant execute on function private.operations_snapshot() to authenticated, service_role;
grant execute on function private.cron_interval_s(text) to service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
