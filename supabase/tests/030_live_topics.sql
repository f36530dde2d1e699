-- Live topics: who may read what, decided by one function (private.can_read_topic) for both
-- paths. Realtime's private-channel join is checked the way Realtime does it: probe rows are
-- inserted into realtime.messages, then selected back as the joining role with its JWT
-- claims and realtime.topic set, under RLS; everything rolls back. The SSE path asks
-- public.live_authorize as the caller. Then the publishing path, the outbox's numbering,
-- resumes, retention and stream tokens.
begin;
\ir _helpers.psql
select plan(49);
select tests.make_world();

insert into public.api_keys (merchant_id, name, mode, prefix, last4, key_hash)
values (
  tests.w('merchant_a'), 'a key', 'test', 'lsp_test_AAAA', 'aaaa', extensions.digest('a', 'sha256')
);

create table tests.topics (topic text primary key);
insert into tests.topics
select t from unnest(array[
  'admin:payments', 'admin:gateways', 'admin:queues', 'admin:alerts',
  'merchant:' || tests.w('merchant_a') || ':payments',
  'merchant:' || tests.w('merchant_a') || ':alerts',
  'merchant:' || tests.w('merchant_a') || ':notifications',
  'merchant:' || tests.w('merchant_a') || ':payments:test',
  'merchant:' || tests.w('merchant_a') || ':payments:live',
  'merchant:' || tests.w('merchant_a') || ':alerts:test',
  'merchant:' || tests.w('merchant_a') || ':alerts:live',
  'merchant:' || tests.w('merchant_a') || ':notifications:' || tests.w('user_a'),
  'merchant:' || tests.w('merchant_b') || ':payments',
  'merchant:' || tests.w('merchant_b') || ':alerts',
  'merchant:' || tests.w('merchant_b') || ':notifications'
]) as t;

-- The callers: role and the claims PostgREST / Realtime / the adapter would set.
create table tests.callers (name text primary key, role text not null, claims jsonb not null);
insert into tests.callers values
(
  'admin', 'authenticated',
  jsonb_build_object('role', 'authenticated', 'sub', tests.w('admin'), 'aud', 'authenticated')
),
(
  'member_a', 'authenticated',
  jsonb_build_object('role', 'authenticated', 'sub', tests.w('user_a'), 'aud', 'authenticated')
),
(
  'member_b', 'authenticated',
  jsonb_build_object('role', 'authenticated', 'sub', tests.w('user_b'), 'aud', 'authenticated')
),
(
  'api_key_a', 'authenticated',
  jsonb_build_object(
    'role', 'authenticated', 'aud', 'authenticated', 'merchant_id', tests.w('merchant_a'),
    'api_key_id', (
      select id from public.api_keys
      where name = 'a key'
    ),
    'key_mode', 'test'
  )
),
('anon', 'anon', '{"role": "anon"}');
grant select on tests.topics, tests.callers to anon, authenticated;

-- Realtime's read check for a private channel (lib/realtime/tenants/authorization.ex):
-- probe rows in, then as the user with realtime.topic set, select them back.
create function tests.realtime_can_join(p_caller text, p_topic text) returns boolean
language plpgsql
as $$
declare
  c tests.callers;
  probe uuid := gen_random_uuid();
  presence uuid := gen_random_uuid();
  seen boolean;
begin
  select * into c from tests.callers as x where x.name = p_caller;
  insert into realtime.messages (id, topic, extension)
  values (probe, p_topic, 'broadcast'), (presence, p_topic, 'presence');
  perform set_config('role', c.role, true);
  perform set_config('realtime.topic', p_topic, true);
  perform set_config('request.jwt.claims', c.claims::text, true);
  select exists (
    select 1 from realtime.messages as m where m.topic = p_topic and m.id = probe
  ) into seen;
  perform tests.clear_authentication();
  perform set_config('realtime.topic', '', true);
  delete from realtime.messages as m where m.id in (probe, presence);
  return seen;
