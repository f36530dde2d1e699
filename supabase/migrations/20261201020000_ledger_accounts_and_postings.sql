-- Ledger: double-entry accounts, journal entries and holds, in the spirit of TigerBeetle's
-- accounts and transfers (debits/credits, posted and pending, "never negative" flags,
-- pending transfers posted or voided once) and Modern Treasury's ledger balances.
--
-- * public.ledger_accounts: one per (kind, currency, mode, owner). Merchant accounts
--   (pending, available, reserve) belong to a wallet; platform accounts (provider clearing,
--   fee revenue, GST payable, provider fees, payouts in transit, the platform bank account,
--   adjustments) are kept per gateway where a gateway is involved, so that no single row
--   serialises every payment of the platform. Running totals: debits/credits, posted and
--   pending. Strict accounts (never_negative) cannot go below zero: the check happens
--   under the account's row lock, in the same UPDATE that moves the money, so it holds
--   under any concurrency and never refuses spuriously.
-- * public.ledger_entries + public.ledger_lines: the journal. Append-only for every role
--   (update, delete and truncate are refused). The lines of an entry sum to zero per
--   currency, checked at commit by a deferred constraint trigger. Every entry carries an
--   idempotency key, unique, and a hash of all its parameters: a repeat with the same
--   parameters returns the first entry, a repeat with other parameters is refused.
-- * public.ledger_holds: pending transfers. Creating one reserves the amount on both
--   accounts (pending totals); it is then posted (in full or in part) or voided, at most
--   once; pg_cron voids expired ones.
-- * public.wallets becomes a merchant's set of accounts in one currency and mode (test
--   payments move test money): available, pending, reserve. Its old single balance and
--   public.wallet_ledger migrate into the ledger with their history, and post_wallet_entry
--   is retired: admin adjustments (public.admin_adjust_wallet, with a reason, audited) go
--   through the same posting function as everything else.

-- migration-lint: allow ban-drop-function: the old wallet-entry RPCs, the balance guard and apply_ledger_entry are retired in favour of the ledger in this same migration; the API had no released clients and the adapter shipping with it calls the new routes
-- migration-lint: allow ban-drop-table: public.wallet_ledger's rows are migrated into ledger entries and postings with their history above, before the table is dropped
-- migration-lint: allow ban-drop-column: wallets.balance is replaced by the ledger accounts' running balances, migrated above before the column goes
-- migration-lint: allow ban-drop-constraint: the (merchant, currency) uniqueness is replaced in the same statement by (merchant, currency, mode)
-- migration-lint: allow constraint-missing-not-valid: wallets holds one row per merchant and currency (a few hundred at most): validating in place costs milliseconds
-- migration-lint: allow disallowed-unique-constraint: the unique index over wallets (a few hundred rows) builds in milliseconds under the lock
-- migration-lint: allow adding-foreign-key-constraint: the wallets' references to currencies and to their new ledger accounts are checked over a few hundred rows created in this migration
-- migration-lint: allow adding-not-nullable-field: the three account ids were filled for every wallet just above; the scan covers a few hundred rows

-- Wallets: one id for the merchant's accounts in a currency and mode -------------------------
-- A wallet whose currency is not ISO 4217 could only come from the old route's missing
-- check; such rows hold no usable money. Their history stays in audit.log.
alter table public.wallet_ledger disable trigger wallet_ledger_append_only;
delete from public.wallet_ledger as l
where not exists (
  select 1 from public.wallets as w
  inner join public.currencies as c on w.currency = c.code
  where w.id = l.wallet_id
);
alter table public.wallet_ledger enable trigger wallet_ledger_append_only;
delete from public.wallets as w
where not exists (
  select 1 from public.currencies as c
  where c.code = w.currency
);

drop trigger wallets_guard_balance on public.wallets;
drop function private.guard_wallet_balance();
alter table public.wallets
add column mode text not null default 'live' check (mode in ('test', 'live')),
add column pending_account_id uuid,
add column available_account_id uuid,
add column reserve_account_id uuid,
drop constraint wallets_merchant_currency_unique,
add constraint wallets_merchant_currency_mode_unique unique (merchant_id, currency, mode),
add constraint wallets_currency_fkey foreign key (currency) references public.currencies (code);
comment on column public.wallets.mode is
$$test or live: test-mode payments move test money in test wallets.$$;

-- Accounts ------------------------------------------------------------------------------------
create table public.ledger_accounts (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (
    kind in (
      'merchant_pending', 'merchant_available', 'merchant_reserve', 'provider_clearing',
      'provider_suspense', 'provider_fees', 'fee_revenue', 'gst_payable',
      'payouts_in_transit', 'platform_bank', 'platform_adjustments'
    )
  ),
  currency text not null references public.currencies (code),
  mode text not null check (mode in ('test', 'live')),
  merchant_id uuid references public.merchants (id),
  wallet_id uuid references public.wallets (id),
  gateway_id uuid references public.gateways (id),
  normal_balance text not null check (normal_balance in ('debit', 'credit')),
  never_negative boolean not null,
  debits_posted bigint not null default 0 check (debits_posted >= 0),
  credits_posted bigint not null default 0 check (credits_posted >= 0),
  debits_pending bigint not null default 0 check (debits_pending >= 0),
  credits_pending bigint not null default 0 check (credits_pending >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ledger_accounts_merchant_owned check (
    (kind like 'merchant\_%') = (merchant_id is not null and wallet_id is not null)
  ),
  constraint ledger_accounts_never_negative check (
    not never_negative or (
      case normal_balance
        when 'credit' then credits_posted - debits_posted - debits_pending
        else debits_posted - credits_posted - credits_pending
      end
    ) >= 0
  )
);
alter table public.ledger_accounts enable row level security;
create unique index ledger_accounts_owner_unique on public.ledger_accounts (
  kind, currency, mode,
  coalesce(merchant_id, '00000000-0000-0000-0000-000000000000'::uuid),
  coalesce(gateway_id, '00000000-0000-0000-0000-000000000000'::uuid)
);
create index ledger_accounts_merchant_idx on public.ledger_accounts (merchant_id)
where merchant_id is not null;
-- A wallet and its three accounts are made together: the wallet's row names them (checked at
-- commit) and an insert trigger creates them, whoever inserts the wallet.

create function private.name_wallet_accounts() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.pending_account_id := gen_random_uuid();
  new.available_account_id := gen_random_uuid();
  new.reserve_account_id := gen_random_uuid();
  return new;
end
$$;
comment on function private.name_wallet_accounts() is
$$Trigger: a new wallet names its pending, available and reserve accounts.$$;

create function private.open_wallet_accounts() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  insert into public.ledger_accounts (
    id, kind, currency, mode, merchant_id, wallet_id, normal_balance, never_negative
  ) values
  (new.pending_account_id, 'merchant_pending', new.currency, new.mode, new.merchant_id, new.id, 'credit', true),
  (new.available_account_id, 'merchant_available', new.currency, new.mode, new.merchant_id, new.id, 'credit', true),
  (new.reserve_account_id, 'merchant_reserve', new.currency, new.mode, new.merchant_id, new.id, 'credit', true);
  return null;
end
$$;
comment on function private.open_wallet_accounts() is
$$Trigger: creates a new wallet's three strict, credit-normal accounts.$$;

create function private.guard_wallet() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.merchant_id, new.currency, new.mode, new.pending_account_id, new.available_account_id,
    new.reserve_account_id)
    is distinct from (old.merchant_id, old.currency, old.mode, old.pending_account_id,
      old.available_account_id, old.reserve_account_id) then
    raise exception 'a wallet''s merchant, currency, mode and accounts never change'
      using errcode = '42501';
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function private.guard_wallet() is
$$Trigger: a wallet's merchant, currency, mode and accounts never change (42501).$$;

-- The wallets already there get their accounts now.
update public.wallets set
  pending_account_id = gen_random_uuid(),
  available_account_id = gen_random_uuid(),
  reserve_account_id = gen_random_uuid();
