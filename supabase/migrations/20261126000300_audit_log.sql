-- Audit log: one generic trigger on every business table writes who changed what.
-- Append-only for everyone, table owner and service_role included; secret-bearing values
-- are redacted before they are written; admins read it through public.list_audit_logs.

create table audit.log (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default clock_timestamp(),
  actor_id uuid,
  actor_role text not null,
  action text not null check (action in ('insert', 'update', 'delete')),
  table_schema text not null,
  table_name text not null,
  row_id text,
  old_values jsonb,
  new_values jsonb,
  changed_columns text[],
  request_id text
);
alter table audit.log enable row level security;
create index audit_log_created_idx on audit.log (created_at, id);
create index audit_log_actor_idx on audit.log (actor_id, id);
create index audit_log_table_idx on audit.log (table_name, id);
create index audit_log_row_idx on audit.log (row_id, id);

create trigger audit_log_append_only before update or delete on audit.log
for each row execute function private.refuse_change();
create trigger audit_log_no_truncate before truncate on audit.log
for each statement execute function private.refuse_change();

-- Keys that name secrets are redacted wherever they appear, nested JSON included.
create function private.is_secret_key(p_key text) returns boolean
language sql immutable
set search_path = ''
as $$
  select p_key ~* '(secret|password|passwd|token|api_?key|private_?key|key_hash|credential|signature|salt|pin$|cvv)'
$$;

create function private.redact(p_value jsonb, p_extra_keys text[] default '{}')
returns jsonb
language plpgsql immutable
set search_path = ''
as $$
declare
  k text;
  v jsonb;
  result jsonb;
begin
  case jsonb_typeof(p_value)
    when 'object' then
      result := '{}'::jsonb;
      for k, v in select e.key, e.value from jsonb_each(p_value) as e loop
        if (k = any(p_extra_keys) or private.is_secret_key(k)) and jsonb_typeof(v) <> 'null' then
          result := result || jsonb_build_object(k, '[redacted]');
        else
          result := result || jsonb_build_object(k, private.redact(v, p_extra_keys));
        end if;
      end loop;
      return result;
    when 'array' then
      select coalesce(jsonb_agg(private.redact(e.value, p_extra_keys) order by e.ord), '[]'::jsonb)
      into result
      from jsonb_array_elements(p_value) with ordinality as e (value, ord);
      return result;
    else
      return p_value;
  end case;
end
$$;

-- Trigger arguments: (key columns comma-separated, default 'id'; extra columns to redact...).
create function audit.record_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  key_columns text [] := string_to_array(coalesce(tg_argv[0], 'id'), ',');
  extra_redact text [] := coalesce(tg_argv[1:], '{}'::text []);
  old_row jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  new_row jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
  key_source jsonb := coalesce(new_row, old_row);
  changed text [];
  headers jsonb;
  role_setting text := nullif(current_setting('role', true), 'none');
begin
  if tg_op = 'UPDATE' then
    select array_agg(n.key order by n.key) into changed
    from jsonb_each(new_row) as n
    where n.value is distinct from old_row -> n.key;
    if changed is null then
      return null; -- a no-op update changes nothing worth recording
    end if;
  end if;
  begin
    headers := nullif(current_setting('request.headers', true), '')::jsonb;
  exception when others then
    headers := null;
  end;
  insert into audit.log (
    actor_id, actor_role, action, table_schema, table_name, row_id,
    old_values, new_values, changed_columns, request_id
  ) values (
    auth.uid(),
    coalesce(auth.role(), role_setting, session_user),
    lower(tg_op),
    tg_table_schema,
    tg_table_name,
    (select string_agg(key_source ->> c, ',') from unnest(key_columns) as c),
    private.redact(old_row, extra_redact),
    private.redact(new_row, extra_redact),
    changed,
    left(headers ->> 'x-request-id', 128)
  );
  return null;
end
$$;

create trigger audit_merchants after insert or update or delete on public.merchants
for each row execute function audit.record_change();
create trigger audit_merchant_members after insert or update or delete on public.merchant_members
for each row execute function audit.record_change('merchant_id,user_id');
create trigger audit_platform_admins after insert or update or delete on public.platform_admins
for each row execute function audit.record_change('user_id');
create trigger audit_gateways after insert or update or delete on public.gateways
for each row execute function audit.record_change('id', 'credentials_secret_id');
create trigger audit_transactions after insert or update or delete on public.transactions
for each row execute function audit.record_change();
create trigger audit_wallets after insert or update or delete on public.wallets
for each row execute function audit.record_change();
create trigger audit_wallet_ledger after insert on public.wallet_ledger
for each row execute function audit.record_change();

create policy audit_log_admin_read on audit.log
for select to authenticated
using ((select private.is_admin()));

revoke all on audit.log from public, anon, authenticated, service_role;
grant usage on schema audit to authenticated, service_role;
grant select on audit.log to authenticated, service_role;

-- Admin-only read with filters and keyset pagination (newest first; pass next_cursor back).
create function public.list_audit_logs(
  p_actor uuid default null,
  p_table text default null,
  p_action text default null,
  p_row_id text default null,
  p_from timestamptz default null,
  p_to timestamptz default null,
  p_cursor bigint default null,
  p_limit integer default 50
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  page jsonb;
  last_id bigint;
  n integer;
begin
  perform private.require_admin();
  if p_limit is null or p_limit < 1 or p_limit > 500 then
    raise exception 'limit must be between 1 and 500' using errcode = '22023';
  end if;
  if p_action is not null and p_action not in ('insert', 'update', 'delete') then
    raise exception 'action must be one of insert, update, delete' using errcode = '22023';
  end if;
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  if p_cursor is not null and p_cursor < 1 then
    raise exception 'cursor is not valid' using errcode = '22023';
  end if;

  select coalesce(jsonb_agg(to_jsonb(l) order by l.id desc), '[]'::jsonb), min(l.id), count(*)
  into page, last_id, n
  from (
    select
      a.id, a.created_at, a.actor_id, a.actor_role, a.action, a.table_schema, a.table_name,
      a.row_id, a.old_values, a.new_values, a.changed_columns, a.request_id
    from audit.log as a
    where (p_actor is null or a.actor_id = p_actor)
      and (p_table is null or a.table_name = p_table)
      and (p_action is null or a.action = p_action)
      and (p_row_id is null or a.row_id = p_row_id)
      and (p_from is null or a.created_at >= p_from)
      and (p_to is null or a.created_at < p_to)
      and (p_cursor is null or a.id < p_cursor)
    order by a.id desc
    limit p_limit
  ) as l;

  return jsonb_build_object(
    'items', page,
    'next_cursor', case when n = p_limit then last_id end
  );
end
$$;

revoke execute on function public.list_audit_logs(
  uuid, text, text, text, timestamptz, timestamptz, bigint, integer
) from public, anon;
grant execute on function public.list_audit_logs(
  uuid, text, text, text, timestamptz, timestamptz, bigint, integer
) to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
revoke execute on function audit.record_change() from public, anon, authenticated;