end
$$;

-- The SSE endpoints' check: public.live_authorize as the caller.
create function tests.sse_can_read(p_caller text, p_topic text) returns boolean
language plpgsql
as $$
declare
  c tests.callers;
  ok boolean;
begin
  select * into c from tests.callers as x where x.name = p_caller;
  perform set_config('request.jwt.claims', c.claims::text, true);
  perform set_config('role', c.role, true);
  begin
    perform public.live_authorize(array[p_topic]);
    ok := true;
  exception when sqlstate 'PGRST' or insufficient_privilege then
    ok := false;
  end;
  perform tests.clear_authentication();
  return ok;
end
$$;

create function tests.allowed(p_caller text, p_path text) returns setof text
language sql
as $$
  select t.topic from tests.topics as t
  where case p_path
    when 'realtime' then tests.realtime_can_join(p_caller, t.topic)
    else tests.sse_can_read(p_caller, t.topic)
  end
  order by t.topic
$$;

create function tests.expected(p_caller text) returns setof text
language sql stable
as $$
  select t.topic from tests.topics as t
  where case p_caller
    when 'admin' then true
    when 'member_a' then t.topic like 'merchant:' || tests.w('merchant_a') || ':%'
    -- a test key: its own mode's payments and alerts, and merchant-wide notifications only
    when 'api_key_a' then t.topic in (
      'merchant:' || tests.w('merchant_a') || ':payments:test',
      'merchant:' || tests.w('merchant_a') || ':alerts:test',
      'merchant:' || tests.w('merchant_a') || ':notifications'
    )
    when 'member_b' then t.topic like 'merchant:' || tests.w('merchant_b') || ':%'
    else false
  end
  order by t.topic
$$;

-- The matrix: every caller x every topic, on both paths ------------------------------------
select
  results_eq(
    format('select * from tests.allowed(%L, %L)', c.name, p.path),
    format('select * from tests.expected(%L)', c.name),
    format('%s on %s: exactly the expected topics', c.name, p.path)
  )
from tests.callers as c
cross join (values ('realtime'), ('sse')) as p (path)
order by c.name, p.path;

select is(
  (select count(*)::int from tests.expected('admin')), 15, 'the admin may read every topic'
);
select is(
  (select count(*)::int from tests.expected('anon')), 0, 'anon may read none'
);

-- Unknown and malformed topics: nobody, not even admins.
select ok(
  not tests.realtime_can_join('admin', 'admin:everything')
  and not tests.sse_can_read('admin', 'merchant:not-a-uuid:payments')
  and not tests.sse_can_read('admin', 'merchant:' || tests.w('merchant_a') || ':secrets')
  and not tests.sse_can_read('admin', 'merchant:' || tests.w('merchant_a') || ':notifications:test')
  and not tests.sse_can_read(
    'admin', 'merchant:' || tests.w('merchant_a') || ':payments:' || tests.w('user_a')
  ),
  'unknown topics are nobody''s'
);

-- Clients never broadcast on these topics (no insert policy) ---------------------------------
select tests.authenticate_as(tests.w('admin'));
select set_config('realtime.topic', 'admin:alerts', true);
select throws_ok(
  $$insert into realtime.messages (topic, extension) values ('admin:alerts', 'broadcast')$$,
  '42501', null, 'not even an admin can broadcast on a live topic from a client'
);
select throws_ok(
  $$select private.publish('admin:alerts', 'alert.firing', '{}')$$, '42501', null,
  'clients cannot call the publishing helper'
);
select throws_ok(
  'select count(*) from private.live_events', '42501', null, 'nor read the outbox'
);
select throws_ok(
  'select count(*) from private.live_inbox', '42501', null, 'nor its inbox'
);
select throws_ok(
  'select count(*) from private.stream_tokens', '42501', null, 'nor stream tokens'
);
select throws_ok(
  'select private.live_read(0, 10)', '42501', null, 'nor its reading functions'
);
select throws_ok(
  'select private.redeem_stream_token(''\x00''::bytea)', '42501', null,
  'nor redeem stream tokens'
);
select tests.clear_authentication();

