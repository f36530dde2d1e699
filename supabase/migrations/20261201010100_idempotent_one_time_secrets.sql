-- Routes that answer with a one-time value (a new API key, a webhook signing secret) join the
-- idempotency mechanism. A retried request must get the same value back, so the value is
-- kept for the 24 h replay window in Vault (encrypted; never in the replay row's plaintext)
-- and destroyed with the row. A suspended or closed merchant gets no new API keys.
-- migration-lint: allow ban-drop-function: the key and webhook RPCs gain p_key and p_idempotency_key; old and new signatures are swapped in one transaction, and the adapter that calls them ships with it (no released clients)
-- migration-lint: allow constraint-missing-not-valid: idempotency_keys is a 24 h replay cache of a few rows; the new check only reads the two new, null columns

alter table private.idempotency_keys
add column secret_id uuid,
add column secret_field text,
add constraint idempotency_keys_secret_pair check ((secret_id is null) = (secret_field is null));
comment on column private.idempotency_keys.secret_id is
$$Vault secret holding the response's one-time value (an API key or signing secret), put back
into the replayed answer as secret_field; deleted with the row.$$;
comment on column private.idempotency_keys.secret_field is
$$Name of the response field whose value is in Vault (secret_id) instead of in response.$$;

create function private.idempotency_forget_secret() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  delete from vault.secrets where id = old.secret_id;
  return null;
end
$$;
comment on function private.idempotency_forget_secret() is
$$Trigger: an idempotency row's Vault secret goes with the row (expiry, retention, reuse).$$;
revoke execute on function private.idempotency_forget_secret() from public, anon, authenticated;

create trigger idempotency_keys_forget_secret
after delete on private.idempotency_keys
for each row when (old.secret_id is not null)
execute function private.idempotency_forget_secret();

create or replace function private.idempotency_replay(
  p_route text, p_key text, p_request jsonb, p_merchant_id uuid default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_owner text := private.idempotency_owner(p_merchant_id);
  k private.idempotency_keys;
begin
  if p_key is null then
    return null;
  end if;
  if char_length(p_key) not between 1 and 255 then
    raise exception 'Idempotency-Key must be 1 to 255 characters' using errcode = '22023';
  end if;
  if not pg_try_advisory_xact_lock(hashtextextended(v_owner || '|' || p_key, 7)) then
    perform private.raise_http(
      409, 'idempotency_key_in_use',
      'a request with this Idempotency-Key is still being processed: retry in a moment',
      '{"Retry-After": "1"}'
    );
  end if;
  select * into k from private.idempotency_keys as x
  where x.owner = v_owner and x.key = p_key;
  if not found then
    return null;
  end if;
  if k.created_at < now() - interval '24 hours' then
    delete from private.idempotency_keys as x where x.owner = v_owner and x.key = p_key;
    return null;
  end if;
  if k.route <> p_route or k.fingerprint <> private.idempotency_fingerprint(p_route, p_request) then
    perform private.raise_http(
      422, 'idempotency_key_reused',
      'this Idempotency-Key was already used with different parameters: use a new key'
    );
  end if;
  perform set_config('response.headers', '[{"Idempotent-Replayed": "true"}]', true);
  if k.secret_id is not null then
    return k.response || jsonb_build_object(
      k.secret_field,
      (select s.decrypted_secret from vault.decrypted_secrets as s where s.id = k.secret_id)
    );
  end if;
  return k.response;
end
$$;

drop function private.idempotency_store(text, text, jsonb, jsonb, uuid);
create function private.idempotency_store(
  p_route text, p_key text, p_request jsonb, p_response jsonb, p_merchant_id uuid default null,
  p_secret_field text default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_secret_id uuid;
  v_stored jsonb := p_response;
begin
  if p_key is null then
    return p_response;
  end if;
  if p_secret_field is not null and p_response ? p_secret_field then
    v_secret_id := vault.create_secret(
      p_response ->> p_secret_field, 'idempotency:' || gen_random_uuid(),
      'one-time value of an idempotent response, kept for its 24 h replay window'
    );
    v_stored := p_response - p_secret_field;
  end if;
  insert into private.idempotency_keys (owner, key, route, fingerprint, response, secret_id, secret_field)
  values (
    private.idempotency_owner(p_merchant_id), p_key, p_route,
    private.idempotency_fingerprint(p_route, p_request), v_stored, v_secret_id,
    case when v_secret_id is not null then p_secret_field end
  );
  return p_response;
end
$$;
comment on function private.idempotency_store(text, text, jsonb, jsonb, uuid, text) is
$$Idempotency, step 2: keep the answer for replays (24 h) and return it. p_secret_field names
a one-time value in the answer (key, secret): it is kept in Vault, not in the row, and put
back on replay. Commits or rolls back with the work.$$;
revoke execute on function private.idempotency_store(text, text, jsonb, jsonb, uuid, text)
from public, anon;
grant execute on function private.idempotency_store(text, text, jsonb, jsonb, uuid, text)
to authenticated, service_role;

-- API keys ------------------------------------------------------------------------------
-- The adapter still makes the key (it alone holds the pepper) and now passes the full key
-- too, so that a replay can answer with it.

create function private.check_merchant_active(p_merchant_id uuid, p_action text) returns void
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_status text;
begin
  select m.status into v_status from public.merchants as m where m.id = p_merchant_id;
  if v_status is distinct from 'active' then
    raise exception 'merchant % is %: it cannot %', p_merchant_id, coalesce(v_status, 'unknown'),
      p_action using errcode = 'P0001';
  end if;
end
$$;
comment on function private.check_merchant_active(uuid, text) is
$$P0001 unless the merchant is active ("merchant <id> is suspended: it cannot <p_action>").$$;
revoke execute on function private.check_merchant_active(uuid, text) from public, anon;
grant execute on function private.check_merchant_active(uuid, text) to authenticated, service_role;

create function private.check_full_key(p_key text, p_prefix text, p_last4 text) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_key is null or p_key !~ '^lsp_(test|live)_[0-9A-Za-z]{30}$'
    or left(p_key, char_length(p_prefix)) <> p_prefix or right(p_key, 4) <> p_last4 then
    raise exception 'the key material is malformed' using errcode = '22023';
  end if;
end
$$;
comment on function private.check_full_key(text, text, text) is
$$22023 unless the full key has the key format (lsp_<mode>_ and 30 base62 characters), starts
with its display prefix and ends with its last 4.$$;
revoke execute on function private.check_full_key(text, text, text) from public, anon;
grant execute on function private.check_full_key(text, text, text) to authenticated, service_role;

drop function public.merchant_create_api_key(uuid, text, text, text, text, bytea, timestamptz);
drop function private.create_api_key(uuid, text, text, text, text, bytea, timestamptz);

create function private.create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_key text, p_prefix text, p_last4 text,
  p_hash bytea, p_expires_at timestamptz, p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id, '{owner,developer}', 'manage API keys');
  -- The key material differs on every try; the request is what the client asked for.
  request jsonb := jsonb_build_object(
    'merchant_id', m, 'name', p_name, 'mode', p_mode, 'expires_at', p_expires_at
  );
  replay jsonb;
  k public.api_keys;
begin
  replay := private.idempotency_replay('create_api_key', p_idempotency_key, request, m);
  if replay is not null then
    return replay;
  end if;
  perform private.check_merchant_active(m, 'get new API keys');
  if p_name is null or char_length(btrim(p_name)) not between 1 and 100 then
    raise exception 'name must be 1 to 100 characters' using errcode = '22023';
  end if;
  perform private.check_key_parts(p_mode, p_prefix, p_last4, p_hash);
  perform private.check_full_key(p_key, p_prefix, p_last4);
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = '22023';
  end if;
  insert into public.api_keys (
    merchant_id, name, mode, prefix, last4, key_hash, created_by, expires_at
  ) values (
    m, btrim(p_name), p_mode, p_prefix, p_last4, p_hash, auth.uid(), p_expires_at
  ) returning * into k;
  return private.idempotency_store(
    'create_api_key', p_idempotency_key, request,
    private.key_view(k) || jsonb_build_object('key', p_key, 'key_shown_once', true), m, 'key'
  );
end
$$;
comment on function private.create_api_key(uuid, text, text, text, text, text, bytea, timestamptz, text) is
$$Admins, owners and developers: validates and inserts a key digest; see
public.merchant_create_api_key.$$;

create function public.merchant_create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_key text, p_prefix text, p_last4 text,
  p_key_hash bytea, p_expires_at timestamptz default null, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.create_api_key(
    p_merchant_id, p_name, p_mode, p_key, p_prefix, p_last4, p_key_hash, p_expires_at,
    p_idempotency_key
  )
$$;
comment on function public.merchant_create_api_key(uuid, text, text, text, text, text, bytea, timestamptz, text) is
$$Stores a new API key that the adapter generated: its HMAC-SHA256 digest under the adapter's
pepper (p_key_hash, 32 bytes), its display prefix (lsp_<mode>_ and 4 characters) and its
last 4 characters. The full key (p_key) is only returned, never stored, except encrypted in
Vault for the 24 h replay window when p_idempotency_key is given. p_mode is test or live;
p_expires_at is an optional future timestamptz; p_merchant_id may be null for a member of
exactly one merchant.
Who: platform admins, service_role, and the merchant's owners and developers; viewers,
API keys (they cannot manage keys) and outsiders get 42501.
Returns: the key view (see merchant_list_api_keys) plus key (the full key, shown only here)
and key_shown_once: true; a replay returns the same key.
Errors: 22023 merchant_id missing or ambiguous, name not 1..100 characters, mode not
test/live, malformed key material, expires_at not in the future, Idempotency-Key not 1..255
characters; 42501 not an owner or developer; P0001 the merchant is not active (suspended or
closed); 23505 the digest already exists; P0002 (admins) merchant does not exist; PGRST 422
idempotency_key_reused; PGRST 409 idempotency_key_in_use.$$;

drop function public.merchant_rotate_api_key(uuid, text, text, bytea, integer);
drop function private.rotate_api_key(uuid, text, text, bytea, integer);

create function private.rotate_api_key(
  p_key_id uuid, p_key text, p_prefix text, p_last4 text, p_hash bytea, p_grace_seconds integer,
  p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  request jsonb := jsonb_build_object('key_id', p_key_id, 'grace_seconds', p_grace_seconds);
  replay jsonb;
  old public.api_keys;
  k public.api_keys;
begin
  select * into old from public.api_keys as x where x.id = p_key_id for update;
  perform private.check_row_access(
    found, old.merchant_id, '{owner,developer}', 'API key', p_key_id::text
  );
  -- Before the revoked check: the first request revoked this key.
  replay := private.idempotency_replay('rotate_api_key', p_idempotency_key, request, old.merchant_id);
  if replay is not null then
    return replay;
  end if;
  perform private.check_merchant_active(old.merchant_id, 'get new API keys');
  if p_grace_seconds is null or p_grace_seconds not between 0 and 86400 then
    raise exception 'grace_seconds must be between 0 and 86400 (24 h)' using errcode = '22023';
  end if;
  if old.revoked_at is not null then
    raise exception 'API key % is already revoked or rotating', p_key_id using errcode = 'P0001';
  end if;
  perform private.check_key_parts(old.mode, p_prefix, p_last4, p_hash);
  perform private.check_full_key(p_key, p_prefix, p_last4);
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
  return private.idempotency_store(
    'rotate_api_key', p_idempotency_key, request,
    private.key_view(k) || jsonb_build_object(
      'previous_key_valid_until', now() + make_interval(secs => p_grace_seconds),
      'key', p_key, 'key_shown_once', true
    ),
    old.merchant_id, 'key'
  );
end
$$;
comment on function private.rotate_api_key(uuid, text, text, text, bytea, integer, text) is
$$Admins, owners and developers of the key's merchant: adds the replacement key, ends the
old one after the grace window and notifies owners; see public.merchant_rotate_api_key.$$;

create function public.merchant_rotate_api_key(
  p_key_id uuid, p_key text, p_prefix text, p_last4 text, p_key_hash bytea,
  p_grace_seconds integer default 0, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.rotate_api_key(
    p_key_id, p_key, p_prefix, p_last4, p_key_hash, p_grace_seconds, p_idempotency_key
  )
$$;
comment on function public.merchant_rotate_api_key(uuid, text, text, text, bytea, integer, text) is
$$Regenerates an API key: stores the new key the adapter generated (same name, mode, expiry
and per-key limit) and lets the old one work for p_grace_seconds more (0..86400, i.e. up
to 24 h; 0 stops it at once). The merchant's owners get a notification and an
api_key.rotated webhook event is emitted. With p_idempotency_key a retry within 24 h returns
the same new key (kept encrypted in Vault until then) instead of failing on the revoked key.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; a key of another merchant is reported as not found.
Returns: the new key's view (see merchant_list_api_keys) plus previous_key_valid_until
(timestamptz), key (the full new key, shown only here) and key_shown_once: true.
Errors: P0002 key does not exist (or belongs to a merchant the caller is not in); 42501
not an owner or developer; 22023 grace outside 0..86400, malformed key material,
Idempotency-Key not 1..255 characters; P0001 the key is already revoked or rotating, or the
merchant is not active; 23505 the new digest already exists; PGRST 422
idempotency_key_reused; PGRST 409 idempotency_key_in_use.$$;

-- Webhook endpoints ------------------------------------------------------------------------

drop function public.merchant_create_webhook_endpoint(text, uuid, text[], text);
drop function private.create_webhook_endpoint(uuid, text, text[], text);

create function private.create_webhook_endpoint(
  p_merchant_id uuid, p_url text, p_event_types text[], p_description text,
  p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id, '{owner,developer}', 'manage webhooks');
  request jsonb := jsonb_build_object(
    'merchant_id', m, 'url', p_url, 'event_types', p_event_types, 'description', p_description
  );
  replay jsonb;
  e public.webhook_endpoints;
  s record;
begin
  replay := private.idempotency_replay('create_webhook_endpoint', p_idempotency_key, request, m);
  if replay is not null then
    return replay;
  end if;
  e.id := gen_random_uuid();
  select * into s from private.new_webhook_secret(e.id);
  insert into public.webhook_endpoints (
    id, merchant_id, url, description, event_types, secret_id, created_by
  ) values (
    e.id, m, private.check_webhook_url(p_url), left(p_description, 500),
    private.check_event_types(p_event_types), s.id, auth.uid()
  ) returning * into e;
  return private.idempotency_store(
    'create_webhook_endpoint', p_idempotency_key, request,
    private.endpoint_view(e) || jsonb_build_object('secret', s.secret, 'secret_shown_once', true),
    m, 'secret'
  );
end
$$;
comment on function private.create_webhook_endpoint(uuid, text, text[], text, text) is
$$Admins, owners and developers: validates and adds an endpoint with a new Vault secret,
returned once; see public.merchant_create_webhook_endpoint.$$;

create function public.merchant_create_webhook_endpoint(
  p_url text, p_merchant_id uuid default null, p_event_types text[] default null,
  p_description text default null, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.create_webhook_endpoint(
    p_merchant_id, p_url, p_event_types, p_description, p_idempotency_key
  )
$$;
comment on function public.merchant_create_webhook_endpoint(text, uuid, text[], text, text) is
$$Adds a webhook endpoint with a new Standard Webhooks signing secret (whsec_...), kept in
Vault and shown only in this response (and its replays: with p_idempotency_key a retry
within 24 h returns the same endpoint and secret). p_url must be https (plain http only
where the database allows it, as local dev clusters do), at most 2000 characters, without
credentials. p_event_types filters events (payment.succeeded or payment.*; null or empty =
all, at most 100). p_description is cut to 500 characters. p_merchant_id may be null for a
member of exactly one merchant.
Who: platform admins, service_role, and the merchant's owners and developers; viewers,
API keys and outsiders get 42501.
Returns: the endpoint view (see merchant_list_webhook_endpoints) plus secret and
secret_shown_once: true.
Errors: 22023 merchant_id missing or ambiguous, invalid url, non-https url, invalid event
types, Idempotency-Key not 1..255 characters; 42501 not an owner or developer; P0002
(admins) merchant does not exist; PGRST 422 idempotency_key_reused; PGRST 409
idempotency_key_in_use.$$;

drop function public.merchant_rotate_webhook_secret(uuid);
drop function private.rotate_webhook_secret(uuid);

create function private.rotate_webhook_secret(p_endpoint_id uuid, p_idempotency_key text)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  request jsonb := jsonb_build_object('endpoint_id', p_endpoint_id);
  replay jsonb;
  e public.webhook_endpoints;
  s record;
begin
  select * into e from public.webhook_endpoints as x where x.id = p_endpoint_id for update;
  perform private.check_row_access(
    found, e.merchant_id, '{owner,developer}', 'webhook endpoint', p_endpoint_id::text
  );
  replay := private.idempotency_replay(
    'rotate_webhook_secret', p_idempotency_key, request, e.merchant_id
  );
  if replay is not null then
    return replay;
  end if;
  if e.previous_secret_id is not null then
    delete from vault.secrets where id = e.previous_secret_id;
  end if;
  select * into s from private.new_webhook_secret(e.id);
  update public.webhook_endpoints as x set
    previous_secret_id = e.secret_id, previous_secret_expires_at = now() + interval '24 hours',
    secret_id = s.id
  where x.id = e.id returning * into e;
  return private.idempotency_store(
    'rotate_webhook_secret', p_idempotency_key, request,
    private.endpoint_view(e) || jsonb_build_object('secret', s.secret, 'secret_shown_once', true),
    e.merchant_id, 'secret'
  );
end
$$;
comment on function private.rotate_webhook_secret(uuid, text) is
$$Admins, owners and developers of the endpoint's merchant: new secret, the old one kept
24 h; see public.merchant_rotate_webhook_secret.$$;

create function public.merchant_rotate_webhook_secret(
  p_endpoint_id uuid, p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.rotate_webhook_secret(p_endpoint_id, p_idempotency_key) $$;
comment on function public.merchant_rotate_webhook_secret(uuid, text) is
$$Gives an endpoint a new signing secret. The previous one keeps signing alongside it for
24 hours (previous_secret_expires_at); an older previous secret is deleted at once. With
p_idempotency_key a retry within 24 h returns the same secret instead of rotating again.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; an endpoint of another merchant is reported as not found.
Returns: the endpoint view (see merchant_list_webhook_endpoints) plus secret (shown only
here and in replays) and secret_shown_once: true.
Errors: P0002 endpoint does not exist (or belongs to a merchant the caller is not in);
42501 not an owner or developer; 22023 Idempotency-Key not 1..255 characters; PGRST 422
idempotency_key_reused; PGRST 409 idempotency_key_in_use.$$;

revoke execute on function
private.create_api_key(uuid, text, text, text, text, text, bytea, timestamptz, text),
public.merchant_create_api_key(uuid, text, text, text, text, text, bytea, timestamptz, text),
private.rotate_api_key(uuid, text, text, text, bytea, integer, text),
public.merchant_rotate_api_key(uuid, text, text, text, bytea, integer, text),
private.create_webhook_endpoint(uuid, text, text[], text, text),
public.merchant_create_webhook_endpoint(text, uuid, text[], text, text),
private.rotate_webhook_secret(uuid, text),
public.merchant_rotate_webhook_secret(uuid, text)
from public, anon;
grant execute on function
private.create_api_key(uuid, text, text, text, text, text, bytea, timestamptz, text),
public.merchant_create_api_key(uuid, text, text, text, text, text, bytea, timestamptz, text),
private.rotate_api_key(uuid, text, text, text, bytea, integer, text),
public.merchant_rotate_api_key(uuid, text, text, text, bytea, integer, text),
private.create_webhook_endpoint(uuid, text, text[], text, text),
public.merchant_create_webhook_endpoint(text, uuid, text[], text, text),
private.rotate_webhook_secret(uuid, text),
public.merchant_rotate_webhook_secret(uuid, text)
to authenticated, service_role;
