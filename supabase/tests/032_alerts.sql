-- Product alerts: every rule kind fires on a scripted condition, does not fire under its
-- minimum volume, is one alert while the condition holds (one published transition), and
-- resolves once it clears; hysteresis, acknowledgement, disabling a rule; who may read and
-- change what; alert destinations are webhook endpoints without a merchant.
begin;
\ir _helpers.psql
select plan(103);
select tests.make_world();

create function tests.state(p_rule text, p_subject text) returns text
language sql stable
as $$
  select coalesce(
    (
      select a.state from public.alerts as a
      where a.rule_id = p_rule and a.subject_id = p_subject and a.state <> 'resolved'
    ),
    (
      select 'resolved' where exists (
        select 1 from public.alerts as a
        where a.rule_id = p_rule and a.subject_id = p_subject
      )
    ),
    'none'
  )
$$;

-- The transitions published on admin:alerts for one rule and subject, in order.
create function tests.transitions(p_rule text, p_subject text) returns text
language sql stable
as $$
  select coalesce(string_agg(i.event, ',' order by i.id), '')
  from private.live_inbox as i
  where 'admin:alerts' = any(i.topics) and i.payload ->> 'rule_id' = p_rule
    and i.payload -> 'subject' ->> 'id' = p_subject
$$;

create function tests.min_volume(p_rule text, p_min integer) returns void
language sql
as $$ update public.alert_rules set min_volume = p_min where id = p_rule $$;

create function tests.new_gateway(p_name text) returns uuid
language sql
as $$
  insert into public.gateways (provider, display_name, status)
  values ('sandbox', p_name, 'active') returning id
$$;

create function tests.probe(p_gateway uuid, p_ok boolean, p_latency integer default 50)
returns void
language sql
as $$
  select private.record_gateway_probe(p_gateway, jsonb_build_object(
    'ok', p_ok, 'latency_ms', p_latency, 'error_class', case when not p_ok then 'timeout' end
  ))
$$;

-- gateway_down (evaluated by the health trigger as the state changes) -------------------------
select tests.new_gateway('down test') as g_down \gset
select tests.min_volume('gateway_down', 10);
select tests.probe(:'g_down', false) from generate_series(1, 3);
select is(tests.state('gateway_down', :'g_down'), 'none', 'gateway_down: 3 probes < min volume 10');
select tests.min_volume('gateway_down', 3);
select private.evaluate_alerts();
select is(tests.state('gateway_down', :'g_down'), 'firing', 'gateway_down: fires once down');
select private.evaluate_alerts();
select tests.probe(:'g_down', false);
select is(
  tests.transitions('gateway_down', :'g_down'), 'alert.firing',
  'gateway_down: one alert while it holds'
);
select tests.probe(:'g_down', true, 2500);
select tests.probe(:'g_down', true, 2500);
select is(
  (
    select health_state from public.gateways
    where id = :'g_down'
  ), 'degraded',
  'back up but slow: degraded'
);
select is(
  tests.state('gateway_down', :'g_down'), 'firing',
  'gateway_down: hysteresis, degraded is not healthy enough to resolve'
);
select tests.probe(:'g_down', true);
select is(
  tests.transitions('gateway_down', :'g_down'), 'alert.firing,alert.resolved',
  'gateway_down: resolves when healthy'
);

-- gateway_degraded ------------------------------------------------------------------------------
select tests.new_gateway('degraded test') as g_deg \gset
select tests.probe(:'g_deg', false);
select is(
  tests.state('gateway_degraded', :'g_deg'), 'none', 'gateway_degraded: 1 probe < min volume 2'
);
select tests.probe(:'g_deg', false);
select private.evaluate_alerts(array['gateway_degraded']);
select is(tests.state('gateway_degraded', :'g_deg'), 'firing', 'gateway_degraded: fires');
select private.evaluate_alerts(array['gateway_degraded']);
select is(
  tests.transitions('gateway_degraded', :'g_deg'), 'alert.firing',
  'gateway_degraded: one alert while it holds'
);
select tests.probe(:'g_deg', false);
select is(
  tests.transitions('gateway_degraded', :'g_deg') || '|' || tests.state('gateway_down', :'g_deg'),
  'alert.firing,alert.resolved|firing', 'gateway_degraded: resolves when down takes over'
);

