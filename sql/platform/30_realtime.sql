-- Stands in for: Supabase Realtime's database side, shaped as hosted Realtime creates it in
-- every project (https://github.com/supabase/realtime, lib/realtime/tenants/repo/migrations:
-- the 20260211000000 squash and 20260604120000_add_messages_default_partition):
--   * the publication `supabase_realtime` (Postgres Changes);
--   * realtime.messages, partitioned by range (inserted_at), with a default partition, the
--     index Realtime reads private broadcasts by, RLS enabled, and SELECT / INSERT / UPDATE
--     granted to anon, authenticated and service_role (RLS policies decide);
--   * realtime.topic(): the channel topic Realtime sets (`realtime.topic`) while it checks a
--     join against the RLS policies on realtime.messages
--     (https://supabase.com/docs/guides/realtime/authorization);
--   * realtime.send(payload, event, topic, private default true): Broadcast from Database;
--     adds the message id to the payload when it has none, sets realtime.topic for the
--     transaction, and never aborts the caller (a failure is a WARNING);
--   * realtime.broadcast_changes(...): the row-change helper built on send().
-- Hosted Realtime reads the rows send() writes and fans them out over websockets (and drops
-- old partitions); here the rows simply stay, so tests can assert what would have been
-- broadcast. Local clusters only; never pushed. Idempotent: a cluster made before messages
-- was partitioned gets the table rebuilt (it only ever holds broadcast rows).
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;

create schema if not exists realtime;
grant usage on schema realtime to anon, authenticated, service_role;

do $$
begin
  if exists (
    select 1 from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where n.nspname = 'realtime' and c.relname = 'messages' and c.relkind = 'r'
  ) then
    drop table realtime.messages;
  end if;
end
$$;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  id uuid not null default gen_random_uuid(),
  primary key (id, inserted_at)
) partition by range (inserted_at);
create table if not exists realtime.messages_default partition of realtime.messages default;
-- Hosted creates it `on only` the parent and attaches each day's partition's index; here
-- the one default partition gets it directly.
create index if not exists messages_inserted_at_topic_index
on realtime.messages (inserted_at desc, topic)
where extension = 'broadcast' and private is true;
alter table realtime.messages enable row level security;
revoke all on realtime.messages from anon, authenticated, service_role;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;

-- The topic a client is joining, set by Realtime while it evaluates RLS on messages.
create or replace function realtime.topic() returns text
language sql stable
as $$ select nullif(current_setting('realtime.topic', true), '')::text $$;

create or replace function realtime.send(
  payload jsonb, event text, topic text, private boolean default true
) returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    final_payload := case when payload ? 'id' then payload
      else jsonb_set(payload, '{id}', to_jsonb(generated_id)) end;
    execute format('set local realtime.topic to %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception when others then
    -- Hosted realtime.send never aborts the caller's transaction; it only warns.
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end
$$;

create or replace function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void
language plpgsql
as $$
declare
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation in ('INSERT', 'UPDATE', 'DELETE') then
    row_data := jsonb_build_object(
      'old_record', old, 'record', new, 'operation', operation, 'table', table_name,
      'schema', table_schema
    );
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception when others then
  raise exception 'Failed to process the row: %', sqlerrm;
end
$$;

grant execute on function realtime.topic() to anon, authenticated, service_role;
revoke execute on function realtime.send(jsonb, text, text, boolean) from public;
revoke execute on function realtime.broadcast_changes(
  text, text, text, text, text, record, record, text
) from public;
grant execute on function realtime.send(jsonb, text, text, boolean) to service_role;
grant execute on function realtime.broadcast_changes(
  text, text, text, text, text, record, record, text
) to service_role;
