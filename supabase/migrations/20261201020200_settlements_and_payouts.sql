-- Settlements and payouts: money that waited in a merchant's pending balance for the
-- settlement delay becomes available and is paid out to the merchant's bank account.
--
-- * Maturity: a payment's net matures at 00:00 Asia/Kolkata of the Nth working day after the
--   India day it succeeded on (T+N, N = the merchant's settlement_delay_days or
--   settlements.delay_working_days, default 2; weekends and public.settlement_holidays, which
--   admins maintain, are not working days; T+0 matures at once).
-- * pg_cron (lsp-settlements, every 15 minutes) enqueues a settlement job per wallet with
--   something to settle; the worker's settlement handler calls private.create_settlement,
--   which, under the wallet's lock, gathers the batch: matured payment lots without a refund
--   in flight (gross, fee, tax), the refunds drawn on them or on available, and the
--   adjustments on available (admin adjustments, failed payouts' reversals, migrated
--   opening balances); net = gross - refunds - fees - tax + adjustments, to the paisa. It
--   moves the lots' remaining net from pending to available (entry kind settlement) and the
--   batch's net from available to payouts in transit (entry kind payout), so available
--   keeps exactly the items no batch has reported yet.
-- * Payout to the merchant's active bank account (IFSC, account number in Vault, masked
--   everywhere else; only owners change it, audited and notified, usable after
--   payouts.bank_account_cooling_off_s) through the payout provider (RazorpayX), each
--   attempt recorded before the call and sent with its id as the idempotency key:
--   created -> processing -> processed (UTR stored; in transit -> platform bank) | failed
--   (retried on payouts.retry_schedule_s, then reversed back to available and reported by
--   the next batch). settlement.processed / settlement.failed merchant webhooks.
-- * public.admin_reconcile_ledger: the checks an operator can run at any time (entries
--   balance, account totals equal their lines and holds, strict accounts not negative,
--   every batch's arithmetic and lines, payouts equal nets, wallets hold exactly their
--   unsettled items).

-- migration-lint: allow constraint-missing-not-valid: the settlement references are added to columns that are null on every existing row (no settlement existed before this migration)
-- migration-lint: allow adding-foreign-key-constraint: settlement_id is null on every existing adjustment, credit and refund draw; the check reads no referenced row

insert into private.settings (key, value, description) values
(
  'settlements.delay_working_days', '2',
  'T+N: working days (Asia/Kolkata; weekends and settlement_holidays excluded) a payment waits in pending'
),
(
  'payouts.max_attempts', '3',
  'payout attempts per settlement before its money goes back to the merchant''s available balance'
),
(
  'payouts.retry_schedule_s', '[60, 300, 1800]',
  'seconds before each new payout attempt after a failed one'
),
(
  'payouts.check_schedule_s', '[30, 120, 600, 1800, 3600]',
  'seconds between status checks of a payout the provider is still processing (the last repeats)'
),
(
  'payouts.bank_account_cooling_off_s', '86400',
  'seconds after a bank account is set before payouts go to it (the owners are notified meanwhile)'
),
(
  'payouts.imps_max', '50000000',
  'largest payout (minor units) sent by IMPS; larger ones go by NEFT'
),
(
  'payouts.min_amount', '100',
  'smallest settlement net (minor units) paid out; below it no batch is made and the money waits in available (RazorpayX pays at least INR 1.00)'
),
(
  'payouts.reversal_watch_s', '259200',
  'seconds after a payout is processed during which the provider is still asked whether the bank returned it (payout reversed)'
),
(
  'payouts.reversal_check_schedule_s', '[3600, 21600, 86400, 259200]',
  'seconds after a payout is processed at which it is checked again for a reversal (those within payouts.reversal_watch_s)'
)
on conflict (key) do nothing;

-- Working days ------------------------------------------------------------------------------------
create table public.settlement_holidays (
  day date primary key,
  description text not null check (char_length(description) between 1 and 200),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now()
);
alter table public.settlement_holidays enable row level security;
create trigger audit_settlement_holidays after insert or update or delete on public.settlement_holidays
for each row execute function audit.record_change('day');
comment on table public.settlement_holidays is
$$Bank holidays (India days) on which nothing settles, besides Saturdays and Sundays. Admins
maintain them (admin_set_settlement_holiday / admin_delete_settlement_holiday), audited;
every signed-in user and API key reads them.$$;

create function private.add_working_days(p_day date, p_days integer) returns date
language plpgsql stable
set search_path = ''
as $$
declare
  d date := p_day;
  left_to_add integer := p_days;
begin
  while left_to_add > 0 loop
    d := d + 1;
    if extract(isodow from d) < 6
      and not exists (select 1 from public.settlement_holidays as h where h.day = d) then
      left_to_add := left_to_add - 1;
    end if;
  end loop;
  return d;
end
$$;
comment on function private.add_working_days(date, integer) is
$$The India day p_days working days after p_day (weekends and settlement holidays skipped);
p_day itself for 0.$$;

create function private.settlement_due_at(p_succeeded_at timestamptz, p_days integer) returns timestamptz
language sql stable
set search_path = ''
as $$
  select case when p_days = 0 then p_succeeded_at
    else (private.add_working_days(private.india_day(p_succeeded_at), p_days)::timestamp
      at time zone 'Asia/Kolkata')
  end
$$;
comment on function private.settlement_due_at(timestamptz, integer) is
$$When a payment that succeeded at p_succeeded_at may settle under T+p_days: 00:00
Asia/Kolkata of the p_days-th working day after its India day (at once for T+0).$$;

create function private.settlement_delay(p_merchant_id uuid) returns integer
language sql stable security definer
set search_path = ''
as $$
  select coalesce(
    (select p.settlement_delay_days from public.merchant_pricing as p where p.merchant_id = p_merchant_id),
    (private.setting('settlements.delay_working_days'))::integer
  )
$$;
comment on function private.settlement_delay(uuid) is
$$The merchant's settlement delay in working days (its pricing, else the platform's).$$;

-- Bank accounts ------------------------------------------------------------------------------------
create table public.merchant_bank_accounts (
  id uuid primary key default gen_random_uuid(),
  merchant_id uuid not null references public.merchants (id),
  holder_name text not null check (char_length(holder_name) between 1 and 140),
  ifsc text not null check (ifsc ~ '^[A-Z]{4}0[A-Z0-9]{6}$'),
  account_last4 text not null check (account_last4 ~ '^[0-9]{4}$'),
  account_secret_id uuid not null,
  status text not null default 'active' check (status in ('active', 'replaced')),
  usable_from timestamptz not null,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  replaced_at timestamptz
);
alter table public.merchant_bank_accounts enable row level security;
create unique index merchant_bank_accounts_active_idx on public.merchant_bank_accounts (merchant_id)
where status = 'active';
create trigger audit_merchant_bank_accounts after insert or update on public.merchant_bank_accounts
for each row execute function audit.record_change('id', 'account_secret_id', 'holder_name');
create trigger merchant_bank_accounts_no_delete before delete on public.merchant_bank_accounts
for each row execute function private.refuse_change();
comment on table public.merchant_bank_accounts is
$$Where a merchant's settlements are paid: holder name, IFSC and the account number (in Vault;
only its last 4 digits here). One active account per merchant; a new one replaces it and is
used only after the cooling-off (usable_from), the owners being notified. Only owners set it
(merchant_set_bank_account); audited with the Vault reference and holder name redacted.
Read (RLS): admins and the merchant's members.$$;
comment on column public.merchant_bank_accounts.usable_from is
$$When payouts may start going to this account (created + payouts.bank_account_cooling_off_s).$$;

create function private.bank_account_view(b public.merchant_bank_accounts) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', b.id, 'object', 'bank_account', 'merchant_id', b.merchant_id,
    'holder_name', b.holder_name, 'ifsc', b.ifsc,
    'account_number', 'XXXXXXXX' || b.account_last4, 'status', b.status,
    'usable_from', b.usable_from, 'usable', b.usable_from <= now() and b.status = 'active',
    'created_at', b.created_at, 'replaced_at', b.replaced_at
  )
$$;
comment on function private.bank_account_view(public.merchant_bank_accounts) is
$$A bank account as the API shows it: the account number masked to its last 4 digits.$$;

create function private.get_bank_account(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id);
  b public.merchant_bank_accounts;
begin
  select * into b from public.merchant_bank_accounts as x
  where x.merchant_id = m and x.status = 'active';
  if not found then
    return jsonb_build_object('object', 'bank_account', 'merchant_id', m, 'id', null);
  end if;
  return private.bank_account_view(b);
end
$$;
comment on function private.get_bank_account(uuid) is
$$The merchant's active bank account, masked; see public.merchant_get_bank_account.$$;

create function public.merchant_get_bank_account(p_merchant_id uuid default null) returns jsonb
language sql stable
set search_path = ''
as $$ select private.get_bank_account(p_merchant_id) $$;
comment on function public.merchant_get_bank_account(uuid) is
$$The merchant's active settlement bank account: holder name, IFSC, the account number masked
to its last 4 digits, and when payouts may start going to it (usable_from, usable).
Who: the merchant's members and API keys (merchant_id optional for a member of one merchant),
admins naming the merchant.
Returns: {id, object bank_account, merchant_id, holder_name, ifsc, account_number
XXXXXXXX1234, status, usable_from, usable, created_at, replaced_at}; when none is set only
{id: null, object bank_account, merchant_id}.
Errors: 22023 merchant_id needed; 42501 not a member; P0002 unknown merchant (admins).$$;

