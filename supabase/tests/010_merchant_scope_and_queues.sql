-- One helper decides the merchant a call acts on (private.require_merchant): the argument,
-- an API key's claims, or the caller's only membership; then the roles. And queue names
-- come from public.queue_controls alone.
begin;
\ir _helpers.psql
select plan(18);
select tests.make_world();

-- A member of one merchant needs no merchant_id.
select tests.authenticate_as(tests.w('user_a'));
select is(private.require_merchant(null), tests.w('merchant_a'), 'one membership: it is the merchant');
select is(
  (public.merchant_list_api_keys() ->> 'merchant_id')::uuid, tests.w('merchant_a'),
  'an RPC called without merchant_id acts on the only merchant'
);
select throws_ok(
  format('select private.require_merchant(%L)', tests.w('merchant_b')), '42501', null,
  'another merchant: refused'
);

-- A member of two must choose, and is told the choices.
select tests.clear_authentication();
insert into public.merchant_members (merchant_id, user_id, role)
values (tests.w('merchant_b'), tests.w('user_a'), 'viewer');
select tests.authenticate_as(tests.w('user_a'));
select throws_like(
  'select private.require_merchant(null)', '%belong to 2 merchants: pass merchant_id (one of %',
  'two memberships: 22023 naming the choice'
);
select throws_ok('select private.require_merchant(null)', '22023', null, 'with SQLSTATE 22023');
select is(
  private.require_merchant(tests.w('merchant_b')), tests.w('merchant_b'),
  'a viewer may act where no role is required'
);
select throws_ok(
  format(
    'select private.require_merchant(%L, ''{owner,developer}'', ''manage webhooks'')',
    tests.w('merchant_b')
  ),
  '42501', 'only the merchant''s owners and developers can manage webhooks',
  'a viewer may not where owners or developers are required'
);

-- An API key acts on its own merchant only, and never as an owner.
select tests.clear_authentication();
select set_config('request.jwt.claims', json_build_object(
  'role', 'authenticated', 'merchant_id', tests.w('merchant_a'), 'api_key_id', gen_random_uuid()
)::text, true);
select set_config('role', 'authenticated', true);
select is(private.require_merchant(null), tests.w('merchant_a'), 'an API key: its merchant');
select throws_ok(
  format('select private.require_merchant(%L)', tests.w('merchant_b')), '42501', null,
  'an API key: no other merchant'
);
select throws_ok(
  'select private.require_merchant(null, ''{owner,developer}'', ''manage API keys'')',
  '42501', null, 'an API key cannot act as an owner'
);

-- Admins must name the merchant, and it must exist.
select tests.authenticate_as(tests.w('admin'));
select throws_ok('select private.require_merchant(null)', '22023', 'merchant_id is required', 'admin: merchant_id required');
select throws_ok(
  format('select private.require_merchant(%L)', gen_random_uuid()), 'P0002', null,
  'admin: an unknown merchant is not found'
);

-- Queue names: the controls rows are the list.
select tests.clear_authentication();
select throws_like(
  'select private.check_queue(''emails'')',
  'unknown queue emails: use one of gateway_health, payment, settlement, webhook%',
  'check_queue names the queues from queue_controls'
);
select throws_ok(
  'select private.parse_job_id(''emails_dlq:1'')', '22023', null,
  'a job id of an unknown queue is not valid'
);
select results_eq(
  'select queue_name, msg_id from private.parse_job_id(''payment_dlq:7'')',
  $$values ('payment_dlq'::text, 7::bigint)$$,
  'a dead-letter job id parses'
);
select private.create_queue('tests_scratch', 3, 2, 15);
select results_eq(
  $$select (select count(*)::int from pgmq.meta where queue_name like 'tests_scratch%'),
    (select concurrency from public.queue_controls where queue_name = 'tests_scratch')$$,
  $$values (2, 3)$$,
  'create_queue makes the controls row, the queue and its dead-letter queue'
);
select ok(
  has_table_privilege('service_role', 'pgmq.q_tests_scratch_dlq', 'select,insert,update,delete')
  and has_table_privilege('service_role', 'pgmq.a_tests_scratch', 'select,insert,update,delete'),
  'the worker may work the new queue''s tables'
);
select is(
  private.worker_config() -> 'channels' ->> 'jobs', 'lsp_jobs',
  'the worker reads its channels from the database'
);

select * from finish();
rollback;
