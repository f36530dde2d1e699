-- Idempotency: one mechanism, in Postgres, for every mutating RPC that takes a key (the IETF
-- httpapi Idempotency-Key draft's semantics, as Stripe applies them):
--   * a key is scoped to its owner: the merchant the call acts for, else the signed-in user,
--     else the role (private.idempotency_owner);
--   * the same key and the same request -> the first answer, replayed (the RPC sets the
--     response header Idempotent-Replayed: true through PostgREST's response.headers);
--   * the same key with different parameters (or another route) -> 422
--     idempotency_key_reused; the first request still running -> 409 idempotency_key_in_use
--     with Retry-After (both raised PostgREST's way: SQLSTATE PGRST, JSON message/detail);
--   * keys are kept 24 h, then a reused key is a new request (pg_cron prunes them hourly).
-- The stored fingerprint is HMAC-SHA256 of the route and the request under a key held in
-- Vault, so a dump alone cannot confirm a guessed request (requests may carry credentials).
-- A failed call stores nothing: its retry runs again.

drop function private.idempotency_replay(text, text, jsonb);
drop function private.idempotency_store(text, text, jsonb, jsonb);
-- A replay cache of at most 24 h: its rows are not worth carrying into the new shape.
drop table private.idempotency_keys;

create table private.idempotency_keys (
  owner text not null,
  key text not null check (char_length(key) between 1 and 255),
  route text not null,
  fingerprint bytea not null check (octet_length(fingerprint) = 32),
  response jsonb not null,
  created_at timestamptz not null default now(),
  primary key (owner, key)
);
alter table private.idempotency_keys enable row level security;
revoke all on private.idempotency_keys from public, anon, authenticated;
grant select, insert, update, delete on private.idempotency_keys to service_role;
create index idempotency_keys_created_idx on private.idempotency_keys (created_at);
comment on table private.idempotency_keys is
$$The first answer to each idempotent request, kept 24 h: owner (merchant:<id>, user:<id> or
role:<name>), the client's key, the route, HMAC fingerprint of the request (never the request
itself) and the response replayed for a repeat. Written only by private.idempotency_store;
no client role reads it.$$;
comment on column private.idempotency_keys.fingerprint is
$$HMAC-SHA256(Vault secret lsp_idempotency_fingerprint_key, route || ' ' || request jsonb).$$;

do $$
begin
  if not exists (
    select 1 from vault.secrets where name = 'lsp_idempotency_fingerprint_key'
  ) then
    perform vault.create_secret(
      encode(extensions.gen_random_bytes(32), 'hex'), 'lsp_idempotency_fingerprint_key',
      'HMAC key for idempotency request fingerprints (private.idempotency_keys)'
    );
  end if;
end
$$;

create function private.idempotency_owner(p_merchant_id uuid default null) returns text
language sql stable
set search_path = ''
as $$
  select case
    when p_merchant_id is not null then 'merchant:' || p_merchant_id
    when auth.jwt() ? 'api_key_id' then 'merchant:' || (auth.jwt() ->> 'merchant_id')
    when auth.uid() is not null then 'user:' || auth.uid()
    else 'role:' || coalesce(auth.role(), current_setting('role', true))
  end
$$;
comment on function private.idempotency_owner(uuid) is
$$Whose key space an Idempotency-Key lives in: the merchant acted for (given, or an API key's),
else the signed-in user, else the role.$$;

create function private.idempotency_fingerprint(p_route text, p_request jsonb) returns bytea
language sql stable security definer
set search_path = ''
as $$
  select extensions.hmac(
    convert_to(p_route || ' ' || coalesce(p_request::text, 'null'), 'UTF8'),
    decode(s.decrypted_secret, 'hex'),
    'sha256'
  )
  from vault.decrypted_secrets as s
  where s.name = 'lsp_idempotency_fingerprint_key'
$$;
comment on function private.idempotency_fingerprint(text, jsonb) is
$$HMAC-SHA256 of a route and its request (jsonb text, so key order does not matter) under the
Vault-held fingerprint key.$$;

-- PostgREST's way to answer with a chosen status, body and headers: SQLSTATE PGRST, the
-- body as JSON in the message, {status, headers} as JSON in the detail.
-- https://docs.postgrest.org/en/stable/references/errors.html#raise-errors-with-http-status-codes
create function private.raise_http(
  p_status integer, p_code text, p_message text, p_headers jsonb default '{}'
) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  raise sqlstate 'PGRST' using
    message = json_build_object(
      'code', p_code, 'message', p_message, 'details', null, 'hint', null
    )::text,
    detail = json_build_object('status', p_status, 'headers', p_headers)::text;
end
$$;
comment on function private.raise_http(integer, text, text, jsonb) is
$$Raise an error that PostgREST (and the adapter) answer with HTTP p_status, error code p_code,
message p_message and the given headers (SQLSTATE PGRST).$$;

-- Before the work: null to go ahead (call idempotency_store with the answer at the end), or
-- the first answer to replay. Holds a transaction-scoped advisory lock on the key: a second
-- request with the key while the first runs gets 409 at once instead of waiting.
create function private.idempotency_replay(
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
  return k.response;
end
$$;
comment on function private.idempotency_replay(text, text, jsonb, uuid) is
$$Idempotency, step 1: null (no key, a new key, or one older than 24 h) means do the work;
otherwise the first answer (and the Idempotent-Replayed header). 22023 bad key length;
PGRST 409 idempotency_key_in_use (the first is still running); PGRST 422
idempotency_key_reused (other parameters or route).$$;

create function private.idempotency_store(
  p_route text, p_key text, p_request jsonb, p_response jsonb, p_merchant_id uuid default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_key is not null then
    insert into private.idempotency_keys (owner, key, route, fingerprint, response)
    values (
      private.idempotency_owner(p_merchant_id), p_key, p_route,
      private.idempotency_fingerprint(p_route, p_request), p_response
    );
  end if;
  return p_response;
end
$$;
comment on function private.idempotency_store(text, text, jsonb, jsonb, uuid) is
$$Idempotency, step 2: keep the answer for replays (24 h) and return it. Commits or rolls
back with the work.$$;

create function private.idempotency_retention() returns integer
language sql volatile security definer
set search_path = ''
as $$
  with gone as (
    delete from private.idempotency_keys as k
    where k.created_at < now() - interval '24 hours'
    returning 1
  )
  select count(*)::integer from gone
$$;
comment on function private.idempotency_retention() is
$$pg_cron, hourly: drops idempotency keys older than 24 h. Returns how many.$$;
select cron.schedule('lsp-idempotency-retention', '41 * * * *', 'select private.idempotency_retention()');

revoke execute on function private.idempotency_owner(uuid),
private.idempotency_fingerprint(text, jsonb), private.raise_http(integer, text, text, jsonb),
private.idempotency_replay(text, text, jsonb, uuid),
private.idempotency_store(text, text, jsonb, jsonb, uuid), private.idempotency_retention()
from public, anon;
grant execute on function private.idempotency_owner(uuid), private.raise_http(integer, text, text, jsonb),
private.idempotency_replay(text, text, jsonb, uuid),
private.idempotency_store(text, text, jsonb, jsonb, uuid)
to authenticated, service_role;
grant execute on function private.idempotency_fingerprint(text, jsonb) to service_role;

-- Wallet entries move onto the mechanism: every parameter is compared, the currency must be
-- ISO 4217, and each kind has its sign (a payout or fee debits, a settlement credits).
create or replace function private.post_wallet_entry(
  p_merchant_id uuid, p_currency text, p_amount bigint, p_kind text, p_reference text,
  p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  request jsonb := jsonb_build_object(
    'merchant_id', p_merchant_id, 'currency', p_currency, 'amount', p_amount, 'kind', p_kind,
    'reference', p_reference
  );
  replay jsonb;
  w public.wallets;
  e public.wallet_ledger;
begin
  perform private.require_admin();
  replay := private.idempotency_replay('post_wallet_entry', p_idempotency_key, request);
  if replay is not null then
    return replay;
  end if;
  perform private.check_currency(p_currency);
  if p_amount is null or p_amount = 0 then
    raise exception 'amount must be a non-zero integer in minor units' using errcode = '22023';
  end if;
  if p_kind is null or p_kind not in ('adjustment', 'settlement', 'fee', 'payout') then
    raise exception 'kind must be one of adjustment, settlement, fee, payout'
      using errcode = '22023';
  end if;
  if (p_kind in ('payout', 'fee') and p_amount > 0) or (p_kind = 'settlement' and p_amount < 0) then
    raise exception 'a % % the wallet: its amount must be %', p_kind,
      case when p_kind = 'settlement' then 'credits' else 'debits' end,
      case when p_kind = 'settlement' then 'positive' else 'negative' end
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
  insert into public.wallet_ledger (
    wallet_id, merchant_id, amount, kind, reference, idempotency_key, created_by
  ) values (
    w.id, p_merchant_id, p_amount, p_kind, p_reference, gen_random_uuid()::text, auth.uid()
  ) returning * into e;
  return private.idempotency_store('post_wallet_entry', p_idempotency_key, request, to_jsonb(e));
end
$$;

-- Enqueueing by operators and trusted servers takes an Idempotency-Key too.
drop function public.enqueue_job(text, jsonb, integer, text);
drop function private.enqueue_job(text, jsonb, integer, text);
create function private.enqueue_job(
  p_queue text, p_payload jsonb, p_delay_seconds integer, p_job_key text, p_idempotency_key text
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  request jsonb := jsonb_build_object(
    'queue', p_queue, 'payload', p_payload, 'delay_seconds', p_delay_seconds, 'job_key', p_job_key
  );
  replay jsonb;
begin
  perform private.require_admin();
  replay := private.idempotency_replay('enqueue_job', p_idempotency_key, request);
  if replay is not null then
    return replay;
  end if;
  return private.idempotency_store(
    'enqueue_job', p_idempotency_key, request,
    private.enqueue(p_queue, p_payload, coalesce(p_delay_seconds, 0), p_job_key)
  );
end
$$;
comment on function private.enqueue_job(text, jsonb, integer, text, text) is
$$Admins and service_role: private.enqueue behind the admin check and the idempotency
mechanism.$$;

create function public.enqueue_job(
  p_queue text, p_payload jsonb, p_delay_seconds integer default 0, p_job_key text default null,
  p_idempotency_key text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.enqueue_job(p_queue, p_payload, p_delay_seconds, p_job_key, p_idempotency_key) $$;
comment on function public.enqueue_job(text, jsonb, integer, text, text) is
$$Puts a job on a queue (operators and trusted servers).
Who: platform admins and service_role; anyone else gets 42501.
Returns: {job_id: '<queue>:<msg_id>', key}. p_delay_seconds: 0..604800 seconds before it is
visible; p_job_key: the job's effect key (default random), kept across redeliveries and
dead-letter retries; p_idempotency_key: a repeat of the request returns the first job.
Errors: 42501 not an admin; 22023 unknown queue, payload not an object, delay out of range,
job key not 1..200 characters, Idempotency-Key not 1..255 characters; PGRST 422
idempotency_key_reused; PGRST 409 idempotency_key_in_use.$$;

revoke execute on function private.enqueue_job(text, jsonb, integer, text, text),
public.enqueue_job(text, jsonb, integer, text, text) from public, anon;
grant execute on function private.enqueue_job(text, jsonb, integer, text, text),
public.enqueue_job(text, jsonb, integer, text, text) to authenticated, service_role;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
