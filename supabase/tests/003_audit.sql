-- The audit trail: rows for insert/update/delete with the right actor, request id and
-- redaction; append-only for every role; admin-only reads with filters and pagination.
begin;
\ir _helpers.psql
select plan(22);
select tests.make_world();

-- An admin creates a merchant and adds a member through the RPCs.
select tests.authenticate_as(tests.w('admin'));
create temporary table made on commit drop as
select (public.create_merchant('Audited Ltd', tests.w('user_b'), 'IN') ->> 'id')::uuid as id;
grant select on made to authenticated, service_role;
select tests.clear_authentication();

select is(
  (
    select count(*)::int
    from audit.log
    where
      table_name = 'merchants' and action = 'insert'
      and row_id = (select mm.id::text from made as mm)
  ),
  1, 'insert on merchants is recorded'
);
select is(
  (
    select actor_id from audit.log
    where table_name = 'merchants' and row_id = (select mm.id::text from made as mm)
  ),
  tests.w('admin'), 'actor_id is the caller''s uid from the JWT claims'
);
select is(
  (
    select actor_role from audit.log
    where table_name = 'merchants' and row_id = (select mm.id::text from made as mm)
  ),
  'authenticated', 'actor_role comes from the claims'
);
select is(
  (
    select request_id from audit.log
    where table_name = 'merchants' and row_id = (select mm.id::text from made as mm)
  ),
  'test-request', 'request id is taken from request.headers'
);
select is(
  (
    select row_id
    from audit.log
    where
      table_name = 'merchant_members' and action = 'insert'
      and new_values ->> 'merchant_id' = (select mm.id::text from made as mm)
  ),
  (select mm.id::text from made as mm) || ',' || tests.w('user_b')::text,
  'composite keys are recorded as the row id'
);

-- Update: old and new values and the changed columns.
select tests.authenticate_as(tests.w('admin'));
select public.set_merchant_status((select mm.id from made as mm), 'suspended');
select tests.clear_authentication();
select is(
  (
    select array[old_values ->> 'status', new_values ->> 'status'] from audit.log
    where table_name = 'merchants' and action = 'update' and row_id = (select mm.id::text from made as mm)
  ),
  array['active', 'suspended'], 'update records old and new values'
);
select ok(
  (
    select 'status' = any(changed_columns) from audit.log
    where table_name = 'merchants' and action = 'update' and row_id = (select mm.id::text from made as mm)
  ),
  'update records the changed columns'
);

-- Delete (by the service role, e.g. a maintenance job).
select tests.as_service_role();
delete from public.merchant_members
where merchant_id = (select mm.id from made as mm);
select tests.clear_authentication();
select is(
  (
    select actor_role
    from audit.log
    where
      table_name = 'merchant_members' and action = 'delete'
      and old_values ->> 'merchant_id' = (select mm.id::text from made as mm)
  ),
  'service_role', 'delete by service_role is recorded with that role'
);

-- Redaction: secret-looking keys (nested too) and the vault reference never reach the log.
insert into public.gateways (provider, display_name, config, credentials_secret_id)
values (
  'razorpay', 'Redaction check',
  '{"account": "acc_1", "nested": {"client_secret": "canary-123"}, "webhook_token": "canary-456"}',
  gen_random_uuid()
);
select is(
  (
    select new_values -> 'config' -> 'nested' ->> 'client_secret' from audit.log
    where table_name = 'gateways' and new_values ->> 'display_name' = 'Redaction check'
  ),
  '[redacted]', 'nested secret keys are redacted'
);
select is(
  (
    select new_values -> 'config' ->> 'webhook_token' from audit.log
    where table_name = 'gateways' and new_values ->> 'display_name' = 'Redaction check'
  ),
  '[redacted]', 'token keys are redacted'
);
select is(
  (
    select new_values ->> 'credentials_secret_id' from audit.log
    where table_name = 'gateways' and new_values ->> 'display_name' = 'Redaction check'
  ),
  '[redacted]', 'the vault secret reference is redacted'
);
select is(
  (
    select new_values -> 'config' ->> 'account' from audit.log
    where table_name = 'gateways' and new_values ->> 'display_name' = 'Redaction check'
  ),
  'acc_1', 'ordinary values are kept'
);
select is_empty(
  $$select 1 from audit.log where new_values::text like '%canary-%' or old_values::text like '%canary-%'$$,
  'no planted secret value appears anywhere in the audit log'
);

-- Append-only, for everyone.
select throws_ok(
  'update audit.log set action = ''insert''', '42501', null,
  'the table owner cannot update audit rows'
);
select throws_ok('delete from audit.log', '42501', null, 'the table owner cannot delete audit rows');
select throws_ok('truncate audit.log', '42501', null, 'the table owner cannot truncate');
select tests.as_service_role();
select throws_ok('delete from audit.log', '42501', null, 'service_role cannot delete audit rows');
select throws_ok(
  'insert into audit.log (actor_role, action, table_schema, table_name) values (''x'', ''insert'', ''x'', ''x'')',
  '42501', null, 'service_role cannot forge audit rows'
);
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  'update audit.log set action = ''insert''', '42501', null,
  'an admin cannot update audit rows'
);

-- Reading: admin only, filters and keyset pagination.
select is(
  jsonb_array_length(
    public.list_audit_logs(p_table => 'merchants', p_row_id => (select mm.id::text from made as mm)) -> 'data'
  ),
  2, 'filters by table and row id'
);
select ok(
  (
    with first_page as (select public.list_audit_logs(p_limit => 2) as p),

    second_page as (
      select public.list_audit_logs(p_limit => 2, p_cursor => p ->> 'next_cursor') as p
      from first_page
    )

    select (f.p -> 'data' -> 1 ->> 'id')::bigint > (s.p -> 'data' -> 0 ->> 'id')::bigint
    from first_page as f, second_page as s
  ),
  'the cursor continues strictly after the previous page'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select public.list_audit_logs()', '42501', null,
  'a merchant cannot read the audit log through the RPC'
);

select * from finish();
rollback;
