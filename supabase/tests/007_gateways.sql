-- Gateway tables and RPCs: admins only; merchants and anon see and change nothing.
begin;
\ir _helpers.psql
select plan(22);
select tests.make_world();

select tests.authenticate_as(tests.w('user_a'));
select is_empty('select 1 from public.gateways', 'merchant: gateways hidden');
select is_empty('select 1 from public.gateway_providers', 'merchant: catalogue hidden');
select is_empty('select 1 from public.gateway_probes', 'merchant: probes hidden');
select is_empty('select 1 from public.gateway_stats_minute', 'merchant: minute stats hidden');
select is_empty('select 1 from public.gateway_stats_hour', 'merchant: hour stats hidden');
select is_empty('select 1 from public.gateway_daily_usage', 'merchant: daily usage hidden');
select throws_ok('select public.admin_gateway_catalog()', '42501', null, 'merchant: catalogue');
select throws_ok('select public.admin_list_gateways()', '42501', null, 'merchant: list');
select throws_ok(
  'select public.admin_create_gateway(''{"provider": "sandbox"}'')', '42501', null,
  'merchant: create'
);
select throws_ok(
  format('select public.admin_update_gateway(%L, ''{"status": "active"}'')', tests.w('gateway')),
  '42501', null, 'merchant: update'
);
select throws_ok(
  format('select public.admin_archive_gateway(%L)', tests.w('gateway')), '42501', null,
  'merchant: archive'
);
select throws_ok(
  format('select public.admin_set_gateway_priority(array[%L]::uuid[])', tests.w('gateway')),
  '42501', null, 'merchant: priority'
);
select throws_ok('select public.admin_gateway_health()', '42501', null, 'merchant: health');
select throws_ok(
  format('select public.admin_gateway_test_target(%L)', tests.w('gateway')), '42501', null,
  'merchant: test target'
);
select throws_ok(
  format('select public.admin_record_gateway_test(%L, ''{"ok": true}'')', tests.w('gateway')),
  '42501', null, 'merchant: record a test'
);
select throws_ok(
  format('select public.route_payment(%L, 100, ''INR'', ''upi'')', tests.w('merchant_a')),
  '42501', null, 'merchant: routing internals'
);
select throws_ok(
  format('select private.gateway_credentials(%L)', tests.w('gateway')), '42501', null,
  'merchant: decrypted credentials'
);

select tests.as_anon();
select throws_ok('select 1 from public.gateway_probes', '42501', null, 'anon: probes');
select throws_ok('select public.admin_list_gateways()', '42501', null, 'anon: list');

select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  format('select private.gateway_credentials(%L)', tests.w('gateway')), '42501', null,
  'even an admin session cannot read decrypted credentials directly'
);
select throws_ok(
  'select public.admin_create_gateway(''{"provider": "sandbox", "display_name": "x", "credentials": {"api_key": "k"}}'')',
  '22023', null, 'a missing required credential is refused'
);
select throws_ok(
  format('select public.admin_update_gateway(%L, ''{"max_amount": 1, "min_amount": 5}'')', tests.w('gateway')),
  '22023', null, 'max below min is refused'
);

select * from finish();
rollback;