-- gateway_success_drop ----------------------------------------------------------------------------
select tests.new_gateway('drop test') as g_drop \gset
insert into public.gateway_stats_minute (gateway_id, minute, succeeded, failed) values
(:'g_drop', date_trunc('minute', now()) - interval '2 hours', 100, 0),
(:'g_drop', date_trunc('minute', now()), 2, 8);
select private.evaluate_alerts(array['gateway_success_drop']);
select is(
  tests.state('gateway_success_drop', :'g_drop'), 'none',
  'gateway_success_drop: 10 attempts < min volume 20'
);
update public.gateway_stats_minute set succeeded = 5, failed = 20
where gateway_id = :'g_drop' and minute = date_trunc('minute', now());
select private.evaluate_alerts(array['gateway_success_drop']);
select is(
  (
    select value from public.alerts
    where rule_id = 'gateway_success_drop' and subject_id = :'g_drop'
  ),
  0.8, 'gateway_success_drop: fires at a drop of 0.8 (100% -> 20%)'
);
update public.gateway_stats_minute set succeeded = 17, failed = 3
where gateway_id = :'g_drop' and minute = date_trunc('minute', now());
select private.evaluate_alerts(array['gateway_success_drop']);
select is(
  tests.transitions('gateway_success_drop', :'g_drop'), 'alert.firing',
  'gateway_success_drop: a drop of 0.15 is inside the hysteresis band: still one open alert'
);
update public.gateway_stats_minute set succeeded = 25, failed = 0
where gateway_id = :'g_drop' and minute = date_trunc('minute', now());
select private.evaluate_alerts(array['gateway_success_drop']);
select is(
  tests.transitions('gateway_success_drop', :'g_drop'), 'alert.firing,alert.resolved',
  'gateway_success_drop: resolves below the clear threshold'
);

-- gateway_latency_spike -----------------------------------------------------------------------------
select tests.new_gateway('latency test') as g_lat \gset
insert into public.gateway_stats_minute (gateway_id, minute, succeeded, h3, h10) values
(:'g_lat', date_trunc('minute', now()) - interval '2 hours', 100, 100, 0),
(:'g_lat', date_trunc('minute', now()), 10, 0, 10);
select private.evaluate_alerts(array['gateway_latency_spike']);
select is(
  tests.state('gateway_latency_spike', :'g_lat'), 'none',
  'gateway_latency_spike: 10 samples < min volume 20'
);
update public.gateway_stats_minute set h10 = 30
where gateway_id = :'g_lat' and minute = date_trunc('minute', now());
select private.evaluate_alerts(array['gateway_latency_spike']);
select is(
  (
    select a.details ->> 'window_p95_ms' || '/' || (a.details ->> 'baseline_p95_ms')
    from public.alerts as a
    where a.rule_id = 'gateway_latency_spike' and a.subject_id = :'g_lat'
  ),
  '2000/100', 'gateway_latency_spike: fires at p95 2000 ms against 100 ms'
);
select private.evaluate_alerts(array['gateway_latency_spike']);
select is(
  tests.transitions('gateway_latency_spike', :'g_lat'), 'alert.firing',
  'gateway_latency_spike: one alert while it holds'
);
update public.gateway_stats_minute set h10 = 0, h3 = 30
where gateway_id = :'g_lat' and minute = date_trunc('minute', now());
select private.evaluate_alerts(array['gateway_latency_spike']);
select is(
  tests.transitions('gateway_latency_spike', :'g_lat'), 'alert.firing,alert.resolved',
  'gateway_latency_spike: resolves'
);