create function private.set_bank_account(
  p_merchant_id uuid, p_holder_name text, p_ifsc text, p_account_number text,
  p_idempotency_key text
) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  m uuid := private.require_merchant(p_merchant_id, '{owner}', 'set the bank account');
  request jsonb := jsonb_build_object(
    'merchant_id', p_merchant_id, 'holder_name', p_holder_name, 'ifsc', p_ifsc,
    'account_number', p_account_number
  );
  replay jsonb;
  old public.merchant_bank_accounts;
  b public.merchant_bank_accounts;
  cooling integer := (private.setting('payouts.bank_account_cooling_off_s'))::integer;
begin
  -- Owners only: not developers, not API keys, not even admins (a platform operator never
  -- redirects a merchant's money).
  if not private.has_merchant_role(m, '{owner}') then
    raise exception 'only the merchant''s owners can set its bank account' using errcode = '42501';
  end if;
  replay := private.idempotency_replay('merchant_set_bank_account', p_idempotency_key, request, m);
  if replay is not null then
    return replay;
  end if;
  if p_holder_name is null or char_length(btrim(p_holder_name)) not between 1 and 140 then
    raise exception 'holder_name is required (1 to 140 characters)' using errcode = '22023';
  end if;
  if p_ifsc is null or p_ifsc !~ '^[A-Z]{4}0[A-Z0-9]{6}$' then
    raise exception 'ifsc must be an IFSC: 4 letters, 0, then 6 letters or digits (e.g. HDFC0001234)'
      using errcode = '22023';
  end if;
  if p_account_number is null or p_account_number !~ '^[0-9]{9,18}$' then
    raise exception 'account_number must be 9 to 18 digits' using errcode = '22023';
  end if;
  select * into old from public.merchant_bank_accounts as x
  where x.merchant_id = m and x.status = 'active'
  for update;
  if found then
    update public.merchant_bank_accounts as x set status = 'replaced', replaced_at = now()
    where x.id = old.id;
  end if;
  insert into public.merchant_bank_accounts (
    merchant_id, holder_name, ifsc, account_last4, account_secret_id, usable_from, created_by
  ) values (
    m, btrim(p_holder_name), p_ifsc, right(p_account_number, 4),
    vault.create_secret(
      p_account_number, 'bank_account:' || m || ':' || gen_random_uuid(),
      'settlement bank account of merchant ' || m
    ),
    now() + make_interval(secs => cooling), auth.uid()
  ) returning * into b;
  insert into public.notifications (merchant_id, user_id, kind, title, details)
  select m, x.user_id, 'bank_account.changed',
    'The settlement bank account was changed to ' || b.ifsc || ' XXXXXXXX' || b.account_last4,
    jsonb_build_object(
      'bank_account_id', b.id, 'previous', case when old.id is not null
        then old.ifsc || ' XXXXXXXX' || old.account_last4 end,
      'usable_from', b.usable_from, 'by', auth.uid()
    )
  from public.merchant_members as x
  where x.merchant_id = m and x.role = 'owner';
  perform private.emit_event(m, 'bank_account.updated', private.bank_account_view(b));
  return private.idempotency_store(
    'merchant_set_bank_account', p_idempotency_key, request, private.bank_account_view(b), m
  );
end
$$;
comment on function private.set_bank_account(uuid, text, text, text, text) is
$$Owners only: sets the merchant's settlement bank account; see
public.merchant_set_bank_account.$$;

create function public.merchant_set_bank_account(
  p_holder_name text, p_ifsc text, p_account_number text, p_merchant_id uuid default null,
  p_idempotency_key text default null
) returns jsonb
language sql
set search_path = ''
as $$
  select private.set_bank_account(
    p_merchant_id, p_holder_name, p_ifsc, p_account_number, p_idempotency_key
  )
$$;
comment on function public.merchant_set_bank_account(text, text, text, uuid, text) is
$$Sets the merchant's settlement bank account (holder name, IFSC, account number of 9 to 18
digits). The number goes to Vault and is shown masked from then on; the previous account is
replaced; payouts go to the new one only after the cooling-off
(payouts.bank_account_cooling_off_s, default 24 h) and every owner is notified (notification
bank_account.changed, webhook bank_account.updated). Audited.
Who: the merchant's owners only (not developers, API keys or platform admins): 42501.
Returns: the bank account, masked (see merchant_get_bank_account).
Errors: 22023 holder name, IFSC or account number invalid; 42501 not an owner; PGRST 422 / 409
idempotency.$$;

-- The platform's payout provider account, per mode -----------------------------------------------
create table private.payout_accounts (
  mode text primary key check (mode in ('test', 'live')),
  provider text not null check (provider in ('razorpayx')),
  credentials_secret_id uuid not null,
  credentials_masked jsonb not null,
  updated_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table private.payout_accounts enable row level security;
create trigger payout_accounts_touch before update on private.payout_accounts
for each row execute function private.touch_updated_at();
create trigger audit_payout_accounts after insert or update or delete on private.payout_accounts
for each row execute function audit.record_change('mode', 'credentials_secret_id');
comment on table private.payout_accounts is
$$The platform's payout provider account per mode (RazorpayX: key_id, key_secret and the
business account_number, in Vault). Set by admin_set_payout_account; read by the worker
through private.payout_next. No client role reads it.$$;

create function private.set_payout_account(p_mode text, p_provider text, p_credentials jsonb) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  a private.payout_accounts;
  masked jsonb;
begin
  perform private.require_admin();
  if p_mode is null or p_mode not in ('test', 'live') then
    raise exception 'mode must be test or live' using errcode = '22023';
  end if;
  if p_provider is distinct from 'razorpayx' then
    raise exception 'provider must be razorpayx' using errcode = '22023';
  end if;
  if p_credentials is null or jsonb_typeof(p_credentials) <> 'object' or exists (
    select 1 from unnest(array['key_id', 'key_secret', 'account_number']) as k
    where jsonb_typeof(p_credentials -> k) is distinct from 'string'
      or char_length(p_credentials ->> k) not between 1 and 200
  ) or exists (
    select 1 from jsonb_object_keys(p_credentials) as k
    where k not in ('key_id', 'key_secret', 'account_number')
  ) then
    raise exception 'razorpayx credentials are {key_id, key_secret, account_number}, strings'
      using errcode = '22023';
  end if;
  masked := jsonb_build_object(
    'key_id', private.mask_value(p_credentials -> 'key_id'),
    'key_secret', private.mask_value(p_credentials -> 'key_secret'),
    'account_number', private.mask_value(p_credentials -> 'account_number')
  );
  select * into a from private.payout_accounts as x where x.mode = p_mode for update;
  if found then
    delete from vault.secrets as s where s.id = a.credentials_secret_id;
  end if;
  insert into private.payout_accounts as x (
    mode, provider, credentials_secret_id, credentials_masked, updated_by
  ) values (
    p_mode, p_provider,
    vault.create_secret(p_credentials::text, 'payout_account:' || p_mode || ':' || gen_random_uuid(),
      'payout provider credentials (' || p_mode || ')'),
    masked, auth.uid()
  )
  on conflict (mode) do update set
    provider = excluded.provider, credentials_secret_id = excluded.credentials_secret_id,
    credentials_masked = excluded.credentials_masked, updated_by = excluded.updated_by
  returning * into a;
  return jsonb_build_object(
    'object', 'payout_account', 'mode', a.mode, 'provider', a.provider,
    'credentials', a.credentials_masked, 'updated_at', a.updated_at
  );
end
$$;
comment on function private.set_payout_account(text, text, jsonb) is
$$Admins only: stores the payout provider account of a mode; see
public.admin_set_payout_account.$$;

create function public.admin_set_payout_account(
  p_mode text, p_provider text, p_credentials jsonb
) returns jsonb
language sql
set search_path = ''
as $$ select private.set_payout_account(p_mode, p_provider, p_credentials) $$;
comment on function public.admin_set_payout_account(text, text, jsonb) is
$$Sets the platform's payout provider account for test or live settlements: provider
razorpayx with credentials {key_id, key_secret, account_number (the RazorpayX business
account payouts are made from)}, kept in Vault and answered masked. Audited (without them).
Who: platform admins; everyone else 42501.
Returns: {object payout_account, mode, provider, credentials (masked), updated_at}.
Errors: 22023 mode, provider or credentials invalid; 42501 not an admin.$$;

