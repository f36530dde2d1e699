-- Stands in for: the database roles every hosted Supabase project has, and Supabase's
-- default privileges on schema public. Local clusters only; never pushed. Idempotent.
--   anon, authenticated : what PostgREST switches to for unauthenticated / signed-in callers
--   service_role        : trusted servers; bypasses RLS
--   authenticator       : the login role PostgREST (and our adapter) connects as
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    -- Local dev password only; hosted projects set their own.
    create role authenticator login noinherit password 'postgres';
  end if;
end
$$;

grant anon to authenticator;
grant authenticated to authenticator;
grant service_role to authenticator;
alter role authenticator set statement_timeout = '8s';
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

grant usage on schema public to anon, authenticated, service_role;

-- Supabase grants the API roles everything on new objects in public by default: only RLS
-- (and explicit revokes) stand between a new table and the internet.
alter default privileges for role postgres in schema public
grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on sequences to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on functions to anon, authenticated, service_role;
