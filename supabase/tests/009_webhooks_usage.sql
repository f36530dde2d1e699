-- Webhook and usage tables: a member of A sees none of B's rows and writes nothing
-- directly; anon reads nothing; the endpoint's secret references are not readable.
begin;
\ir _helpers.psql
select plan(19);
select tests.make_world();

insert into public.webhook_endpoints (id, merchant_id, url, secret_id)
values
('00000000-0000-4000-8000-00000000fa01', tests.w('merchant_a'), 'https://a.example/h', gen_random_uuid()),
('00000000-0000-4000-8000-00000000fb01', tests.w('merchant_b'), 'https://b.example/h', gen_random_uuid());
insert into public.webhook_events (id, merchant_id, type, payload)
values ('msg_a', tests.w('merchant_a'), 'payment.succeeded', '{}'),
('msg_b', tests.w('merchant_b'), 'payment.succeeded', '{}');
insert into public.webhook_deliveries (event_id, endpoint_id, merchant_id)
values ('msg_a', '00000000-0000-4000-8000-00000000fa01', tests.w('merchant_a')),
('msg_b', '00000000-0000-4000-8000-00000000fb01', tests.w('merchant_b'));
insert into public.webhook_attempts (delivery_id, merchant_id, attempt, started_at, status_code)
select
  d.id,
  d.merchant_id,
  1 as attempt,
  now() as started_at,
  200 as status_code
from public.webhook_deliveries as d
where d.event_id in ('msg_a', 'msg_b');

select tests.authenticate_as(tests.w('user_a'));
select results_eq(
  'select url from public.webhook_endpoints', array['https://a.example/h'],
  'endpoints: only A''s'
);
select results_eq(
  'select id from public.webhook_events where id in (''msg_a'', ''msg_b'')', array['msg_a'],
  'events: only A''s'
);
select results_eq(
  'select event_id from public.webhook_deliveries', array['msg_a'],
  'deliveries: only A''s'
);
select results_eq(
  'select count(*)::int from public.webhook_attempts', array[1],
  'attempts: only A''s'
);
select is_empty(
  'select 1 from public.api_usage_minute where merchant_id <> ' || quote_literal(tests.w('merchant_a')),
  'usage: nothing of other merchants'
);
select throws_ok(
  'select secret_id from public.webhook_endpoints', '42501', null,
  'the Vault reference is not readable'
);
select throws_ok(
  'update public.webhook_endpoints set enabled = false', '42501', null, 'no direct writes'
);
select throws_ok(
  'select public.merchant_update_webhook_endpoint(''00000000-0000-4000-8000-00000000fb01'', ''{"enabled": false}'')',
  'P0002', null, 'B''s endpoint does not exist for A'
);
select throws_ok(
  format('select public.merchant_list_webhook_events(%L)', tests.w('merchant_b')), '42501', null,
  'B''s events are refused'
);
select throws_ok(
  format('select private.emit_event(%L, ''payment.succeeded'', ''{}'')', tests.w('merchant_b')),
  '42501', null, 'clients cannot emit events'
);
select throws_ok(
  'select private.webhook_delivery_job(1)', '42501', null, 'clients cannot read signing secrets'
);

select ok(
  (select count(*) from public.webhook_event_types) > 10, 'members read the event catalogue'
);
select throws_ok(
  'insert into public.webhook_event_types (type, description) values (''x.y'', ''z'')',
  '42501', null, 'members cannot add event types'
);
select throws_ok(
  format('select public.merchant_delete_webhook_endpoint(%L)', '00000000-0000-4000-8000-00000000fb01'),
  'P0002', null, 'B''s endpoint cannot be deleted by A (reported as not found)'
);

select tests.as_anon();
select throws_ok('select 1 from public.webhook_event_types', '42501', null, 'anon: event types');
select throws_ok(
  format('select public.merchant_delete_webhook_endpoint(%L)', '00000000-0000-4000-8000-00000000fa01'),
  '42501', null, 'anon: delete an endpoint'
);
select throws_ok('select 1 from public.webhook_endpoints', '42501', null, 'anon: endpoints');
select throws_ok('select 1 from public.webhook_attempts', '42501', null, 'anon: attempts');
select throws_ok('select 1 from public.api_usage_minute', '42501', null, 'anon: usage');

select * from finish();
rollback;