-- Settlements ---------------------------------------------------------------------------------------
create table public.settlements (
  id text primary key default private.new_id('stl') check (id ~ '^stl_[0-9a-f]{20}$'),
  merchant_id uuid not null references public.merchants (id),
  wallet_id uuid not null references public.wallets (id),
  currency text not null references public.currencies (code),
  mode text not null check (mode in ('test', 'live')),
  status text not null default 'created' check (
    status in ('created', 'processing', 'processed', 'failed')
  ),
  gross bigint not null,
  refunds bigint not null,
  fees bigint not null,
  tax bigint not null,
  adjustments bigint not null,
  net bigint not null check (net >= 0),
  payments_count integer not null,
  refunds_count integer not null,
  adjustments_count integer not null,
  released bigint not null,
  release_entry_id bigint references public.ledger_entries (id),
  payout_entry_id bigint references public.ledger_entries (id),
  bank_account_id uuid references public.merchant_bank_accounts (id),
  payout_attempts integer not null default 0,
  utr text check (char_length(utr) <= 100),
  failure_code text check (char_length(failure_code) <= 100),
  failure_message text check (char_length(failure_message) <= 500),
  waiting_for text check (
    waiting_for in ('bank_account', 'payout_account', 'merchant_active', 'merchant_live', 'retry')
  ),
  waiting_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  processed_at timestamptz,
  constraint settlements_net_adds_up check (net = gross - refunds - fees - tax + adjustments)
);
alter table public.settlements enable row level security;
create index settlements_merchant_idx on public.settlements (merchant_id, created_at desc, id desc);
create index settlements_list_idx on public.settlements (created_at desc, id desc);
create trigger settlements_touch before update on public.settlements
for each row execute function private.touch_updated_at();
create trigger audit_settlements after insert or update on public.settlements
for each row execute function audit.record_change();
create trigger settlements_no_delete before delete on public.settlements
for each row execute function private.refuse_change();
comment on table public.settlements is
$$A settlement batch of one wallet: the payments whose settlement delay passed (gross, the
platform's fees and their tax), the refunds and adjustments since the last batch, and net =
gross - refunds - fees - tax + adjustments (checked), paid to the merchant's bank account:
created -> processing -> processed (utr) | failed (money back in available). Who reads (RLS):
admins; the merchant's members and API keys. Written by the settlement worker's functions.$$;
comment on column public.settlements.gross is $$Sum of the batch's payments, minor units.$$;
comment on column public.settlements.refunds is $$Sum of the batch's refunds, minor units.$$;
comment on column public.settlements.fees is $$The platform's MDR on the batch's payments, minor units.$$;
comment on column public.settlements.tax is $$GST on those fees, minor units.$$;
comment on column public.settlements.adjustments is
$$Signed sum of the batch's adjustments (admin adjustments, reversed payouts, opening
balances), minor units.$$;
comment on column public.settlements.net is
$$gross - refunds - fees - tax + adjustments: what is paid out, minor units.$$;
comment on column public.settlements.released is
$$Minor units moved from pending to available by this batch.$$;
comment on column public.settlements.waiting_for is
$$Why the payout is not being sent now: bank_account (none, or in its cooling-off),
payout_account (none for the mode), merchant_active (suspended or closed), merchant_live
(live money of a merchant not live-enabled), retry (the next attempt is scheduled); null
otherwise.$$;
comment on column public.settlements.waiting_until is
$$When the wait ends if known: the bank account's usable_from, or the next attempt's time.$$;

create table public.settlement_lines (
  id bigint primary key generated always as identity,
  settlement_id text not null references public.settlements (id),
  merchant_id uuid not null references public.merchants (id),
  kind text not null check (
    kind in ('payment', 'refund', 'adjustment', 'payout_reversal', 'opening_balance')
  ),
  payment_id text references public.payments (id),
  refund_id text references public.refunds (id),
  adjustment_id uuid references public.wallet_adjustments (id),
  gross bigint not null default 0,
  fee bigint not null default 0,
  tax bigint not null default 0,
  amount bigint not null,
  created_at timestamptz not null default now()
);
alter table public.settlement_lines enable row level security;
create index settlement_lines_settlement_idx on public.settlement_lines (settlement_id, id);
create trigger settlement_lines_append_only before update or delete on public.settlement_lines
for each row execute function private.refuse_change();
comment on table public.settlement_lines is
$$What a settlement batch is made of: payments (gross, fee, tax, amount = net), refunds
(amount negative), adjustments (signed). The batch's figures are their sums. Append-only.
Who reads (RLS): admins; the merchant's members and API keys.$$;
comment on column public.settlement_lines.amount is
$$The line's signed effect on the batch's net, minor units.$$;
comment on column public.settlement_lines.gross is $$Payments: gross, minor units (0 otherwise).$$;

create table public.payouts (
  id text primary key default private.new_id('pyt') check (id ~ '^pyt_[0-9a-f]{20}$'),
  settlement_id text not null references public.settlements (id),
  merchant_id uuid not null references public.merchants (id),
  attempt_no integer not null check (attempt_no >= 1),
  provider text not null,
  amount bigint not null check (amount > 0),
  currency text not null references public.currencies (code),
  mode text not null check (mode in ('test', 'live')),
  bank_account_id uuid not null references public.merchant_bank_accounts (id),
  status text not null default 'created' check (
    status in ('created', 'processing', 'processed', 'failed', 'reversed')
  ),
  provider_payout_id text check (char_length(provider_payout_id) <= 100),
  utr text check (char_length(utr) <= 100),
  failure_code text check (char_length(failure_code) <= 100),
  failure_message text check (char_length(failure_message) <= 500),
  provider_calls integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  constraint payouts_attempt_unique unique (settlement_id, attempt_no)
);
alter table public.payouts enable row level security;
create trigger payouts_touch before update on public.payouts
for each row execute function private.touch_updated_at();
create trigger audit_payouts after insert or update on public.payouts
for each row execute function audit.record_change();
create trigger payouts_no_delete before delete on public.payouts
for each row execute function private.refuse_change();
comment on table public.payouts is
$$One attempt to pay a settlement to the merchant's bank account through the payout provider,
recorded before the call; its id is the provider's idempotency key, so a call repeated after
a lost answer never pays twice. created -> processing -> processed (utr) | failed, or
reversed after processing (the bank returned it). Who reads (RLS): admins; the merchant's
members and API keys. Written by the settlement worker's functions.$$;
comment on column public.payouts.amount is $$Minor units of currency (the settlement's net).$$;

-- Settlement items remember their batch -------------------------------------------------------------
alter table public.wallet_adjustments
add constraint wallet_adjustments_settlement_fkey foreign key (settlement_id)
references public.settlements (id);
alter table public.payment_credits
add constraint payment_credits_settlement_fkey foreign key (settlement_id)
references public.settlements (id);
alter table private.refund_draws
add constraint refund_draws_settlement_fkey foreign key (settlement_id)
references public.settlements (id);

-- Views ---------------------------------------------------------------------------------------------
create function private.settlement_view(s public.settlements) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', s.id, 'object', 'settlement', 'merchant_id', s.merchant_id, 'wallet_id', s.wallet_id,
    'currency', s.currency, 'mode', s.mode, 'status', s.status,
    'gross', s.gross, 'refunds', s.refunds, 'fees', s.fees, 'tax', s.tax,
    'adjustments', s.adjustments, 'net', s.net,
    'counts', jsonb_build_object(
      'payments', s.payments_count, 'refunds', s.refunds_count, 'adjustments', s.adjustments_count
    ),
    'payout', jsonb_build_object(
      'status', case
        when s.waiting_for = 'bank_account' then 'waiting_for_bank_account'
        when s.waiting_for = 'payout_account' then 'waiting_for_payout_account'
        when s.waiting_for = 'merchant_active' then 'waiting_for_merchant_active'
        when s.waiting_for = 'merchant_live' then 'waiting_for_merchant_live'
        when s.waiting_for = 'retry' then 'retry_scheduled'
        when s.failure_code = 'reversed' then 'reversed'
        when s.status = 'created' then 'pending'
        else s.status end,
      'usable_from', case when s.waiting_for = 'bank_account' then s.waiting_until end,
      'next_attempt_at', case when s.waiting_for = 'retry' then s.waiting_until end,
      'attempts', s.payout_attempts, 'utr', s.utr, 'bank_account_id', s.bank_account_id,
      'failure', case when s.waiting_for is distinct from 'bank_account'
        and (s.failure_code is not null or s.failure_message is not null) then
        jsonb_build_object('code', s.failure_code, 'message', s.failure_message) end
    ),
    'created_at', s.created_at, 'processed_at', s.processed_at
  )
$$;
comment on function private.settlement_view(public.settlements) is
$$A settlement as the API and its webhooks show it: figures in minor units, payout state.$$;

create function private.settlement_events() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if new.status is distinct from old.status and new.status in ('processed', 'failed') then
    perform private.emit_event(
      new.merchant_id, 'settlement.' || new.status, private.settlement_view(new)
    );
  end if;
  return null;
end
$$;
comment on function private.settlement_events() is
$$Trigger: settlement.processed and settlement.failed merchant webhook events.$$;
create trigger settlements_events after update of status on public.settlements
for each row execute function private.settlement_events();