insert into public.ledger_accounts (
  id, kind, currency, mode, merchant_id, wallet_id, normal_balance, never_negative
)
select
  x.id,
  x.kind,
  w.currency,
  w.mode,
  w.merchant_id,
  w.id as wallet_id,
  'credit' as normal_balance,
  true as never_negative
from public.wallets as w
cross join lateral (
  values
  (w.pending_account_id, 'merchant_pending'),
  (w.available_account_id, 'merchant_available'),
  (w.reserve_account_id, 'merchant_reserve')
) as x (id, kind);
alter table public.wallets
add constraint wallets_pending_account_fkey foreign key (pending_account_id)
references public.ledger_accounts (id) deferrable initially deferred,
add constraint wallets_available_account_fkey foreign key (available_account_id)
references public.ledger_accounts (id) deferrable initially deferred,
add constraint wallets_reserve_account_fkey foreign key (reserve_account_id)
references public.ledger_accounts (id) deferrable initially deferred;
alter table public.wallets
alter column pending_account_id set not null,
alter column available_account_id set not null,
alter column reserve_account_id set not null;
create trigger wallets_name_accounts before insert on public.wallets
for each row execute function private.name_wallet_accounts();
create trigger wallets_open_accounts after insert on public.wallets
for each row execute function private.open_wallet_accounts();
create trigger wallets_guard before update on public.wallets
for each row execute function private.guard_wallet();
create trigger wallets_no_delete before delete on public.wallets
for each row execute function private.refuse_change();

comment on table public.ledger_accounts is
$$A ledger account: kind (merchant_pending / _available / _reserve, provider_clearing and
provider_suspense per gateway, provider_fees, fee_revenue and gst_payable per gateway,
payouts_in_transit, platform_bank, platform_adjustments), currency, mode, owner
(merchant and wallet, or gateway), normal balance and running totals. Strict accounts
(never_negative: every merchant account and payouts in transit) never go below zero: checked
under the row lock by the posting and hold functions, and by a check constraint. Totals
change only through ledger lines and holds (42501 otherwise, for every role).
Who reads (RLS): admins every account; a merchant's members and API keys their own
accounts. Nobody writes through the API.$$;
comment on column public.ledger_accounts.debits_posted is
$$Sum of posted debit lines, minor units of currency.$$;
comment on column public.ledger_accounts.credits_posted is
$$Sum of posted credit lines, minor units of currency.$$;
comment on column public.ledger_accounts.debits_pending is
$$Sum of pending holds debiting this account (reserved, not yet posted), minor units.$$;
comment on column public.ledger_accounts.credits_pending is
$$Sum of pending holds crediting this account (not spendable until posted), minor units.$$;
comment on column public.ledger_accounts.never_negative is
$$Strict account: its balance (normal direction) net of pending debits never goes below zero.$$;

-- Journal -------------------------------------------------------------------------------------
create table public.ledger_entries (
  id bigint primary key generated always as identity,
  kind text not null check (kind ~ '^[a-z][a-z_]{0,39}$'),
  idempotency_key text not null check (char_length(idempotency_key) between 1 and 255),
  request_hash text not null,
  merchant_id uuid references public.merchants (id),
  wallet_id uuid references public.wallets (id),
  reference_type text check (char_length(reference_type) <= 40),
  reference_id text check (char_length(reference_id) <= 100),
  description text check (char_length(description) <= 500),
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  constraint ledger_entries_key_unique unique (idempotency_key)
);
alter table public.ledger_entries enable row level security;
create index ledger_entries_merchant_idx on public.ledger_entries (merchant_id, created_at desc)
where merchant_id is not null;
create index ledger_entries_reference_idx on public.ledger_entries (reference_type, reference_id)
where reference_id is not null;

create table public.ledger_lines (
  id bigint primary key generated always as identity,
  entry_id bigint not null references public.ledger_entries (id),
  account_id uuid not null references public.ledger_accounts (id),
  direction text not null check (direction in ('debit', 'credit')),
  amount bigint not null check (amount > 0),
  currency text not null default '',
  merchant_id uuid,
  wallet_id uuid,
  balance_after bigint not null default 0,
  created_at timestamptz not null default now()
);
alter table public.ledger_lines enable row level security;
create index ledger_lines_entry_idx on public.ledger_lines (entry_id, id);
create index ledger_lines_wallet_idx on public.ledger_lines (wallet_id, created_at desc, id desc)
where wallet_id is not null;

