-- api_key_pepper_versions: API-key digests carry the version of the pepper they were made
-- under, so the pepper (LSP_API_KEY_PEPPER) can rotate without downtime: during a rotation the
-- adapter verifies under every configured pepper, re-digests a key under the current one on
-- use (private.redigest_api_key), and the old pepper is retired once no usable key's digest
-- uses it (public.admin_operations_snapshot counts them).

-- Every digest so far was made under the only pepper there was: version 1. New rows start
-- unlabelled (null) until the adapter that made or first admitted them labels them.
alter table public.api_keys add column pepper_version smallint default 1
check (pepper_version between 1 and 32767);
-- migration-lint: allow ban-drop-default: only the catalog default goes (no rewrite, no scan); existing rows keep version 1
alter table public.api_keys alter column pepper_version drop default;

comment on column public.api_keys.pepper_version is
'Version of the adapter pepper (LSP_API_KEY_PEPPER_VERSION) key_hash was made under; null until
the adapter labels a new key (on creation or first use). Not readable by clients.';

create or replace function private.redigest_api_key(
  p_old bytea, p_new bytea, p_version smallint
) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  -- Changing key_hash drops the merchant's cached admissions (trigger key_admissions_forget).
  update public.api_keys set key_hash = p_new, pepper_version = p_version
  where key_hash = p_old;
  return found;
end
$$;

comment on function private.redigest_api_key(bytea, bytea, smallint) is
'service_role only: replaces a key''s digest made under an older pepper with its digest under
the current one (p_version); false when no key has p_old (another process re-digested it).';

create or replace function private.label_api_key_peppers(
  p_hashes bytea[], p_version smallint
) returns integer
language sql security definer set search_path = '' as $$
  with labelled as (
    update public.api_keys as k set pepper_version = p_version
    where k.key_hash = any(p_hashes) and k.pepper_version is distinct from p_version
    returning 1
  )
  select count(*)::integer from labelled
$$;

comment on function private.label_api_key_peppers(bytea[], smallint) is
'service_role only: records that the keys with these digests were made under pepper version
p_version (the adapter labels keys it made or admitted under its current pepper, batched with
last-used stamps); returns how many labels changed.';

create or replace function private.api_key_gate_rotating(
  p_hashes bytea[], p_versions smallint[], p_burst_fraction numeric, p_limit boolean
) returns json
language plpgsql security definer set search_path = '' as $$
declare
  n integer := cardinality(p_hashes);
  answer json;
  why text;
begin
  -- p_hashes[1] is the digest under the current pepper (version p_versions[1]); the others
  -- are the same key under the other configured peppers. The last try repeats the current
  -- digest: another process may have re-digested the key while this one looked.
  for i in 1..n + 1 loop
    begin
      answer := private.api_key_gate(p_hashes[1 + (i - 1) % n], p_burst_fraction, p_limit);
    exception when sqlstate 'PT401' then
      get stacked diagnostics why = pg_exception_detail;
      if why is distinct from 'unknown_key' or i > n then
        raise;
      end if;
      continue;
    end;
    if i between 2 and n and p_versions[i] < p_versions[1] then
      perform private.redigest_api_key(p_hashes[i], p_hashes[1], p_versions[1]);
    end if;
    return (answer::jsonb || jsonb_build_object(
      'pepper_version', p_versions[1 + (i - 1) % n],
      'redigested', i between 2 and n and p_versions[i] < p_versions[1]
    ))::json;
  end loop;
  return null;  -- not reached: the last try answers or raises
end
$$;

comment on function private.api_key_gate_rotating(bytea[], smallint[], numeric, boolean) is
'service_role only, while the adapter has more than one pepper: private.api_key_gate for the
first of the key''s digests that is known (the current pepper''s first); a key found under an
older pepper is re-digested under the current one. Adds pepper_version (the version that
matched) and redigested to the gate''s answer; raises PT401 / PT429 as the gate does.';

revoke execute on function private.redigest_api_key(bytea, bytea, smallint),
private.label_api_key_peppers(bytea[], smallint),
private.api_key_gate_rotating(bytea[], smallint[], numeric, boolean)
from public, anon, authenticated;
grant execute on function private.redigest_api_key(bytea, bytea, smallint),
private.label_api_key_peppers(bytea[], smallint),
private.api_key_gate_rotating(bytea[], smallint[], numeric, boolean)
to service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