-- Creating a batch ------------------------------------------------------------------------------------
create function private.create_settlement(p_wallet_id uuid) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  w public.wallets;
  s public.settlements;
  delay integer;
  v_gross bigint;
  v_fees bigint;
  v_tax bigint;
  v_refunds bigint;
  v_adjustments bigint;
  v_release bigint;
  n_payments integer;
  n_refunds integer;
  n_adjustments integer;
  v_net bigint;
  free_available bigint;
  posted jsonb;
  in_transit uuid;
  lot_ids text [];
  draw_ids bigint [];
  adjustment_ids uuid [];
  mer public.merchants;
  min_amount bigint := (private.setting('payouts.min_amount'))::bigint;
begin
  select * into w from public.wallets as x where x.id = p_wallet_id for update;
  if not found then
    raise exception 'wallet % does not exist', p_wallet_id using errcode = 'P0002';
  end if;
  -- Nothing settles for a suspended or closed merchant, nor live money of a merchant that is
  -- not live-enabled: the items wait and settle once that changes.
  select * into mer from public.merchants as x where x.id = w.merchant_id;
  if mer.status <> 'active' then
    return jsonb_build_object('deferred', true, 'reason', 'merchant_not_active', 'wallet_id', w.id);
  end if;
  if w.mode = 'live' and not mer.live_enabled then
    return jsonb_build_object('deferred', true, 'reason', 'merchant_not_live', 'wallet_id', w.id);
  end if;
  delay := private.settlement_delay(w.merchant_id);
  -- The batch: matured lots with no refund in flight, refunds drawn on them or on available,
  -- adjustments on available. Every change to these rows happens under the wallet's lock.
  select coalesce(array_agg(c.payment_id), '{}'), coalesce(sum(c.gross), 0),
    coalesce(sum(c.fee), 0), coalesce(sum(c.tax), 0), coalesce(sum(c.net - c.consumed), 0),
    count(*)
  into lot_ids, v_gross, v_fees, v_tax, v_release, n_payments
  from public.payment_credits as c
  where c.wallet_id = w.id and c.settlement_id is null and c.reserved = 0
    and c.succeeded_at <= now() - make_interval(days => delay)
    and private.settlement_due_at(c.succeeded_at, delay) <= now();
  select coalesce(array_agg(d.id), '{}'), coalesce(sum(d.amount), 0), count(distinct d.refund_id)
  into draw_ids, v_refunds, n_refunds
  from private.refund_draws as d
  where d.wallet_id = w.id and d.settlement_id is null and d.status = 'posted'
    and (d.account = 'available' or d.payment_id = any(lot_ids));
  select coalesce(array_agg(a.id), '{}'), coalesce(sum(a.amount), 0), count(*)
  into adjustment_ids, v_adjustments, n_adjustments
  from public.wallet_adjustments as a
  where a.wallet_id = w.id and a.account = 'available' and a.settlement_id is null;
  if n_payments + n_refunds + n_adjustments = 0 then
    return null;
  end if;
  v_net := v_gross - v_refunds - v_fees - v_tax + v_adjustments;
  select private.available_of(a) into free_available from public.ledger_accounts as a
  where a.id = w.available_account_id;
  if v_net < 0 or free_available + v_release < v_net then
    -- A refund still in flight holds part of available: settle once it completes.
    return jsonb_build_object(
      'deferred', true, 'reason', 'refund_in_flight', 'wallet_id', w.id, 'net', v_net
    );
  end if;
  if v_net > 0 and v_net < min_amount then
    -- Below the smallest payout (payouts.min_amount): the money waits in available.
    return jsonb_build_object(
      'deferred', true, 'reason', 'below_min_amount', 'wallet_id', w.id, 'net', v_net
    );
  end if;
  insert into public.settlements (
    merchant_id, wallet_id, currency, mode, status, gross, refunds, fees, tax, adjustments, net,
    payments_count, refunds_count, adjustments_count, released, processed_at
  ) values (
    w.merchant_id, w.id, w.currency, w.mode, 'created',
    v_gross, v_refunds, v_fees, v_tax, v_adjustments, v_net, n_payments, n_refunds,
    n_adjustments, v_release, null
  ) returning * into s;
  insert into public.settlement_lines (settlement_id, merchant_id, kind, payment_id, gross, fee, tax, amount)
  select s.id, w.merchant_id, 'payment', c.payment_id, c.gross, c.fee, c.tax, c.net
  from public.payment_credits as c
  where c.payment_id = any(lot_ids)
  order by c.payment_id;
  insert into public.settlement_lines (settlement_id, merchant_id, kind, refund_id, amount)
  select s.id, w.merchant_id, 'refund', d.refund_id, -sum(d.amount)
  from private.refund_draws as d
  where d.id = any(draw_ids)
  group by d.refund_id
  order by d.refund_id;
  insert into public.settlement_lines (settlement_id, merchant_id, kind, adjustment_id, amount)
  select s.id, w.merchant_id, a.kind, a.id, a.amount
  from public.wallet_adjustments as a
  where a.id = any(adjustment_ids)
  order by a.created_at, a.id;
  update public.payment_credits as c set released = c.net - c.consumed, settlement_id = s.id
  where c.payment_id = any(lot_ids);
  update private.refund_draws as d set settlement_id = s.id
  where d.id = any(draw_ids);
  update public.wallet_adjustments as a set settlement_id = s.id
  where a.id = any(adjustment_ids);
  if v_release > 0 then
    posted := private.ledger_post(
      'settlement:' || s.id || ':release', 'settlement',
      jsonb_build_array(
        jsonb_build_object('account_id', w.pending_account_id, 'direction', 'debit', 'amount', v_release),
        jsonb_build_object('account_id', w.available_account_id, 'direction', 'credit', 'amount', v_release)
      ),
      jsonb_build_object(
        'merchant_id', w.merchant_id, 'wallet_id', w.id, 'reference_type', 'settlement',
        'reference_id', s.id, 'description', 'matured payments become available'
      )
    );
    update public.settlements as x set release_entry_id = (posted ->> 'entry_id')::bigint
    where x.id = s.id;
  end if;
  if v_net > 0 then
    in_transit := private.ledger_account('payouts_in_transit', w.currency, w.mode);
    posted := private.ledger_post(
      'settlement:' || s.id || ':payout', 'payout',
      jsonb_build_array(
        jsonb_build_object('account_id', w.available_account_id, 'direction', 'debit', 'amount', v_net),
        jsonb_build_object('account_id', in_transit, 'direction', 'credit', 'amount', v_net)
      ),
      jsonb_build_object(
        'merchant_id', w.merchant_id, 'wallet_id', w.id, 'reference_type', 'settlement',
        'reference_id', s.id, 'description', 'settlement paid out to the bank account'
      )
    );
    update public.settlements as x set payout_entry_id = (posted ->> 'entry_id')::bigint
    where x.id = s.id;
    perform private.enqueue(
      'settlement', jsonb_build_object('settlement_id', s.id), 0, 'payout:' || s.id
    );
  else
    update public.settlements as x set status = 'processed', processed_at = now()
    where x.id = s.id;
  end if;
  select * into s from public.settlements as x where x.id = s.id;
  return private.settlement_view(s);
end
$$;
comment on function private.create_settlement(uuid) is
$$service_role (the settlement worker): under the wallet's lock, makes the wallet's next
batch if there is anything to settle (null otherwise; {deferred, reason} while a refund in
flight holds part of available (refund_in_flight), the net is below payouts.min_amount
(below_min_amount), the merchant is suspended or closed (merchant_not_active) or, for a live
wallet, not live-enabled (merchant_not_live)): lines, figures, pending -> available for the matured lots, net ->
payouts in transit, and the payout job. A batch with net 0 is processed at once.$$;

create function private.enqueue_settlements() returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  n integer := 0;
  w record;
begin
  for w in
    select x.id from public.wallets as x
    inner join public.merchants as m on x.merchant_id = m.id
    where m.status = 'active' and (x.mode = 'test' or m.live_enabled) and (exists (
      select 1 from public.payment_credits as c
      where c.wallet_id = x.id and c.settlement_id is null
        and c.succeeded_at <= now() - make_interval(days => private.settlement_delay(x.merchant_id))
    ) or exists (
      select 1 from public.wallet_adjustments as a
      where a.wallet_id = x.id and a.settlement_id is null and a.account = 'available'
    ) or exists (
      select 1 from private.refund_draws as d
      where d.wallet_id = x.id and d.settlement_id is null and d.status = 'posted'
        and d.account = 'available'
    ))
  loop
    perform private.enqueue(
      'settlement', jsonb_build_object('wallet_id', w.id), 0,
      'settle:' || w.id || ':' || to_char(now() at time zone 'UTC', 'YYYYMMDDHH24MI')
    );
    n := n + 1;
  end loop;
  return n;
end
$$;
comment on function private.enqueue_settlements() is
$$pg_cron, every 15 minutes: a settlement job for each wallet with payments that may have
matured or unsettled refunds or adjustments on available, of active merchants (live wallets:
live-enabled ones only); the number enqueued.$$;
select cron.schedule('lsp-settlements', '*/15 * * * *', 'select private.enqueue_settlements()');

-- Paying a batch out -------------------------------------------------------------------------------
create function private.schedule_reversal_check(p_payout_id text, p_settlement_id text, p_processed_at timestamptz)
returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  watch_s integer := (private.setting('payouts.reversal_watch_s'))::integer;
  at_s integer;
  wait_s integer;
