-- What is published: payments (created, every status change, failed also as an alert),
-- gateway health changes and figures, queue snapshots and dead-letter growth, notifications.
-- Every event reaches both paths (Realtime's realtime.messages and the SSE outbox).
begin;
\ir _helpers.psql
select plan(22);
select tests.make_world();

-- Everything published in this transaction, numbered or not.
create function tests.outbox() returns table (topic text, event text, payload jsonb)
language sql stable
as $$
  select t.topic, i.event, i.payload
  from private.live_inbox as i cross join lateral unnest(i.topics) as t (topic)
  union all
  select e.topic, e.event, e.payload from private.live_events as e
  where e.created_at = now()
$$;

create function tests.published(p_topic text, p_event text) returns setof jsonb
language sql stable
as $$
  select o.payload from tests.outbox() as o
  where o.topic = p_topic and o.event = p_event
$$;

-- Payments ------------------------------------------------------------------------------------
insert into public.payments (id, merchant_id, mode, amount, currency, method)
values ('pay_cccccccccccccccccccc', tests.w('merchant_a'), 'test', 4200, 'INR', 'upi');
select is(
  (
    select p ->> 'amount' from
      tests.published(
        'merchant:' || tests.w('merchant_a') || ':payments', 'payment.created'
      ) as p
    where p ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  '4200', 'payment.created on the merchant''s topic, with the snapshot (minor units)'
);
select is(
  (
    select count(*)::int from tests.published('admin:payments', 'payment.created') as p
    where p ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  1, 'and on admin:payments'
);
select results_eq(
  $$
    select o.topic from tests.outbox() as o
    where o.event = 'payment.created' and o.payload ->> 'id' = 'pay_cccccccccccccccccccc'
      and o.topic like 'merchant:%:payments:%'
  $$,
  array['merchant:' || tests.w('merchant_a') || ':payments:test'],
  'and on its mode''s topic only (what API keys of that mode read)'
);
select private.live_sequence();
select is(
  (
    select count(*)::int from realtime.messages as m
    where
      m.topic = 'merchant:' || tests.w('merchant_a') || ':payments'
      and m.event = 'payment.created' and m.private
      and m.payload ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  1, 'once numbered, broadcast to Realtime on the same private topic'
);
update public.payments set status = 'failed', failure_code = 'declined'
where id = 'pay_cccccccccccccccccccc';
select is(
  (
    select p -> 'failure' ->> 'code' from
      tests.published(
        'merchant:' || tests.w('merchant_a') || ':payments', 'payment.failed'
      ) as p
    where p ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  'declined', 'every status change is an event (payment.failed)'
);
select is(
  (
    select count(*)::int from
      tests.published(
        'merchant:' || tests.w('merchant_a') || ':alerts', 'payment.failed'
      ) as p
    where p ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  1, 'payment.failed also goes to the merchant''s alerts topic'
);
update public.payments set description = 'only a description'
where id = 'pay_cccccccccccccccccccc';
update public.payments set status = 'failed'
where id = 'pay_cccccccccccccccccccc';
select is(
  (
    select count(*)::int from tests.outbox() as o
    where o.topic = 'admin:payments' and o.payload ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  2, 'other changes, and a status set to itself, publish nothing'
);
select is(
  (
    select count(*)::int from tests.outbox() as o
    where
      o.topic like 'merchant:' || tests.w('merchant_b') || ':%'
      and o.payload ->> 'id' = 'pay_cccccccccccccccccccc'
  ),
  0, 'nothing about A reaches B''s topics'
);

-- Gateways --------------------------------------------------------------------------------------
select tests.as_service_role();
select private.record_gateway_probe(tests.w('gateway'), '{"ok": false, "error_class": "timeout"}');
select tests.clear_authentication();
select is(
  (
    select p - 'figures' - 'changed_at' - 'last_probe'
    from tests.published('admin:gateways', 'gateway.health_changed') as p
    where p ->> 'gateway_id' = tests.w('gateway')::text
  ),
  jsonb_build_object(
    'gateway_id', tests.w('gateway'), 'provider', 'sandbox', 'display_name', 'Test sandbox',
    'environment', 'test', 'from', 'unknown', 'to', 'degraded', 'consecutive_failures', 1,
    'consecutive_successes', 0
  ),
  'a health change: from, to, the probe counts'
);
select is(
  (
    select p -> 'figures' ->> 'id' from tests.published('admin:gateways', 'gateway.health_changed') as p
    where p ->> 'gateway_id' = tests.w('gateway')::text
  ),
  tests.w('gateway')::text, 'with the gateway''s figures'
);
select tests.as_service_role();
select private.record_gateway_probe(tests.w('gateway'), '{"ok": false, "error_class": "timeout"}');
select tests.clear_authentication();
select is(
  (
    select count(*)::int from tests.published('admin:gateways', 'gateway.health_changed') as p
    where p ->> 'gateway_id' = tests.w('gateway')::text
  ),
  1, 'a probe that changes nothing publishes nothing'
);
select private.publish_gateway_figures();
select is(
  (
    select jsonb_build_object('health_state', g ->> 'health_state', 'transactions_1h', g -> 'transactions_1h')
    from tests.published('admin:gateways', 'gateway.figures') as p,
      jsonb_array_elements(p -> 'gateways') as g
    where g ->> 'id' = tests.w('gateway')::text
  ),
  '{"health_state": "degraded", "transactions_1h": 0}'::jsonb,
  'the minute''s figures list every gateway'
);

-- Queues ------------------------------------------------------------------------------------------
select pgmq.send('settlement', '{"key": "k", "payload": {}}');
update pgmq.q_settlement set vt = now() - interval '1 second';
delete from private.live_inbox
where 'admin:queues' = any(topics);
delete from private.live_events
where topic = 'admin:queues' and created_at = now();
select private.publish_queue_snapshot();
select ok(
  (
    select (q ->> 'pending')::int >= 1
    from tests.published('admin:queues', 'queue.snapshot') as p,
      jsonb_array_elements(p -> 'queues') as q
    where q ->> 'queue' = 'settlement'
  ),
  'a snapshot: depth by state per queue'
);
select ok(
  (
    select p -> 'queues' -> 0 ?& array['state', 'pending', 'delayed', 'processing', 'failed', 'oldest_pending_age_s', 'rates']
    from tests.published('admin:queues', 'queue.snapshot') as p
  ),
  'with state, depths, oldest age and rates'
);
select is(
  (select count(*)::int from tests.published('admin:queues', 'queue.snapshot')),
  1, 'one event per snapshot, not one per job'
);
select pgmq.send('settlement_dlq', '{"key": "k1", "payload": {}}');
select pgmq.send('settlement_dlq', '{"key": "k2", "payload": {}}');
select private.publish_queue_snapshot();
select is(
  (
    select (p ->> 'added')::int from tests.published('admin:queues', 'queue.dead_letters') as p
    where p ->> 'queue' = 'settlement'
  ),
  2, 'dead-letter growth is an event (how many were added)'
);
select private.publish_queue_snapshot();
select is(
  (
    select count(*)::int from tests.published('admin:queues', 'queue.dead_letters') as p
    where p ->> 'queue' = 'settlement'
  ),
  1, 'and only when the dead-letter queue grew again'
);

-- Notifications -------------------------------------------------------------------------------------
insert into public.notifications (merchant_id, user_id, kind, title)
values (tests.w('merchant_a'), tests.w('user_a'), 'api_key.rotated', 'a key was regenerated');
select is(
  (
    select jsonb_build_object('kind', p ->> 'kind', 'user_id', p ->> 'user_id', 'read_at', p -> 'read_at')
    from tests.published(
      'merchant:' || tests.w('merchant_a') || ':notifications:' || tests.w('user_a'),
      'notification.created'
    ) as p
  ),
  jsonb_build_object('kind', 'api_key.rotated', 'user_id', tests.w('user_a'), 'read_at', null),
  'a notification for one user goes to that user''s notifications topic'
);
select is(
  (
    select count(*)::int from tests.outbox() as o
    where
      o.event = 'notification.created'
      and o.topic = 'merchant:' || tests.w('merchant_a') || ':notifications'
  ),
  0, 'and not to the merchant-wide one (which every member and API key reads)'
);

-- The schedules -----------------------------------------------------------------------------------
select ok(
  exists (
    select 1 from cron.job
    where jobname = 'lsp-live-ticks' and schedule = '* * * * *'
  )
  or (
    exists (
      select 1 from cron.job
      where jobname = 'lsp-live-sequence' and schedule = '1 seconds'
    )
    and exists (
      select 1 from cron.job
      where jobname = 'lsp-live-queues' and schedule = '5 seconds'
    )
  ),
  'numbering every second, queue snapshots every 5 s (pg_cron seconds, else a minute loop)'
);
select is(
  (
    select schedule from cron.job
    where jobname = 'lsp-live-gateway-figures'
  ),
  '* * * * *', 'gateway figures every minute'
);
select is(
  (
    select schedule from cron.job
    where jobname = 'lsp-live-retention'
  ),
  '*/10 * * * *', 'the outbox is pruned every ten minutes'
);

select * from finish();
rollback;
