-- API keys, notifications and rate limits: members see their merchant's rows only, never a
-- key digest; API-key callers act for one merchant and cannot manage keys.
begin;
\ir _helpers.psql
select plan(37);
select tests.make_world();

insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash)
values
(tests.w('merchant_a'), 'a key', 'test', 'lsp_test_AAAA', 'aaaa', extensions.digest('a', 'sha256')),
(tests.w('merchant_b'), 'b key', 'live', 'lsp_live_BBBB', 'bbbb', extensions.digest('b', 'sha256'));
insert into public.notifications (merchant_id, kind, title)
values (tests.w('merchant_a'), 'api_key.rotated', 'a'), (tests.w('merchant_b'), 'api_key.rotated', 'b');

select tests.authenticate_as(tests.w('user_a'));
select results_eq('select name from public.api_keys', array['a key'], 'members see only their keys');
select throws_ok('select key_hash from public.api_keys', '42501', null, 'nobody reads a digest');
select results_eq('select title from public.notifications', array['a'], 'only their notifications');
select throws_ok(
  format('select public.merchant_list_api_keys(%L)', tests.w('merchant_b')), '42501', null,
  'cannot list another merchant''s keys'
);
select throws_ok(
  format(
    'select public.merchant_revoke_api_key(%L)',
    (
      select id from public.api_keys
      where name = 'b key'
    )
  ), 'P0002', null, 'another merchant''s key does not exist for them'
);
select throws_ok(
  format(
    'select public.admin_set_merchant_rate_limits(%L, 1, 1)', tests.w('merchant_a')
  ), '42501', null, 'merchants cannot set their own limits'
);
select throws_ok(
  'select * from private.rate_limit_take(''x'', 1, 1)', '42501', null,
  'clients cannot touch limiter buckets'
);
select throws_ok(
  'select private.api_key_gate(''\x00''::bytea, 0.1, true)', '42501', null,
  'clients cannot run the API-key gate (nor probe key digests)'
);
select throws_ok(
  'select private.add_rate_limit_breaches(''{x}'', array[now()], ''{1}'')', '42501', null,
  'clients cannot add rate-limit breaches'
);

-- An API-key caller of merchant A, as the adapter sets it up.
select set_config('request.jwt.claims', json_build_object(
  'role', 'authenticated', 'merchant_id', tests.w('merchant_a'),
  'api_key_id', (
    select id from public.api_keys
    where name = 'a key'
  )
)::text, true);
select results_eq('select name from public.api_keys', array['a key'], 'a key sees its merchant');
select results_eq(
  'select count(*)::int from public.payments', array[1], 'and its merchant''s payments'
);
select throws_ok(
  'select public.merchant_create_api_key(null, ''more'', ''test'', ''lsp_test_CCCCcccccccccccccccccccccccccc'', ''lsp_test_CCCC'', ''cccc'', extensions.digest(''c'', ''sha256''))',
  '42501', null, 'an API key cannot mint keys'
);
select throws_ok(
  format('select public.merchant_list_api_keys(%L)', tests.w('merchant_b')), '42501', null,
  'an API key cannot read another merchant'
);

-- The gate the adapter sends ahead of an API-key call (as service_role).
select tests.clear_authentication();
insert into public.merchant_rate_limits (merchant_id, api_key_per_min)
values (tests.w('merchant_a'), 60)
on conflict (merchant_id) do update set api_key_per_min = excluded.api_key_per_min;
set local role service_role;
select throws_ok(
  'select private.api_key_gate(''\x00''::bytea, 0.1, true)', 'PT401', 'no such API key',
  'an unknown digest is refused with PT401'
);
select results_eq(
  $$select g->>'mode', (g->>'per_min')::int, (g->>'remaining')::int
    from private.api_key_gate(extensions.digest('a', 'sha256'), 0.1, true) as g$$,
  $$values ('test', 60, 9)$$,
  'an active key is admitted with the limiter''s figures (burst 10, one spent)'
);
do $$
begin
  for i in 1..9 loop
    perform private.api_key_gate(extensions.digest('a', 'sha256'), 0.1, true);
  end loop;
end
$$;
select throws_ok(
  $$select private.api_key_gate(extensions.digest('a', 'sha256'), 0.1, true)$$,
  'PT429', 'too many requests', 'past the burst the gate refuses with PT429'
);
select results_eq(
  $$select g->>'api_key_id' is not null, json_typeof(g->'remaining'), json_typeof(g->'reset_ms')
    from private.api_key_gate(extensions.digest('a', 'sha256'), 0.1, false) as g$$,
  $$values (true, 'null', 'null')$$,
  'with the limiter off the gate still admits the key and spends nothing (no figures)'
);
update public.api_keys set revoked_at = now()
where name = 'a key';
select throws_ok(
  $$select private.api_key_gate(extensions.digest('a', 'sha256'), 0.1, false)$$,
  'PT401', 'this API key cannot be used', 'a revoked key is refused even without the limiter'
);

-- Admission rows (private.key_admissions): built on a key's first admission, forgotten by
-- any change to the key, its merchant or the merchant's limits, so a change applies at once.
reset role;
insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash)
values (
  tests.w('merchant_a'), 'c key', 'live', 'lsp_live_CCCC', 'cccc', extensions.digest('c', 'sha256')
);
-- The gate's outcome as one line: 'admitted <per_min> <remaining>' or '<SQLSTATE> <detail>'.
create function pg_temp.gate(p_key text, p_fraction numeric default 0.1) returns text
language plpgsql as $$
declare
  answer json;
  detail text;