begin
  select o.v into at_s
  from jsonb_array_elements_text(private.setting('payouts.reversal_check_schedule_s')) as x (t)
  cross join lateral (select x.t::integer as v) as o
  where o.v <= watch_s and p_processed_at + make_interval(secs => o.v) > now()
  order by o.v limit 1;
  if at_s is null then
    return null;
  end if;
  wait_s := least(greatest(ceil(extract(epoch from
    p_processed_at + make_interval(secs => at_s) - now()))::integer, 1), 604800);
  perform private.enqueue(
    'settlement', jsonb_build_object('settlement_id', p_settlement_id), wait_s,
    'payout-watch:' || p_payout_id || ':' || at_s
  );
  return wait_s;
end
$$;
comment on function private.schedule_reversal_check(text, text, timestamptz) is
$$Schedules the next check of a processed payout for a reversal: at the first offset of
payouts.reversal_check_schedule_s after its processing still ahead and within
payouts.reversal_watch_s; the seconds until it, or null when the watch is over.$$;

create function private.payout_next(p_settlement_id text) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  s public.settlements;
  po public.payouts;
  b public.merchant_bank_accounts;
  acct private.payout_accounts;
  mer public.merchants;
  wait_s integer;
  v_waiting text;
  v_until timestamptz;
begin
  select * into s from public.settlements as x where x.id = p_settlement_id for update;
  if not found then
    raise exception 'settlement % does not exist', p_settlement_id using errcode = 'P0002';
  end if;
  if s.status = 'failed' or s.net <= 0 then
    return jsonb_build_object('action', 'none', 'status', s.status);
  end if;
  if s.status = 'processed' then
    -- The reversal watch: a processed payout is asked about again until
    -- payouts.reversal_watch_s after it was processed (the bank may still return it).
    select * into po from public.payouts as x
    where x.settlement_id = s.id and x.status = 'processed'
    order by x.attempt_no desc limit 1;
    if not found or po.provider_payout_id is null or po.completed_at
      < now() - make_interval(secs => (private.setting('payouts.reversal_watch_s'))::integer) then
      return jsonb_build_object('action', 'none', 'status', s.status);
    end if;
  else
    select * into po from public.payouts as x
    where x.settlement_id = s.id and x.status in ('created', 'processing')
    order by x.attempt_no desc limit 1;
  end if;
  if po.id is null or (po.status = 'created' or po.provider_payout_id is null) and po.status <> 'processed' then
    -- Something would be sent: not for a suspended or closed merchant, nor live money of a
    -- merchant that is not live-enabled (checked again every hour).
    select * into mer from public.merchants as x where x.id = s.merchant_id;
    if mer.status <> 'active' or (s.mode = 'live' and not mer.live_enabled) then
      v_waiting := case when mer.status <> 'active' then 'merchant_active' else 'merchant_live' end;
      update public.settlements as x set waiting_for = v_waiting, waiting_until = null,
        failure_code = null, failure_message = null
      where x.id = s.id;
      perform private.enqueue(
        'settlement', jsonb_build_object('settlement_id', s.id), 3600,
        'payout-wait:' || s.id || ':' || to_char(now() at time zone 'UTC', 'YYYYMMDDHH24MISS')
      );
      return jsonb_build_object('action', 'wait', 'waiting_for', v_waiting, 'retry_in_s', 3600);
    end if;
  end if;
  if po.id is null then
    if s.waiting_for = 'retry' and s.waiting_until > now() then
      -- Too early: the next attempt is due at waiting_until, when the message the failed
      -- attempt scheduled arrives.
      return jsonb_build_object(
        'action', 'wait', 'waiting_for', 'retry', 'until', s.waiting_until,
        'retry_in_s', ceil(extract(epoch from s.waiting_until - now()))::integer
      );
    end if;
    select * into b from public.merchant_bank_accounts as x
    where x.merchant_id = s.merchant_id and x.status = 'active';
    select * into acct from private.payout_accounts as x where x.mode = s.mode;
    if b.id is null or b.usable_from > now() or acct.mode is null then
      wait_s := case when b.id is not null and b.usable_from > now() and acct.mode is not null
        then least(greatest(ceil(extract(epoch from b.usable_from - now()))::integer, 1), 604800)
        else 3600 end;
      v_waiting := case when b.id is null or b.usable_from > now() then 'bank_account'
        else 'payout_account' end;
      v_until := case when b.id is not null and b.usable_from > now() then b.usable_from end;
      -- A waiting state, not a failure: the last attempt's failure no longer applies.
      update public.settlements as x set waiting_for = v_waiting, waiting_until = v_until,
        failure_code = null, failure_message = null
      where x.id = s.id;
      perform private.enqueue(
        'settlement', jsonb_build_object('settlement_id', s.id), wait_s,
        'payout-wait:' || s.id || ':' || to_char(now() at time zone 'UTC', 'YYYYMMDDHH24MISS')
      );
      return jsonb_build_object(
        'action', 'wait', 'waiting_for', v_waiting, 'until', v_until, 'retry_in_s', wait_s
      );
    end if;
    insert into public.payouts (
      settlement_id, merchant_id, attempt_no, provider, amount, currency, mode, bank_account_id
    ) values (
      s.id, s.merchant_id, s.payout_attempts + 1, acct.provider, s.net, s.currency, s.mode, b.id
    ) returning * into po;
    update public.settlements as x set
      status = 'processing', payout_attempts = po.attempt_no, bank_account_id = b.id,
      failure_code = null, failure_message = null, waiting_for = null, waiting_until = null
    where x.id = s.id;
  elsif s.waiting_for in ('merchant_active', 'merchant_live') then
    update public.settlements as x set waiting_for = null, waiting_until = null where x.id = s.id;
  end if;
  select * into b from public.merchant_bank_accounts as x where x.id = po.bank_account_id;
  select * into acct from private.payout_accounts as x where x.mode = s.mode;
  return jsonb_build_object(
    'action', case when po.status in ('processing', 'processed') and po.provider_payout_id is not null
      then 'check' else 'send' end,
    'payout', jsonb_build_object(
      'payout_id', po.id, 'settlement_id', s.id, 'amount', po.amount, 'currency', po.currency,
      'mode', po.mode, 'provider_payout_id', po.provider_payout_id,
      'transfer_mode', case when po.amount <= (private.setting('payouts.imps_max'))::bigint
        then 'IMPS' else 'NEFT' end,
      'beneficiary', jsonb_build_object(
        'holder_name', b.holder_name, 'ifsc', b.ifsc,
        'account_number', (
          select s2.decrypted_secret from vault.decrypted_secrets as s2
          where s2.id = b.account_secret_id
        ),
        'merchant_id', s.merchant_id
      )
    ),
    'target', jsonb_build_object(
      'provider', acct.provider, 'environment', s.mode,
      'base_urls', (select p.base_urls from public.gateway_providers as p where p.provider = 'razorpay'),
      'credentials', (
        select s3.decrypted_secret::jsonb from vault.decrypted_secrets as s3
        where s3.id = acct.credentials_secret_id
      )
    )
  );
end
$$;
comment on function private.payout_next(text) is
$$service_role (the settlement worker): the settlement's next payout step: none (done), wait
(waiting_for bank_account: none usable yet, or in its cooling-off; payout_account: none for
the mode; merchant_active / merchant_live: the merchant is suspended or closed, or not
live-enabled for live money (re-enqueued); retry: the next attempt is not due yet, its
scheduled message will come), send (a payout attempt recorded before the call; repeated
sends reuse it, its id being the idempotency key) or check (ask the provider: a payout it is
processing, or a processed one during the reversal watch, payouts.reversal_watch_s).
Carries the beneficiary and provider credentials: never log it.$$;

create function private.record_payout_result(p_payout_id text, p_result jsonb) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  po public.payouts;
  s public.settlements;
  w public.wallets;
  v_status text := p_result ->> 'status';
  retry_schedule jsonb := private.setting('payouts.retry_schedule_s');
  check_schedule jsonb := private.setting('payouts.check_schedule_s');
  max_attempts integer := (private.setting('payouts.max_attempts'))::integer;
  adj uuid := gen_random_uuid();
  posted jsonb;
  delay integer;
  permanent boolean;
