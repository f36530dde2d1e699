-- Operations: the figures only the database knows (admin_operations_snapshot), and the API-key
-- pepper rotation helpers (digest versions, the rotating gate, re-digest, labels).
begin;
\ir _helpers.psql
select plan(19);
select tests.make_world();

-- Who may read the snapshot: admins and service_role; members, API keys and anon may not.
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select public.admin_operations_snapshot()', '42501', null, 'a merchant member is refused'
);
select tests.as_anon();
select throws_ok(
  'select public.admin_operations_snapshot()', '42501', null, 'anon cannot even call it'
);
select tests.clear_authentication();
select tests.authenticate_as(tests.w('admin'));
select ok(
  public.admin_operations_snapshot() ? 'cron_jobs', 'an admin reads it'
);
select tests.clear_authentication();
select tests.as_service_role();
select ok(
  jsonb_array_length(public.admin_operations_snapshot() -> 'cron_jobs') >= 9,
  'service_role reads every lsp-* pg_cron job'
);
select is(
  (select j ->> 'interval_s' from
    jsonb_array_elements(
      public.admin_operations_snapshot() -> 'cron_jobs'
    ) as j
  where j ->> 'job' = 'lsp-queue-retention'),
  '600', 'a */10 schedule is a 600 s interval'
);
select tests.clear_authentication();

-- Schedules as intervals.
select is(private.cron_interval_s('* * * * *'), 60, 'every minute');
select is(private.cron_interval_s('17 * * * *'), 3600, 'hourly');
select is(private.cron_interval_s('30 seconds'), 30, 'pg_cron seconds');
select is(private.cron_interval_s('0 9 * * 1'), null, 'weekly: no interval');

-- Digests carry a pepper version; usable keys are counted per version.
insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash, pepper_version)
values
(tests.w('merchant_a'), 'old', 'test', 'lsp_test_aaaa', 'aaaa', sha256('old'), 1),
(tests.w('merchant_a'), 'unlabelled', 'test', 'lsp_test_bbbb', 'bbbb', sha256('new'), null);
insert into public.api_keys (
  merchant_id, name, mode, prefix, last4, key_hash, pepper_version,
  revoked_at
)
values (tests.w('merchant_a'), 'gone', 'test', 'lsp_test_cccc', 'cccc', sha256('gone'), 1, now());
select tests.as_service_role();
select is(
  (select (d ->> 'keys')::int from
    jsonb_array_elements(
      public.admin_operations_snapshot() -> 'api_key_digests'
    ) as d
  where d -> 'pepper_version' = 'null'::jsonb),
  1, 'an unlabelled usable key is counted apart'
);

-- The rotating gate finds a key under an older pepper and re-digests it under the current one.
select is(
  private.api_key_gate_rotating(
    array[sha256('old-under-v2'), sha256('old')], '{2,1}', 0.1, true
  )::jsonb ->> 'redigested',
  'true', 'found under version 1: re-digested'
);
select is(
  (
    select pepper_version from public.api_keys
    where name = 'old'
  ), 2::smallint,
  'the key now carries version 2'
);
select is(
  (
    select key_hash from public.api_keys
    where name = 'old'
  ), sha256('old-under-v2'
  ),
  'and its digest under the current pepper'
);
select is(
  private.api_key_gate_rotating(
    array[sha256('old-under-v2'), sha256('old')], '{2,1}', 0.1, true
  )::jsonb ->> 'pepper_version',
  '2', 'the next request matches under the current pepper at once'
);
select throws_ok(
  $$select private.api_key_gate_rotating(array[sha256('x'), sha256('y')], '{2,1}', 0.1, true)$$,
  'PT401', null, 'an unknown key is still a 401'
);
select throws_ok(
  $$select private.api_key_gate_rotating(array[sha256('n'), sha256('gone')], '{2,1}', 0.1, true)$$,
  'PT401', null, 'a revoked key found under the old pepper is refused, not re-digested'
);
select is(
  private.label_api_key_peppers(array[sha256('new')], 2::smallint), 1,
  'labelling sets the version of keys made under the current pepper'
);
select tests.clear_authentication();

-- None of the helpers is open to clients.
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  $$select private.redigest_api_key(sha256('a'), sha256('b'), 2::smallint)$$, '42501', null,
  'members cannot re-digest keys'
);
select throws_ok(
  $$select private.label_api_key_peppers(array[sha256('a')], 2::smallint)$$, '42501', null,
  'members cannot label keys'
);

select * from finish();
rollback;
