-- Live events, one publishing path: private.publish(topic, event, payload) is what every
-- trigger and job that emits a live event calls. It appends one row to private.live_inbox in
-- the caller's transaction, and nothing else: no NOTIFY (a NOTIFY makes committing
-- transactions take one global lock in turn) and no realtime.send there (each call is a
-- subtransaction with its own xid; two per payment status change cost about a third of the
-- payment write path's throughput, measured by scripts/bench realtime).
--
-- After commit, private.live_sequence() (the adapter's listening connection every 20 ms
-- while it has streams open and every 100 ms otherwise; pg_cron every second as well) moves
-- committed inbox rows into private.live_events and numbers them 1, 2, 3, ... in the order
-- they became visible, under an advisory lock, so an SSE id (live_events.id) never goes
-- backwards and a reader at id N has seen everything up to N: Last-Event-ID resumes without
-- loss. In the same transaction it broadcasts them on their private topics: Broadcast from
-- Database, i.e. the rows realtime.send writes into realtime.messages (payload with the
-- message id added, extension broadcast, private), written set-based in one statement;
-- hosted Realtime reads realtime.messages through logical replication and fans them out
-- to supabase-js clients (https://supabase.com/docs/guides/realtime/broadcast). Then it
-- NOTIFYs lsp_live with the new head (ids only). Events are kept live.retention_s (24 h);
-- a resume from before the kept window gets an explicit gap.
--
-- Topics: admin:payments, admin:gateways, admin:queues, admin:alerts (platform admins) and
-- merchant:<uuid>:payments | alerts | notifications (the merchant's members, and admins),
-- with per-mode payments and alerts topics for API keys (merchant:<uuid>:payments:test) and
-- per-user notification topics (merchant:<uuid>:notifications:<user uuid>). ONE function decides who may read a topic, private.can_read_topic, used by
-- the realtime.messages policy (Realtime's private-channel join) and by the adapter's SSE
-- endpoints (public.live_authorize, as the caller), so the two paths cannot disagree.
--
-- EventSource cannot send headers: public.create_stream_token mints a 60 s token bound to
-- the caller's claims and topics; only its SHA-256 is stored.

insert into private.settings (key, value, description) values
(
  'live.retention_s', '86400',
  'seconds live events stay in private.live_events for SSE resumes (Last-Event-ID); older ones are a gap'
),
(
  'live.stream_token_ttl_s', '60',
  'seconds an SSE stream token (public.create_stream_token) stays valid'
)
on conflict (key) do nothing;

-- Topics ------------------------------------------------------------------------------------
create function private.can_read_topic(p_topic text) returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
declare
  uuid_re constant text := '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
  part text[] := regexp_match(
    p_topic,
    '^merchant:(' || uuid_re || '):(payments|alerts|notifications)(?::(test|live|' || uuid_re
    || '))?$'
  );
  key_mode text := private.key_mode();
begin
  if p_topic ~ '^admin:(payments|gateways|queues|alerts)$' then
    return private.is_admin();
  end if;
  if part is null -- unknown or malformed topics: nobody
    or (part[2] = 'notifications' and part[3] in ('test', 'live'))
    or (part[2] <> 'notifications' and part[3] is not null and part[3] not in ('test', 'live'))
  then
    return false;
  end if;
  if private.is_admin() then
    return true;
  end if;
  if not private.has_merchant_role(part[1]::uuid) then
    return false;
  end if;
  if part[2] = 'notifications' then
    -- merchant-wide notifications for every member and key; a user's own for that user only
    return part[3] is null or coalesce(key_mode is null and part[3] = auth.uid()::text, false);
  end if;
  -- payments and alerts carry both modes: members read either topic, an API key its own
  -- mode's topic only (as it reads its own mode's payments over REST)
  return key_mode is null or coalesce(part[3] = key_mode, false);
end
$$;
comment on function private.can_read_topic(text) is
$$THE decision "may this caller read this live topic", used by the realtime.messages policy
and by public.live_authorize (the SSE endpoints):
admin:payments|gateways|queues|alerts: platform admins (and service_role);
merchant:<id>:payments|alerts: that merchant's members (viewers included) and admins (both
modes); merchant:<id>:payments:<mode> and merchant:<id>:alerts:<mode>: the same, and the
merchant's API keys of that mode (test or live) - a key reads nothing of the other mode;
merchant:<id>:notifications: members, API keys and admins (notifications for every member);
merchant:<id>:notifications:<user id>: that user (a member) and admins;
anything else: nobody.$$;

-- An API key's claims are trusted by the database; a stream opened with one is checked again
-- against the key's row (revoked, expired, merchant no longer active).
create function private.caller_key_usable() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select not (auth.jwt() ? 'api_key_id') or exists (
    select 1 from public.api_keys as k
    join public.merchants as m on m.id = k.merchant_id
    where k.id = (auth.jwt() ->> 'api_key_id')::uuid
      and (k.revoked_at is null or k.revoked_at > now())
      and (k.expires_at is null or k.expires_at > now())
      and m.status = 'active'
  )
$$;
comment on function private.caller_key_usable() is
$$True unless the caller is an API key that is revoked, expired, or whose merchant is not
active.$$;

create function private.check_topics(p_topics text[]) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  t text;
begin
  if p_topics is null or cardinality(p_topics) = 0 then
    raise exception 'name at least one topic' using errcode = '22023';
  end if;
  if cardinality(p_topics) > 20 then
    raise exception 'at most 20 topics per stream' using errcode = '22023';
  end if;
  if not private.caller_key_usable() then
    perform private.raise_http(401, 'unauthorized', 'this API key can no longer be used');
  end if;
  foreach t in array p_topics loop
    if t is null or not coalesce(private.can_read_topic(t), false) then
      perform private.raise_http(
        403, 'topic_forbidden', format('you may not read topic %s', left(t, 200))
      );
    end if;
  end loop;
  return jsonb_build_object('topics', to_jsonb(p_topics));
end
$$;
comment on function private.check_topics(text[]) is
$$1 to 20 topics the caller may read (private.can_read_topic), or an HTTP answer: 400, 401 for
an API key no longer usable, 403 topic_forbidden naming the first topic refused.$$;

create function public.live_authorize(p_topics text[]) returns jsonb
language sql stable
set search_path = ''
as $$ select private.check_topics(p_topics) $$;
comment on function public.live_authorize(text[]) is
$$Checks that the caller may read every named live topic (the SSE endpoints ask this, as the
caller, before a stream starts and again while it runs).
Who: any signed-in caller and API keys; what each may read is private.can_read_topic's answer.
Returns: {topics: [text]}.
Errors: 22023 no topics or more than 20; PGRST 401 unauthorized (API key revoked, expired or
its merchant inactive); PGRST 403 topic_forbidden naming the topic.$$;

-- The outbox -----------------------------------------------------------------------------------
create table private.live_inbox (
  id bigint generated always as identity primary key,
  topics text[] not null check (cardinality(topics) between 1 and 5),
  event text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
alter table private.live_inbox enable row level security;
revoke all on private.live_inbox from public, anon, authenticated;
grant select, insert, delete on private.live_inbox to service_role;
comment on table private.live_inbox is
$$Live events written by private.publish in the publishing transaction and not yet numbered:
private.live_sequence moves them into private.live_events and broadcasts them (within
milliseconds while an adapter runs, a second at most from pg_cron). No client role reads or
writes it.$$;
comment on column private.live_inbox.topics is
$$The topics the event goes to (one live event per topic once numbered).$$;
comment on column private.live_inbox.created_at is
$$When the publishing transaction wrote the event (its now()).$$;

create table private.live_events (
  id bigint primary key,
  topic text not null,
  event text not null,
  payload jsonb not null,
  published_at timestamptz not null,
  created_at timestamptz not null default now()
);
alter table private.live_events enable row level security;
revoke all on private.live_events from public, anon, authenticated;
grant select on private.live_events to service_role;
create index live_events_topic_idx on private.live_events (topic, id);
comment on table private.live_events is
$$The SSE outbox: every live event in the order it became visible, numbered without gaps by
private.live_sequence. id is the SSE event id (Last-Event-ID). Kept live.retention_s (24 h)
by private.live_retention. Read by the adapter (service_role) after private.can_read_topic
admitted the stream; no client role reads it.$$;
comment on column private.live_events.id is
$$Stream position: 1, 2, 3, ... in the order events became visible (never reused).$$;
comment on column private.live_events.published_at is
$$When the publishing transaction wrote the event.$$;
comment on column private.live_events.created_at is
$$When the event was numbered (its publishing transaction had committed by then).$$;

create table private.live_state (
  id boolean primary key default true check (id),
  head bigint not null default 0 check (head >= 0),
  pruned_through bigint not null default 0 check (pruned_through >= 0),
  created_at timestamptz not null default now()
);
alter table private.live_state enable row level security;
revoke all on private.live_state from public, anon, authenticated;
grant select on private.live_state to service_role;
insert into private.live_state (id) values (true) on conflict do nothing;
comment on table private.live_state is
$$One row: head (the last live event id given out) and pruned_through (every id up to it has
been pruned: a resume from before it is a gap).$$;
comment on column private.live_state.head is
$$The highest private.live_events id given out so far.$$;
comment on column private.live_state.pruned_through is
$$Every private.live_events id up to this one has been pruned.$$;

-- On the write path of every payment, so it is cheap: invoker and no SET clause (each costs
-- a fair part of the call; callers are definer triggers and jobs with search_path already
-- ''), shape checks with LIKE (a regex per topic cost twice the insert; readers' topics are
-- checked exactly by private.can_read_topic), one row whatever the number of topics.
create function private.publish(p_topics text[], p_event text, p_payload jsonb) returns void
language plpgsql
as $$
declare
  t text;
begin
  if p_topics is null or cardinality(p_topics) not between 1 and 5 then
    raise exception 'name 1 to 5 live topics' using errcode = '22023';
  end if;
  foreach t in array p_topics loop
    if t is null or not (
      t in ('admin:payments', 'admin:gateways', 'admin:queues', 'admin:alerts')
      or t ~ '^merchant:[0-9a-f-]{36}:(payments|alerts)(:(test|live))?$'
      or t ~ '^merchant:[0-9a-f-]{36}:notifications(:[0-9a-f-]{36})?$'
    ) then
      raise exception 'not a live topic: %', t using errcode = '22023';
    end if;
  end loop;
  if p_event is null or p_event not like '_%._%'
    or pg_catalog.translate(p_event, 'abcdefghijklmnopqrstuvwxyz_.', '') <> '' then
    raise exception 'not a live event name: %', p_event using errcode = '22023';
  end if;
  insert into private.live_inbox (topics, event, payload)
  values (p_topics, p_event, coalesce(p_payload, '{}'::jsonb));
end
$$;
comment on function private.publish(text[], text, jsonb) is
$$THE live-event helper (triggers and jobs only) for an event that goes to several topics:
one row in the outbox's inbox, in the caller's transaction; private.live_sequence numbers
it (one live event per topic) after commit and broadcasts it on each private topic
(Realtime). 22023 for a topic or event name that is not one of ours.$$;

create function private.publish(p_topic text, p_event text, p_payload jsonb) returns void
language sql
as $$ select private.publish(array[p_topic], p_event, p_payload) $$;
comment on function private.publish(text, text, jsonb) is
$$THE live-event helper for one topic: private.publish(array[topic], event, payload).$$;

create function private.live_sequence(p_limit integer default 10000) returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  v_head bigint;
  v_upto bigint;
  n integer;
begin
  -- One sequencer at a time; whoever holds the lock is doing the work already.
  if not pg_try_advisory_xact_lock(hashtextextended('lsp.live_sequence', 0)) then
    return 0;
  end if;
  -- A range, not `id in (subquery)`: the inbox's statistics are always stale (it empties
  -- every few milliseconds) and the planner re-ran the subquery for every row. A row with a
  -- lower id that commits later is simply numbered by a later run.
  select max(x.id) into v_upto from (
    select i.id from private.live_inbox as i order by i.id limit p_limit
  ) as x;
  if v_upto is null then
    return 0;
  end if;
  select s.head into v_head from private.live_state as s where s.id;
  with moved as (
    delete from private.live_inbox as i
    where i.id <= v_upto
    returning i.id, i.topics, i.event, i.payload, i.created_at
  ),

  numbered as (
    insert into private.live_events (id, topic, event, payload, published_at)
    select v_head + row_number() over (order by m.id, t.ord), t.topic, m.event, m.payload,
      m.created_at
    from moved as m
    cross join lateral unnest(m.topics) with ordinality as t (topic, ord)
    returning 1
  )

  select count(*) into n from numbered;
  if n = 0 then
    return 0;
  end if;
  update private.live_state as s set head = v_head + n where s.id;
  -- Broadcast from Database: what realtime.send writes, for the whole batch in one
  -- statement. Like realtime.send, a failure here only warns: the SSE outbox stands.
  begin
    with batch as (
      select gen_random_uuid() as message_id, e.topic, e.event, e.payload
      from private.live_events as e
      where e.id > v_head and e.id <= v_head + n
    )

    insert into realtime.messages (id, topic, extension, event, private, payload)
    select b.message_id, b.topic, 'broadcast', b.event, true,
      case when b.payload ? 'id' then b.payload
        else b.payload || jsonb_build_object('id', b.message_id) end
    from batch as b;
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
  -- Ids only: other adapter processes wake and read the rows themselves.
  perform pg_notify('lsp_live', (v_head + n)::text);
  return n;
end
$$;
comment on function private.live_sequence(integer) is
$$service_role (the adapter) and pg_cron: numbers up to p_limit committed inbox rows (one live
event per topic) in the order they became visible, moves them to private.live_events, broadcasts them on their
private topics (realtime.messages, as realtime.send would) and NOTIFYs lsp_live with the new
head; 0 when another sequencer holds the lock or nothing is waiting.$$;

create function private.live_read(p_after bigint, p_limit integer default 1000)
returns table (id bigint, topic text, event text, data text)
language sql stable security definer
set search_path = ''
as $$
  select e.id, e.topic, e.event, jsonb_build_object(
    'id', e.id, 'topic', e.topic, 'event', e.event, 'at', e.published_at, 'data', e.payload
  )::text
  from private.live_events as e
  where e.id > p_after
  order by e.id
  limit least(greatest(p_limit, 1), 10000)
$$;
comment on function private.live_read(bigint, integer) is
$$service_role (the adapter's one listening connection): live events after id p_after, in
order, with the SSE data already rendered as JSON text.$$;

create function private.live_backfill(
  p_after bigint, p_through bigint, p_topics text[], p_limit integer default 1000
) returns table (id bigint, topic text, event text, data text)
language sql stable security definer
set search_path = ''
as $$
  select e.id, e.topic, e.event, jsonb_build_object(
    'id', e.id, 'topic', e.topic, 'event', e.event, 'at', e.published_at, 'data', e.payload
  )::text
  from private.live_events as e
  where e.topic = any(p_topics) and e.id > p_after and e.id <= p_through
  order by e.id
  limit least(greatest(p_limit, 1), 10000)
$$;
comment on function private.live_backfill(bigint, bigint, text[], integer) is
$$service_role (an SSE resume): the events on p_topics with p_after < id <= p_through, in
order, rendered as live_read renders them. The caller checked the topics first.$$;

create function private.live_position() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'head', s.head, 'pruned_through', s.pruned_through, 'channel', 'lsp_live'
  )
  from private.live_state as s where s.id
$$;
comment on function private.live_position() is
$$service_role: {head (the last live event id), pruned_through (resumes before it are a gap),
channel (what private.live_sequence NOTIFYs)}.$$;

create function private.live_retention() returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  keep_s integer := coalesce((private.setting('live.retention_s'))::integer, 86400);
  boundary bigint;
  n integer := 0;
begin
  -- Nothing waits in the inbox for long even when no adapter is running.
  perform private.live_sequence();
  select max(x.id) into boundary from (
    select e.id from private.live_events as e
    where e.created_at < now() - make_interval(secs => keep_s)
    order by e.id limit 100000
  ) as x;
  if boundary is not null then
    delete from private.live_events as e where e.id <= boundary;
    get diagnostics n = row_count;
    update private.live_state as s
    set pruned_through = greatest(s.pruned_through, boundary) where s.id;
  end if;
  delete from private.stream_tokens as t where t.expires_at < now() - interval '1 hour';
  return n;
end
$$;
comment on function private.live_retention() is
$$pg_cron every 10 minutes: numbers waiting inbox events, deletes live events older than
live.retention_s (100,000 per run, oldest first) and records pruned_through; drops stream
tokens an hour past expiry. Returns the live events deleted.$$;

-- Stream tokens ------------------------------------------------------------------------------
create table private.stream_tokens (
  digest bytea primary key check (octet_length(digest) = 32),
  role text not null check (role in ('authenticated', 'service_role')),
  claims jsonb not null,
  topics text[] not null check (cardinality(topics) between 1 and 20),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
alter table private.stream_tokens enable row level security;
revoke all on private.stream_tokens from public, anon, authenticated;
grant select, insert, delete on private.stream_tokens to service_role;
comment on table private.stream_tokens is
$$Short-lived SSE stream tokens (EventSource cannot send an Authorization header): the
SHA-256 of the token (never the token), the caller's role and JWT claims (API keys: the
claims the adapter sets) and the topics it was minted for. No client role reads it.$$;
comment on column private.stream_tokens.digest is $$SHA-256 of the token.$$;
comment on column private.stream_tokens.expires_at is
$$Minted + live.stream_token_ttl_s (60 s), never later than the caller's own JWT exp.$$;

create function private.create_stream_token(p_topics text[]) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_claims jsonb := coalesce(auth.jwt(), '{}'::jsonb);
  v_role text := coalesce(auth.role(), nullif(current_setting('role', true), 'none'));
  v_token text := 'sst_' || translate(
    encode(extensions.gen_random_bytes(32), 'base64'), E'+/=\n', '-_'
  );
  v_expires timestamptz := now() + make_interval(
    secs => coalesce((private.setting('live.stream_token_ttl_s'))::integer, 60)
  );
begin
  if v_role is null or v_role not in ('authenticated', 'service_role') then
    raise exception 'sign in to open a live stream' using errcode = '42501';
  end if;
  perform private.check_topics(p_topics);
  if jsonb_typeof(v_claims -> 'exp') = 'number' then
    v_expires := least(v_expires, to_timestamp((v_claims ->> 'exp')::float8));
  end if;
  insert into private.stream_tokens (digest, role, claims, topics, expires_at)
  values (extensions.digest(v_token, 'sha256'), v_role, v_claims, p_topics, v_expires);
  return jsonb_build_object(
    'token', v_token, 'expires_at', v_expires, 'topics', to_jsonb(p_topics)
  );
end
$$;
comment on function private.create_stream_token(text[]) is
$$Mints an SSE stream token for the caller and topics; see public.create_stream_token.$$;

create function public.create_stream_token(p_topics text[]) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.create_stream_token(p_topics) $$;
comment on function public.create_stream_token(text[]) is
$$Mints a short-lived token for GET /api/v1/stream?access_token=... (EventSource cannot send
headers), bound to the caller (its claims) and to topics the caller may read. Only the
token's SHA-256 is stored; the token is in this answer only. No Idempotency-Key: a retry
mints another token, and storing the answer would keep a bearer secret.
Who: any signed-in caller and API keys, for topics private.can_read_topic allows them.
Returns: {token (sst_...), expires_at (60 s, never after the caller's JWT exp), topics}.
Errors: 42501 not signed in; 22023 no topics or more than 20; PGRST 401 API key no longer
usable; PGRST 403 topic_forbidden naming the topic.$$;

create function private.redeem_stream_token(p_digest bytea) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'role', t.role, 'claims', t.claims, 'topics', to_jsonb(t.topics), 'expires_at', t.expires_at
  )
  from private.stream_tokens as t
  where t.digest = p_digest and t.expires_at > now()
$$;
comment on function private.redeem_stream_token(bytea) is
$$service_role (the adapter): the role, claims and topics of an unexpired stream token by its
SHA-256, or null. The adapter then asks public.live_authorize as that caller.$$;

-- Realtime: who may join a private topic ---------------------------------------------------------
-- Realtime checks a join by inserting probe rows, then, as the joining user (role, JWT
-- claims, realtime.topic set), selecting them back under RLS, and rolling back. Only reads
-- are allowed: clients never broadcast on these topics (no insert policy), the database does.
create policy live_topics_read on realtime.messages
for select to authenticated
using (
  extension = 'broadcast'
  and topic = (select realtime.topic())
  and (select private.can_read_topic((select realtime.topic())))
);

-- pg_cron --------------------------------------------------------------------------------------
select cron.schedule('lsp-live-retention', '*/10 * * * *', 'select private.live_retention()');

-- Grants --------------------------------------------------------------------------------------
revoke execute on function
private.can_read_topic(text), private.caller_key_usable(),
private.check_topics(text[]), public.live_authorize(text[]),
private.publish(text[], text, jsonb), private.publish(text, text, jsonb),
private.live_sequence(integer), private.live_read(bigint, integer),
private.live_backfill(bigint, bigint, text[], integer), private.live_position(),
private.live_retention(), private.create_stream_token(text[]),
public.create_stream_token(text[]), private.redeem_stream_token(bytea)
from public, anon, authenticated;
grant execute on function
private.can_read_topic(text), private.caller_key_usable(), private.check_topics(text[]),
public.live_authorize(text[]), private.create_stream_token(text[]),
public.create_stream_token(text[])
to authenticated, service_role;
grant execute on function
private.publish(text[], text, jsonb), private.publish(text, text, jsonb),
private.live_sequence(integer), private.live_read(bigint, integer),
private.live_backfill(bigint, bigint, text[], integer), private.live_position(),
private.live_retention(), private.redeem_stream_token(bytea)
to service_role;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
