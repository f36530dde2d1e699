-- Merchant API keys (stored only as HMAC-SHA256 digests made with a secret that is not in
-- the database), API-key callers as merchant principals, notifications, and a GCRA rate
-- limiter that decides each request in one statement.

-- API keys --------------------------------------------------------------------------------------
create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchants (id),
  name text not null check (char_length(btrim(name)) between 1 and 100),
  mode text not null check (mode in ('test', 'live')),
  -- What a person may see of a key: 'lsp_live_Ab12' and the last 4 characters.
  prefix text not null check (prefix ~ '^lsp_(test|live)_[A-Za-z0-9]{4}$'),
  last4 text not null check (last4 ~ '^[A-Za-z0-9]{4}$'),
  key_hash bytea not null unique check (octet_length(key_hash) = 32),
  rate_limit_per_min integer check (rate_limit_per_min between 1 and 1000000),
  created_by uuid references auth.users (id) on delete set null,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text check (char_length(revoked_reason) <= 200),
  replaced_by uuid references public.api_keys (id),
  created_at timestamptz not null default now()
);
alter table public.api_keys enable row level security;
create index api_keys_merchant_idx on public.api_keys (merchant_id, created_at desc);

create table public.notifications (
  id bigint generated always as identity primary key,
  merchant_id uuid not null references public.merchants (id),
  user_id uuid references auth.users (id) on delete cascade,
  kind text not null check (kind ~ '^[a-z_]+\.[a-z_]+$'),
  title text not null,
  details jsonb not null default '{}'::jsonb,
  read_at timestamptz,
  created_at timestamptz not null default now()
);
alter table public.notifications enable row level security;
create index notifications_merchant_idx on public.notifications (merchant_id, id desc);
create index notifications_user_idx on public.notifications (user_id, id desc);

-- Per-merchant limits set by admins (defaults apply when absent).
create table public.merchant_rate_limits (
  merchant_id uuid primary key references public.merchants (id) on delete cascade,
  api_key_per_min integer check (api_key_per_min between 1 and 1000000),
  user_per_min integer check (user_per_min between 1 and 1000000),
  updated_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.merchant_rate_limits enable row level security;

create trigger audit_api_keys after insert or update or delete on public.api_keys
for each row execute function audit.record_change('id', 'key_hash');
create trigger audit_merchant_rate_limits after insert or update or delete
on public.merchant_rate_limits
for each row execute function audit.record_change('merchant_id');
create trigger merchant_rate_limits_touch before update on public.merchant_rate_limits
for each row execute function private.touch_updated_at();

-- API-key callers: the adapter verifies the key and runs RPCs as `authenticated` with
-- claims {merchant_id, api_key_id}. They belong to that one merchant with the role
-- 'api_key': enough to read and act for it, never enough to manage keys or members.
create or replace function private.member_merchant_ids(p_roles text[] default null)
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select m.merchant_id
  from public.merchant_members as m
  where m.user_id = auth.uid()
    and (p_roles is null or m.role = any(p_roles))
  union all
  select (auth.jwt() ->> 'merchant_id')::uuid
  where auth.jwt() ? 'api_key_id'
    and (p_roles is null or 'api_key' = any(p_roles))
$$;

create or replace function private.has_merchant_role(
  p_merchant_id uuid, p_roles text[] default null
)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select p_merchant_id in (select private.member_merchant_ids(p_roles))
$$;

create policy api_keys_read on public.api_keys
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);
create policy notifications_read on public.notifications
for select to authenticated
using (
  (select private.is_admin())
  or (
    merchant_id in (select private.member_merchant_ids())
    and (user_id is null or user_id = (select auth.uid()))
  )
);
create policy merchant_rate_limits_read on public.merchant_rate_limits
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);

