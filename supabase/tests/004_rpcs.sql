-- Every RPC: happy path, a caller without the role, bad input, and the role rules
-- (nobody grants themself a role; a merchant keeps an owner; the platform keeps an admin).
begin;
\ir _helpers.psql
select plan(33);
select tests.make_world();

-- create_merchant
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  'select public.create_merchant(''Rogue Ltd'')', '42501', null,
  'create_merchant: a merchant is refused'
);
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  'select public.create_merchant('''')', '22023', null,
  'create_merchant: empty name refused'
);
select throws_ok(
  'select public.create_merchant(''X'', p_country => ''india'')', '22023', null,
  'create_merchant: bad country refused'
);
select throws_ok(
  format('select public.create_merchant(''X'', %L)', gen_random_uuid()), 'P0002', null,
  'create_merchant: unknown owner refused'
);
select is(
  public.create_merchant('Idem Ltd', p_idempotency_key => 'k1') ->> 'id',
  public.create_merchant('Idem Ltd', p_idempotency_key => 'k1') ->> 'id',
  'create_merchant: a retried idempotency key returns the same merchant'
);
select throws_ok(
  'select public.create_merchant(''Other Ltd'', p_idempotency_key => ''k1'')', 'PGRST', null,
  'create_merchant: the same key with other parameters is refused'
);
select is(
  (
    select count(*)::int from public.merchants
    where name in ('Idem Ltd', 'Other Ltd')
  ), 1,
  'create_merchant: exactly one merchant was created'
);

-- set_merchant_status
select throws_ok(
  format('select public.set_merchant_status(%L, ''frozen'')', tests.w('merchant_a')),
  '22023', null, 'set_merchant_status: unknown status refused'
);
select throws_ok(
  format('select public.set_merchant_status(%L, ''active'')', gen_random_uuid()),
  'P0002', null, 'set_merchant_status: unknown merchant'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  format('select public.set_merchant_status(%L, ''closed'')', tests.w('merchant_a')),
  '42501', null, 'set_merchant_status: a merchant owner cannot change their own status'
);

-- set_merchant_member / remove_merchant_member (owner of A manages A)
create temporary table dev on commit drop as select tests.create_user('dev@test.example') as id;
grant select on dev to authenticated;
select is(
  public.set_merchant_member(tests.w('merchant_a'), (select dd.id from dev as dd), 'developer') ->> 'role',
  'developer', 'an owner adds a developer'
);
select throws_ok(
  format('select public.set_merchant_member(%L, %L, ''admin'')', tests.w('merchant_a'), (select dd.id from dev as dd)),
  '22023', null, 'set_merchant_member: unknown role refused'
);
select throws_ok(
  format('select public.set_merchant_member(%L, %L, ''viewer'')', tests.w('merchant_a'), gen_random_uuid()),
  'P0002', null, 'set_merchant_member: unknown user'
);
select throws_ok(
  format('select public.set_merchant_member(%L, %L, ''viewer'')', tests.w('merchant_a'), tests.w('user_a')),
  '42501', null, 'nobody changes their own role'
);
select throws_ok(
  format('select public.remove_merchant_member(%L, %L)', tests.w('merchant_a'), tests.w('user_a')),
  '42501', null, 'an owner cannot remove themself through the member RPC'
);
select tests.authenticate_as((select dd.id from dev as dd));
select throws_ok(
  format('select public.set_merchant_member(%L, %L, ''owner'')', tests.w('merchant_a'), (select dd.id from dev as dd)),
  '42501', null, 'a developer cannot promote themself'
);
select throws_ok(
  format('select public.set_merchant_member(%L, %L, ''viewer'')', tests.w('merchant_a'), tests.w('user_a')),
  '42501', null, 'a developer cannot manage members'
);
select tests.authenticate_as(tests.w('admin'));
select throws_ok(
  format('select public.set_merchant_member(%L, %L, ''viewer'')', tests.w('merchant_a'), tests.w('user_a')),
  'P0001', null, 'demoting the last owner is refused'
);
select throws_ok(
  format('select public.remove_merchant_member(%L, %L)', tests.w('merchant_a'), tests.w('user_a')),
  'P0001', null, 'removing the last owner is refused'
);
select is(
  public.remove_merchant_member(tests.w('merchant_a'), (select dd.id from dev as dd)) ->> 'removed', 'true',
  'an admin removes a member'
);
select throws_ok(
  format('select public.remove_merchant_member(%L, %L)', tests.w('merchant_a'), (select dd.id from dev as dd)),
  'P0002', null, 'removing a non-member is a clear not-found'
);

-- grant / revoke platform admin
select throws_ok(
  format('select public.grant_platform_admin(%L)', tests.w('admin')), '42501', null,
  'an admin cannot grant themself'
);
select is(
  public.grant_platform_admin(tests.w('user_b')) ->> 'granted', 'true', 'an admin grants another user'
);
select is(
  public.grant_platform_admin(tests.w('user_b')) ->> 'granted', 'false', 'granting twice is a no-op'
);
select is(
  public.revoke_platform_admin(tests.w('user_b')) ->> 'revoked', 'true', 'an admin revokes'
);
select tests.authenticate_as(tests.w('user_a'));
select throws_ok(
  format('select public.grant_platform_admin(%L)', tests.w('user_a')), '42501', null,
  'a merchant cannot make themself admin'
);
select tests.clear_authentication();
delete from public.platform_admins
where user_id <> tests.w('admin');
select tests.as_service_role();
select throws_ok(
  format('select public.revoke_platform_admin(%L)', tests.w('admin')), 'P0001', null,
  'the last platform admin cannot be revoked'
);

-- admin_adjust_wallet (replaces post_wallet_entry); wallet_a is live: its merchant takes live money
update public.merchants set live_enabled = true
where id = (
  select w.merchant_id from public.wallets as w
  where w.id = tests.w('wallet_a')
);
select tests.authenticate_as(tests.w('admin'));
select is(
  (public.admin_adjust_wallet(tests.w('wallet_a'), -2000, 'fee correction', 'available', 'adj-1') -> 'wallet' ->> 'available')::bigint,
  3000::bigint, 'a debit adjustment reduces the available balance'
);
select is(
  (public.admin_adjust_wallet(tests.w('wallet_a'), -2000, 'fee correction', 'available', 'adj-1') -> 'wallet' ->> 'available')::bigint,
  3000::bigint, 'a retried adjustment is not applied twice'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, -3001, ''too much'')', tests.w('wallet_a')),
  'PGRST', null, 'the balance can never go negative (409 insufficient_balance)'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 10, '' '')', tests.w('wallet_a')),
  '22023', null, 'a reason is required'
);
select throws_ok(
  format('select public.admin_adjust_wallet(%L, 0, ''nothing'')', tests.w('wallet_a')),
  '22023', null, 'zero amount refused'
);
select tests.clear_authentication();
select is(
  (
    select a.credits_posted - a.debits_posted from public.ledger_accounts as a
    inner join public.wallets as w on a.id = w.available_account_id
    where w.id = tests.w('wallet_a')
  ), 3000::bigint,
  'the wallet holds exactly the applied entries'
);

select * from finish();
rollback;
