-- Job-queue tables and RPCs: admins only; merchants and anon see and change nothing;
-- bad input is refused with 22023 and changes nothing.
begin;
\ir _helpers.psql
select plan(24);
select tests.make_world();

-- Merchants: no rows from any queue table, no RPC.
select tests.authenticate_as(tests.w('user_a'));
select is_empty('select 1 from public.queue_controls', 'merchant: queue_controls hidden');
select is_empty('select 1 from public.job_attempts', 'merchant: job_attempts hidden');
select is_empty('select 1 from public.worker_heartbeats', 'merchant: worker_heartbeats hidden');
select is_empty('select 1 from public.queue_stats_minute', 'merchant: queue stats hidden');
select is_empty('select 1 from public.job_lineage', 'merchant: job_lineage hidden');
select throws_ok(
  'update public.queue_controls set paused = true', '42501', null,
  'merchant: cannot pause by writing the table'
);
select throws_ok('select public.admin_list_queues()', '42501', null, 'merchant: list queues');
select throws_ok('select public.admin_queue_stats()', '42501', null, 'merchant: stats');
select throws_ok(
  'select public.admin_pause_queue(true, ''x'', ''payment'')', '42501', null, 'merchant: pause'
);
select throws_ok(
  'select public.admin_retry_jobs(''payment'')', '42501', null, 'merchant: retry'
);
select throws_ok(
  'select public.admin_clean_queue(''payment'', ''failed'')', '42501', null, 'merchant: clean'
);
select throws_ok(
  'select public.admin_get_job(''payment:1'')', '42501', null, 'merchant: job detail'
);
select throws_ok(
  'select public.enqueue_job(''payment'', ''{}''::jsonb)', '42501', null, 'merchant: enqueue'
);
select throws_ok('select * from pgmq.q_payment', '42501', null, 'merchant: no pgmq tables');

-- anon
select tests.as_anon();
select throws_ok('select 1 from public.queue_controls', '42501', null, 'anon: controls');
select throws_ok('select public.admin_list_queues()', '42501', null, 'anon: list queues');

-- Admin: bad input refused, nothing changes.
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  'select public.admin_pause_queue(true, ''x'', ''emails'')', '22023', null, 'unknown queue'
);
select throws_ok(
  'select public.admin_pause_queue(true, null, ''payment'')', '22023', null,
  'pausing needs a reason'
);
select throws_ok(
  'select public.admin_retry_jobs(''payment'', p_delay_seconds => -1)', '22023', null,
  'negative delay'
);
select throws_ok(
  'select public.admin_retry_jobs(p_job_ids => array[''payment:x''])', '22023', null,
  'malformed job id'
);
select throws_ok(
  'select public.admin_clean_queue(''payment'', ''failed'', p_limit => 1000000000)', '22023',
  null, 'absurd limit'
);
select throws_ok(
  'select public.admin_get_job(''payment:999999999'')', 'P0002', null, 'unknown job'
);
select is(
  (public.admin_pause_queue(true, 'maintenance', 'webhook') -> 'queues'),
  '["webhook"]'::jsonb, 'an admin pauses one queue'
);
select tests.clear_authentication();
select is(
  (
    select count(*)::int from public.queue_controls
    where paused
  ), 1,
  'exactly that queue is paused'
);

select * from finish();
rollback;