comment on table public.ledger_entries is
$$A journal entry: what moved money and why (kind: payment, refund, adjustment, settlement,
payout, payout_processed, payout_reversal, provider_settlement, migration, transfer, ...),
with its lines in ledger_lines. Append-only for every role. idempotency_key is unique and
request_hash fingerprints every parameter: the posting function returns the first entry for
a repeat and refuses the key with other parameters.
Who reads (RLS): admins; a merchant's members and API keys the entries about their merchant.
Written only by ledger functions (private.ledger_post).$$;
comment on table public.ledger_lines is
$$One line of a journal entry: an account debited or credited by a positive amount (minor
units of the account's currency), with the account's posted balance (normal direction) right
after it. The lines of an entry sum to zero per currency (deferred constraint trigger).
Append-only for every role. Who reads (RLS): admins; a merchant's members and API keys the
lines on their own accounts.$$;
comment on column public.ledger_lines.amount is
$$Positive minor units of currency (paise for INR); direction says debit or credit.$$;
comment on column public.ledger_lines.balance_after is
$$The account's posted balance in its normal direction right after this line, minor units.$$;

-- Holds ---------------------------------------------------------------------------------------
create table public.ledger_holds (
  id bigint primary key generated always as identity,
  idempotency_key text not null check (char_length(idempotency_key) between 1 and 255),
  request_hash text not null,
  kind text not null check (kind ~ '^[a-z][a-z_]{0,39}$'),
  debit_account_id uuid not null references public.ledger_accounts (id),
  credit_account_id uuid not null references public.ledger_accounts (id),
  amount bigint not null check (amount > 0),
  currency text not null references public.currencies (code),
  status text not null default 'pending' check (
    status in ('pending', 'posted', 'voided', 'expired')
  ),
  posted_amount bigint not null default 0,
  entry_id bigint references public.ledger_entries (id),
  merchant_id uuid references public.merchants (id),
  wallet_id uuid references public.wallets (id),
  reference_type text check (char_length(reference_type) <= 40),
  reference_id text check (char_length(reference_id) <= 100),
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  constraint ledger_holds_key_unique unique (idempotency_key),
  constraint ledger_holds_two_accounts check (debit_account_id <> credit_account_id),
  constraint ledger_holds_posted_within check (posted_amount between 0 and amount),
  constraint ledger_holds_posted_only check (status = 'posted' or posted_amount = 0)
);
alter table public.ledger_holds enable row level security;
create index ledger_holds_expiry_idx on public.ledger_holds (expires_at)
where status = 'pending' and expires_at is not null;
create index ledger_holds_reference_idx on public.ledger_holds (reference_type, reference_id)
where reference_id is not null;
create index ledger_holds_merchant_idx on public.ledger_holds (merchant_id, created_at desc)
where merchant_id is not null;
comment on table public.ledger_holds is
$$A pending transfer (TigerBeetle's pending transfer): amount reserved from debit_account to
credit_account (their pending totals) until it is posted (in full or in part: the rest is
released) or voided, at most once; pg_cron expires pending holds past expires_at.
Who reads (RLS): admins; a merchant's members and API keys their own holds. Written only by
ledger functions.$$;
comment on column public.ledger_holds.amount is $$Minor units of currency reserved.$$;
comment on column public.ledger_holds.posted_amount is
$$Minor units actually posted (0 unless posted; at most amount).$$;

-- Adjustments ----------------------------------------------------------------------------------
create table public.wallet_adjustments (
  id uuid primary key default gen_random_uuid(),
  wallet_id uuid not null references public.wallets (id),
  merchant_id uuid not null references public.merchants (id),
  kind text not null check (kind in ('adjustment', 'payout_reversal', 'opening_balance')),
  account text not null check (account in ('available', 'reserve')),
  amount bigint not null check (amount <> 0),
  currency text not null references public.currencies (code),
  reason text not null check (char_length(reason) between 1 and 500),
  entry_id bigint references public.ledger_entries (id),
  settlement_id text,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now()
);
alter table public.wallet_adjustments enable row level security;
create index wallet_adjustments_wallet_idx on public.wallet_adjustments (wallet_id, created_at desc);
create index wallet_adjustments_unsettled_idx on public.wallet_adjustments (wallet_id)
where settlement_id is null and account = 'available';
comment on table public.wallet_adjustments is
$$A change to a wallet that is not a payment or refund: an admin adjustment (with its reason,
audited), a failed payout's money back in available (payout_reversal), or a balance that
migrated from the single-account wallet (opening_balance). Those on the available account
are part of the next settlement (settlement_id). Append-only except that settlement_id is set
once. Who reads (RLS): admins; the merchant's members and API keys.$$;
comment on column public.wallet_adjustments.amount is
$$Signed minor units of currency: positive credits the merchant's account, negative debits it.$$;

-- Who may write what -----------------------------------------------------------------------------
create function private.guard_ledger_account() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.kind, new.currency, new.mode, new.normal_balance, new.never_negative)
    is distinct from (old.kind, old.currency, old.mode, old.normal_balance, old.never_negative)
    or new.merchant_id is distinct from old.merchant_id
    or new.wallet_id is distinct from old.wallet_id
    or new.gateway_id is distinct from old.gateway_id then
    raise exception 'a ledger account''s kind, currency, mode and owner never change'
      using errcode = '42501';
  end if;
  if (new.debits_posted, new.credits_posted, new.debits_pending, new.credits_pending)
    is distinct from (old.debits_posted, old.credits_posted, old.debits_pending, old.credits_pending) then
    raise exception 'ledger balances change only through ledger lines and holds'
      using errcode = '42501';
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function private.guard_ledger_account() is
$$Trigger: an account's identity never changes, and its totals change only from the ledger
line and hold triggers (42501 otherwise, for every role).$$;
-- Fired by statements from outside (depth 0) only: the line and hold triggers, which are the
-- one way totals move, update accounts one level down and skip the call.
create trigger ledger_accounts_guard before update on public.ledger_accounts
for each row when (pg_trigger_depth() = 0) execute function private.guard_ledger_account();
create trigger ledger_accounts_no_delete before delete on public.ledger_accounts
for each row execute function private.refuse_change();
create trigger ledger_accounts_no_truncate before truncate on public.ledger_accounts
for each statement execute function private.refuse_change();

create trigger ledger_entries_append_only before update or delete on public.ledger_entries
for each row execute function private.refuse_change();
create trigger ledger_entries_no_truncate before truncate on public.ledger_entries
for each statement execute function private.refuse_change();
create trigger ledger_lines_append_only before update or delete on public.ledger_lines
for each row execute function private.refuse_change();
create trigger ledger_lines_no_truncate before truncate on public.ledger_lines
for each statement execute function private.refuse_change();
create trigger ledger_holds_no_delete before delete on public.ledger_holds
for each row execute function private.refuse_change();
create trigger ledger_holds_no_truncate before truncate on public.ledger_holds
for each statement execute function private.refuse_change();

create function private.guard_wallet_adjustment() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.settlement_id is null and new.settlement_id is not null
    and (to_jsonb(new) - 'settlement_id') = (to_jsonb(old) - 'settlement_id') then
    return new;
  end if;
  raise exception 'wallet adjustments are append-only (only their settlement is recorded, once)'
    using errcode = '42501';
end
$$;
comment on function private.guard_wallet_adjustment() is
$$Trigger: wallet adjustments never change, except that the settlement including one is
recorded once (42501 otherwise).$$;
create trigger wallet_adjustments_guard before update on public.wallet_adjustments
for each row execute function private.guard_wallet_adjustment();
create trigger wallet_adjustments_no_delete before delete on public.wallet_adjustments
for each row execute function private.refuse_change();
create trigger wallet_adjustments_no_truncate before truncate on public.wallet_adjustments
for each statement execute function private.refuse_change();
create trigger audit_wallet_adjustments after insert or update on public.wallet_adjustments
for each row execute function audit.record_change();

-- A line moves its account's totals under the account's row lock -------------------------------
-- The UPDATE's WHERE re-checks the condition on the latest row version after waiting for a
-- concurrent writer (READ COMMITTED), so a strict account is never overdrawn and a posting
-- that fits is never refused.
create function private.balance_of(
  a public.ledger_accounts
) returns bigint
language sql immutable
set search_path = ''
as $$
  select case a.normal_balance
    when 'credit' then a.credits_posted - a.debits_posted
    else a.debits_posted - a.credits_posted
  end
$$;
comment on function private.balance_of(public.ledger_accounts) is
$$An account's posted balance in its normal direction (minor units).$$;

create function private.available_of(
  a public.ledger_accounts
) returns bigint
language sql immutable
set search_path = ''
as $$
  select case a.normal_balance
    when 'credit' then a.credits_posted - a.debits_posted - a.debits_pending
    else a.debits_posted - a.credits_posted - a.credits_pending
  end
$$;
comment on function private.available_of(public.ledger_accounts) is
$$An account's posted balance net of pending holds against it (minor units): what a debit
may take.$$;

create function private.insufficient_balance(p_account_id uuid, p_needed bigint) returns void
language plpgsql
set search_path = ''
as $$
declare
  a public.ledger_accounts;
begin
  select * into a from public.ledger_accounts as x where x.id = p_account_id;
  if not found then
    raise exception 'ledger account % does not exist', p_account_id using errcode = 'P0002';
  end if;
  perform private.raise_http(
    409, 'insufficient_balance',
    format(
      'insufficient balance: the %s account (%s %s) has %s available, %s is needed',
      replace(a.kind, '_', ' '), a.currency, a.mode, private.available_of(a), p_needed
    )
  );
end
$$;
comment on function private.insufficient_balance(uuid, bigint) is
$$Raises HTTP 409 insufficient_balance (PGRST) naming the account's kind and what it has;
P0002 when the account does not exist.$$;

create function private.apply_ledger_line() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_currency text;
  v_merchant uuid;
  v_wallet uuid;
  v_balance bigint;
begin
  update public.ledger_accounts as a set
    debits_posted = a.debits_posted + case when new.direction = 'debit' then new.amount else 0 end,
    credits_posted = a.credits_posted + case when new.direction = 'credit' then new.amount else 0 end,
    updated_at = now()
  where a.id = new.account_id
    and (
      not a.never_negative or new.direction = a.normal_balance
      or case a.normal_balance
        when 'credit' then a.credits_posted - a.debits_posted - a.debits_pending
        else a.debits_posted - a.credits_posted - a.credits_pending
      end >= new.amount
    )
  returning a.currency, a.merchant_id, a.wallet_id,
    case a.normal_balance
      when 'credit' then a.credits_posted - a.debits_posted
      else a.debits_posted - a.credits_posted
    end
  into v_currency, v_merchant, v_wallet, v_balance;
  if not found then
    perform private.insufficient_balance(new.account_id, new.amount);
  end if;
  new.currency := v_currency;
  new.merchant_id := v_merchant;
  new.wallet_id := v_wallet;
  new.balance_after := v_balance;
  return new;
end
$$;
comment on function private.apply_ledger_line() is
$$Trigger: applies a new line to its account's posted totals under the row lock and stamps
currency, owner and balance_after; a debit that would take a strict account below zero is
refused (HTTP 409 insufficient_balance).$$;
create trigger ledger_lines_apply before insert on public.ledger_lines
for each row execute function private.apply_ledger_line();

create function private.check_entry_balanced() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  off record;
begin
  -- The entry's last line checks the whole entry (once per entry, at commit).
  if exists (
    select 1 from public.ledger_lines as x
    where x.entry_id = new.entry_id and x.id > new.id
  ) then
    return null;
  end if;
  select x.currency, sum(case x.direction when 'debit' then x.amount else -x.amount end) as net
  into off
  from public.ledger_lines as x
  where x.entry_id = new.entry_id
  group by x.currency
  having sum(case x.direction when 'debit' then x.amount else -x.amount end) <> 0
  limit 1;
  if found then
    raise exception 'ledger entry % does not balance in %: debits exceed credits by %',
      new.entry_id, off.currency, off.net using errcode = '23514';
  end if;
  return null;
end
$$;
comment on function private.check_entry_balanced() is
$$Deferred constraint trigger: at commit, the lines of each entry sum to zero per currency
(debits = credits); 23514 otherwise, which rolls the whole transaction back.$$;
create constraint trigger ledger_lines_balanced after insert on public.ledger_lines
deferrable initially deferred
for each row execute function private.check_entry_balanced();

-- Holds reserve on both accounts; resolving releases the reservation, once --------------------
create function private.apply_hold() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  acct uuid;
begin
  for acct in
    select x.id from unnest(array[new.debit_account_id, new.credit_account_id]) as x (id)
    order by x.id
  loop
    if acct = new.debit_account_id then
      update public.ledger_accounts as a set debits_pending = a.debits_pending + new.amount,
        updated_at = now()
      where a.id = acct
        and (not a.never_negative or a.normal_balance = 'debit' or private.available_of(a) >= new.amount);
    else
      update public.ledger_accounts as a set credits_pending = a.credits_pending + new.amount,
        updated_at = now()
      where a.id = acct
        and (not a.never_negative or a.normal_balance = 'credit' or private.available_of(a) >= new.amount);
    end if;
    if not found then
      perform private.insufficient_balance(acct, new.amount);
    end if;
  end loop;
  return null;
end
$$;
comment on function private.apply_hold() is
$$Trigger: a new hold reserves its amount on both accounts (pending totals), in account-id
order; HTTP 409 insufficient_balance when a strict account cannot cover it.$$;
create trigger ledger_holds_apply after insert on public.ledger_holds
for each row execute function private.apply_hold();

create function private.resolve_hold() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  acct uuid;
begin
  if (new.idempotency_key, new.request_hash, new.kind, new.debit_account_id, new.credit_account_id,
    new.amount, new.currency, new.created_at)
    is distinct from (old.idempotency_key, old.request_hash, old.kind, old.debit_account_id,
      old.credit_account_id, old.amount, old.currency, old.created_at)
    or new.merchant_id is distinct from old.merchant_id
    or new.wallet_id is distinct from old.wallet_id
    or new.reference_type is distinct from old.reference_type
    or new.reference_id is distinct from old.reference_id then
    raise exception 'a hold''s accounts, amount and reference never change' using errcode = '42501';
  end if;
  if old.status <> 'pending' then
    if new.status = old.status and new.posted_amount = old.posted_amount
      and old.entry_id is null and new.entry_id is not null then
      return new; -- the posting entry of a posted hold is recorded once
    end if;
    raise exception 'hold % is already %', old.id, old.status using errcode = 'P0001';
  end if;
  if new.status = 'pending' then
    if (to_jsonb(new) - 'expires_at') <> (to_jsonb(old) - 'expires_at') then
      raise exception 'a pending hold changes only its expiry' using errcode = '42501';
    end if;
    return new;
  end if;
  for acct in
    select x.id from unnest(array[old.debit_account_id, old.credit_account_id]) as x (id)
    order by x.id
  loop
    if acct = old.debit_account_id then
      update public.ledger_accounts as a set debits_pending = a.debits_pending - old.amount,
        updated_at = now()
      where a.id = acct;
    else
      update public.ledger_accounts as a set credits_pending = a.credits_pending - old.amount,
        updated_at = now()
      where a.id = acct;
    end if;
  end loop;
  new.resolved_at := now();
  return new;
end
$$;
comment on function private.resolve_hold() is
$$Trigger: a hold is resolved (posted, voided, expired) at most once (P0001 after that);
resolving releases its reservation on both accounts; nothing else about it changes (42501).$$;
create trigger ledger_holds_resolve before update on public.ledger_holds
for each row execute function private.resolve_hold();

-- Accounts and wallets ---------------------------------------------------------------------------
create function private.ledger_account(
  p_kind text, p_currency text, p_mode text, p_gateway_id uuid default null
) returns uuid
language plpgsql security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if p_kind like 'merchant\_%' then
    raise exception 'merchant accounts belong to a wallet: use private.wallet_for'
      using errcode = '22023';
  end if;
  select a.id into v_id from public.ledger_accounts as a
  where a.kind = p_kind and a.currency = p_currency and a.mode = p_mode
    and a.merchant_id is null
    and coalesce(a.gateway_id, '00000000-0000-0000-0000-000000000000'::uuid)
    = coalesce(p_gateway_id, '00000000-0000-0000-0000-000000000000'::uuid);
  if found then
    return v_id;
  end if;
  insert into public.ledger_accounts (
    kind, currency, mode, gateway_id, normal_balance, never_negative
  ) values (
    p_kind, p_currency, p_mode, p_gateway_id,
    case when p_kind in (
        'provider_clearing', 'provider_fees', 'platform_bank', 'platform_adjustments'
      ) then 'debit' else 'credit' end,
    p_kind = 'payouts_in_transit'
  )
  on conflict do nothing
  returning id into v_id;
  if v_id is null then
    select a.id into v_id from public.ledger_accounts as a
    where a.kind = p_kind and a.currency = p_currency and a.mode = p_mode
      and a.merchant_id is null
      and coalesce(a.gateway_id, '00000000-0000-0000-0000-000000000000'::uuid)
      = coalesce(p_gateway_id, '00000000-0000-0000-0000-000000000000'::uuid);
  end if;
  return v_id;
end
$$;
comment on function private.ledger_account(text, text, text, uuid) is
$$A platform account (kind, currency, mode, gateway), created on first use; its id.
Debit-normal: provider_clearing, provider_fees, platform_bank, platform_adjustments; the
rest credit-normal; payouts_in_transit is strict.$$;

create function private.wallet_for(
  p_merchant_id uuid, p_currency text, p_mode text
) returns public.wallets
language plpgsql security definer
set search_path = ''
as $$
declare
  w public.wallets;
begin
  select * into w from public.wallets as x
  where x.merchant_id = p_merchant_id and x.currency = p_currency and x.mode = p_mode;
  if found then
    return w;
  end if;
  perform private.check_currency(p_currency);
  if p_mode is null or p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  insert into public.wallets (merchant_id, currency, mode)
  values (p_merchant_id, p_currency, p_mode)
  on conflict (merchant_id, currency, mode) do nothing;
  select * into w from public.wallets as x
  where x.merchant_id = p_merchant_id and x.currency = p_currency and x.mode = p_mode;
  return w;
end
$$;
comment on function private.wallet_for(uuid, text, text) is
$$The merchant's wallet in a currency and mode with its three accounts (pending, available,
reserve), created on first use. Callers check who may ask.$$;

