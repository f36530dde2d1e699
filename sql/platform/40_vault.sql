-- Stands in for: Supabase Vault (supabase_vault). Same table, view and function
-- signatures; secrets are encrypted here with pgcrypto under a per-cluster key that only
-- the superuser can read (hosted Vault uses libsodium with a key outside the database).
-- decrypted_secrets is readable by postgres and service_role only.
-- Local clusters only; never pushed. Idempotent.
create schema if not exists vault;
revoke all on schema vault from public;
grant usage on schema vault to service_role;

create table if not exists vault.root_key (
  id boolean primary key default true check (id),
  key text not null default encode(extensions.gen_random_bytes(32), 'hex')
);
insert into vault.root_key default values on conflict do nothing;
revoke all on vault.root_key from public;

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default extensions.gen_random_bytes(16),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
revoke all on vault.secrets from public;
grant select, delete on vault.secrets to service_role;

create or replace function vault._crypt(plain text) returns text
language sql volatile security definer
set search_path = ''
as $$
  -- The root key is 256 random bits, so iterated string-to-key adds cost, not security.
  select encode(
    extensions.pgp_sym_encrypt(
      plain, (select key from vault.root_key), 'cipher-algo=aes256, s2k-mode=1'
    ),
    'base64'
  )
$$;

create or replace function vault._decrypt(cipher text) returns text
language sql stable security definer
set search_path = ''
as $$
  select extensions.pgp_sym_decrypt(decode(cipher, 'base64'), (select key from vault.root_key))
$$;
revoke execute on function vault._crypt(text), vault._decrypt(text) from public;
grant execute on function vault._decrypt(text) to service_role;

create or replace view vault.decrypted_secrets as
select
  s.id,
  s.name,
  s.description,
  s.secret,
  vault._decrypt(s.secret) as decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
from vault.secrets as s;
revoke all on vault.decrypted_secrets from public;
grant select on vault.decrypted_secrets to service_role;

create or replace function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '',
  new_key_id uuid default null
) returns uuid
language plpgsql security definer
set search_path = ''
as $$
declare
  rec vault.secrets;
begin
  insert into vault.secrets (secret, name, description, key_id)
  values (vault._crypt(new_secret), new_name, coalesce(new_description, ''), new_key_id)
  returning * into rec;
  return rec.id;
end
$$;

create or replace function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null, new_key_id uuid default null
) returns void
language plpgsql security definer
set search_path = ''
as $$
begin
  update vault.secrets as s
  set
    secret = case when new_secret is null then s.secret else vault._crypt(new_secret) end,
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    key_id = coalesce(new_key_id, s.key_id),
    updated_at = now()
  where s.id = secret_id;
end
$$;

revoke execute on function vault.create_secret(text, text, text, uuid) from public;
revoke execute on function vault.update_secret(uuid, text, text, text, uuid) from public;
grant execute on function vault.create_secret(text, text, text, uuid) to service_role;
grant execute on function vault.update_secret(uuid, text, text, text, uuid) to service_role;