revoke all on public.api_keys, public.notifications, public.merchant_rate_limits
from public, anon, authenticated;
revoke all on all sequences in schema public from anon, authenticated;
-- Never the digest: column grants leave key_hash out for clients.
grant select (
  id, merchant_id, name, mode, prefix, last4, rate_limit_per_min, created_by, expires_at,
  last_used_at, revoked_at, revoked_reason, replaced_by, created_at
) on public.api_keys to authenticated;
grant select on public.notifications, public.merchant_rate_limits to authenticated;
grant select, insert, update, delete on public.api_keys, public.notifications,
public.merchant_rate_limits to service_role;

-- Rate limiting (GCRA) -----------------------------------------------------------------------
-- One row per bucket holds the theoretical arrival time (tat). A request is admitted when
-- tat - now <= burst tolerance; admitting moves tat on by one emission interval. The
-- conditional upsert takes the row lock, so parallel requests can never over-admit.
-- Unlogged: bucket state is worth no WAL flush per request; a crash just refills buckets.
create unlogged table private.rate_limits (
  bucket text primary key,
  tat timestamptz not null,
  created_at timestamptz not null default now()
);
alter table private.rate_limits enable row level security;

create table private.rate_limit_breaches (
  bucket text not null,
  minute timestamptz not null,
  breaches integer not null default 0,
  created_at timestamptz not null default now(),
  primary key (bucket, minute)
);
alter table private.rate_limit_breaches enable row level security;

create function private.rate_limit_take(p_bucket text, p_per_min integer, p_burst integer)
returns table (allowed boolean, remaining integer, retry_after_ms integer, reset_ms integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  t interval := interval '1 minute' / greatest(p_per_min, 1);
  tau interval := (interval '1 minute' / greatest(p_per_min, 1)) * (greatest(p_burst, 1) - 1);
  new_tat timestamptz;
  current_tat timestamptz;
begin
  insert into private.rate_limits as r (bucket, tat)
  values (p_bucket, clock_timestamp() + t)
  on conflict (bucket) do update
  set tat = greatest(r.tat, clock_timestamp()) + t
  where greatest(r.tat, clock_timestamp()) - clock_timestamp() <= tau
  returning r.tat into new_tat;
  if new_tat is not null then
    return query select true,
      greatest(floor(extract(epoch from tau - (new_tat - clock_timestamp()))
        / extract(epoch from t))::integer, 0),
      0,
      ceil(extract(epoch from new_tat - clock_timestamp()) * 1000)::integer;
    return;
  end if;
  select r.tat into current_tat from private.rate_limits as r where r.bucket = p_bucket;
  insert into private.rate_limit_breaches as b (bucket, minute, breaches)
  values (p_bucket, date_trunc('minute', now()), 1)
  on conflict (bucket, minute) do update set breaches = b.breaches + 1;
  return query select false, 0,
    greatest(ceil(extract(epoch from (current_tat - tau) - clock_timestamp()) * 1000), 1)::integer,
    ceil(extract(epoch from current_tat - clock_timestamp()) * 1000)::integer;
end
$$;

-- The limit that applies to a caller: a key's own override, else the merchant's, else the
-- default (600/min for API keys, 300/min for dashboard users).
create function private.rate_limit_for(p_api_key_id uuid, p_user_id uuid) returns integer
language sql stable security definer
set search_path = ''
as $$
  select case
    when p_api_key_id is not null then coalesce(
      (select k.rate_limit_per_min from public.api_keys as k where k.id = p_api_key_id),
      (select l.api_key_per_min from public.merchant_rate_limits as l
        join public.api_keys as k on k.merchant_id = l.merchant_id where k.id = p_api_key_id),
      600)
    else coalesce(
      (select min(l.user_per_min) from public.merchant_rate_limits as l
        join public.merchant_members as m on m.merchant_id = l.merchant_id
        where m.user_id = p_user_id),
      300)
  end
$$;

-- Key lifecycle (digests and display parts come from the adapter, which holds the secret) ------
create function private.check_key_parts(p_mode text, p_prefix text, p_last4 text, p_hash bytea)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_mode is null or p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if p_prefix is null or p_prefix !~ ('^lsp_' || p_mode || '_[A-Za-z0-9]{4}$')
    or p_last4 !~ '^[A-Za-z0-9]{4}$' or octet_length(p_hash) <> 32 then
    raise exception 'the key material is malformed' using errcode = '22023';
  end if;
end
$$;

create function private.key_view(k public.api_keys) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', k.id, 'merchant_id', k.merchant_id, 'name', k.name, 'mode', k.mode,
    'display', k.prefix || '…' || k.last4, 'created_at', k.created_at,
    'last_used_at', k.last_used_at, 'expires_at', k.expires_at, 'revoked_at', k.revoked_at,
    'status', case
      when k.revoked_at is not null and k.revoked_at <= now() then 'revoked'
      when k.revoked_at is not null then 'rotating'
      when k.expires_at is not null and k.expires_at <= now() then 'expired'
      else 'active'
    end,
    'rate_limit_per_min', private.rate_limit_for(k.id, null),
    'replaced_by', k.replaced_by
  )