-- Posting: the one way money moves ---------------------------------------------------------------
create function private.ledger_request_hash(p_kind text, p_lines jsonb, p_meta jsonb) returns text
language sql immutable
set search_path = ''
as $$
  select encode(sha256(convert_to(
    jsonb_build_array(
      p_kind,
      (
        select jsonb_agg(
          jsonb_build_object(
            'account_id', x ->> 'account_id', 'direction', x ->> 'direction',
            'amount', (x ->> 'amount')::bigint
          ) order by x ->> 'account_id', x ->> 'direction', (x ->> 'amount')::bigint
        )
        from jsonb_array_elements(p_lines) as x
      ),
      coalesce(p_meta, '{}'::jsonb)
    )::text, 'UTF8'
  )), 'hex')
$$;
comment on function private.ledger_request_hash(text, jsonb, jsonb) is
$$Fingerprint of every parameter of a posting (kind, lines in a canonical order, metadata).$$;

create function private.ledger_post(
  p_key text, p_kind text, p_lines jsonb, p_meta jsonb default '{}'::jsonb
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  v_hash text;
  e public.ledger_entries;
  bad text;
  debits numeric;
  credits numeric;
  canonical text;
begin
  if p_key is null or char_length(p_key) not between 1 and 255 then
    raise exception 'a posting needs an idempotency key of 1 to 255 characters'
      using errcode = '22023';
  end if;
  if p_kind is null or p_kind !~ '^[a-z][a-z_]{0,39}$' then
    raise exception 'posting kind must be lower_snake_case' using errcode = '22023';
  end if;
  if jsonb_typeof(p_lines) is distinct from 'array' or jsonb_array_length(p_lines) < 2 then
    raise exception 'a posting needs at least two lines' using errcode = '22023';
  end if;
  -- One pass: what is wrong, the two sides, and the lines in a canonical order for the
  -- fingerprint of every parameter.
  select
    string_agg(v.line::text, ', ') filter (where not v.ok),
    sum(case when v.ok and v.line ->> 'direction' = 'debit' then (v.line ->> 'amount')::numeric end),
    sum(case when v.ok and v.line ->> 'direction' = 'credit' then (v.line ->> 'amount')::numeric end),
    string_agg(
      (v.line ->> 'account_id') || ':' || (v.line ->> 'direction') || ':' || (v.line ->> 'amount'),
      ',' order by v.line ->> 'account_id', v.line ->> 'direction', v.line ->> 'amount'
    )
  into bad, debits, credits, canonical
  from (
    select y.line, (
      jsonb_typeof(y.line -> 'amount') = 'number'
      and case when (y.line ->> 'amount') ~ '^[0-9]{1,18}$' then (y.line ->> 'amount')::bigint > 0
        else false end
      and coalesce(y.line ->> 'direction', '') in ('debit', 'credit')
      and coalesce(y.line ->> 'account_id', '') ~ '^[0-9a-f-]{36}$'
    ) as ok
    from jsonb_array_elements(p_lines) as y (line)
  ) as v;
  if bad is not null then
    -- Generic: the lines' payloads and account ids are never echoed.
    raise exception 'every posting line needs an account_id (uuid), a direction (debit or credit) and a positive whole amount of minor units'
      using errcode = '22023';
  end if;
  if debits is distinct from credits then
    raise exception 'a posting must balance: debits % <> credits %', debits, credits
      using errcode = '22023';
  end if;
  v_hash := encode(sha256(convert_to(
    p_kind || '|' || canonical || '|' || coalesce(p_meta, '{}'::jsonb)::text, 'UTF8'
  )), 'hex');
  insert into public.ledger_entries (
    kind, idempotency_key, request_hash, merchant_id, wallet_id, reference_type, reference_id,
    description, metadata, created_by
  ) values (
    p_kind, p_key, v_hash, (p_meta ->> 'merchant_id')::uuid, (p_meta ->> 'wallet_id')::uuid,
    p_meta ->> 'reference_type', p_meta ->> 'reference_id', p_meta ->> 'description',
    coalesce(p_meta -> 'metadata', '{}'::jsonb), coalesce((p_meta ->> 'created_by')::uuid, auth.uid())
  )
  on conflict (idempotency_key) do nothing
  returning * into e;
  if e.id is null then
    select * into e from public.ledger_entries as x where x.idempotency_key = p_key;
    if e.request_hash <> v_hash then
      raise exception 'ledger key % was already used with different parameters', p_key
        using errcode = '22023';
    end if;
    return jsonb_build_object('entry_id', e.id, 'replayed', true);
  end if;
  -- Accounts are locked in id order (the line trigger), so postings never deadlock.
  insert into public.ledger_lines (entry_id, account_id, direction, amount)
  select e.id, (x ->> 'account_id')::uuid, x ->> 'direction', (x ->> 'amount')::bigint
  from jsonb_array_elements(p_lines) as x
  order by (x ->> 'account_id')::uuid, x ->> 'direction';
  return jsonb_build_object('entry_id', e.id, 'replayed', false);
end
$$;
comment on function private.ledger_post(text, text, jsonb, jsonb) is
$$Posts a journal entry: p_lines [{account_id, direction debit|credit, amount > 0}] that
balance, idempotent by p_key with every parameter compared (same: the first entry, replayed
true; different: 22023). p_meta: merchant_id, wallet_id, reference_type, reference_id,
description, metadata, created_by. Strict accounts are never overdrawn (HTTP 409
insufficient_balance). Returns {entry_id, replayed}. Callers check who may post.$$;

create function private.ledger_hold(
  p_key text, p_kind text, p_debit_account uuid, p_credit_account uuid, p_amount bigint,
  p_expires_at timestamptz default null, p_meta jsonb default '{}'::jsonb
) returns public.ledger_holds
language plpgsql security definer
set search_path = ''
as $$
declare
  h public.ledger_holds;
  v_hash text;
  v_currency text;
begin
  if p_key is null or char_length(p_key) not between 1 and 255 then
    raise exception 'a hold needs an idempotency key of 1 to 255 characters' using errcode = '22023';
  end if;
  if p_amount is null or p_amount <= 0 then
    raise exception 'a hold needs a positive amount in minor units' using errcode = '22023';
  end if;
  select a.currency into v_currency from public.ledger_accounts as a where a.id = p_debit_account;
  if not exists (
    select 1 from public.ledger_accounts as a
    where a.id = p_credit_account and a.currency = v_currency
  ) then
    raise exception 'a hold moves money between two accounts of one currency'
      using errcode = '22023';
  end if;
  v_hash := private.ledger_request_hash(
    p_kind,
    jsonb_build_array(
      jsonb_build_object('account_id', p_debit_account, 'direction', 'debit', 'amount', p_amount),
      jsonb_build_object('account_id', p_credit_account, 'direction', 'credit', 'amount', p_amount)
    ),
    coalesce(p_meta, '{}'::jsonb) || jsonb_build_object('expires_at', p_expires_at)
  );
  insert into public.ledger_holds (
    idempotency_key, request_hash, kind, debit_account_id, credit_account_id, amount, currency,
    merchant_id, wallet_id, reference_type, reference_id, expires_at
  ) values (
    p_key, v_hash, p_kind, p_debit_account, p_credit_account, p_amount, v_currency,
    (p_meta ->> 'merchant_id')::uuid, (p_meta ->> 'wallet_id')::uuid,
    p_meta ->> 'reference_type', p_meta ->> 'reference_id', p_expires_at
  )
  on conflict (idempotency_key) do nothing
  returning * into h;
  if h.id is null then
    select * into h from public.ledger_holds as x where x.idempotency_key = p_key;
    if h.request_hash <> v_hash then
      raise exception 'hold key % was already used with different parameters', p_key
        using errcode = '22023';
    end if;
  end if;
  return h;
end
$$;
comment on function private.ledger_hold(text, text, uuid, uuid, bigint, timestamptz, jsonb) is
$$Places a hold (pending transfer) of p_amount from p_debit_account to p_credit_account,
idempotent by p_key with every parameter compared; HTTP 409 insufficient_balance when a
strict debit account cannot cover it. Callers check who may.$$;

create function private.ledger_hold_post(
  p_hold_id bigint, p_amount bigint default null, p_meta jsonb default '{}'::jsonb
) returns public.ledger_holds
language plpgsql security definer
set search_path = ''
as $$
declare
  h public.ledger_holds;
  v_amount bigint;
  posted jsonb;
begin
  select * into h from public.ledger_holds as x where x.id = p_hold_id;
  if not found then
    raise exception 'hold % does not exist', p_hold_id using errcode = 'P0002';
  end if;
  v_amount := coalesce(p_amount, h.amount);
  if v_amount <= 0 or v_amount > h.amount then
    raise exception 'a hold of % posts between 1 and % (got %)', h.amount, h.amount, v_amount
      using errcode = '22023';
  end if;
  -- Resolving first releases the reservation, so the posting that follows takes exactly it.
  update public.ledger_holds as x set status = 'posted', posted_amount = v_amount
  where x.id = p_hold_id and x.status = 'pending'
  returning * into h;
  if not found then
    select * into h from public.ledger_holds as x where x.id = p_hold_id;
    raise exception 'hold % is already %', p_hold_id, h.status using errcode = 'P0001';
  end if;
  posted := private.ledger_post(
    'hold:' || h.id, h.kind,
    jsonb_build_array(
      jsonb_build_object('account_id', h.debit_account_id, 'direction', 'debit', 'amount', v_amount),
      jsonb_build_object('account_id', h.credit_account_id, 'direction', 'credit', 'amount', v_amount)
    ),
    jsonb_build_object(
      'merchant_id', h.merchant_id, 'wallet_id', h.wallet_id,
      'reference_type', h.reference_type, 'reference_id', h.reference_id
    ) || coalesce(p_meta, '{}'::jsonb)
  );
  update public.ledger_holds as x set entry_id = (posted ->> 'entry_id')::bigint
  where x.id = h.id
  returning * into h;
  return h;
end
$$;
comment on function private.ledger_hold_post(bigint, bigint, jsonb) is
$$Posts a pending hold, in full or in part (the rest is released), as a journal entry keyed
hold:<id>; P0001 when it was already resolved (so two racing resolvers never both win);
22023 for an amount outside 1..hold amount.$$;

create function private.ledger_hold_void(
  p_hold_id bigint, p_status text default 'voided'
) returns public.ledger_holds
language plpgsql security definer
set search_path = ''
as $$
declare
  h public.ledger_holds;
begin
  if p_status not in ('voided', 'expired') then
    raise exception 'a hold is voided or expired' using errcode = '22023';
  end if;
  update public.ledger_holds as x set status = p_status
  where x.id = p_hold_id and x.status = 'pending'
  returning * into h;
  if not found then
    select * into h from public.ledger_holds as x where x.id = p_hold_id;
    if not found then
      raise exception 'hold % does not exist', p_hold_id using errcode = 'P0002';
    end if;
    raise exception 'hold % is already %', p_hold_id, h.status using errcode = 'P0001';
  end if;
  return h;
end
$$;
comment on function private.ledger_hold_void(bigint, text) is
$$Voids (or expires) a pending hold, releasing its reservation; P0001 when it was already
resolved.$$;

create function private.expire_holds() returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  n integer := 0;
  h record;
begin
  for h in
    select x.id from public.ledger_holds as x
    where x.status = 'pending' and x.expires_at < now()
    order by x.expires_at
    limit 1000
    for update skip locked
  loop
    perform private.ledger_hold_void(h.id, 'expired');
    n := n + 1;
  end loop;
  return n;
end
$$;
comment on function private.expire_holds() is
$$pg_cron, every minute: expires pending holds past expires_at (releasing their
reservations), up to 1000 a run; the number expired.$$;
select cron.schedule('lsp-ledger-holds', '* * * * *', 'select private.expire_holds()');

-- Views ------------------------------------------------------------------------------------------
create function private.wallet_view(w public.wallets) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', w.id, 'object', 'wallet', 'merchant_id', w.merchant_id, 'currency', w.currency,
    'mode', w.mode,
    'available', private.available_of(av), 'pending', private.available_of(pe),
    'reserve', private.available_of(re),
    'on_hold', av.debits_pending + pe.debits_pending + re.debits_pending,
    'balances', jsonb_build_object(
      'available', jsonb_build_object('posted', private.balance_of(av), 'held', av.debits_pending),
      'pending', jsonb_build_object('posted', private.balance_of(pe), 'held', pe.debits_pending),
      'reserve', jsonb_build_object('posted', private.balance_of(re), 'held', re.debits_pending)
    ),
    'created_at', w.created_at
  )
  from public.ledger_accounts as av, public.ledger_accounts as pe, public.ledger_accounts as re
  where av.id = w.available_account_id and pe.id = w.pending_account_id
    and re.id = w.reserve_account_id
