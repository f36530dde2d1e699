-- Stands in for: Supabase Realtime's database side. The publication `supabase_realtime`
-- (Postgres Changes), and schema `realtime` with `messages`, `topic()`, `send()` and
-- `broadcast_changes()` with hosted signatures. Hosted Realtime reads realtime.messages
-- and fans rows out over websockets; here the rows simply stay, so tests can assert what
-- would have been broadcast. Local clusters only; never pushed. Idempotent.
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;

create schema if not exists realtime;
grant usage on schema realtime to anon, authenticated, service_role;

create table if not exists realtime.messages (
  id uuid not null default gen_random_uuid(),
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default now(),
  inserted_at timestamp without time zone not null default now(),
  primary key (id, inserted_at)
);
alter table realtime.messages enable row level security;
grant select, insert, update, delete on realtime.messages to anon, authenticated, service_role;

-- The topic a client is joining, set by Realtime while it evaluates RLS on messages.
create or replace function realtime.topic() returns text
language sql stable
as $$ select nullif(current_setting('realtime.topic', true), '')::text $$;

create or replace function realtime.send(
  payload jsonb, event text, topic text, private boolean default true
) returns void
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into realtime.messages (payload, event, topic, private, extension)
  values (payload, event, topic, private, 'broadcast');
exception when others then
  -- Hosted realtime.send never aborts the caller's transaction; it only warns.
  raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
end
$$;

create or replace function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void
language plpgsql security definer
set search_path = ''
as $$
declare
  row_data jsonb;
begin
  if level = 'STATEMENT' then
    row_data := jsonb_build_object(
      'operation', operation, 'table', table_name, 'schema', table_schema
    );
  else
    row_data := jsonb_build_object(
      'old_record', case when old is null then null else to_jsonb(old) end,
      'record', case when new is null then null else to_jsonb(new) end,
      'operation', operation, 'table', table_name, 'schema', table_schema
    );
  end if;
  perform realtime.send(row_data, event_name, topic_name, true);
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
