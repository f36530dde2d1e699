-- Small corrections found while merging: a gateway created with a connection test stores that
-- result the way every other check result is stored (validated, with its time `at`), and the
-- merchant RPCs' comments name the live_enabled field their rows carry.

create or replace function private.create_gateway(
  p_gateway jsonb, p_test_result jsonb, p_idempotency_key text
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  replay jsonb;
  g public.gateways;
  provider_name text := p_gateway ->> 'provider';
begin
  perform private.require_admin();
  if p_gateway is null or jsonb_typeof(p_gateway) <> 'object' then
    raise exception 'send the gateway as an object' using errcode = '22023';
  end if;
  replay := private.idempotency_replay('create_gateway', p_idempotency_key, p_gateway);
  if replay is not null then
    return replay;
  end if;
  if provider_name is null or not exists (
    select 1 from public.gateway_providers as p where p.provider = provider_name
  ) then
    raise exception 'provider must be one of %', (
      select string_agg(p.provider, ', ' order by p.provider) from public.gateway_providers as p
    ) using errcode = '22023';
  end if;
  if not p_gateway ? 'display_name' then
    raise exception 'display_name is required' using errcode = '22023';
  end if;
  perform private.check_credentials(provider_name, p_gateway -> 'credentials');

  g.id := gen_random_uuid();
  g.provider := provider_name;
  g.environment := 'test';
  g.status := 'inactive';
  g.min_amount := 100;
  g.currencies := '{INR}';
  g.methods := '{}';
  g.regions := '{}';
  g.config := '{}';
  g.priority := coalesce((select max(x.priority) + 1 from public.gateways as x where x.status <> 'archived'), 1);
  g := private.apply_gateway_changes(g, p_gateway);
  g := private.store_credentials(g, p_gateway -> 'credentials');
  g.created_by := auth.uid();
  -- The adapter's connection test, normalised as every check result is (with its time).
  g.last_test := case when p_test_result is not null then private.check_result(p_test_result) end;

  insert into public.gateways (
    id, provider, display_name, environment, status, priority, min_amount, max_amount,
    daily_limit, currencies, methods, regions, config, credentials_secret_id,
    credentials_masked, created_by, last_test
  ) values (
    g.id, g.provider, g.display_name, g.environment, g.status, g.priority, g.min_amount,
    g.max_amount, g.daily_limit, g.currencies, g.methods, g.regions, g.config,
    g.credentials_secret_id, g.credentials_masked, g.created_by, g.last_test
  ) returning * into g;
  return private.idempotency_store(
    'create_gateway', p_idempotency_key, p_gateway, private.gateway_view(g)
  );
end
$$;

comment on function public.create_merchant(text, uuid, text, text) is
$$Opens a merchant account (status active), optionally with its first owner.
p_country is an ISO 3166 alpha-2 code, default IN. With p_idempotency_key (1..255 chars,
scoped to the caller) a repeat returns the first result instead of a second merchant.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the merchants row {id, name, status, country, live_enabled, created_at, updated_at};
live_enabled is false until an admin turns live mode on (admin_set_merchant_live).
Errors: 22023 name not 1..200 characters, country not two capital letters, idempotency key
of the wrong length or reused with different parameters; P0002 owner user does not exist;
42501 not an admin.$$;

comment on function public.set_merchant_status(uuid, text) is
$$Sets a merchant's status to active, suspended or closed. A merchant that is not active
cannot take payments (route_payment refuses it) and its API keys stop at once (the REST
API answers 401 merchant_inactive).
Who: platform admins and service_role; everyone else gets 42501.
Returns: the merchants row {id, name, status, country, live_enabled, created_at, updated_at}.
Errors: 22023 status not active/suspended/closed; P0002 merchant does not exist; 42501 not
an admin.$$;