$$;
comment on function private.wallet_view(public.wallets) is
$$A wallet as the API shows it: available, pending and reserve (posted balance net of holds),
on_hold (refunds in flight), and each account's posted and held amounts; minor units.$$;

create function private.line_view(l public.ledger_lines, e public.ledger_entries) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', l.id, 'object', 'wallet_transaction', 'entry_id', l.entry_id, 'kind', e.kind,
    'account', replace(a.kind, 'merchant_', ''),
    'amount', case when l.direction = a.normal_balance then l.amount else -l.amount end,
    'balance_after', l.balance_after, 'currency', l.currency,
    'reference', case when e.reference_id is not null then
      jsonb_build_object('type', e.reference_type, 'id', e.reference_id) end,
    'description', e.description, 'created_at', l.created_at
  )
  from public.ledger_accounts as a
  where a.id = l.account_id
$$;
comment on function private.line_view(public.ledger_lines, public.ledger_entries) is
$$A ledger line on a wallet account as the API shows it: amount signed (+ credits the
merchant), the account's running balance after it, the entry's kind and reference.$$;

-- RPCs -------------------------------------------------------------------------------------------
create function private.list_wallets(
  p_merchant_id uuid, p_currency text, p_mode text
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  key_mode text := auth.jwt() ->> 'key_mode';
begin
  if p_currency is not null then
    perform private.check_currency(p_currency);
  end if;
  if p_mode is not null and p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if key_mode is not null and p_mode is not null and p_mode <> key_mode then
    raise exception 'this is a % API key: it reads % wallets only', key_mode, key_mode
      using errcode = '22023';
  end if;
  return jsonb_build_object(
    'data', coalesce((
      select jsonb_agg(private.wallet_view(w) order by w.mode, w.currency)
      from public.wallets as w
      where w.merchant_id = m
        and (p_currency is null or w.currency = p_currency)
        and (coalesce(key_mode, p_mode) is null or w.mode = coalesce(key_mode, p_mode))
    ), '[]'::jsonb),
    'next_cursor', null
  );
end
$$;
comment on function private.list_wallets(uuid, text, text) is
$$The merchant's wallets with balances; see public.list_wallets.$$;

create function public.list_wallets(
  p_merchant_id uuid default null, p_currency text default null, p_mode text default null
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_wallets(p_merchant_id, p_currency, p_mode) $$;
comment on function public.list_wallets(uuid, text, text) is
$$A merchant's wallets (one per currency and mode) with their balances: available (paid out
at the next settlement), pending (waiting for the settlement delay), reserve, on_hold (refunds
in flight), each account's posted and held amounts; filters currency and mode.
Who: the merchant's members and API keys (merchant_id optional for a member of one merchant;
an API key sees its own mode), admins naming the merchant.
Returns: {data: [wallet], next_cursor: null}; amounts in minor units of the wallet's currency.
Errors: 22023 bad currency or mode, merchant_id needed; 42501 not a member; P0002 unknown
merchant (admins).$$;

