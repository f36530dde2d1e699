-- Analytics: the rollups follow every status change (a late success moves a payment from
-- failed to succeeded in the bucket it was created in), isolation of the rollup tables and
-- the RPCs between merchants, roles, input checks.
begin;
\ir _helpers.psql
select plan(25);
select tests.make_world();
-- The rollups are applied at commit (deferred); these tests run in one transaction, so the
-- world's deltas are applied now and every statement's after it.
select ok(
  (select count(*) from private.payment_stats_pending) > 0
  and not exists (
    select 1 from public.payment_stats
    where merchant_id = tests.w('merchant_a')
  ),
  'before commit the deltas wait in payment_stats_pending and no rollup row is locked'
);
set constraints private.payment_stats_apply immediate;
select is(
  (select count(*)::integer from private.payment_stats_pending), 0,
  'applying them (at commit) empties payment_stats_pending'
);

create function tests.stats(p_merchant uuid) returns bigint[]
language sql stable
as $$
  select array[
    coalesce(sum(s.payments), 0), coalesce(sum(s.processing), 0), coalesce(sum(s.succeeded), 0),
    coalesce(sum(s.failed), 0), coalesce(sum(s.volume), 0)
  ]::bigint[]
  from public.payment_stats as s
  where s.merchant_id = p_merchant and s.grain = 'day'
$$;
grant execute on all functions in schema tests to authenticated, anon, service_role;

select is(
  tests.stats(tests.w('merchant_a')), '{1,1,0,0,0}'::bigint[],
  'a new payment counts as created and processing'
);
update public.payments set status = 'failed', failure_code = 'insufficient_funds'
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select is(tests.stats(tests.w('merchant_a')), '{1,0,0,1,0}'::bigint[], 'then failed');
select is(
  (
    select sum(failed)::integer from public.payment_failure_stats
    where merchant_id = tests.w('merchant_a') and grain = 'hour' and code = 'insufficient_funds'
  ), 1, 'its failure reason is counted'
);
update public.payments set status = 'succeeded', amount_captured = 1000, failure_code = null
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select is(
  tests.stats(tests.w('merchant_a')), '{1,0,1,0,1000}'::bigint[],
  'a late success moves it from failed to succeeded, with its volume'
);
select is(
  (
    select sum(failed)::integer from public.payment_failure_stats
    where merchant_id = tests.w('merchant_a') and grain = 'minute'
  ), 0, 'and out of the failure reasons'
);
update public.payment_attempts set provider_latency_ms = 180, status = 'succeeded'
where id = 'att_aaaaaaaaaaaaaaaaaaaa';
select is(
  (
    select s.h4 from public.payment_stats as s
    where s.merchant_id = tests.w('merchant_a') and s.grain = 'day' and s.gateway_id = tests.w('gateway')
  ), 1, 'an attempt''s provider latency lands in its histogram bucket (100 < 180 <= 200)'
);
select is(
  (
    select sum(s.payments)::integer from public.payment_stats as s
    where
      s.merchant_id = tests.w('merchant_a') and s.grain = 'hour'
      and s.gateway_id = '00000000-0000-0000-0000-000000000000'
  ), 1, 'a payment without a gateway counts under none'
);
update public.payments set gateway_id = tests.w('gateway')
where id = 'pay_aaaaaaaaaaaaaaaaaaaa';
select is(
  (
    select
      array[
        sum(s.payments) filter (where s.gateway_id = tests.w('gateway')),
        sum(s.payments) filter (where s.gateway_id <> tests.w('gateway'))
      ]::bigint[]
    from public.payment_stats as s
    where s.merchant_id = tests.w('merchant_a') and s.grain = 'hour'
  ), '{1,0}'::bigint[], 'and moves with it to its gateway'
);

-- RPCs -----------------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select is(
  (public.payment_analytics(p_mode => 'test') -> 'totals' ->> 'succeeded')::integer, 1,
  'a member reads its merchant''s analytics without naming it'
);
select is(
  public.payment_analytics(p_mode => 'test') ->> 'timezone', 'UTC', 'times are UTC'
);
select is(
  jsonb_array_length(public.payment_analytics(p_mode => 'test') -> 'groups' -> 0 -> 'series') >= 24,
  true, 'the default is the last 24 hours by hour, zero-filled'
);
select is(
  (public.analytics_overview(p_mode => 'test') -> 'windows' -> 'today' ->> 'volume')::bigint, 1000::bigint,
  'the overview''s today window'
);
select throws_ok(
  format('select public.payment_analytics(%L)', tests.w('merchant_b')), '42501', null,
  'not B''s analytics'
);
select throws_ok(
  format('select public.analytics_overview(%L)', tests.w('merchant_b')), '42501', null,
  'nor B''s overview'
);
select throws_ok(
  $$select public.payment_analytics(p_granularity => 'week')$$, '22023', null, 'granularity checked'
);
select throws_ok(
  $$select public.payment_analytics(p_group_by => 'country')$$, '22023', null, 'group_by checked'
);
select throws_ok(
  $$select public.payment_analytics(p_from => now() - interval '30 days', p_granularity => 'minute')$$,
  '22023', null, 'at most 1500 buckets'
);
select results_eq(
  'select distinct merchant_id from public.payment_stats', array[tests.w('merchant_a')],
  'payment_stats: only A''s rows'
);
select is_empty(
  format('select 1 from public.payment_failure_stats where merchant_id = %L', tests.w('merchant_b')),
  'payment_failure_stats: none of B''s'
);
select throws_ok(
  'update public.payment_stats set payments = 0', '42501', null, 'rollups are not writable by clients'
);
select throws_ok(
  'select 1 from private.payment_stats_pending', '42501', null,
  'members cannot read or feed the pending deltas'
);
select tests.as_anon();
select throws_ok('select 1 from public.payment_stats', '42501', null, 'anon: payment_stats');
select throws_ok('select public.analytics_overview()', '42501', null, 'anon: analytics_overview');

select * from finish();
rollback;