begin
  select * into po from public.payouts as x where x.id = p_payout_id;
  if not found then
    raise exception 'payout % does not exist', p_payout_id using errcode = 'P0002';
  end if;
  select * into s from public.settlements as x where x.id = po.settlement_id for update;
  select * into po from public.payouts as x where x.id = p_payout_id for update;
  -- The wallet's lock orders a reversal with the wallet's next batch.
  select * into w from public.wallets as x where x.id = s.wallet_id for update;
  update public.payouts as x set
    provider_payout_id = coalesce(left(p_result ->> 'provider_payout_id', 100), x.provider_payout_id),
    provider_calls = x.provider_calls + case when coalesce((p_result ->> 'sent')::boolean, true)
      then 1 else 0 end
  where x.id = po.id
  returning * into po;
  if v_status not in ('processing', 'processed', 'failed', 'reversed', 'unknown', 'error') then
    raise exception 'payout result status % is not one of processing, processed, failed, reversed, unknown, error',
      coalesce(v_status, 'null') using errcode = '22023';
  end if;
  if v_status = 'reversed' and po.status = 'processed' then
    -- The bank sent a processed payout back: the money returns to the merchant's available
    -- balance and the next batch reports it.
    update public.payouts as x set status = 'reversed', failure_code = 'reversed',
      failure_message = left(coalesce(p_result ->> 'error_message', 'the bank returned the payout'), 500)
    where x.id = po.id;
    posted := private.ledger_post(
      'payout:' || po.id || ':returned', 'payout_reversal',
      jsonb_build_array(
        jsonb_build_object('account_id', private.ledger_account('platform_bank', s.currency, s.mode),
          'direction', 'debit', 'amount', po.amount),
        jsonb_build_object('account_id', w.available_account_id, 'direction', 'credit', 'amount', po.amount)
      ),
      jsonb_build_object('merchant_id', s.merchant_id, 'wallet_id', w.id,
        'reference_type', 'settlement', 'reference_id', s.id, 'description', 'payout returned by the bank')
    );
    insert into public.wallet_adjustments (
      id, wallet_id, merchant_id, kind, account, amount, currency, reason, entry_id
    ) values (
      adj, w.id, s.merchant_id, 'payout_reversal', 'available', po.amount, s.currency,
      'payout ' || po.id || ' of settlement ' || s.id || ' was returned by the bank',
      (posted ->> 'entry_id')::bigint
    );
    update public.settlements as x set status = 'failed', failure_code = 'reversed',
      failure_message = 'the bank returned the payout: the money is back in available'
    where x.id = s.id;
    return jsonb_build_object('outcome', 'reversed', 'next', 'none');
  end if;
  if po.status = 'processed' then
    -- The reversal watch: not returned (yet); ask again later while the watch lasts.
    delay := private.schedule_reversal_check(po.id, s.id, po.completed_at);
    return jsonb_build_object(
      'outcome', 'watching', 'status', po.status,
      'next', case when delay is null then 'none' else 'watch' end, 'in_s', delay
    );
  end if;
  if po.status in ('failed', 'reversed') then
    return jsonb_build_object('outcome', 'stale', 'status', po.status, 'next', 'none');
  end if;
  if v_status = 'processed' then
    update public.payouts as x set status = 'processed',
      utr = left(p_result ->> 'utr', 100), completed_at = now()
    where x.id = po.id;
    perform private.ledger_post(
      'payout:' || po.id || ':processed', 'payout_processed',
      jsonb_build_array(
        jsonb_build_object('account_id', private.ledger_account('payouts_in_transit', s.currency, s.mode),
          'direction', 'debit', 'amount', po.amount),
        jsonb_build_object('account_id', private.ledger_account('platform_bank', s.currency, s.mode),
          'direction', 'credit', 'amount', po.amount)
      ),
      jsonb_build_object('merchant_id', s.merchant_id, 'reference_type', 'settlement',
        'reference_id', s.id, 'description', 'payout processed, UTR ' || coalesce(p_result ->> 'utr', '?'))
    );
    update public.settlements as x set status = 'processed', utr = left(p_result ->> 'utr', 100),
      processed_at = now(), failure_code = null, failure_message = null, waiting_for = null,
      waiting_until = null
    where x.id = s.id;
    delay := private.schedule_reversal_check(po.id, s.id, now());
    return jsonb_build_object(
      'outcome', 'processed', 'next', case when delay is null then 'none' else 'watch' end,
      'in_s', delay
    );
  end if;
  if v_status = 'processing' then
    update public.payouts as x set status = 'processing' where x.id = po.id;
    delay := coalesce(
      (check_schedule ->> least(po.provider_calls - 1, jsonb_array_length(check_schedule) - 1))::integer, 60
    );
    perform private.enqueue(
      'settlement', jsonb_build_object('settlement_id', s.id), delay,
      'payout-check:' || po.id || ':' || po.provider_calls
    );
    return jsonb_build_object('outcome', 'processing', 'next', 'check', 'in_s', delay);
  end if;
  if v_status in ('failed', 'reversed') then
    update public.payouts as x set status = 'failed', completed_at = now(),
      failure_code = left(coalesce(p_result ->> 'error_code', v_status), 100),
      failure_message = left(coalesce(p_result ->> 'error_message', 'the payout failed'), 500)
    where x.id = po.id;
    -- The provider refused the request itself (a 4xx such as input_validation_failed):
    -- sending it again cannot succeed, so the money goes back at once.
    permanent := coalesce((p_result ->> 'http_status')::integer, 0) between 400 and 499;
    if po.attempt_no < max_attempts and not permanent then
      delay := coalesce(
        (retry_schedule ->> least(po.attempt_no - 1, jsonb_array_length(retry_schedule) - 1))::integer, 300
      );
      update public.settlements as x set
        failure_code = left(coalesce(p_result ->> 'error_code', v_status), 100),
        failure_message = 'payout attempt ' || po.attempt_no || ' failed: retrying',
        waiting_for = 'retry', waiting_until = now() + make_interval(secs => delay)
      where x.id = s.id;
      perform private.enqueue(
        'settlement', jsonb_build_object('settlement_id', s.id), delay,
        'payout-retry:' || s.id || ':' || po.attempt_no
      );
      return jsonb_build_object('outcome', 'failed', 'next', 'scheduled', 'in_s', delay);
    end if;
    posted := private.ledger_post(
      'payout:' || s.id || ':reversal', 'payout_reversal',
      jsonb_build_array(
        jsonb_build_object('account_id', private.ledger_account('payouts_in_transit', s.currency, s.mode),
          'direction', 'debit', 'amount', s.net),
        jsonb_build_object('account_id', w.available_account_id, 'direction', 'credit', 'amount', s.net)
      ),
      jsonb_build_object('merchant_id', s.merchant_id, 'wallet_id', w.id,
        'reference_type', 'settlement', 'reference_id', s.id,
        'description', 'payout failed ' || po.attempt_no || ' times: back to available')
    );
    insert into public.wallet_adjustments (
      id, wallet_id, merchant_id, kind, account, amount, currency, reason, entry_id
    ) values (
      adj, w.id, s.merchant_id, 'payout_reversal', 'available', s.net, s.currency,
      'payout of settlement ' || s.id || ' failed ' || po.attempt_no || ' times',
      (posted ->> 'entry_id')::bigint
    );
    update public.settlements as x set status = 'failed',
      failure_code = left(coalesce(p_result ->> 'error_code', v_status), 100),
      failure_message = case when permanent
        then 'the payout provider refused the payout: the money is back in available'
        else 'the payout failed ' || po.attempt_no
          || ' times: the money is back in available and goes with the next settlement' end,
      waiting_for = null, waiting_until = null
    where x.id = s.id;
    return jsonb_build_object(
      'outcome', 'failed', 'next', 'none', 'reversed', true, 'permanent', permanent
    );
  end if;
  -- unknown / error: no definite answer; the worker retries the same attempt (same key).
  return jsonb_build_object('outcome', v_status, 'next', 'retry');
end
$$;
comment on function private.record_payout_result(text, jsonb) is
$$service_role (the settlement worker): applies a payout provider's answer {status
processing|processed|failed|reversed|unknown|error, provider_payout_id, utr, error_code,
error_message, http_status, sent}. processed: UTR stored, in transit -> platform bank,
settlement processed, the reversal watch's first check scheduled; processing: a status check
is scheduled; failed: another attempt scheduled after payouts.retry_schedule_s (payout_next
refuses it earlier), or at once for a refused request (a 4xx: permanent) and after
payouts.max_attempts, the net goes back to available (payout_reversal, reported by the next
batch) and the settlement fails; reversed after processed (seen during the reversal watch):
the money returns to available likewise, once, and the settlement fails (settlement.failed,
failure code reversed); unknown / error: the worker retries the same attempt (same key).
Returns {outcome, next: none|check|scheduled|watch|retry}.$$;