create function private.list_wallet_transactions(
  p_wallet_id uuid, p_kind text, p_account text, p_from timestamptz, p_to timestamptz,
  p_cursor text, p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  w public.wallets;
  c record := private.read_cursor(p_cursor);
  acct uuid;
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
  key_mode text := auth.jwt() ->> 'key_mode';
begin
  select * into w from public.wallets as x where x.id = p_wallet_id;
  if not found or not (private.is_admin() or private.has_merchant_role(w.merchant_id)) then
    raise exception 'wallet % does not exist', p_wallet_id using errcode = 'P0002';
  end if;
  if key_mode is not null and w.mode <> key_mode then
    raise exception 'wallet % does not exist', p_wallet_id using errcode = 'P0002';
  end if;
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  if p_account is not null and p_account not in ('available', 'pending', 'reserve') then
    raise exception 'account must be available, pending or reserve' using errcode = '22023';
  end if;
  if p_kind is not null and p_kind not in (
    'payment', 'refund', 'adjustment', 'settlement', 'payout', 'payout_processed',
    'payout_reversal', 'provider_settlement', 'migration'
  ) then
    raise exception 'kind must be one of payment, refund, adjustment, settlement, payout, payout_processed, payout_reversal, provider_settlement, migration'
      using errcode = '22023';
  end if;
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  acct := case p_account
    when 'available' then w.available_account_id
    when 'pending' then w.pending_account_id
    when 'reserve' then w.reserve_account_id
  end;
  if c.id is not null and c.id !~ '^[0-9]{1,18}$' then
    raise exception 'cursor is not valid: pass back next_cursor as it was given'
      using errcode = '22023';
  end if;
  select coalesce(jsonb_agg(private.line_view(l, e) order by l.created_at desc, l.id desc), '[]'),
    count(*)
  into page, n
  from (
    select x.* from public.ledger_lines as x
    inner join public.ledger_entries as y on x.entry_id = y.id
    where x.wallet_id = w.id
      and (acct is null or x.account_id = acct)
      and (p_kind is null or y.kind = p_kind)
      and (p_from is null or x.created_at >= p_from)
      and (p_to is null or x.created_at < p_to)
      and (c.at is null or (x.created_at, x.id) < (c.at, c.id::bigint))
    order by x.created_at desc, x.id desc
    limit p_limit
  ) as l
  inner join public.ledger_entries as e on l.entry_id = e.id;
  if n = p_limit then
    select (v ->> 'created_at')::timestamptz, v ->> 'id' into last_at, last_id
    from jsonb_array_elements(page) with ordinality as t (v, i)
    order by t.i desc limit 1;
  end if;
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;
comment on function private.list_wallet_transactions(
  uuid, text, text, timestamptz, timestamptz, text, integer
) is $$A page of a wallet's ledger lines; see public.list_wallet_transactions.$$;

create function public.list_wallet_transactions(
  p_wallet_id uuid, p_kind text default null, p_account text default null,
  p_from timestamptz default null, p_to timestamptz default null, p_cursor text default null,
  p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$
  select private.list_wallet_transactions(
    p_wallet_id, p_kind, p_account, p_from, p_to, p_cursor, p_limit
  )
$$;
comment on function public.list_wallet_transactions(
  uuid, text, text, timestamptz, timestamptz, text, integer
) is $$A wallet's ledger lines, newest first: each with its entry kind (payment, refund,
adjustment, settlement, payout, payout_processed, payout_reversal, provider_settlement,
migration; kind filters on one of these), account (available, pending,
reserve), signed amount (+ credits the merchant) and that account's running balance after it;
filters kind, account and created_at range [from, to); keyset pagination.
Who: the wallet's merchant's members and API keys (an API key: wallets of its mode), admins.
Returns: {data: [transaction], next_cursor: text | null}; amounts in minor units; limit
1..200 (default 50).
Errors: 22023 bad filter (an unknown kind: the message lists the kinds), limit or cursor;
P0002 unknown wallet (or not the caller's).$$;

create function private.adjust_wallet(
  p_wallet_id uuid, p_amount bigint, p_reason text, p_account text, p_idempotency_key text
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  request jsonb := jsonb_build_object(
    'wallet_id', p_wallet_id, 'amount', p_amount, 'reason', p_reason,
    'account', coalesce(p_account, 'available')
  );
  replay jsonb;
  w public.wallets;
  adj public.wallet_adjustments;
  merchant_acct uuid;
  platform_acct uuid;
  posted jsonb;
  v_account text := coalesce(p_account, 'available');
  v_id uuid := gen_random_uuid();
begin
  perform private.require_admin();
  replay := private.idempotency_replay('admin_adjust_wallet', p_idempotency_key, request);
  if replay is not null then
    return replay;
  end if;
  if p_amount is null or p_amount = 0 or abs(p_amount) > 100000000000000 then
    raise exception 'amount must be a non-zero whole number of minor units (signed), at most 100000000000000 either way'
      using errcode = '22023';
  end if;
  if p_reason is null or char_length(btrim(p_reason)) = 0 or char_length(p_reason) > 500 then
    raise exception 'reason is required (1 to 500 characters): it is kept with the adjustment'
      using errcode = '22023';
  end if;
  if v_account not in ('available', 'reserve') then
    raise exception 'account must be available or reserve' using errcode = '22023';
  end if;
  -- The wallet's lock orders adjustments with settlements of the same wallet.
  select * into w from public.wallets as x where x.id = p_wallet_id for update;
  if not found then
    raise exception 'wallet % does not exist', p_wallet_id using errcode = 'P0002';
  end if;
  if w.mode = 'live' and not exists (
    select 1 from public.merchants as x where x.id = w.merchant_id and x.live_enabled
  ) then
    perform private.raise_http(
      409, 'merchant_not_live',
      'the merchant is not live-enabled: its live wallet cannot be adjusted (admin_set_merchant_live first)'
    );
  end if;
  merchant_acct := case v_account when 'available' then w.available_account_id
    else w.reserve_account_id end;
  platform_acct := private.ledger_account('platform_adjustments', w.currency, w.mode);
  posted := private.ledger_post(
    'adjustment:' || v_id, 'adjustment',
    jsonb_build_array(
      jsonb_build_object(
        'account_id', merchant_acct, 'direction', case when p_amount > 0 then 'credit' else 'debit' end,
        'amount', abs(p_amount)
      ),
      jsonb_build_object(
        'account_id', platform_acct, 'direction', case when p_amount > 0 then 'debit' else 'credit' end,
        'amount', abs(p_amount)
      )
    ),
    jsonb_build_object(
      'merchant_id', w.merchant_id, 'wallet_id', w.id, 'reference_type', 'wallet_adjustment',
      'reference_id', v_id, 'description', left(p_reason, 500)
    )
  );
  insert into public.wallet_adjustments (
    id, wallet_id, merchant_id, kind, account, amount, currency, reason, entry_id, created_by
  ) values (
    v_id, w.id, w.merchant_id, 'adjustment', v_account, p_amount, w.currency, p_reason,
    (posted ->> 'entry_id')::bigint, auth.uid()
  ) returning * into adj;
  return private.idempotency_store(
    'admin_adjust_wallet', p_idempotency_key, request,
    jsonb_build_object(
      'id', adj.id, 'object', 'wallet_adjustment', 'wallet_id', w.id,
      'merchant_id', w.merchant_id, 'account', v_account, 'amount', p_amount,
      'currency', w.currency, 'reason', p_reason, 'entry_id', adj.entry_id,
      'created_at', adj.created_at, 'wallet', private.wallet_view(w)
    )
  );
end
$$;
comment on function private.adjust_wallet(uuid, bigint, text, text, text) is
$$Admins only: posts a signed adjustment to a wallet account against platform adjustments;
see public.admin_adjust_wallet.$$;

create function public.admin_adjust_wallet(
  p_wallet_id uuid, p_amount bigint, p_reason text, p_account text default 'available',
  p_idempotency_key text default null
) returns jsonb
language sql
set search_path = ''
as $$ select private.adjust_wallet(p_wallet_id, p_amount, p_reason, p_account, p_idempotency_key) $$;
comment on function public.admin_adjust_wallet(uuid, bigint, text, text, text) is
$$Adjusts a wallet: a signed amount (+ credits, - debits) on its available (default) or
reserve account, against the platform's adjustments account, with a required reason kept on
the adjustment and in the audit log. A debit never takes the account below zero. Adjustments
on available are part of the wallet's next settlement.
Who: platform admins (service_role too); everyone else 42501.
Returns: {id, object wallet_adjustment, wallet_id, merchant_id, account, amount (signed minor
units), currency, reason, entry_id, created_at, wallet (balances after it)}.
Errors: 22023 amount zero or above 100000000000000 either way, reason missing or over 500
characters, account not available or reserve; P0002 unknown wallet; PGRST 409
merchant_not_live (a live wallet of a merchant that is not live-enabled); PGRST 409
insufficient_balance; PGRST 422 / 409 idempotency
(Idempotency-Key reused with other parameters / still in flight); 42501 not an admin.$$;

create function private.open_wallet(p_merchant_id uuid, p_currency text, p_mode text) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  w public.wallets;
begin
  perform private.require_admin();
  perform private.check_currency(p_currency);
  if p_mode is null or p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if not exists (select 1 from public.merchants as x where x.id = p_merchant_id) then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  if p_mode = 'live' and not exists (
    select 1 from public.merchants as x where x.id = p_merchant_id and x.live_enabled
  ) then
    perform private.raise_http(
      409, 'merchant_not_live',
      'the merchant is not live-enabled: no live wallet is opened (admin_set_merchant_live first)'
    );
  end if;
  w := private.wallet_for(p_merchant_id, p_currency, p_mode);
  return private.wallet_view(w);
end
$$;
comment on function private.open_wallet(uuid, text, text) is
$$Admins only: the merchant's wallet in a currency and mode, opened if needed; see
public.admin_open_wallet.$$;

create function public.admin_open_wallet(
  p_merchant_id uuid, p_currency text, p_mode text
) returns jsonb
language sql
set search_path = ''
as $$ select private.open_wallet(p_merchant_id, p_currency, p_mode) $$;
comment on function public.admin_open_wallet(uuid, text, text) is
$$Opens (or returns) a merchant's wallet in a currency and mode, so that it can be adjusted
before its first payment. Repeats return the same wallet.
Who: platform admins; everyone else 42501.
Returns: the wallet {id, currency, mode, available, pending, reserve, ...} in minor units.
Errors: 22023 currency not ISO 4217 or mode not test|live (mode is required); PGRST 409
merchant_not_live (live, for a merchant that is not live-enabled); P0002 unknown merchant;
42501.$$;

-- The old single-balance wallets, forward -------------------------------------------------------
-- Every wallet gets its three accounts (live mode: the old wallets knew no test mode), and
-- every wallet_ledger row becomes an entry with its original time, so balance_after repeats
-- the old balances. The counterparty follows the old kind: payments and refunds the provider
-- clearing account, fees fee revenue, payouts the platform bank account, settlements and
-- adjustments platform adjustments. What a wallet holds is an opening balance in available,
-- paid out by its first settlement.
do $$
declare
  w public.wallets;
  l record;
  e bigint;
  merchant_acct uuid;
  counter_acct uuid;
  bal bigint;
begin
  for w in select * from public.wallets order by created_at, id loop
    merchant_acct := w.available_account_id;
    for l in
      select * from public.wallet_ledger as x where x.wallet_id = w.id order by x.id
    loop
      counter_acct := private.ledger_account(
        case l.kind
          when 'payment' then 'provider_clearing'
          when 'refund' then 'provider_clearing'
          when 'fee' then 'fee_revenue'
          when 'payout' then 'platform_bank'
          else 'platform_adjustments'
        end,
        w.currency, w.mode
      );
      insert into public.ledger_entries (
        kind, idempotency_key, request_hash, merchant_id, wallet_id, reference_type,
        reference_id, description, metadata, created_by, created_at
      ) values (
        'migration', 'wallet_ledger:' || l.id, 'migrated', w.merchant_id, w.id,
        case when l.payment_id is not null then 'payment' else 'wallet_ledger' end,
        coalesce(l.payment_id, l.id::text), left(l.reference, 500),
        jsonb_build_object('legacy_kind', l.kind, 'legacy_id', l.id, 'legacy_key', l.idempotency_key),
        l.created_by, l.created_at
      ) returning id into e;
      insert into public.ledger_lines (entry_id, account_id, direction, amount, created_at)
      select e, x.account_id, x.direction, abs(l.amount), l.created_at
      from (
        values
        (merchant_acct, case when l.amount > 0 then 'credit' else 'debit' end),
        (counter_acct, case when l.amount > 0 then 'debit' else 'credit' end)
      ) as x (account_id, direction)
      order by x.account_id;
    end loop;
    select private.balance_of(a) into bal from public.ledger_accounts as a
    where a.id = merchant_acct;
    if bal <> 0 then
      insert into public.wallet_adjustments (
        wallet_id, merchant_id, kind, account, amount, currency, reason
      ) values (
        w.id, w.merchant_id, 'opening_balance', 'available', bal, w.currency,
        'balance of the wallet before the double-entry ledger'
      );
    end if;
  end loop;
end
$$;

drop function public.post_wallet_entry(uuid, text, bigint, text, text, text);
drop function private.post_wallet_entry(uuid, text, bigint, text, text, text);
drop table public.wallet_ledger;
drop function private.apply_ledger_entry();
alter table public.wallets drop column balance;

comment on table public.wallets is
$$A merchant's wallet: its ledger accounts in one currency and mode (pending, available,
reserve), with one id; balances live on the accounts (public.ledger_accounts). Created on the
first payment or by admin_open_wallet. Read (RLS): platform admins, the merchant's members and
its API keys. Audited.$$;
comment on column public.wallets.currency is $$ISO 4217 code of the wallet's accounts.$$;

-- Policies and grants ------------------------------------------------------------------------------
create policy ledger_accounts_read on public.ledger_accounts
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy ledger_entries_read on public.ledger_entries
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy ledger_lines_read on public.ledger_lines
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy ledger_holds_read on public.ledger_holds
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy wallet_adjustments_read on public.wallet_adjustments
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));