-- queue_backlog ----------------------------------------------------------------------------------
select pgmq.send('settlement', '{"key": "backlog", "payload": {}}') as backlog_msg \gset
update pgmq.q_settlement set enqueued_at = now() - interval '120 seconds', vt = now() - interval '120 seconds';
select tests.min_volume('queue_backlog', 5);
select private.evaluate_alerts(array['queue_backlog']);
select is(tests.state('queue_backlog', 'settlement'), 'none', 'queue_backlog: 1 job < min volume 5');
select tests.min_volume('queue_backlog', 1);
select private.evaluate_alerts(array['queue_backlog']);
select is(
  (
    select round(value) from public.alerts
    where rule_id = 'queue_backlog' and subject_id = 'settlement'
  ),
  120::numeric, 'queue_backlog: fires at an oldest job of 120 s'
);
select private.evaluate_alerts(array['queue_backlog']);
select is(
  tests.transitions('queue_backlog', 'settlement'), 'alert.firing',
  'queue_backlog: one alert while it holds'
);
select pgmq.delete('settlement', :backlog_msg::bigint);
select private.evaluate_alerts(array['queue_backlog']);
select is(
  tests.transitions('queue_backlog', 'settlement'), 'alert.firing,alert.resolved',
  'queue_backlog: resolves once drained'
);

-- queue_stalled -----------------------------------------------------------------------------------
select pgmq.send('settlement', '{"key": "stalled", "payload": {}}');
update pgmq.q_settlement set enqueued_at = now(), vt = now() - interval '1 second';
select tests.min_volume('queue_stalled', 2);
select private.evaluate_alerts(array['queue_stalled']);
select is(tests.state('queue_stalled', 'settlement'), 'none', 'queue_stalled: 1 job < min volume 2');
select tests.min_volume('queue_stalled', 1);
select private.evaluate_alerts(array['queue_stalled']);
select is(tests.state('queue_stalled', 'settlement'), 'firing', 'queue_stalled: work and no worker');
select private.evaluate_alerts(array['queue_stalled']);
select is(
  tests.transitions('queue_stalled', 'settlement'), 'alert.firing',
  'queue_stalled: one alert while it holds'
);
insert into public.worker_heartbeats (worker_id, hostname, pid, queues, started_at)
values ('w-test', 'h', 1, '{settlement}', now());
select private.evaluate_alerts(array['queue_stalled']);
select is(
  tests.transitions('queue_stalled', 'settlement'), 'alert.firing,alert.resolved',
  'queue_stalled: resolves when a worker is live'
);

-- dead_letter_growth ---------------------------------------------------------------------------------
insert into public.queue_stats_minute (queue_name, minute, dead_lettered)
values ('settlement', date_trunc('minute', now()), 1)
on conflict (queue_name, minute) do update set dead_lettered = 1, completed = 0;
select tests.min_volume('dead_letter_growth', 5);
select private.evaluate_alerts(array['dead_letter_growth']);
select is(
  tests.state('dead_letter_growth', 'settlement'), 'none',
  'dead_letter_growth: 1 finished job < min volume 5'
);
select tests.min_volume('dead_letter_growth', 1);
select private.evaluate_alerts(array['dead_letter_growth']);
select is(tests.state('dead_letter_growth', 'settlement'), 'firing', 'dead_letter_growth: fires');
select private.evaluate_alerts(array['dead_letter_growth']);
select is(
  tests.transitions('dead_letter_growth', 'settlement'), 'alert.firing',
  'dead_letter_growth: one alert while it holds'
);
update public.queue_stats_minute set minute = minute - interval '1 hour'
where queue_name = 'settlement' and minute = date_trunc('minute', now());
select private.evaluate_alerts(array['dead_letter_growth']);
select is(
  tests.transitions('dead_letter_growth', 'settlement'), 'alert.firing,alert.resolved',
  'dead_letter_growth: resolves once the window has none'
);

-- webhook_endpoint_failing (merchant-scoped) ------------------------------------------------------
insert into public.webhook_endpoints (merchant_id, url, secret_id, failing_since)
values (
  tests.w('merchant_a'), 'https://a.example/hooks', vault.create_secret('whsec_test'),
  now() - interval '30 minutes'
)
returning id as ep \gset
select private.evaluate_alerts(array['webhook_endpoint_failing']);
select is(
  tests.state('webhook_endpoint_failing', :'ep'), 'none',
  'webhook_endpoint_failing: no failed attempts < min volume 3'
);
insert into public.webhook_events (id, merchant_id, type, payload)
values ('msg_test_alerts', tests.w('merchant_a'), 'payment.succeeded', '{}');
insert into public.webhook_deliveries (event_id, endpoint_id, merchant_id)
values ('msg_test_alerts', :'ep', tests.w('merchant_a'));
insert into public.webhook_attempts (delivery_id, merchant_id, attempt, started_at, status_code)
select
  d.id,
  d.merchant_id,
  n,
  now() as started_at,
  500 as status_code