-- Settlement RPCs ------------------------------------------------------------------------------------
create function private.list_settlements(
  p_merchant_id uuid, p_status text, p_from timestamptz, p_to timestamptz, p_cursor text,
  p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  m uuid := case when p_merchant_id is null and private.is_admin() then null
    else private.require_merchant(p_merchant_id) end;
  key_mode text := auth.jwt() ->> 'key_mode';
  c record := private.read_cursor(p_cursor);
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  if p_status is not null and p_status not in ('created', 'processing', 'processed', 'failed') then
    raise exception 'status must be created, processing, processed or failed' using errcode = '22023';
  end if;
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  select coalesce(jsonb_agg(private.settlement_view(x) order by x.created_at desc, x.id desc), '[]'),
    count(*)
  into page, n
  from (
    select * from public.settlements as s
    where (m is null or s.merchant_id = m)
      and (key_mode is null or s.mode = key_mode)
      and (p_status is null or s.status = p_status)
      and (p_from is null or s.created_at >= p_from)
      and (p_to is null or s.created_at < p_to)
      and (c.at is null or (s.created_at, s.id) < (c.at, c.id))
    order by s.created_at desc, s.id desc
    limit p_limit
  ) as x;
  if n = p_limit then
    select (e ->> 'created_at')::timestamptz, e ->> 'id' into last_at, last_id
    from jsonb_array_elements(page) with ordinality as t (e, i)
    order by t.i desc limit 1;
  end if;
  return jsonb_build_object(
    'data', page,
    'next_cursor', case when n = p_limit then private.page_cursor(last_at, last_id) end
  );
end
$$;
comment on function private.list_settlements(uuid, text, timestamptz, timestamptz, text, integer) is
$$A page of settlements; see public.list_settlements.$$;

create function public.list_settlements(
  p_merchant_id uuid default null, p_status text default null, p_from timestamptz default null,
  p_to timestamptz default null, p_cursor text default null, p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_settlements(p_merchant_id, p_status, p_from, p_to, p_cursor, p_limit) $$;
comment on function public.list_settlements(uuid, text, timestamptz, timestamptz, text, integer) is
$$Settlement batches, newest first: gross, refunds, fees, tax, adjustments and net (minor
units), counts, payout state and UTR; filters status and created_at range [from, to); keyset
pagination.
Who: the merchant's members and API keys (merchant_id optional for a member of one merchant;
an API key sees its mode's), admins (every merchant's without merchant_id).
Returns: {data: [settlement], next_cursor: text | null}; limit 1..200 (default 50).
Errors: 22023 bad filter, limit or cursor, merchant_id needed; 42501 not a member; P0002
unknown merchant (admins).$$;

create function private.get_settlement(p_settlement_id text) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  s public.settlements;
  key_mode text := auth.jwt() ->> 'key_mode';
begin
  select * into s from public.settlements as x where x.id = p_settlement_id;
  if not found or not (private.is_admin() or private.has_merchant_role(s.merchant_id))
    or (key_mode is not null and s.mode <> key_mode) then
    raise exception 'settlement % does not exist', p_settlement_id using errcode = 'P0002';
  end if;
  return private.settlement_view(s) || jsonb_build_object(
    'lines', coalesce((
      select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
        'kind', l.kind, 'payment_id', l.payment_id, 'refund_id', l.refund_id,
        'adjustment_id', l.adjustment_id, 'gross', l.gross, 'fee', l.fee, 'tax', l.tax,
        'amount', l.amount
      )) order by l.id)
      from public.settlement_lines as l
      where l.settlement_id = s.id
    ), '[]'::jsonb),
    'payouts', coalesce((
      select jsonb_agg(jsonb_build_object(
        'id', p.id, 'attempt', p.attempt_no, 'status', p.status, 'amount', p.amount,
        'provider', p.provider, 'provider_payout_id', p.provider_payout_id, 'utr', p.utr,
        'failure', case when p.failure_code is not null then
          jsonb_build_object('code', p.failure_code, 'message', p.failure_message) end,
        'created_at', p.created_at, 'completed_at', p.completed_at
      ) order by p.attempt_no)
      from public.payouts as p
      where p.settlement_id = s.id
    ), '[]'::jsonb)
  );
end
$$;
comment on function private.get_settlement(text) is
$$One settlement with its lines and payout attempts; see public.get_settlement.$$;