begin
  answer := private.api_key_gate(extensions.digest(p_key, 'sha256'), p_fraction, true);
  return format('admitted %s %s', answer->>'per_min', answer->>'remaining');
exception when sqlstate 'PT401' or sqlstate 'PT429' then
  get stacked diagnostics detail = pg_exception_detail;
  return format('%s %s', sqlstate, detail);
end
$$;
set local role service_role;
select is(pg_temp.gate('c'), 'admitted 60 9', 'a key''s first admission (60 a minute, burst 10)');
select throws_ok(
  'select 1 from private.key_admissions', '42501', null, 'admission rows are the gate''s alone'
);
reset role;
select results_eq(
  $$select a.per_min, a.burst, a.mode from private.key_admissions as a
    join public.api_keys as k on k.id = a.api_key_id where k.name = 'c key'$$,
  $$values (60, 10, 'live')$$,
  'the first admission built the key''s row'
);
insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash)
values (
  tests.w('merchant_a'), 'd key', 'test', 'lsp_test_DDDD', 'dddd', extensions.digest('d', 'sha256')
);
update public.api_keys set revoked_at = now()
where name = 'd key';
select results_eq(
  $$select a.usable_until from private.key_admissions as a
    join public.api_keys as k on k.id = a.api_key_id where k.name = 'c key'$$,
  array[null::timestamptz],
  'revoking another key leaves this key''s row (and bucket) alone'
);
update public.merchant_rate_limits set api_key_per_min = 120
where merchant_id = tests.w('merchant_a');
select results_eq(
  format(
    'select distinct usable_until from private.key_admissions where merchant_id = %L',
    tests.w('merchant_a')
  ),
  array['-infinity'::timestamptz],
  'a new merchant limit marks the merchant''s admission rows stale'
);
set local role service_role;
select is(
  pg_temp.gate('c'), 'admitted 120 9',
  'the next admission has the new limit and the same bucket (1.5 of 6 s used)'
);
select is(
  pg_temp.gate('c', 0.2), 'admitted 120 20',
  'another burst fraction rebuilds the row too (2 of 12 s used)'
);
reset role;
update public.merchants set status = 'suspended'
where id = tests.w('merchant_a');
set local role service_role;
select is(
  pg_temp.gate('c'), 'PT401 merchant_suspended', 'a suspended merchant''s key is refused at once'
);
reset role;
update public.merchants set status = 'active'
where id = tests.w('merchant_a');
update public.api_keys set revoked_at = clock_timestamp() + interval '300 milliseconds'
where name = 'c key';
set local role service_role;
select matches(pg_temp.gate('c'), '^admitted 120 ', 'a key in its grace window still works');
select pg_sleep(0.35);
select is(
  pg_temp.gate('c'), 'PT401 revoked', 'and stops at the end of it, with no change to any row'
);

-- The limiter step on its own: 1 per minute, a burst of 3.
select results_eq(
  $$select allowed, remaining from private.rate_limit_take('tap:gcra', 1, 3)$$,
  $$values (true, 2)$$, 'a new bucket admits its first request (2 of a burst of 3 left)'
);
select results_eq(
  $$select allowed, remaining from private.rate_limit_take('tap:gcra', 1, 3)$$,
  $$values (true, 1)$$, 'an existing bucket moves on'
);
select results_eq(
  $$select allowed, remaining from private.rate_limit_take('tap:gcra', 1, 3)$$,
  $$values (true, 0)$$, 'the last of the burst'
);
select results_eq(
  $$select allowed, remaining, retry_after_ms between 59000 and 60000, reset_ms > 179000
    from private.rate_limit_take('tap:gcra', 1, 3)$$,
  $$values (false, 0, true, true)$$,
  'past the burst: refused, the next token a minute away, the bucket full for three'
);
reset role;
select results_eq(
  $$select breaches from private.rate_limit_breaches where bucket = 'tap:gcra'$$,
  array[1], 'the refusal is counted'
);

-- Retention: idle buckets (full, as good as absent) and old breach counts go.
insert into private.rate_limits (bucket, tat)
values ('tap:idle', now() - interval '2 hours'), ('tap:busy', now() + interval '1 minute');
insert into private.rate_limit_breaches (bucket, minute, breaches)
values ('tap:idle', now() - interval '40 days', 1);
update private.key_admissions set tat = now() - interval '2 hours';
select private.rate_limit_retention();
select results_eq(
  $$select
      (select count(*)::int from private.rate_limits where bucket like 'tap:%'),
      (select count(*)::int from private.rate_limit_breaches where bucket like 'tap:%'),
      (select count(*)::int from private.key_admissions)$$,
  $$values (2, 1, 0)$$,
  'retention keeps live buckets (tap:gcra, tap:busy) and recent breaches, drops idle ones'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select private.rate_limit_retention()', '42501', null, 'clients cannot run the retention'
);

select tests.as_anon();
select throws_ok('select 1 from public.api_keys', '42501', null, 'anon: keys');
select throws_ok('select 1 from public.notifications', '42501', null, 'anon: notifications');

select * from finish();
rollback;
