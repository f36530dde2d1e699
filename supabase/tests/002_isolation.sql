-- Tenant isolation, table by table: a member of merchant A sees and changes nothing of
-- merchant B; anon reads and writes nothing; writes never bypass the RPCs.
begin;
\ir _helpers.psql
select plan(32);
select tests.make_world();

-- Member of A ------------------------------------------------------------------------------
select tests.authenticate_as(tests.w('user_a'));

select results_eq(
  'select id from public.merchants', array[tests.w('merchant_a')],
  'merchants: a member of A sees only A'
);
select results_eq(
  'select distinct merchant_id from public.merchant_members', array[tests.w('merchant_a')],
  'merchant_members: only A''s members'
);
select results_eq(
  'select distinct merchant_id from public.payments', array[tests.w('merchant_a')],
  'payments: only A''s'
);
select results_eq(
  'select id from public.wallets', array[tests.w('wallet_a')], 'wallets: only A''s'
);
select results_eq(
  'select distinct merchant_id from public.ledger_lines', array[tests.w('merchant_a')],
  'ledger_lines: only A''s'
);
select is_empty('select 1 from public.gateways', 'gateways: merchants see no gateway config');
select is_empty('select 1 from public.platform_admins', 'platform_admins: not an admin, sees none');
select is_empty('select 1 from audit.log', 'audit.log: merchants read no audit rows');

select throws_ok(
  format('update public.merchants set name = ''x'' where id = %L', tests.w('merchant_b')),
  '42501', null, 'cannot update B''s merchant row'
);
select throws_ok(
  format('delete from public.payments where merchant_id = %L', tests.w('merchant_b')),
  '42501', null, 'cannot delete B''s payments'
);
select throws_ok(
  format(
    'insert into public.merchant_members (merchant_id, user_id, role) values (%L, %L, ''owner'')',
    tests.w('merchant_b'), tests.w('user_a')
  ),
  '42501', null, 'cannot insert themself into B'
);
select throws_ok(
  format(
    'insert into public.payments (merchant_id, mode, amount, currency, method) values (%L, ''test'', 1, ''INR'', ''upi'')',
    tests.w('merchant_b')
  ),
  '42501', null, 'cannot create a payment for B directly'
);
select throws_ok(
  format('update public.wallets set mode = ''test'' where id = %L', tests.w('wallet_b')),
  '42501', null, 'cannot touch B''s wallet'
);
select throws_ok(
  format('update public.merchants set name = ''mine'' where id = %L', tests.w('merchant_a')),
  '42501', null, 'not even their own rows are writable except through RPCs'
);
select throws_ok(
  format(
    'select public.set_merchant_member(%L, %L, ''viewer'')',
    tests.w('merchant_b'), tests.w('user_a')
  ),
  '42501', null, 'set_merchant_member on B is refused'
);
select throws_ok(
  format(
    'select public.remove_merchant_member(%L, %L)', tests.w('merchant_b'), tests.w('user_b')
  ),
  '42501', null, 'remove_merchant_member on B is refused'
);
select throws_ok(
  format(
    'select public.admin_adjust_wallet(%L, -7000, ''steal'')',
    tests.w('wallet_b')
  ),
  '42501', null, 'admin_adjust_wallet is admin-only'
);
select is(
  (public.me() -> 'memberships' -> 0 ->> 'merchant_id')::uuid, tests.w('merchant_a'),
  'me() lists only the caller''s memberships'
);

-- Rows of B unchanged, checked as the superuser.
select tests.clear_authentication();
select is(
  (
    select name from public.merchants
    where id = tests.w('merchant_b')
  ), 'Merchant B',
  'B''s merchant row is unchanged'
);
select is(
  (
    select a.credits_posted - a.debits_posted from public.ledger_accounts as a
    inner join public.wallets as w on a.id = w.available_account_id
    where w.id = tests.w('wallet_b')
  ), 7000::bigint,
  'B''s balance is unchanged'
);

-- anon -------------------------------------------------------------------------------------
select tests.as_anon();
select throws_ok('select 1 from public.merchants', '42501', null, 'anon: merchants');
select throws_ok('select 1 from public.merchant_members', '42501', null, 'anon: members');
select throws_ok('select 1 from public.platform_admins', '42501', null, 'anon: admins');
select throws_ok('select 1 from public.gateways', '42501', null, 'anon: gateways');
select throws_ok('select 1 from public.payments', '42501', null, 'anon: payments');
select throws_ok('select 1 from public.wallets', '42501', null, 'anon: wallets');
select throws_ok('select 1 from public.ledger_lines', '42501', null, 'anon: ledger_lines');
select throws_ok('select 1 from audit.log', '42501', null, 'anon: audit.log');
select throws_ok('select public.me()', '42501', null, 'anon: cannot call me()');
select throws_ok(
  'select public.create_merchant(''Anon Ltd'')', '42501', null, 'anon: cannot call RPCs'
);

-- Admin sees everything ----------------------------------------------------------------------
select tests.authenticate_as(tests.w('admin'));
select ok(
  (
    select count(*) from public.merchants
    where id in (tests.w('merchant_a'), tests.w('merchant_b'))
  ) = 2,
  'an admin reads every merchant'
);
select ok(
  (select count(*) from public.gateways) >= 1, 'an admin reads gateways'
);

select * from finish();
rollback;