from public.webhook_deliveries as d, generate_series(1, 3) as n
where d.endpoint_id = :'ep';
select private.evaluate_alerts(array['webhook_endpoint_failing']);
select is(
  (
    select merchant_id from public.alerts
    where rule_id = 'webhook_endpoint_failing' and subject_id = :'ep'
  ),
  tests.w('merchant_a'), 'webhook_endpoint_failing: fires, scoped to the endpoint''s merchant'
);
select private.evaluate_alerts(array['webhook_endpoint_failing']);
select is(
  (
    select count(*)::int from private.live_inbox as i
    where
      'merchant:' || tests.w('merchant_a') || ':alerts' = any(i.topics)
      and i.event = 'alert.firing' and i.payload -> 'subject' ->> 'id' = :'ep'
  ),
  1, 'webhook_endpoint_failing: one alert, also on the merchant''s alerts topic'
);
update public.webhook_endpoints set failing_since = null
where id = :'ep';
select private.evaluate_alerts(array['webhook_endpoint_failing']);
select is(
  tests.transitions('webhook_endpoint_failing', :'ep'), 'alert.firing,alert.resolved',
  'webhook_endpoint_failing: resolves once it delivers'
);
insert into public.webhook_endpoints (merchant_id, url, secret_id, enabled, disabled_reason)
values
(
  tests.w('merchant_a'), 'https://gone.example/hooks', vault.create_secret('whsec_gone'), false,
  'the endpoint answered 410 Gone'
),
(
  tests.w('merchant_a'), 'https://off.example/hooks', vault.create_secret('whsec_off'), false,
  'disabled by the merchant'
);
select private.evaluate_alerts(array['webhook_endpoint_failing']);
select is(
  (
    select string_agg(e.url || '=' || tests.state('webhook_endpoint_failing', e.id::text), ' ' order by e.url)
    from public.webhook_endpoints as e
    where e.url in ('https://gone.example/hooks', 'https://off.example/hooks')
  ),
  'https://gone.example/hooks=firing https://off.example/hooks=none',
  'auto-disabled endpoints alert; ones the merchant disabled do not'
);

-- rate_limit_breaches (merchant-scoped) --------------------------------------------------------------
insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash)
values (
  tests.w('merchant_a'), 'busy key', 'test', 'lsp_test_BUSY', 'busy',
  extensions.digest('busy', 'sha256')
)
returning id as busy_key \gset
insert into private.rate_limit_breaches (bucket, minute, breaches)
values ('key:' || :'busy_key', date_trunc('minute', now()), 150);
select tests.min_volume('rate_limit_breaches', 1000);
select private.evaluate_alerts(array['rate_limit_breaches']);
select is(
  tests.state('rate_limit_breaches', :'busy_key'), 'none',
  'rate_limit_breaches: 150 requests < min volume 1000'
);
select tests.min_volume('rate_limit_breaches', 100);
select private.evaluate_alerts(array['rate_limit_breaches']);
select is(
  tests.state('rate_limit_breaches', :'busy_key'), 'firing',
  'rate_limit_breaches: 150 refused in the window fires'
);
select private.evaluate_alerts(array['rate_limit_breaches']);
select is(
  tests.transitions('rate_limit_breaches', :'busy_key'), 'alert.firing',
  'rate_limit_breaches: one alert while it holds'
);
update private.rate_limit_breaches set minute = minute - interval '1 hour'
where bucket = 'key:' || :'busy_key';
select private.evaluate_alerts(array['rate_limit_breaches']);
select is(
  tests.transitions('rate_limit_breaches', :'busy_key'), 'alert.firing,alert.resolved',
  'rate_limit_breaches: resolves'
);

-- payment_failure_spike (merchant-scoped) -----------------------------------------------------------
insert into public.merchants (name) values ('Spiky') returning id as spiky \gset
insert into public.payments (merchant_id, mode, amount, currency, method, status)
select
  :'spiky' as merchant_id,
  'test' as mode,
  100 as amount,
  'INR' as currency,
  'upi' as method,
  'failed' as status