create function public.get_settlement(p_settlement_id text) returns jsonb
language sql stable
set search_path = ''
as $$ select private.get_settlement(p_settlement_id) $$;
comment on function public.get_settlement(text) is
$$One settlement batch with its lines (payments with gross, fee, tax and net; refunds and
adjustments with their signed amounts) and its payout attempts (status, provider id, UTR,
failure); every amount in minor units.
Who: the merchant's members and API keys (an API key: its mode's), admins.
Returns: the settlement {id stl_..., figures, counts, payout, lines: [...], payouts: [...]}.
Errors: P0002 unknown settlement (or not the caller's).$$;

-- Holidays ----------------------------------------------------------------------------------------------
create function private.set_settlement_holiday(p_day text, p_description text) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  h public.settlement_holidays;
  d date;
begin
  perform private.require_admin();
  if p_day is null or p_day !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
    raise exception 'day must be a date, YYYY-MM-DD' using errcode = '22023';
  end if;
  begin
    d := p_day::date;
  exception when others then
    raise exception 'day % is not a date', p_day using errcode = '22023';
  end;
  if d not between date '2000-01-01' and date '2100-12-31' then
    raise exception 'day must be between 2000-01-01 and 2100-12-31' using errcode = '22023';
  end if;
  if p_description is null or char_length(btrim(p_description)) not between 1 and 200 then
    raise exception 'description is required (1 to 200 characters)' using errcode = '22023';
  end if;
  insert into public.settlement_holidays as x (day, description, created_by)
  values (d, btrim(p_description), auth.uid())
  on conflict (day) do update set description = excluded.description
  returning * into h;
  return jsonb_build_object('day', h.day, 'description', h.description);
end
$$;
comment on function private.set_settlement_holiday(text, text) is
$$Admins only: adds or renames a settlement holiday; see public.admin_set_settlement_holiday.$$;

create function public.admin_set_settlement_holiday(p_day text, p_description text) returns jsonb
language sql
set search_path = ''
as $$ select private.set_settlement_holiday(p_day, p_description) $$;
comment on function public.admin_set_settlement_holiday(text, text) is
$$Marks an India day (YYYY-MM-DD) as a bank holiday: no payment matures on it (T+N counts
working days only). Repeating it updates the description. Audited.
Who: platform admins; everyone else 42501.
Returns: {day, description}.
Errors: 22023 day not a date (or outside 2000-01-01..2100-12-31), description missing;
42501 not an admin.$$;

create function private.delete_settlement_holiday(p_day text) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  n integer;
begin
  perform private.require_admin();
  if p_day is null or p_day !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
    raise exception 'day must be a date, YYYY-MM-DD' using errcode = '22023';
  end if;
  delete from public.settlement_holidays as x where x.day = p_day::date;
  get diagnostics n = row_count;
  if n = 0 then
    raise exception '% is not a settlement holiday', p_day using errcode = 'P0002';
  end if;
  return jsonb_build_object('day', p_day, 'deleted', true);
end
$$;
comment on function private.delete_settlement_holiday(text) is
$$Admins only: removes a settlement holiday; see public.admin_delete_settlement_holiday.$$;

create function public.admin_delete_settlement_holiday(p_day text) returns jsonb
language sql
set search_path = ''
as $$ select private.delete_settlement_holiday(p_day) $$;
comment on function public.admin_delete_settlement_holiday(text) is
$$Removes a settlement holiday (the day counts as a working day again unless it is a
weekend). Audited.
Who: platform admins; everyone else 42501.
Returns: {day, deleted: true}.
Errors: 22023 day not a date; P0002 not a holiday; 42501 not an admin.$$;

create function public.list_settlement_holidays(
  p_from date default null, p_to date default null
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
begin
  if p_from is not null and p_to is not null and p_from > p_to then
    raise exception 'from must not be after to' using errcode = '22023';
  end if;
  return (
    select jsonb_build_object(
      'data', coalesce(jsonb_agg(jsonb_build_object('day', h.day, 'description', h.description)
        order by h.day), '[]'::jsonb),
      'next_cursor', null
    )
    from public.settlement_holidays as h
    where (p_from is null or h.day >= p_from) and (p_to is null or h.day <= p_to)
  );
end
$$;
comment on function public.list_settlement_holidays(date, date) is
$$Settlement holidays (India days on which nothing matures) from `from` to `to`, both
inclusive.
Who: every signed-in user and API key (RLS).
Returns: {data: [{day, description}], next_cursor: null}.
Errors: 22023 from after to; 22007 / 22008 from or to not a date; 42501 anon.$$;

-- Reconciliation ------------------------------------------------------------------------------------
create function private.reconcile_ledger(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  checks jsonb := '[]'::jsonb;
  v_examples jsonb;
  v_count integer;
begin
  perform private.require_admin();
  -- 1. every entry balances per currency
  select count(*), coalesce(jsonb_agg(x.entry_id) filter (where x.rn <= 5), '[]')
  into v_count, v_examples
  from (
    select l.entry_id, row_number() over (order by l.entry_id) as rn
    from public.ledger_lines as l
    inner join public.ledger_entries as e on l.entry_id = e.id
    where p_merchant_id is null or e.merchant_id = p_merchant_id
    group by l.entry_id, l.currency
    having sum(case l.direction when 'debit' then l.amount else -l.amount end) <> 0
  ) as x;
  checks := checks || jsonb_build_object('check', 'entries_balance', 'violations', v_count, 'examples', v_examples);
  -- 2. account totals = their lines and pending holds
  select count(*), coalesce(jsonb_agg(x.id) filter (where x.rn <= 5), '[]')
  into v_count, v_examples
  from (
    select a.id, row_number() over (order by a.id) as rn
    from public.ledger_accounts as a
    left join lateral (
      select
        coalesce(sum(l.amount) filter (where l.direction = 'debit'), 0) as d,
        coalesce(sum(l.amount) filter (where l.direction = 'credit'), 0) as c
      from public.ledger_lines as l
      where l.account_id = a.id
    ) as t on true
    left join lateral (
      select
        coalesce(sum(h.amount) filter (where h.debit_account_id = a.id), 0) as dp,
        coalesce(sum(h.amount) filter (where h.credit_account_id = a.id), 0) as cp
      from public.ledger_holds as h
      where h.status = 'pending' and (h.debit_account_id = a.id or h.credit_account_id = a.id)
    ) as p on true
    where (p_merchant_id is null or a.merchant_id = p_merchant_id)
      and (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
      is distinct from (t.d, t.c, p.dp, p.cp)
  ) as x;
  checks := checks || jsonb_build_object('check', 'account_totals', 'violations', v_count, 'examples', v_examples);
  -- 3. strict accounts are not negative
  select count(*), coalesce(jsonb_agg(x.id) filter (where x.rn <= 5), '[]')
  into v_count, v_examples
  from (
    select a.id, row_number() over (order by a.id) as rn
    from public.ledger_accounts as a
    where a.never_negative and private.available_of(a) < 0
      and (p_merchant_id is null or a.merchant_id = p_merchant_id)
  ) as x;
  checks := checks || jsonb_build_object('check', 'never_negative', 'violations', v_count, 'examples', v_examples);
  -- 4. every batch adds up, to its lines and to its formula
  select count(*), coalesce(jsonb_agg(x.id) filter (where x.rn <= 5), '[]')
  into v_count, v_examples
  from (
    select s.id, row_number() over (order by s.id) as rn
    from public.settlements as s
    left join lateral (
      select
        coalesce(sum(l.gross), 0) as gross, coalesce(sum(l.fee), 0) as fee,
        coalesce(sum(l.tax), 0) as tax,
        coalesce(-sum(l.amount) filter (where l.kind = 'refund'), 0) as refunds,
        coalesce(sum(l.amount) filter (where l.kind not in ('payment', 'refund')), 0) as adjustments,
        coalesce(sum(l.amount), 0) as net
      from public.settlement_lines as l
      where l.settlement_id = s.id
    ) as t on true
    where (p_merchant_id is null or s.merchant_id = p_merchant_id)
      and (
        s.net <> s.gross - s.refunds - s.fees - s.tax + s.adjustments
        or (s.gross, s.fees, s.tax, s.refunds, s.adjustments, s.net)
        is distinct from (t.gross, t.fee, t.tax, t.refunds, t.adjustments, t.net)
      )
  ) as x;
  checks := checks || jsonb_build_object('check', 'settlements_add_up', 'violations', v_count, 'examples', v_examples);
  -- 5. what left for the bank is each batch's net; processed batches were paid exactly
  select count(*), coalesce(jsonb_agg(x.id) filter (where x.rn <= 5), '[]')
  into v_count, v_examples
  from (
    select s.id, row_number() over (order by s.id) as rn
    from public.settlements as s
    where (p_merchant_id is null or s.merchant_id = p_merchant_id)
      and (
        (s.net > 0 and coalesce((
          select sum(l.amount) from public.ledger_lines as l
          where l.entry_id = s.payout_entry_id and l.direction = 'credit'
        ), 0) <> s.net)
        or (s.status = 'processed' and s.net > 0 and not exists (
          select 1 from public.payouts as p
          where p.settlement_id = s.id and p.status = 'processed' and p.amount = s.net
        ))
      )
  ) as x;
  checks := checks || jsonb_build_object('check', 'payouts_equal_nets', 'violations', v_count, 'examples', v_examples);
  -- 6. wallets: pending holds the unsettled lots, available exactly the unreported items
  select count(*), coalesce(jsonb_agg(x.id) filter (where x.rn <= 5), '[]')
  into v_count, v_examples
  from (
    select w.id, row_number() over (order by w.id) as rn
    from public.wallets as w
    inner join public.ledger_accounts as pe on w.pending_account_id = pe.id
    inner join public.ledger_accounts as av on w.available_account_id = av.id
    where (p_merchant_id is null or w.merchant_id = p_merchant_id)
      and (
        private.balance_of(pe) <> coalesce((
          select sum(c.net - c.consumed - c.released) from public.payment_credits as c
          where c.wallet_id = w.id
        ), 0)
        or private.balance_of(av) <> coalesce((
          select sum(a.amount) from public.wallet_adjustments as a
          where a.wallet_id = w.id and a.account = 'available' and a.settlement_id is null
        ), 0) - coalesce((
          select sum(d.amount) from private.refund_draws as d
          where d.wallet_id = w.id and d.account = 'available' and d.status = 'posted'
            and d.settlement_id is null
        ), 0)
      )
  ) as x;
  checks := checks || jsonb_build_object('check', 'wallets_hold_their_items', 'violations', v_count, 'examples', v_examples);
  return jsonb_build_object(
    'object', 'ledger_reconciliation', 'checked_at', now(), 'merchant_id', p_merchant_id,
    'ok', not exists (
      select 1 from jsonb_array_elements(checks) as c
      where (c ->> 'violations')::integer > 0
    ),
    'checks', checks
  );
end
$$;
comment on function private.reconcile_ledger(uuid) is
$$Admins only: the ledger's invariants checked now; see public.admin_reconcile_ledger.$$;

create function public.admin_reconcile_ledger(p_merchant_id uuid default null) returns jsonb
language sql stable
set search_path = ''
as $$ select private.reconcile_ledger(p_merchant_id) $$;
comment on function public.admin_reconcile_ledger(uuid) is
$$Reconciles the ledger (for one merchant, or all): entries balance per currency; account
totals equal their lines and pending holds; strict accounts are not negative; every
settlement's net = gross - refunds - fees - tax + adjustments and equals its lines; payouts
equal nets; each wallet's pending equals its unsettled lots and its available exactly the
items no batch reported yet.
Who: platform admins; everyone else 42501.
Returns: {object ledger_reconciliation, ok, checked_at, merchant_id, checks: [{check,
violations, examples (up to 5 ids)}]}.
Errors: 42501 not an admin.$$;

-- Policies and grants ---------------------------------------------------------------------------------
create policy settlement_holidays_read on public.settlement_holidays
for select to authenticated using (true);
create policy merchant_bank_accounts_read on public.merchant_bank_accounts
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy settlements_read on public.settlements
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy settlement_lines_read on public.settlement_lines
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy payouts_read on public.payouts
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));

revoke all on public.settlement_holidays, public.merchant_bank_accounts, public.settlements,
public.settlement_lines, public.payouts from public, anon, authenticated;
revoke all on private.payout_accounts from public, anon, authenticated;
grant select on public.settlement_holidays, public.merchant_bank_accounts, public.settlements,
public.settlement_lines, public.payouts to authenticated;
grant select, insert, update on public.settlement_holidays, public.merchant_bank_accounts,
public.settlements, public.settlement_lines, public.payouts, private.payout_accounts to service_role;
grant delete on public.settlement_holidays to service_role;

grant execute on function private.get_bank_account(uuid) to authenticated, service_role;
grant execute on function private.set_bank_account(uuid, text, text, text, text)
to authenticated, service_role;
grant execute on function private.set_payout_account(text, text, jsonb) to authenticated, service_role;
grant execute on function private.list_settlements(uuid, text, timestamptz, timestamptz, text, integer)
to authenticated, service_role;
grant execute on function private.get_settlement(text) to authenticated, service_role;
grant execute on function private.set_settlement_holiday(text, text) to authenticated, service_role;
grant execute on function private.delete_settlement_holiday(text) to authenticated, service_role;
grant execute on function private.reconcile_ledger(uuid) to authenticated, service_role;
grant execute on function private.create_settlement(uuid) to service_role;
grant execute on function private.enqueue_settlements() to service_role;
grant execute on function private.payout_next(text) to service_role;
grant execute on function private.record_payout_result(text, jsonb) to service_role;
revoke all on function public.merchant_get_bank_account(uuid) from public, anon;
revoke all on function public.merchant_set_bank_account(text, text, text, uuid, text) from public, anon;
revoke all on function public.admin_set_payout_account(text, text, jsonb) from public, anon;
revoke all on function public.list_settlements(uuid, text, timestamptz, timestamptz, text, integer)
from public, anon;
revoke all on function public.get_settlement(text) from public, anon;
revoke all on function public.admin_set_settlement_holiday(text, text) from public, anon;
revoke all on function public.admin_delete_settlement_holiday(text) from public, anon;
revoke all on function public.list_settlement_holidays(date, date) from public, anon;
revoke all on function public.admin_reconcile_ledger(uuid) from public, anon;
grant execute on function public.merchant_get_bank_account(uuid) to authenticated, service_role;
grant execute on function public.merchant_set_bank_account(text, text, text, uuid, text)
to authenticated, service_role;
grant execute on function public.admin_set_payout_account(text, text, jsonb) to authenticated, service_role;
grant execute on function public.list_settlements(uuid, text, timestamptz, timestamptz, text, integer)
to authenticated, service_role;
grant execute on function public.get_settlement(text) to authenticated, service_role;
grant execute on function public.admin_set_settlement_holiday(text, text) to authenticated, service_role;
grant execute on function public.admin_delete_settlement_holiday(text) to authenticated, service_role;
grant execute on function public.list_settlement_holidays(date, date) to authenticated, service_role;
grant execute on function public.admin_reconcile_ledger(uuid) to authenticated, service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
