-- Demo data for the local stack: an admin, a demo merchant with an owner and a developer,
-- a sandbox gateway with Vault-held credentials, and an INR wallet.
-- Idempotent: a second run inserts nothing, updates nothing and writes no audit rows.
-- Fixed ids so scripts/token can mint tokens for these users.

insert into auth.users (id, email, raw_app_meta_data) values
(
  '00000000-0000-4000-8000-00000000a001', 'admin@lightspeedpay.test',
  '{"provider": "email"}'
),
(
  '00000000-0000-4000-8000-00000000b001', 'owner@demo-merchant.test',
  '{"provider": "email"}'
),
(
  '00000000-0000-4000-8000-00000000b002', 'developer@demo-merchant.test',
  '{"provider": "email"}'
)
on conflict (id) do nothing;

insert into public.platform_admins (user_id) values
('00000000-0000-4000-8000-00000000a001')
on conflict (user_id) do nothing;

insert into public.merchants (id, name, country) values
('00000000-0000-4000-8000-0000000d0001', 'Demo Merchant Pvt Ltd', 'IN')
on conflict (id) do nothing;

insert into public.merchant_members (merchant_id, user_id, role) values
('00000000-0000-4000-8000-0000000d0001', '00000000-0000-4000-8000-00000000b001', 'owner'),
('00000000-0000-4000-8000-0000000d0001', '00000000-0000-4000-8000-00000000b002', 'developer')
on conflict (merchant_id, user_id) do nothing;

-- The sandbox's credentials are the ones the local fake provider server accepts
-- (edge_adapter/fake_providers/credentials.py); they still go through Vault like real ones.
do $$
begin
  if not exists (
    select 1 from public.gateways where id = '00000000-0000-4000-8000-0000000ca001'
  ) then
    insert into public.gateways (
      id, provider, display_name, environment, status, priority, min_amount, max_amount,
      daily_limit, currencies, methods, regions, config, credentials_secret_id,
      credentials_masked
    ) values (
      '00000000-0000-4000-8000-0000000ca001', 'sandbox', 'Sandbox', 'test', 'active', 10,
      100, 10000000, 1000000000, '{INR}', '{card,upi,netbanking,wallet}', '{IN}',
      '{"merchant_label": "LightSpeedPay demo"}',
      vault.create_secret(
        '{"api_key": "sandbox_key_demo", "api_secret": "sandbox_secret_demo",
          "webhook_secret": "whsec_ZmFrZS1zYW5kYm94LXdlYmhvb2stc2lnbmluZy1rMDE="}',
        'gateway:00000000-0000-4000-8000-0000000ca001',
        'Sandbox gateway credentials (demo)'
      ),
      private.mask_credentials(
        'sandbox', '{"api_key": "sandbox_key_demo", "api_secret": "sandbox_secret_demo",
          "webhook_secret": "whsec_ZmFrZS1zYW5kYm94LXdlYmhvb2stc2lnbmluZy1rMDE="}'
      )
    );
  end if;
end
$$;

-- A live INR wallet (its ledger accounts come with it).
insert into public.wallets (id, merchant_id, currency, mode) values
('00000000-0000-4000-8000-0000000e0001', '00000000-0000-4000-8000-0000000d0001', 'INR', 'live')
on conflict (merchant_id, currency, mode) do nothing;