from generate_series(1, 10);
select private.evaluate_alerts(array['payment_failure_spike']);
select is(
  tests.state('payment_failure_spike', :'spiky'), 'none',
  'payment_failure_spike: 10 payments < min volume 20'
);
insert into public.payments (merchant_id, mode, amount, currency, method, status)
select
  :'spiky' as merchant_id,
  'test' as mode,
  100 as amount,
  'INR' as currency,
  'upi' as method,
  'failed' as status
from generate_series(1, 15);
select private.evaluate_alerts(array['payment_failure_spike']);
select is(
  tests.state('payment_failure_spike', :'spiky'), 'firing',
  'payment_failure_spike: 25 of 25 failed fires'
);
select private.evaluate_alerts(array['payment_failure_spike']);
select is(
  tests.transitions('payment_failure_spike', :'spiky'), 'alert.firing',
  'payment_failure_spike: one alert while it holds'
);
insert into public.payments (merchant_id, mode, amount, currency, method, status)
select
  :'spiky' as merchant_id,
  'test' as mode,
  100 as amount,
  'INR' as currency,
  'upi' as method,
  'succeeded' as status
from generate_series(1, 100);
select private.evaluate_alerts(array['payment_failure_spike']);
select is(
  tests.transitions('payment_failure_spike', :'spiky'), 'alert.firing,alert.resolved',
  'payment_failure_spike: resolves at 25 of 125'
);

-- Every kind is covered above ----------------------------------------------------------------------
select is(
  (
    select count(distinct kind)::int from public.alerts
    where fired_at = now()
  ), 10,
  'every rule kind fired in this file'
);

