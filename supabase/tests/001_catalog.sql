-- Catalog-wide guarantees: RLS on every table we own, no definer functions exposed,
-- pinned search paths, nothing granted to anon, and a comment on every RPC and table.
begin;
\ir _helpers.psql
select plan(12);

select is_empty(
  $$
    select format('%I.%I', n.nspname, c.relname)
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname in ('public', 'private', 'audit')
      and not c.relrowsecurity
  $$,
  'every table in public, private and audit has row level security enabled'
);

select is_empty(
  $$
    select format('%I.%I', n.nspname, c.relname)
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname in ('public', 'private', 'audit')
      and not exists (
        select 1 from pg_attribute as a
        where a.attrelid = c.oid and a.attname = 'created_at' and a.attnotnull
      )
  $$,
  'every table has a not-null created_at'
);

select is_empty(
  $$
    select p.oid::regprocedure::text from pg_proc as p
    join pg_namespace as n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.prosecdef
      and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
  $$,
  'no security definer function in the exposed public schema'
);

select is_empty(
  $$
    select p.oid::regprocedure::text from pg_proc as p
    join pg_namespace as n on n.oid = p.pronamespace
    where n.nspname in ('public', 'private', 'audit') and p.prosecdef
      and not coalesce('search_path=""' = any(p.proconfig), false)
  $$,
  'every security definer function pins search_path to empty'
);

select is_empty(
  $$
    select format('%I.%I', n.nspname, c.relname)
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'S') and n.nspname in ('public', 'private', 'audit')
      and (has_table_privilege('anon', c.oid, 'select')
        or has_table_privilege('anon', c.oid, 'insert')
        or has_table_privilege('anon', c.oid, 'update')
        or has_table_privilege('anon', c.oid, 'delete'))
  $$,
  'anon holds no privilege on any table, view or sequence of ours'
);

select is_empty(
  $$
    select format('%I.%I: %s', n.nspname, c.relname, p.priv)
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    cross join (values ('insert'), ('update'), ('delete'), ('truncate')) as p (priv)
    where c.relkind in ('r', 'p') and n.nspname in ('public', 'private', 'audit')
      and has_table_privilege('authenticated', c.oid, p.priv)
  $$,
  'authenticated cannot write any table directly: every write is an RPC'
);

select is_empty(
  $$
    select p.oid::regprocedure::text from pg_proc as p
    join pg_namespace as n on n.oid = p.pronamespace
    where n.nspname in ('public', 'private', 'audit')
      and has_function_privilege('anon', p.oid, 'execute')
      and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
  $$,
  'anon can execute none of our functions'
);

select is_empty(
  $$
    select format('%I.%I', n.nspname, c.relname)
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname = 'public'
      and not exists (select 1 from pg_policy as p where p.polrelid = c.oid)
  $$,
  'every public table has at least one policy (else no client could read it at all)'
);

select is_empty(
  $$
    select p.oid::regprocedure::text from pg_proc as p
    join pg_namespace as n on n.oid = p.pronamespace
    where n.nspname = 'public'
      and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
      and coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
  $$,
  'every function in public (the RPCs) has a comment'
);

select is_empty(
  $$
    select p.oid::regprocedure::text from pg_proc as p
    join pg_namespace as n on n.oid = p.pronamespace
    where n.nspname = 'public'
      and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
      and not (
        coalesce(obj_description(p.oid, 'pg_proc'), '') like '%Who:%'
        and coalesce(obj_description(p.oid, 'pg_proc'), '') like '%Errors:%'
      )
  $$,
  'every public function''s comment says who may call it (Who:) and its errors (Errors:)'
);

select is_empty(
  $$
    select p.oid::regprocedure::text from pg_proc as p
    join pg_namespace as n on n.oid = p.pronamespace
    where n.nspname in ('private', 'audit') and p.prosecdef
      and not exists (select 1 from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
      and coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
  $$,
  'every security definer function in private and audit has a comment'
);

select is_empty(
  $$
    select format('%I.%I', n.nspname, c.relname)
    from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname in ('public', 'private', 'audit')
      and coalesce(btrim(obj_description(c.oid, 'pg_class')), '') = ''
  $$,
  'every table in public, private and audit has a comment'
);

select * from finish();
rollback;
