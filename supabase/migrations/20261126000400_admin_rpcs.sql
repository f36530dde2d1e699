-- RPCs for the access model and wallets, plus idempotency-key storage and a readiness probe.
-- Each public RPC is a security invoker wrapper over a security definer function in private
-- that checks the caller itself; the audit triggers record every write they make.

-- Idempotency keys -------------------------------------------------------------------------
create table private.idempotency_keys (
  scope text not null,
  actor text not null,
  key text not null check (char_length(key) between 1 and 255),
  request_hash text not null,
  response jsonb not null,
  created_at timestamptz not null default now(),
  primary key (scope, actor, key)
);
alter table private.idempotency_keys enable row level security;
revoke all on private.idempotency_keys from public, anon, authenticated;
create index idempotency_keys_created_idx on private.idempotency_keys (created_at);

-- Returns the stored response for a repeated key (or null the first time). Holds a
-- transaction-scoped lock on the key so a concurrent retry waits for the first to finish.
create function private.idempotency_replay(p_scope text, p_key text, p_request jsonb)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_actor text := coalesce(auth.uid()::text, auth.role(), current_setting('role', true));
  stored private.idempotency_keys;
begin
  if p_key is null then
    return null;
  end if;
  if char_length(p_key) not between 1 and 255 then
    raise exception 'idempotency key must be 1 to 255 characters' using errcode = '22023';
  end if;
  perform pg_advisory_xact_lock(hashtextextended(p_scope || '|' || v_actor || '|' || p_key, 0));
  select * into stored from private.idempotency_keys as k
  where k.scope = p_scope and k.actor = v_actor and k.key = p_key;
  if not found then
    return null;
  end if;
  if stored.request_hash <> md5(p_request::text) then
    raise exception 'idempotency key % was already used with different parameters', p_key
      using errcode = '22023';
  end if;
  return stored.response;
end
$$;