-- Acknowledging, and disabling a rule --------------------------------------------------------------
select tests.probe(:'g_deg', true) from generate_series(1, 2);
select tests.probe(:'g_deg', false) from generate_series(1, 3);
select id as down_alert from public.alerts
where rule_id = 'gateway_down' and subject_id = :'g_deg' and state = 'firing' \gset
select tests.authenticate_as(tests.w('admin'));
select is(
  public.admin_acknowledge_alert(:'down_alert') ->> 'state', 'acknowledged',
  'an admin acknowledges a firing alert'
);
select is(
  public.admin_acknowledge_alert(:'down_alert') ->> 'state', 'acknowledged',
  'acknowledging again changes nothing'
);
select tests.clear_authentication();
select private.evaluate_alerts();
select is(
  tests.state('gateway_down', :'g_deg'), 'acknowledged', 'an acknowledged alert stays open'
);
select tests.authenticate_as(tests.w('admin'));
select is(
  (
    select r ->> 'enabled' from
      jsonb_array_elements(
        public.admin_update_alert_rules('[{"id": "gateway_down", "enabled": false}]') -> 'data'
      ) as r
    where r ->> 'id' = 'gateway_down'
  ),
  'false', 'an admin disables a rule'
);
select is(
  (
    select resolution from public.alerts
    where id = :'down_alert'
  ), 'rule_disabled',
  'which resolves its open alerts'
);
select throws_ok(
  format('select public.admin_acknowledge_alert(%L)', :'down_alert'), 'P0001', null,
  'a resolved alert cannot be acknowledged'
);
select tests.clear_authentication();
select is(
  tests.transitions('gateway_down', :'g_deg'),
  'alert.firing,alert.resolved,alert.firing,alert.acknowledged,alert.resolved',
  'down, healthy, down again: two alerts; each transition published once'
);
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "queue_backlog", "clear_threshold": 61}]')$$,
  '22023',
  'clear_threshold of rule queue_backlog must be at most its threshold 60 (it resolves below clear_threshold)',
  'clear_threshold above threshold is refused in words (hysteresis band)'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "gateway_down", "clear_threshold": 9}]')$$,
  '22023',
  'clear_threshold of rule gateway_down must be above 0 and at most 2 (kind gateway_down, unit: level)',
  'clear_threshold outside its kind''s bounds names the field and the bound'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "payment_failure_spike", "threshold": 5}]')$$,
  '22023',
  'threshold of rule payment_failure_spike must be above 0 and at most 1 (kind payment_failure_spike, unit: fraction)',
  'a failure ratio threshold that could never be reached is refused'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "queue_backlog", "threshold": 1e300}]')$$,
  '22023',
  'threshold of rule queue_backlog must be above 0 and at most 604800 (kind queue_backlog, unit: seconds)',
  'seconds: at most 7 days'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "gateway_latency_spike", "clear_threshold": 1}]')$$,
  '22023',
  'clear_threshold of rule gateway_latency_spike must be above 1 and at most 100 (kind gateway_latency_spike, unit: ratio)',
  'a latency ratio is above 1'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "rate_limit_breaches", "clear_threshold": -1}]')$$,
  '22023',
  'clear_threshold of rule rate_limit_breaches must be above 0 and at most 1000000 (kind rate_limit_breaches, unit: count)',
  'a negative value is refused in words, not by a check constraint'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "queue_backlog", "severity": "loud"}]')$$,
  '22023', 'severity must be critical, warning or info', 'an unknown severity'
);
select throws_ok(
  $$select public.admin_update_alert_rules(
    '[{"id": "queue_backlog", "threshold": 70}, {"id": "queue_backlog", "threshold": 80}]'
  )$$,
  '22023', 'rule queue_backlog is listed twice', 'a rule listed twice is refused'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "queue_backlog", "min_volume": 99999999999}]')$$,
  '22023', 'min_volume must be a whole number from 0 to 1000000', 'min_volume names its range'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "queue_backlog", "window_s": 10}]')$$,
  '22023', 'window_s must be a whole number of seconds from 60 to 86400',
  'window_s names its range'
);
select is(
  (
    select r -> 'enabled' from
      jsonb_array_elements(
        public.admin_update_alert_rules(
          '[{"id": "queue_backlog", "enabled": null, "severity": null, "threshold": null}]'
        ) -> 'data'
      ) as r
    where r ->> 'id' = 'queue_backlog'
  ),
  'true'::jsonb, 'null means unchanged (enabled stays true)'
);
select tests.clear_authentication();
update public.alert_rules set updated_by = null
where id = 'queue_backlog';
select count(*) as rule_audits from audit.log
where table_name = 'alert_rules' and row_id = 'queue_backlog' \gset
select tests.authenticate_as(tests.w('admin'));
select public.admin_update_alert_rules(
  '[{"id": "queue_backlog", "threshold": 60, "clear_threshold": 30, "enabled": true}]'
);
select is(
  (
    select
      jsonb_build_object(
        'updated_by', r.updated_by,
        'audits', (
          select count(*) from audit.log as l
          where l.table_name = 'alert_rules' and l.row_id = 'queue_backlog'
        ) - :rule_audits
      )
    from public.alert_rules as r
    where r.id = 'queue_backlog'
  ),
  '{"updated_by": null, "audits": 0}'::jsonb,
  'a change that changes nothing writes nothing (updated_by, updated_at, audit stay)'
);
select public.admin_update_alert_rules('[{"id": "queue_backlog", "threshold": 61}]');
select is(
  (
    select updated_by from public.alert_rules
    where id = 'queue_backlog'
  ),
  tests.w('admin'), 'a real change records who made it'
);
select public.admin_update_alert_rules('[{"id": "queue_backlog", "threshold": 60}]');
select tests.clear_authentication();
select throws_ok(
  $$update public.alert_rules set threshold = 5 where id = 'payment_failure_spike'$$,
  '23514', null, 'the table holds the same bounds (alert_rules_bounds)'
);
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "nope", "enabled": true}]')$$,
  'P0002', null, 'an unknown rule'
);
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "gateway_down", "colour": "red"}]')$$,
  '22023', null, 'an unknown field'
);
select throws_ok(
  format('select public.admin_acknowledge_alert(%L)', gen_random_uuid()), 'P0002', null,
  'an unknown alert'
);
select tests.clear_authentication();