-- SSE's answer names the refused topic (the adapter's 403) -----------------------------------
select tests.authenticate_as(tests.w('user_a'));
select throws_like(
  $$select public.live_authorize(array['admin:gateways'])$$,
  '%you may not read topic admin:gateways%', 'a refusal names the topic'
);
select throws_ok(
  'select public.live_authorize(''{}'')', '22023', null, 'no topics is a bad request'
);
select throws_ok(
  format(
    'select public.live_authorize(array(select %L from generate_series(1, 21)))',
    'merchant:' || tests.w('merchant_a') || ':payments'
  ), '22023', null, 'more than 20 topics is a bad request'
);
select tests.clear_authentication();

-- A revoked API key can no longer open or keep a stream --------------------------------------
update public.api_keys set revoked_at = now() - interval '1 second'
where name = 'a key';
select ok(
  not tests.sse_can_read('api_key_a', 'merchant:' || tests.w('merchant_a') || ':payments:test'),
  'a revoked key is refused on the SSE path'
);
update public.api_keys set revoked_at = null
where name = 'a key';

-- Publishing: one outbox row in the caller's transaction, broadcast once numbered -------------
select private.publish('admin:queues', 'queue.test', '{"n": 1}');
select is(
  (
    select payload from private.live_inbox
    where topics = '{admin:queues}' and event = 'queue.test'
  ),
  '{"n": 1}'::jsonb, 'publish: one outbox row, in the caller''s transaction'
);
select is(
  (
    select count(*)::int from realtime.messages
    where topic = 'admin:queues' and event = 'queue.test'
  ),
  0, 'nothing is broadcast before it is numbered (after commit)'
);
select throws_ok(
  $$select private.publish('admin:nothing', 'queue.test', '{}')$$, '22023', null,
  'an unknown topic is a bug, not a silent broadcast'
);
select throws_ok(
  $$select private.publish('admin:queues', 'Bad Event', '{}')$$, '22023', null,
  'so is a malformed event name'
);

-- Numbering: in visibility order, without gaps, once --------------------------------------------
delete from private.live_inbox;
update private.live_state set head = head + 1000;
select head as base from private.live_state \gset
select private.publish('admin:queues', 'queue.test', jsonb_build_object('n', n))
from generate_series(1, 3) as n;
select private.publish('admin:gateways', 'gateway.test', '{"n": 4}');
select is(private.live_sequence(), 4, 'four events numbered');
select results_eq(
  $$
    select m.event, m.private, m.extension, m.payload ->> 'n', m.payload ? 'id'
    from realtime.messages as m
    where m.topic in ('admin:queues', 'admin:gateways') and m.event like '%.test'
    order by m.payload ->> 'n'
  $$,
  $$
    values ('queue.test', true, 'broadcast', '1', true), ('queue.test', true, 'broadcast', '2', true),
    ('queue.test', true, 'broadcast', '3', true), ('gateway.test', true, 'broadcast', '4', true)
  $$,
  'and broadcast on their private topics as realtime.send would (an id added to the payload)'
);
select results_eq(
  format(
    'select id - %1$s, (data::jsonb -> ''data'' ->> ''n'')::int from private.live_read(%1$s, 10)',
    :base
  ),
  $$values (1::bigint, 1), (2::bigint, 2), (3::bigint, 3), (4::bigint, 4)$$,
  'ids follow the head, in order'
);
select is(private.live_sequence(), 0, 'nothing is numbered twice');
select is((private.live_position() ->> 'head')::bigint, (:base + 4)::bigint, 'the head moved');
select is(
  (select count(*)::int from private.live_inbox), 0, 'the inbox is empty once numbered'
);
select results_eq(
  format(
    $$select id - %1$s from private.live_backfill(%1$s, %1$s + 4, array['admin:gateways'])$$,
    :base
  ),
  $$values (4::bigint)$$, 'a resume reads only its topics'
);
select results_eq(
  format(
    $$select id - %1$s from private.live_backfill(%1$s + 1, %1$s + 2, array['admin:queues'])$$,
    :base
  ),
  $$values (2::bigint)$$, 'and only the range asked'
);
select is(
  (select data::jsonb - 'at' - 'id' from private.live_read(:base + 3, 1)),
  '{"topic": "admin:gateways", "event": "gateway.test", "data": {"n": 4}}'::jsonb,
  'the SSE data: id, topic, event, data (and at)'
);

