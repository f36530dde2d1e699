-- Stands in for: the extensions a hosted project has enabled (pgcrypto in schema
-- `extensions`, pg_cron). pgmq comes next, from the SQL bundled in the `pgmq` PyPI package
-- (scripts/install_pgmq.py), because hosted Supabase ships it as an extension we cannot
-- install from Debian. Local clusters only; never pushed. Idempotent.
create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists pg_cron;
-- Hosted projects put `extensions` on the database's search path.
do $$
begin
  execute format(
    'alter database %I set search_path = "$user", public, extensions', current_database()
  );
end
$$;