-- Alert destinations: webhook endpoints without a merchant --------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select is(
  (
    select
      jsonb_build_object(
        'secret', d ->> 'secret' like 'whsec_%', 'merchant_id', d -> 'merchant_id',
        'event_types', d -> 'event_types'
      )
    from jsonb_array_elements(public.admin_put_alert_destinations(
      '[{"url": "https://ops.example/alerts", "description": "pager"}]'
    ) -> 'data') as d
  ),
  '{"secret": true, "merchant_id": null, "event_types": ["alert.*"]}'::jsonb,
  'a new destination: its own secret (shown once), no merchant, alert events'
);
select is(
  (
    select count(*)::int from
      jsonb_array_elements(public.admin_put_alert_destinations(
        '[{"url": "https://ops.example/alerts", "description": "pager"}]'
      ) -> 'data') as d
    where d ? 'secret'
  ),
  0, 'the same list again creates nothing and shows no secret'
);
select tests.clear_authentication();
select private.evaluate_alerts(array['gateway_degraded']);
select tests.probe(:'g_down', false) from generate_series(1, 2);
select ok(
  exists (
    select 1 from public.webhook_deliveries as d
    inner join public.webhook_events as e on d.event_id = e.id
    inner join public.webhook_endpoints as p on d.endpoint_id = p.id
    where
      p.url = 'https://ops.example/alerts' and e.type = 'alert.firing'
      and e.merchant_id is null and d.merchant_id is null
  ),
  'a transition is queued as a signed delivery to the destination'
);
select tests.authenticate_as(tests.w('user_a'));
select is_empty(
  $$select 1 from public.webhook_endpoints where url = 'https://ops.example/alerts'$$,
  'members do not see the operators'' destinations'
);
select is_empty(
  $$select 1 from public.webhook_events where merchant_id is null$$,
  'nor the operators'' events'
);
select tests.clear_authentication();
select tests.authenticate_as(tests.w('admin'));
select is(
  jsonb_array_length(public.admin_put_alert_destinations('[]') -> 'data'), 0,
  'an empty list removes every destination'
);
select is(
  (
    select enabled from public.webhook_endpoints
    where url = 'https://ops.example/alerts'
  ), false,
  'a removed destination receives nothing (its history is kept)'
);
select tests.clear_authentication();
select secret_id as old_secret from public.webhook_endpoints
where url = 'https://ops.example/alerts' \gset
select tests.authenticate_as(tests.w('admin'));
select ok(
  (
    select d ->> 'secret' like 'whsec_%' and d ->> 'enabled' = 'true'
    from jsonb_array_elements(public.admin_put_alert_destinations(
      '[{"url": "https://ops.example/alerts", "enabled": null}]'
    ) -> 'data') as d
  ),
  're-added after removal: enabled again with a new secret, shown in that answer'
);
select tests.clear_authentication();
select ok(
  (
    select
      secret_id <> :'old_secret'::uuid
      and not exists (
        select 1 from vault.secrets as v
        where v.id = :'old_secret'::uuid
      )
    from public.webhook_endpoints
    where url = 'https://ops.example/alerts'
  ),
  'and the old secret is gone from Vault'
);
select tests.authenticate_as(tests.w('admin'));
select is(
  (
    select d ->> 'url' from
      jsonb_array_elements(public.admin_put_alert_destinations(
        '[{"url": "https://ops.example/alerts"}, {"url": "HTTPS://Ops.example/Upper"}]'
      ) -> 'data') as d
    where d ? 'secret'
  ),
  'https://Ops.example/Upper', 'an upper-case scheme is accepted and stored in lower case'
);
select throws_ok(
  $$select public.admin_put_alert_destinations(
    '[{"url": "https://ops.example/x"}, {"url": "Https://ops.example/x"}]'
  )$$,
  '22023', 'destination https://ops.example/x is listed twice',
  'the same URL with a differently written scheme is listed twice'
);
select is(
  jsonb_array_length(public.admin_put_alert_destinations('[]') -> 'data'), 0,
  'removed again'
);
select throws_ok(
  $$select public.admin_put_alert_destinations('[{"url": "ftp://x"}]')$$, '22023', null,
  'a destination must be an http(s) URL'
);
select tests.clear_authentication();