-- Retention: older than the window is pruned, and a resume before it is a gap ------------------
update private.live_events set created_at = now() - interval '25 hours'
where id between :base + 1 and :base + 2;
select ok(private.live_retention() >= 2, 'events past live.retention_s are pruned');
select is(
  (private.live_position() ->> 'pruned_through')::bigint, (:base + 2)::bigint,
  'pruned_through marks the gap'
);
select results_eq(
  format('select id - %1$s from private.live_read(%1$s, 10)', :base),
  $$values (3::bigint), (4::bigint)$$,
  'newer events stay'
);

-- One event for several topics: one inbox row, one live event (and broadcast) per topic -----
select private.publish(array['admin:alerts', 'admin:queues'], 'multi.test', '{"n": 5}');
select is(private.live_sequence(), 2, 'one inbox row, numbered once per topic');
select results_eq(
  format(
    $$select id - %1$s, topic from private.live_read(%1$s + 4, 10) where event = 'multi.test'$$,
    :base
  ),
  $$values (5::bigint, 'admin:alerts'), (6::bigint, 'admin:queues')$$,
  'consecutive ids, topics in the order given'
);

-- Stream tokens --------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));
select set_config(
  'request.jwt.claims',
  (current_setting('request.jwt.claims')::jsonb || jsonb_build_object(
    'exp', floor(extract(epoch from now() + interval '30 seconds'))::bigint
  ))::text,
  true
);
create temp table minted on commit drop as
select public.create_stream_token(array['merchant:' || tests.w('merchant_a') || ':payments']) as t;
select tests.clear_authentication();
select ok(
  (select t ->> 'token' from minted) ~ '^sst_[A-Za-z0-9_-]{43}$', 'a token: sst_ + 256 bits'
);
select is(
  (
    select count(*)::int from private.stream_tokens as s, minted as m
    where s.digest = extensions.digest(m.t ->> 'token', 'sha256')
  ),
  1, 'only its SHA-256 is stored'
);
select ok(
  (select (t ->> 'expires_at')::timestamptz <= now() + interval '30 seconds' from minted),
  'it never outlives the caller''s own JWT'
);
select is(
  (
    select
      private.redeem_stream_token(extensions.digest(m.t ->> 'token', 'sha256')) -> 'claims'
      ->> 'sub'
    from minted as m
  ),
  tests.w('user_a')::text, 'redeemed: the caller''s claims'
);
update private.stream_tokens set expires_at = now() - interval '1 second';
select is(
  (
    select private.redeem_stream_token(extensions.digest(m.t ->> 'token', 'sha256'))
    from minted as m
  ),
  null, 'an expired token redeems nothing'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_like(
  format(
    'select public.create_stream_token(array[%L])',
    'merchant:' || tests.w('merchant_b') || ':payments'
  ),
  '%you may not read topic merchant:%', 'no token for a topic the caller may not read'
);
select tests.as_anon();
select throws_ok(
  $$select public.create_stream_token(array['admin:alerts'])$$, '42501', null,
  'anon mints nothing'
);
select tests.clear_authentication();

select * from finish();
rollback;
