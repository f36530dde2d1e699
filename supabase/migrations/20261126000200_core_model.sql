-- Core payments data model: gateways, transactions, wallets and the wallet ledger.
-- Money is bigint minor units (paise for INR) with an ISO 4217 code; never floats.

create table public.gateways (
  id uuid primary key default gen_random_uuid(),
  provider text not null check (
    provider in ('sandbox', 'razorpay', 'cashfree', 'payu', 'phonepe', 'paytm', 'stripe')
  ),
  display_name text not null check (char_length(btrim(display_name)) between 1 and 100),
  environment text not null default 'test' check (environment in ('test', 'live')),
  status text not null default 'inactive'
  check (status in ('active', 'inactive', 'archived')),
  priority integer not null default 100 check (priority between 0 and 100000),
  min_amount bigint not null default 100 check (min_amount > 0),
  max_amount bigint check (max_amount is null or max_amount >= min_amount),
  daily_limit bigint check (daily_limit is null or daily_limit > 0),
  currencies text[] not null default '{INR}'
  check (cardinality(currencies) > 0 and array_to_string(currencies, ',') ~ '^[A-Z]{3}(,[A-Z]{3})*$'),
  methods text[] not null default '{}'
  check (methods <@ '{card,upi,netbanking,wallet,emi,paylater}'::text[]),
  regions text[] not null default '{}',
  -- Non-secret provider settings (merchant ids, webhook paths). Secrets never live here.
  config jsonb not null default '{}'::jsonb check (jsonb_typeof(config) = 'object'),
  -- vault.secrets id holding the credential JSON; null for providers needing none.
  credentials_secret_id uuid,
  created_by uuid references auth.users (id) on delete set null,
  archived_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.gateways enable row level security;
create index gateways_routing_idx on public.gateways (status, priority);

create table public.transactions (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchants (id),
  gateway_id uuid references public.gateways (id),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'created' check (
    status in (
      'created', 'pending', 'processing', 'succeeded', 'failed', 'cancelled',
      'partially_refunded', 'refunded'
    )
  ),
  method text check (method in ('card', 'upi', 'netbanking', 'wallet', 'emi', 'paylater')),
  provider_reference text,
  error_code text,
  error_message text,
  idempotency_key text check (char_length(idempotency_key) between 1 and 255),
  provider_latency_ms integer check (provider_latency_ms >= 0),
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint transactions_idempotency_key_unique unique (merchant_id, idempotency_key)
);
alter table public.transactions enable row level security;
-- Per-gateway time windows (success rates, daily volume) and per-merchant listings.
create index transactions_gateway_time_idx on public.transactions (gateway_id, created_at);
create index transactions_merchant_time_idx on public.transactions (merchant_id, created_at desc);
create index transactions_status_time_idx on public.transactions (status, created_at);

-- The status lifecycle: terminal states stay terminal, nothing goes backwards.
create function private.check_transaction_transition() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  allowed text [];
begin
  if new.status = old.status then
    return new;
  end if;
  allowed := case old.status
    when 'created' then '{pending,processing,failed,cancelled}'::text []
    when 'pending' then '{processing,succeeded,failed,cancelled}'::text []
    when 'processing' then '{succeeded,failed}'::text []
    when 'succeeded' then '{partially_refunded,refunded}'::text []
    when 'partially_refunded' then '{refunded}'::text []
    else '{}'::text []
  end;
  if not new.status = any(allowed) then
    raise exception 'transaction % cannot move from % to %', old.id, old.status, new.status
      using errcode = 'P0001';
  end if;
  if new.status in ('succeeded', 'failed', 'cancelled') and new.completed_at is null then
    new.completed_at := now();
  end if;
  return new;
end
$$;

create trigger transactions_status_lifecycle before update of status on public.transactions
for each row execute function private.check_transaction_transition();
create trigger transactions_touch before update on public.transactions
for each row execute function private.touch_updated_at();
create trigger gateways_touch before update on public.gateways
for each row execute function private.touch_updated_at();

-- Wallets and the append-only ledger ---------------------------------------------------------
create table public.wallets (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchants (id),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  balance bigint not null default 0 check (balance >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint wallets_merchant_currency_unique unique (merchant_id, currency)
);
alter table public.wallets enable row level security;

create table public.wallet_ledger (
  id bigint generated always as identity primary key,
  wallet_id uuid not null references public.wallets (id),
  merchant_id uuid not null references public.merchants (id),
  amount bigint not null check (amount <> 0),
  balance_after bigint not null default 0 check (balance_after >= 0),
  kind text not null
  check (kind in ('payment', 'refund', 'settlement', 'fee', 'adjustment', 'payout')),
  transaction_id uuid references public.transactions (id),
  reference text check (char_length(reference) <= 500),
  idempotency_key text not null check (char_length(idempotency_key) between 1 and 255),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  constraint wallet_ledger_idempotency_unique unique (wallet_id, idempotency_key)
);
alter table public.wallet_ledger enable row level security;
create index wallet_ledger_wallet_idx on public.wallet_ledger (wallet_id, id desc);
create index wallet_ledger_merchant_idx on public.wallet_ledger (merchant_id, id desc);

-- Every ledger insert moves the wallet balance under a row lock, so concurrent entries
-- serialise and the balance can never go negative.
create function private.apply_ledger_entry() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  w public.wallets;
begin
  select * into w from public.wallets where id = new.wallet_id for update;
  if not found then
    raise exception 'wallet % does not exist', new.wallet_id using errcode = 'P0002';
  end if;
  if new.merchant_id <> w.merchant_id then
    raise exception 'ledger entry merchant does not match the wallet' using errcode = '22023';
  end if;
  if w.balance + new.amount < 0 then
    raise exception 'insufficient balance: wallet has %, entry needs %', w.balance, -new.amount
      using errcode = '23514';
  end if;
  new.balance_after := w.balance + new.amount;
  update public.wallets set balance = new.balance_after where id = w.id;
  return new;
end
$$;

create function private.refuse_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception '%.% is append-only: % is not allowed', tg_table_schema, tg_table_name, lower(tg_op)
    using errcode = '42501';
end
$$;

-- The balance moves only through ledger inserts (which update it from inside a trigger).
create function private.guard_wallet_balance() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.balance <> old.balance and pg_trigger_depth() < 2 then
    raise exception 'wallet balances change only through wallet_ledger entries'
      using errcode = '42501';
  end if;
  new.updated_at := now();
  return new;
end
$$;

create trigger wallet_ledger_apply before insert on public.wallet_ledger
for each row execute function private.apply_ledger_entry();
create trigger wallet_ledger_append_only before update or delete on public.wallet_ledger
for each row execute function private.refuse_change();
create trigger wallet_ledger_no_truncate before truncate on public.wallet_ledger
for each statement execute function private.refuse_change();
create trigger wallets_guard_balance before update on public.wallets
for each row execute function private.guard_wallet_balance();

-- Policies ----------------------------------------------------------------------------------
create policy gateways_read on public.gateways
for select to authenticated
using ((select private.is_admin()));

create policy transactions_read on public.transactions
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);

create policy wallets_read on public.wallets
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);

create policy wallet_ledger_read on public.wallet_ledger
for select to authenticated
using (
  (select private.is_admin())
  or merchant_id in (select private.member_merchant_ids())
);

revoke all on public.gateways, public.transactions, public.wallets, public.wallet_ledger
from anon, authenticated, public;
revoke all on all sequences in schema public from anon, authenticated;
grant select on public.gateways, public.transactions, public.wallets, public.wallet_ledger
to authenticated;
grant select, insert, update, delete on public.gateways, public.transactions, public.wallets
to service_role;
grant select, insert on public.wallet_ledger to service_role;
revoke execute on all functions in schema private from public, anon;