-- Who may read and change what ----------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select is(
  (
    select count(*)::int from public.alerts
    where merchant_id is distinct from tests.w('merchant_a')
  ),
  0, 'a member of A reads only A''s alerts'
);
select ok(
  (select count(*) from public.alerts) >= 2, 'and does read them (webhook endpoint alerts)'
);
select is_empty('select 1 from public.alert_rules', 'alert rules are for admins');
select is(
  (
    select count(*)::int from
      jsonb_array_elements(
        public.merchant_list_alerts(tests.w('merchant_a')) -> 'data'
      ) as a
    where (a ->> 'merchant_id')::uuid <> tests.w('merchant_a')
  ),
  0, 'merchant_list_alerts: only the merchant''s'
);
select throws_ok(
  format('select public.merchant_list_alerts(%L)', tests.w('merchant_b')), '42501', null,
  'not another merchant''s'
);
select throws_ok('select public.admin_list_alerts()', '42501', null, 'admin_list_alerts: admins');
select throws_ok(
  format('select public.admin_acknowledge_alert(%L)', gen_random_uuid()), '42501', null,
  'admin_acknowledge_alert: admins'
);
select throws_ok('select public.admin_list_alert_rules()', '42501', null, 'admin_list_alert_rules: admins');
select throws_ok(
  $$select public.admin_update_alert_rules('[{"id": "gateway_down"}]')$$, '42501', null,
  'admin_update_alert_rules: admins'
);
select throws_ok(
  'select public.admin_list_alert_destinations()', '42501', null,
  'admin_list_alert_destinations: admins'
);
select throws_ok(
  $$select public.admin_put_alert_destinations('[]')$$, '42501', null,
  'admin_put_alert_destinations: admins'
);
select tests.clear_authentication();
select tests.authenticate_as(tests.w('user_b'));
select is_empty(
  format('select 1 from public.alerts where merchant_id = %L', tests.w('merchant_a')),
  'a member of B reads none of A''s alerts'
);
select tests.clear_authentication();
select tests.as_anon();
select throws_ok('select 1 from public.alerts', '42501', null, 'anon reads no alerts');
select tests.clear_authentication();

-- Notifications: each member their own, marked read by them ----------------------------------
insert into public.notifications (merchant_id, user_id, kind, title)
values (tests.w('merchant_a'), tests.w('user_a'), 'api_key.rotated', 'for the owner of A')
returning id as note_a \gset
select tests.authenticate_as(tests.w('user_b'));
select throws_ok(
  format('select public.merchant_list_notifications(%L)', tests.w('merchant_a')), '42501', null,
  'merchant_list_notifications: not another merchant''s'
);
select throws_ok(
  format('select public.merchant_mark_notification_read(%s)', :note_a), 'P0002', null,
  'merchant_mark_notification_read: another merchant''s does not exist for them'
);
select tests.clear_authentication();
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  format('select public.merchant_mark_notification_read(%s)', :note_a), 'P0002', null,
  'a platform admin does not mark a member''s notification read'
);
select tests.clear_authentication();
select tests.as_service_role();
select throws_ok(
  format('select public.merchant_mark_notification_read(%s)', :note_a), 'P0002', null,
  'nor does service_role'
);
select tests.clear_authentication();
select is(
  (
    select read_at from public.notifications
    where id = :note_a
  ), null,
  'so it is still unread'
);
select tests.authenticate_as(tests.w('user_a'));
select ok(
  public.merchant_mark_notification_read(:note_a) ->> 'read_at' is not null,
  'the addressee marks it read'
);
select is(
  (
    select count(*)::int from
      jsonb_array_elements(
        public.merchant_list_notifications(tests.w('merchant_a'), true) -> 'data'
      ) as n
    where (n ->> 'id')::bigint = :note_a
  ),
  0, 'and it is no longer unread'
);
select tests.clear_authentication();
select set_config('request.jwt.claims', json_build_object(
  'role', 'authenticated', 'merchant_id', tests.w('merchant_a'), 'api_key_id', :'busy_key'
)::text, true);
select set_config('role', 'authenticated', true);
select throws_ok(
  format('select public.merchant_mark_notification_read(%s)', :note_a), '42501', null,
  'an API key marks nothing read'
);
select tests.clear_authentication();
select tests.as_anon();
select throws_ok(
  'select public.merchant_list_notifications()', '42501', null, 'anon lists nothing'
);
select tests.clear_authentication();

select * from finish();
rollback;
