-- /api/v1/me for an API key answered nulls: it now names the kind of caller and, for a key,
-- the key and its merchant.

create function private.me_api_key() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'api_key', private.key_view(k),
    'merchant', jsonb_build_object(
      'id', m.id, 'name', m.name, 'status', m.status, 'live_enabled', m.live_enabled
    )
  )
  from public.api_keys as k
  join public.merchants as m on m.id = k.merchant_id
  where auth.jwt() ? 'api_key_id'
    and k.id = (auth.jwt() ->> 'api_key_id')::uuid
    and k.merchant_id = (auth.jwt() ->> 'merchant_id')::uuid
$$;
comment on function private.me_api_key() is
$${api_key: key view, merchant: {id, name, status, live_enabled}} for the calling API key
(claims api_key_id and merchant_id, set only by the adapter), else null.$$;
revoke execute on function private.me_api_key() from public, anon;
grant execute on function private.me_api_key() to authenticated, service_role;

create or replace function public.me() returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'caller', case
      when auth.jwt() ? 'api_key_id' then 'api_key'
      when auth.uid() is not null then 'user'
      else 'service'
    end,
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
      inner join public.merchants as m on mm.merchant_id = m.id
      where mm.user_id = auth.uid()
    ), '[]'::jsonb)
  ) || coalesce(private.me_api_key(), '{"api_key": null, "merchant": null}')
$$;
comment on function public.me() is
$$Who is calling.
Who: any signed-in caller: users, API keys (through the adapter) and service_role.
Returns: {caller: user | api_key | service, user_id, email, is_admin,
memberships: [{merchant_id, merchant_name, role}], api_key, merchant}; memberships ordered
by merchant name, role owner, developer or viewer; for an API key, api_key is its key view
(see merchant_list_api_keys) and merchant {id, name, status, live_enabled}, both null for
other callers.
Errors: none of its own (42501 only for callers without EXECUTE, such as anon).$$;