$$;

create function private.resolve_merchant(p_merchant_id uuid) returns uuid
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := coalesce(p_merchant_id, (auth.jwt() ->> 'merchant_id')::uuid);
begin
  if m is null then
    raise exception 'merchant_id is required' using errcode = '22023';
  end if;
  if not (private.is_admin() or private.has_merchant_role(m)) then
    raise exception 'you are not a member of merchant %', m using errcode = '42501';
  end if;
  return m;
end
$$;

create function private.create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_prefix text, p_last4 text, p_hash bytea,
  p_expires_at timestamptz
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  k public.api_keys;
begin
  p_merchant_id := coalesce(p_merchant_id, (auth.jwt() ->> 'merchant_id')::uuid);
  if p_merchant_id is null then
    raise exception 'merchant_id is required' using errcode = '22023';
  end if;
  if not (private.is_admin() or private.has_merchant_role(p_merchant_id, '{owner,developer}')) then
    raise exception 'only the merchant''s owners and developers manage API keys'
      using errcode = '42501';
  end if;
  if p_name is null or char_length(btrim(p_name)) not between 1 and 100 then
    raise exception 'name must be 1 to 100 characters' using errcode = '22023';
  end if;
  perform private.check_key_parts(p_mode, p_prefix, p_last4, p_hash);
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = '22023';
  end if;
  insert into public.api_keys (
    merchant_id, name, mode, prefix, last4, key_hash, created_by, expires_at
  ) values (
    p_merchant_id, btrim(p_name), p_mode, p_prefix, p_last4, p_hash, auth.uid(), p_expires_at
  ) returning * into k;
  return private.key_view(k);
end
$$;