revoke all on public.ledger_accounts, public.ledger_entries, public.ledger_lines,
public.ledger_holds, public.wallet_adjustments from public, anon, authenticated;
grant select on public.ledger_accounts, public.ledger_entries, public.ledger_lines,
public.ledger_holds, public.wallet_adjustments to authenticated;
grant select, insert on public.ledger_entries, public.ledger_lines, public.wallet_adjustments
to service_role;
grant select, insert, update on public.ledger_accounts, public.ledger_holds to service_role;

grant execute on function private.list_wallets(uuid, text, text) to authenticated, service_role;
grant execute on function private.list_wallet_transactions(
  uuid, text, text, timestamptz, timestamptz, text, integer
) to authenticated, service_role;
grant execute on function private.adjust_wallet(uuid, bigint, text, text, text)
to authenticated, service_role;
grant execute on function private.open_wallet(uuid, text, text) to authenticated, service_role;
grant execute on function private.ledger_post(text, text, jsonb, jsonb) to service_role;
grant execute on function private.ledger_hold(text, text, uuid, uuid, bigint, timestamptz, jsonb)
to service_role;
grant execute on function private.ledger_hold_post(bigint, bigint, jsonb) to service_role;
grant execute on function private.ledger_hold_void(bigint, text) to service_role;
grant execute on function private.ledger_account(text, text, text, uuid) to service_role;
grant execute on function private.wallet_for(uuid, text, text) to service_role;
grant execute on function private.expire_holds() to service_role;
revoke all on function public.list_wallets(uuid, text, text) from public, anon;
revoke all on function public.list_wallet_transactions(
  uuid, text, text, timestamptz, timestamptz, text, integer
) from public, anon;
revoke all on function public.admin_adjust_wallet(uuid, bigint, text, text, text)
from public, anon;
revoke all on function public.admin_open_wallet(uuid, text, text) from public, anon;
grant execute on function public.list_wallets(uuid, text, text) to authenticated, service_role;
grant execute on function public.list_wallet_transactions(
  uuid, text, text, timestamptz, timestamptz, text, integer
) to authenticated, service_role;
grant execute on function public.admin_adjust_wallet(uuid, bigint, text, text, text)
to authenticated, service_role;
grant execute on function public.admin_open_wallet(uuid, text, text)
to authenticated, service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