create function private.idempotency_store(
  p_scope text, p_key text, p_request jsonb, p_response jsonb
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_key is not null then
    insert into private.idempotency_keys (scope, actor, key, request_hash, response)
    values (
      p_scope,
      coalesce(auth.uid()::text, auth.role(), current_setting('role', true)),
      p_key,
      md5(p_request::text),
      p_response
    );
  end if;
  return p_response;
end
$$;

-- Merchants and members ---------------------------------------------------------------------
create function private.create_merchant(
  p_name text, p_owner_user_id uuid, p_country text, p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  request jsonb := jsonb_build_object('name', p_name, 'owner', p_owner_user_id, 'country', p_country);
  replay jsonb;
  m public.merchants;
begin
  perform private.require_admin();
  replay := private.idempotency_replay('create_merchant', p_idempotency_key, request);
  if replay is not null then
    return replay;
  end if;
  if p_name is null or char_length(btrim(p_name)) not between 1 and 200 then
    raise exception 'name must be 1 to 200 characters' using errcode = '22023';
  end if;
  if p_country is not null and p_country !~ '^[A-Z]{2}$' then
    raise exception 'country must be an ISO 3166 alpha-2 code such as IN' using errcode = '22023';
  end if;
  if p_owner_user_id is not null
    and not exists (select 1 from auth.users as u where u.id = p_owner_user_id) then
    raise exception 'user % does not exist', p_owner_user_id using errcode = 'P0002';
  end if;
  insert into public.merchants (name, country)
  values (btrim(p_name), coalesce(p_country, 'IN'))
  returning * into m;
  if p_owner_user_id is not null then
    insert into public.merchant_members (merchant_id, user_id, role)
    values (m.id, p_owner_user_id, 'owner');
  end if;
  return private.idempotency_store('create_merchant', p_idempotency_key, request, to_jsonb(m));
end
$$;

create function private.set_merchant_status(p_merchant_id uuid, p_status text)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m public.merchants;
begin
  perform private.require_admin();
  if p_status is null or p_status not in ('active', 'suspended', 'closed') then
    raise exception 'status must be one of active, suspended, closed' using errcode = '22023';
  end if;
  update public.merchants set status = p_status where id = p_merchant_id returning * into m;
  if not found then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  return to_jsonb(m);
end
$$;

-- Admins and the merchant's owners manage members; nobody changes their own role, and a
-- merchant always keeps at least one owner.
create function private.check_member_manager(p_merchant_id uuid, p_user_id uuid)
returns void
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if not exists (select 1 from public.merchants as m where m.id = p_merchant_id) then
    if private.is_admin() then
      raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
    end if;
    raise exception 'only the merchant''s owners or an admin can manage members'
      using errcode = '42501';
  end if;
  if not (private.is_admin() or private.has_merchant_role(p_merchant_id, '{owner}')) then
    raise exception 'only the merchant''s owners or an admin can manage members'
      using errcode = '42501';
  end if;
  if p_user_id = auth.uid() then
    raise exception 'you cannot change your own membership role' using errcode = '42501';
  end if;
end
$$;

create function private.keeps_an_owner(p_merchant_id uuid, p_user_id uuid)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.merchant_members as m
    where m.merchant_id = p_merchant_id and m.role = 'owner' and m.user_id <> p_user_id
  )
$$;

create function private.set_merchant_member(p_merchant_id uuid, p_user_id uuid, p_role text)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  current_role_name text;
  mm public.merchant_members;
begin
  perform private.check_member_manager(p_merchant_id, p_user_id);
  if p_role is null or p_role not in ('owner', 'developer', 'viewer') then
    raise exception 'role must be one of owner, developer, viewer' using errcode = '22023';
  end if;
  if not exists (select 1 from auth.users as u where u.id = p_user_id) then
    raise exception 'user % does not exist', p_user_id using errcode = 'P0002';
  end if;
  select m.role into current_role_name from public.merchant_members as m
  where m.merchant_id = p_merchant_id and m.user_id = p_user_id
  for update;
  if current_role_name = 'owner' and p_role <> 'owner'
    and not private.keeps_an_owner(p_merchant_id, p_user_id) then
    raise exception 'a merchant must keep at least one owner' using errcode = 'P0001';
  end if;
  insert into public.merchant_members as m (merchant_id, user_id, role)
  values (p_merchant_id, p_user_id, p_role)
  on conflict (merchant_id, user_id) do update set role = excluded.role
  where m.role is distinct from excluded.role;
  select * into mm from public.merchant_members as m
  where m.merchant_id = p_merchant_id and m.user_id = p_user_id;
  return to_jsonb(mm);
end
$$;

create function private.remove_merchant_member(p_merchant_id uuid, p_user_id uuid)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  mm public.merchant_members;
begin
  perform private.check_member_manager(p_merchant_id, p_user_id);
  select * into mm from public.merchant_members as m
  where m.merchant_id = p_merchant_id and m.user_id = p_user_id
  for update;
  if not found then
    raise exception 'user % is not a member of merchant %', p_user_id, p_merchant_id
      using errcode = 'P0002';
  end if;
  if mm.role = 'owner' and not private.keeps_an_owner(p_merchant_id, p_user_id) then
    raise exception 'a merchant must keep at least one owner' using errcode = 'P0001';
  end if;
  delete from public.merchant_members as m
  where m.merchant_id = p_merchant_id and m.user_id = p_user_id;
  return jsonb_build_object('removed', true, 'merchant_id', p_merchant_id, 'user_id', p_user_id);
end
$$;

-- Platform admins ---------------------------------------------------------------------------
create function private.grant_platform_admin(p_user_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  inserted integer;
begin
  perform private.require_admin();
  if p_user_id = auth.uid() then
    raise exception 'you cannot grant a role to yourself' using errcode = '42501';
  end if;
  if not exists (select 1 from auth.users as u where u.id = p_user_id) then
    raise exception 'user % does not exist', p_user_id using errcode = 'P0002';
  end if;
  insert into public.platform_admins (user_id, granted_by)
  values (p_user_id, auth.uid())
  on conflict (user_id) do nothing;
  get diagnostics inserted = row_count;
  return jsonb_build_object('user_id', p_user_id, 'granted', inserted = 1);
end
$$;

create function private.revoke_platform_admin(p_user_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  deleted integer;
begin
  perform private.require_admin();
  perform 1 from public.platform_admins for update;
  if exists (select 1 from public.platform_admins as a where a.user_id = p_user_id)
    and not exists (select 1 from public.platform_admins as a where a.user_id <> p_user_id) then
    raise exception 'the platform must keep at least one admin' using errcode = 'P0001';
  end if;
  delete from public.platform_admins as a where a.user_id = p_user_id;
  get diagnostics deleted = row_count;
  if deleted = 0 then
    raise exception 'user % is not a platform admin', p_user_id using errcode = 'P0002';
  end if;
  return jsonb_build_object('user_id', p_user_id, 'revoked', true);
end
$$;

-- Wallets -----------------------------------------------------------------------------------
-- Manual ledger entries by operators (settlements and payments post theirs from the worker).
-- The idempotency key is part of the ledger row: a retry returns the first entry.
create function private.post_wallet_entry(
  p_merchant_id uuid, p_currency text, p_amount bigint, p_kind text, p_reference text,
  p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  w public.wallets;
  e public.wallet_ledger;
begin
  perform private.require_admin();
  if p_idempotency_key is null or char_length(p_idempotency_key) not between 1 and 255 then
    raise exception 'an idempotency key of 1 to 255 characters is required'
      using errcode = '22023';
  end if;
  if p_currency is null or p_currency !~ '^[A-Z]{3}$' then
    raise exception 'currency must be an ISO 4217 code such as INR' using errcode = '22023';
  end if;
  if p_amount is null or p_amount = 0 then
    raise exception 'amount must be a non-zero integer in minor units' using errcode = '22023';
  end if;
  if p_kind is null or p_kind not in ('adjustment', 'settlement', 'fee', 'payout') then
    raise exception 'kind must be one of adjustment, settlement, fee, payout'
      using errcode = '22023';
  end if;
  if not exists (select 1 from public.merchants as m where m.id = p_merchant_id) then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  insert into public.wallets (merchant_id, currency)
  values (p_merchant_id, p_currency)
  on conflict (merchant_id, currency) do nothing;
  select * into w from public.wallets as x
  where x.merchant_id = p_merchant_id and x.currency = p_currency;

  select * into e from public.wallet_ledger as l
  where l.wallet_id = w.id and l.idempotency_key = p_idempotency_key;
  if found then
    if e.amount <> p_amount or e.kind <> p_kind then
      raise exception 'idempotency key % was already used with different parameters',
        p_idempotency_key using errcode = '22023';
    end if;
    return to_jsonb(e) || jsonb_build_object('replayed', true);
  end if;

  insert into public.wallet_ledger (
    wallet_id, merchant_id, amount, kind, reference, idempotency_key, created_by
  ) values (
    w.id, p_merchant_id, p_amount, p_kind, p_reference, p_idempotency_key, auth.uid()
  ) returning * into e;
  return to_jsonb(e) || jsonb_build_object('replayed', false);
end
$$;

-- Readiness: the newest migration version the CLI recorded (service_role only).
create function private.migration_version() returns text
language plpgsql stable security definer
set search_path = ''
as $$
begin
  return (select max(version) from supabase_migrations.schema_migrations);
exception when undefined_table or invalid_schema_name then
  return null;
end
$$;

-- Public RPCs (security invoker wrappers) ---------------------------------------------------
create function public.me() returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'user_id', auth.uid(),
    'email', auth.email(),
    'is_admin', exists (
      select 1 from public.platform_admins as a where a.user_id = auth.uid()
    ),
    'memberships', coalesce((
      select jsonb_agg(
        jsonb_build_object('merchant_id', m.id, 'merchant_name', m.name, 'role', mm.role)
        order by m.name
      )
      from public.merchant_members as mm
      join public.merchants as m on m.id = mm.merchant_id
      where mm.user_id = auth.uid()
    ), '[]'::jsonb)
  )
$$;

create function public.create_merchant(
  p_name text, p_owner_user_id uuid default null, p_country text default null,
  p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.create_merchant(p_name, p_owner_user_id, p_country, p_idempotency_key) $$;

create function public.set_merchant_status(p_merchant_id uuid, p_status text) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.set_merchant_status(p_merchant_id, p_status) $$;

create function public.set_merchant_member(p_merchant_id uuid, p_user_id uuid, p_role text)
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.set_merchant_member(p_merchant_id, p_user_id, p_role) $$;

create function public.remove_merchant_member(p_merchant_id uuid, p_user_id uuid)
returns jsonb
language sql volatile
set search_path = ''
as $$ select private.remove_merchant_member(p_merchant_id, p_user_id) $$;

create function public.grant_platform_admin(p_user_id uuid) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.grant_platform_admin(p_user_id) $$;

create function public.revoke_platform_admin(p_user_id uuid) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.revoke_platform_admin(p_user_id) $$;

create function public.post_wallet_entry(
  p_merchant_id uuid, p_currency text, p_amount bigint, p_kind text,
  p_idempotency_key text, p_reference text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.post_wallet_entry(
    p_merchant_id, p_currency, p_amount, p_kind, p_reference, p_idempotency_key
  )
$$;

-- Grants: RPCs for signed-in users and servers, never anon; private helpers only through them.
revoke execute on all functions in schema public from public, anon;
grant execute on function public.me(), public.create_merchant(text, uuid, text, text),
public.set_merchant_status(uuid, text), public.set_merchant_member(uuid, uuid, text),
public.remove_merchant_member(uuid, uuid), public.grant_platform_admin(uuid),
public.revoke_platform_admin(uuid), public.post_wallet_entry(uuid, text, bigint, text, text, text)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
grant execute on function private.create_merchant(text, uuid, text, text),
private.set_merchant_status(uuid, text), private.set_merchant_member(uuid, uuid, text),
private.remove_merchant_member(uuid, uuid), private.grant_platform_admin(uuid),
private.revoke_platform_admin(uuid),
private.post_wallet_entry(uuid, text, bigint, text, text, text)
to authenticated, service_role;
grant execute on function private.migration_version() to service_role;