-- Regenerate: a new key replaces the old, which stops working at once or at the end of a
-- grace window of at most 24 h; the merchant's owners are notified.
create function private.rotate_api_key(
  p_key_id uuid, p_prefix text, p_last4 text, p_hash bytea, p_grace_seconds integer
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  old public.api_keys;
  k public.api_keys;
begin
  select * into old from public.api_keys as x where x.id = p_key_id for update;
  if not found or not (
    private.is_admin() or private.has_merchant_role(old.merchant_id, '{owner,developer}')
  ) then
    if found and private.has_merchant_role(old.merchant_id) then
      raise exception 'only the merchant''s owners and developers manage API keys'
        using errcode = '42501';
    end if;
    raise exception 'API key % does not exist', p_key_id using errcode = 'P0002';
  end if;
  if p_grace_seconds is null or p_grace_seconds not between 0 and 86400 then
    raise exception 'grace_seconds must be between 0 and 86400 (24 h)' using errcode = '22023';
  end if;
  if old.revoked_at is not null then
    raise exception 'API key % is already revoked or rotating', p_key_id using errcode = 'P0001';
  end if;
  perform private.check_key_parts(old.mode, p_prefix, p_last4, p_hash);
  insert into public.api_keys (
    merchant_id, name, mode, prefix, last4, key_hash, created_by, expires_at,
    rate_limit_per_min
  ) values (
    old.merchant_id, old.name, old.mode, p_prefix, p_last4, p_hash, auth.uid(), old.expires_at,
    old.rate_limit_per_min
  ) returning * into k;
  update public.api_keys as x set
    revoked_at = now() + make_interval(secs => p_grace_seconds),
    revoked_reason = 'rotated', replaced_by = k.id
  where x.id = old.id;
  insert into public.notifications (merchant_id, user_id, kind, title, details)
  select old.merchant_id, m.user_id, 'api_key.rotated',
    'API key "' || old.name || '" was regenerated',
    jsonb_build_object(
      'old_key', old.prefix || '…' || old.last4, 'new_key', k.prefix || '…' || k.last4,
      'old_key_valid_until', now() + make_interval(secs => p_grace_seconds),
      'by', auth.uid()
    )
  from public.merchant_members as m
  where m.merchant_id = old.merchant_id and m.role = 'owner';
  return private.key_view(k) || jsonb_build_object(
    'previous_key_valid_until', now() + make_interval(secs => p_grace_seconds)
  );
end
$$;

create function private.revoke_api_key(p_key_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  k public.api_keys;
begin
  select * into k from public.api_keys as x where x.id = p_key_id for update;
  if not found or not (
    private.is_admin() or private.has_merchant_role(k.merchant_id, '{owner,developer}')
  ) then
    if found and private.has_merchant_role(k.merchant_id) then
      raise exception 'only the merchant''s owners and developers manage API keys'
        using errcode = '42501';
    end if;
    raise exception 'API key % does not exist', p_key_id using errcode = 'P0002';
  end if;
  update public.api_keys as x set
    revoked_at = least(coalesce(x.revoked_at, now()), now()),
    revoked_reason = coalesce(x.revoked_reason, 'revoked')
  where x.id = k.id
  returning * into k;
  return private.key_view(k);
end
$$;

create function private.list_api_keys(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.resolve_merchant(p_merchant_id);
begin
  return jsonb_build_object(
    'merchant_id', m,
    'keys', coalesce((
      select jsonb_agg(private.key_view(k) order by k.created_at desc)
      from public.api_keys as k where k.merchant_id = m
    ), '[]'::jsonb)
  );
end
$$;

-- Verification (service_role only): the adapter sends the digest of a well-formed key.
create function private.authenticate_api_key(p_hash bytea) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'api_key_id', k.id, 'merchant_id', k.merchant_id, 'mode', k.mode,
    'status', case
      when k.revoked_at is not null and k.revoked_at <= now() then 'revoked'
      when k.expires_at is not null and k.expires_at <= now() then 'expired'
      when m.status <> 'active' then 'merchant_' || m.status
      else 'active'
    end,
    'rate_limit_per_min', private.rate_limit_for(k.id, null)
  )
  from public.api_keys as k join public.merchants as m on m.id = k.merchant_id
  where k.key_hash = p_hash
$$;

-- Key lookup and the rate-limit decision in one statement: one round trip per request,
-- a plain row back (no JSON to build or parse on the hot path).
create function private.authenticate_and_limit(p_hash bytea, p_burst_fraction numeric)
returns table (
  api_key_id uuid, merchant_id uuid, mode text, status text, per_min integer,
  allowed boolean, remaining integer, retry_after_ms integer, reset_ms integer
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  r record;
begin
  select k.id, k.merchant_id, k.mode,
    case
      when k.revoked_at is not null and k.revoked_at <= now() then 'revoked'
      when k.expires_at is not null and k.expires_at <= now() then 'expired'
      when m.status <> 'active' then 'merchant_' || m.status
      else 'active'
    end as status,
    coalesce(k.rate_limit_per_min, l.api_key_per_min, 600) as per_min
  into api_key_id, merchant_id, mode, status, per_min
  from public.api_keys as k
  join public.merchants as m on m.id = k.merchant_id
  left join public.merchant_rate_limits as l on l.merchant_id = k.merchant_id
  where k.key_hash = p_hash;
  if not found then
    return;
  end if;
  if status = 'active' then
    select * into r from private.rate_limit_take(
      'key:' || api_key_id, per_min, greatest(10, (per_min * p_burst_fraction)::integer)
    );
    allowed := r.allowed;
    remaining := r.remaining;
    retry_after_ms := r.retry_after_ms;
    reset_ms := r.reset_ms;
  end if;
  return next;
end
$$;

-- Last-used stamps arrive in batches from the adapter, not one write per request.
create function private.touch_api_keys(p_ids uuid[], p_used_at timestamptz[]) returns integer
language sql volatile security definer
set search_path = ''
as $$
  with stamped as (
    update public.api_keys as k set last_used_at = greatest(k.last_used_at, t.used_at)
    from unnest(p_ids, p_used_at) as t (id, used_at)
    where k.id = t.id and k.last_used_at is distinct from greatest(k.last_used_at, t.used_at)
    returning 1
  )
  select count(*)::integer from stamped
$$;

create function private.set_merchant_rate_limits(
  p_merchant_id uuid, p_api_key_per_min integer, p_user_per_min integer
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  r public.merchant_rate_limits;
begin
  perform private.require_admin();
  if not exists (select 1 from public.merchants as m where m.id = p_merchant_id) then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  if p_api_key_per_min not between 1 and 1000000 or p_user_per_min not between 1 and 1000000 then
    raise exception 'limits must be between 1 and 1000000 per minute' using errcode = '22023';
  end if;
  insert into public.merchant_rate_limits as l (
    merchant_id, api_key_per_min, user_per_min, updated_by
  ) values (p_merchant_id, p_api_key_per_min, p_user_per_min, auth.uid())
  on conflict (merchant_id) do update set
    api_key_per_min = excluded.api_key_per_min, user_per_min = excluded.user_per_min,
    updated_by = excluded.updated_by
  returning * into r;
  return to_jsonb(r);
end
$$;

-- Public RPCs ------------------------------------------------------------------------------------
create function public.merchant_list_api_keys(p_merchant_id uuid default null) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_api_keys(p_merchant_id) $$;

create function public.merchant_create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_prefix text, p_last4 text, p_key_hash bytea,
  p_expires_at timestamptz default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.create_api_key(
    p_merchant_id, p_name, p_mode, p_prefix, p_last4, p_key_hash, p_expires_at
  )
$$;

create function public.merchant_rotate_api_key(
  p_key_id uuid, p_prefix text, p_last4 text, p_key_hash bytea, p_grace_seconds integer default 0
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.rotate_api_key(p_key_id, p_prefix, p_last4, p_key_hash, p_grace_seconds) $$;

create function public.merchant_revoke_api_key(p_key_id uuid) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.revoke_api_key(p_key_id) $$;

create function public.admin_set_merchant_rate_limits(
  p_merchant_id uuid, p_api_key_per_min integer, p_user_per_min integer
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.set_merchant_rate_limits(p_merchant_id, p_api_key_per_min, p_user_per_min) $$;

revoke execute on all functions in schema public from public, anon;
grant execute on function public.merchant_list_api_keys(uuid),
public.merchant_create_api_key(uuid, text, text, text, text, bytea, timestamptz),
public.merchant_rotate_api_key(uuid, text, text, bytea, integer),
public.merchant_revoke_api_key(uuid),
public.admin_set_merchant_rate_limits(uuid, integer, integer)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
grant execute on function private.list_api_keys(uuid),
private.create_api_key(uuid, text, text, text, text, bytea, timestamptz),
private.rotate_api_key(uuid, text, text, bytea, integer), private.revoke_api_key(uuid),
private.set_merchant_rate_limits(uuid, integer, integer)
to authenticated, service_role;
grant execute on function private.authenticate_api_key(bytea),
private.authenticate_and_limit(bytea, numeric),
private.touch_api_keys(uuid[], timestamptz[]), private.rate_limit_take(text, integer, integer),
private.rate_limit_for(uuid, uuid)
to service_role;
grant execute on function private.is_service_role(), private.is_admin(),
private.current_role_is(text), private.member_merchant_ids(text[]),
private.has_merchant_role(uuid, text[]), private.require_admin(), private.require_user()
to authenticated, service_role;
