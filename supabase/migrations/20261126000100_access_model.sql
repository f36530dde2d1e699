-- Access model: non-exposed schemas, merchants, their members, platform admins, and the
-- role helpers every RLS policy and RPC uses.
--
-- Conventions used by every later migration:
--   * tables are read-only to clients: `authenticated` gets select (under RLS) at most;
--   * writes go through RPCs in public (security invoker) that call security definer
--     functions in private, which check the caller themselves;
--   * errors use stable SQLSTATEs: 22023 bad parameter, P0001 business rule, 42501 not
--     allowed, P0002 not found, 23505 conflict.

create schema if not exists private;
create schema if not exists audit;
revoke all on schema private from public;
revoke all on schema audit from public;
grant usage on schema private to authenticated, service_role;

-- Merchants -------------------------------------------------------------------------------
create table public.merchants (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(btrim(name)) between 1 and 200),
  status text not null default 'active'
  check (status in ('active', 'suspended', 'closed')),
  country text not null default 'IN' check (country ~ '^[A-Z]{2}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.merchants enable row level security;

create table public.merchant_members (
  merchant_id uuid not null references public.merchants (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'developer', 'viewer')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (merchant_id, user_id)
);
alter table public.merchant_members enable row level security;
create index merchant_members_user_id_idx on public.merchant_members (user_id);

-- Platform operators. Written only by admins (through RPCs) and service_role.
create table public.platform_admins (
  user_id uuid primary key references auth.users (id) on delete cascade,
  granted_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now()
);
alter table public.platform_admins enable row level security;

-- Role helpers ----------------------------------------------------------------------------
-- security definer so policies can consult membership without granting clients the tables;
-- search_path = '' and qualified names so a caller cannot shadow anything.

create function private.is_service_role() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select coalesce(auth.role(), '') = 'service_role'
    or current_setting('role', true) = 'service_role'
$$;

create function private.is_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select private.is_service_role()
    or exists (
      select 1 from public.platform_admins as a where a.user_id = auth.uid()
    )
$$;

-- One helper for role checks: 'admin', 'service_role', or a merchant role name meaning
-- "holds this role in at least one merchant".
create function private.current_role_is(p_role text) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select case p_role
    when 'admin' then private.is_admin()
    when 'service_role' then private.is_service_role()
    else exists (
      select 1 from public.merchant_members as m
      where m.user_id = auth.uid() and m.role = p_role
    )
  end
$$;

-- Merchants the caller belongs to, optionally only those where they hold one of p_roles.
create function private.member_merchant_ids(p_roles text[] default null)
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select m.merchant_id
  from public.merchant_members as m
  where m.user_id = auth.uid()
    and (p_roles is null or m.role = any(p_roles))
$$;

create function private.has_merchant_role(p_merchant_id uuid, p_roles text[] default null)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.merchant_members as m
    where m.merchant_id = p_merchant_id
      and m.user_id = auth.uid()
      and (p_roles is null or m.role = any(p_roles))
  )
$$;

create function private.require_admin() returns void
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if not private.is_admin() then
    raise exception 'this action needs the platform admin role'
      using errcode = '42501';
  end if;
end
$$;

-- The signed-in user's id; refuses callers without one (anon, or a token without sub).
create function private.require_user() returns uuid
language plpgsql stable security definer
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception 'sign in first: this action needs an authenticated user'
      using errcode = '42501';
  end if;
  return uid;
end
$$;

-- Keeps updated_at honest on every table that has one.
create function private.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger merchants_touch before update on public.merchants
for each row execute function private.touch_updated_at();
create trigger merchant_members_touch before update on public.merchant_members
for each row execute function private.touch_updated_at();

-- Policies: read-only, `to authenticated`, helpers wrapped in (select ...) so they run once
-- per statement. Nothing for anon.
create policy merchants_read on public.merchants
for select to authenticated
using ((select private.is_admin()) or id in (select private.member_merchant_ids()));

create policy merchant_members_read on public.merchant_members
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);

create policy platform_admins_read on public.platform_admins
for select to authenticated
using ((select private.is_admin()) or user_id = (select auth.uid()));

-- Grants: undo Supabase's broad defaults, then give each role what it needs.
revoke all on public.merchants, public.merchant_members, public.platform_admins
from anon, authenticated, public;
grant select on public.merchants, public.merchant_members, public.platform_admins
to authenticated;
grant select, insert, update, delete
on public.merchants, public.merchant_members, public.platform_admins
to service_role;

revoke execute on all functions in schema private from public, anon;
grant execute on function private.is_service_role(), private.is_admin(),
private.current_role_is(text), private.member_merchant_ids(text[]),
private.has_merchant_role(uuid, text[]), private.require_admin(), private.require_user()
to authenticated, service_role;
