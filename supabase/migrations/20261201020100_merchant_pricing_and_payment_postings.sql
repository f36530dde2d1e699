-- What payments and refunds do to the ledger, and what the platform charges for them.
--
-- * public.merchant_pricing: per merchant, the MDR per method (basis points plus a fixed
--   part in minor units), the merchant's GST state and settlement delay; admins set it.
--   Without a row (or a method), fees.default_rate applies (0: pricing is contractual, so
--   nothing is charged until an admin sets it).
-- * A payment that succeeds (late successes included: the status trigger fires on the move
--   into succeeded, whatever came before, and posts once by key payment:<id>) books: debit
--   the gateway's provider clearing account the gross, credit the merchant's pending account
--   the net, the gateway's fee revenue the fee and its GST payable the tax. Fee = round half
--   up(gross x bps / 10000) + fixed; GST = round half up(fee x 18%) (fees.gst_bps), recorded
--   as IGST when the merchant's state differs from the platform's (or is unknown), else as
--   CGST + SGST (half each, CGST rounded half up, SGST the rest). public.payment_credits
--   keeps each payment's gross, fee, tax and net: the settlement works on these lots.
-- * Fee policy on refunds, as Indian gateways do: the MDR and its GST are not returned. A
--   refund takes its whole amount from the merchant: first the pending money (the payment's
--   own lot, then the oldest others), then available. Creating a refund places holds for it
--   (HTTP 409 insufficient_balance when pending + available cannot cover it: nothing is
--   created); the refund's success posts them to the provider clearing account, its failure
--   voids them. Sources: "the transaction fee and GST levied by Razorpay at the time of
--   payment capture will not be reversed" (https://razorpay.com/docs/payment-gateway/refunds/)
--   and "fees and taxes charged for a captured payment are not reversed"
--   (https://razorpay.com/docs/payments/refunds/faqs).

insert into private.settings (key, value, description) values
(
  'fees.default_rate', '{"percent_bps": 0, "fixed": 0}',
  'MDR for a merchant or method without pricing: basis points of the gross plus a fixed part in minor units'
),
(
  'fees.gst_bps', '1800',
  'GST on the platform''s fee, in basis points (18%)'
),
(
  'fees.platform_state', '"KA"',
  'the platform''s GST registration state (ISO 3166-2:IN code): same state as the merchant = CGST + SGST, else IGST'
)
on conflict (key) do nothing;

-- Pricing ---------------------------------------------------------------------------------------
create table public.merchant_pricing (
  merchant_id uuid primary key references public.merchants (id),
  rates jsonb not null default '{}'::jsonb check (jsonb_typeof(rates) = 'object'),
  state_code text check (state_code ~ '^[A-Z]{2}$'),
  settlement_delay_days integer check (settlement_delay_days between 0 and 30),
  updated_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.merchant_pricing enable row level security;
create trigger merchant_pricing_touch before update on public.merchant_pricing
for each row execute function private.touch_updated_at();
create trigger audit_merchant_pricing after insert or update or delete on public.merchant_pricing
for each row execute function audit.record_change('merchant_id');
comment on table public.merchant_pricing is
$$A merchant's pricing: MDR per payment method (rates {method: {percent_bps, fixed}}, fixed
in minor units of the payment's currency), the merchant's GST state (ISO 3166-2:IN, decides
IGST or CGST + SGST) and settlement delay in working days (null: the platform's). Written by
admin_set_merchant_pricing (admins), audited. Read (RLS): admins and the merchant's members.$$;
comment on column public.merchant_pricing.rates is
$${upi|card|netbanking|wallet: {percent_bps 0..10000, fixed minor units >= 0}}; a method
missing here pays fees.default_rate.$$;

-- The lots: what each succeeded payment put into the merchant's pending account ------------------
create table public.payment_credits (
  payment_id text primary key references public.payments (id),
  merchant_id uuid not null references public.merchants (id),
  wallet_id uuid not null references public.wallets (id),
  gateway_id uuid references public.gateways (id),
  currency text not null references public.currencies (code),
  mode text not null check (mode in ('test', 'live')),
  method text not null,
  gross bigint not null check (gross > 0),
  fee bigint not null check (fee >= 0),
  tax bigint not null check (tax >= 0),
  net bigint not null,
  tax_kind text not null check (tax_kind in ('igst', 'cgst_sgst')),
  igst bigint not null default 0,
  cgst bigint not null default 0,
  sgst bigint not null default 0,
  percent_bps integer not null,
  fixed_fee bigint not null,
  entry_id bigint not null references public.ledger_entries (id),
  succeeded_at timestamptz not null,
  consumed bigint not null default 0 check (consumed >= 0),
  reserved bigint not null default 0 check (reserved >= 0),
  released bigint not null default 0 check (released >= 0),
  settlement_id text,
  created_at timestamptz not null default now(),
  constraint payment_credits_net check (net = gross - fee - tax and net >= 0),
  constraint payment_credits_tax_split check (igst + cgst + sgst = tax),
  constraint payment_credits_within_net check (consumed + reserved + released <= net)
);
alter table public.payment_credits enable row level security;
create index payment_credits_unsettled_idx on public.payment_credits (wallet_id, succeeded_at)
where settlement_id is null;
create index payment_credits_merchant_idx on public.payment_credits (merchant_id, succeeded_at desc);
comment on table public.payment_credits is
$$One per succeeded payment: gross, the platform's fee and its GST (IGST or CGST + SGST), and
the net credited to the merchant's pending account, with the pricing applied; then how much
of the net refunds took (consumed), hold (reserved) and the settlement moved to available
(released). Who reads (RLS): admins; the merchant's members and API keys. Written by the
payment status trigger and the refund and settlement functions only.$$;
comment on column public.payment_credits.gross is $$Captured amount, minor units.$$;
comment on column public.payment_credits.fee is
$$The platform's MDR on the payment (before tax), minor units.$$;
comment on column public.payment_credits.tax is $$GST on the fee (18%), minor units.$$;
comment on column public.payment_credits.net is
$$gross - fee - tax, credited to the merchant's pending account, minor units.$$;
comment on column public.payment_credits.consumed is
$$Minor units of the net taken by succeeded refunds while pending.$$;
comment on column public.payment_credits.reserved is
$$Minor units of the net held by refunds still in flight.$$;
comment on column public.payment_credits.released is
$$Minor units of the net the settlement moved to available.$$;

create function private.guard_payment_credit() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (to_jsonb(new) - '{consumed,reserved,released,settlement_id}'::text [])
    <> (to_jsonb(old) - '{consumed,reserved,released,settlement_id}'::text [])
    or (old.settlement_id is not null and new.settlement_id is distinct from old.settlement_id) then
    raise exception 'a payment credit''s amounts never change (only what refunds and the settlement took)'
      using errcode = '42501';
  end if;
  return new;
end
$$;
comment on function private.guard_payment_credit() is
$$Trigger: a payment credit's amounts and pricing never change; only consumed, reserved,
released and (once) settlement_id move (42501 otherwise).$$;
create trigger payment_credits_guard before update on public.payment_credits
for each row execute function private.guard_payment_credit();
create trigger payment_credits_no_delete before delete on public.payment_credits
for each row execute function private.refuse_change();

-- What each refund takes, from where, under which hold -------------------------------------------
create table private.refund_draws (
  id bigint primary key generated always as identity,
  refund_id text not null references public.refunds (id),
  merchant_id uuid not null references public.merchants (id),
  wallet_id uuid not null references public.wallets (id),
  payment_id text references public.payment_credits (payment_id),
  account text not null check (account in ('pending', 'available', 'uncovered')),
  amount bigint not null check (amount > 0),
  hold_id bigint references public.ledger_holds (id),
  status text not null default 'pending' check (status in ('pending', 'posted', 'voided')),
  settlement_id text,
  created_at timestamptz not null default now(),
  constraint refund_draws_lot_is_pending check ((payment_id is not null) = (account = 'pending'))
);
alter table private.refund_draws enable row level security;
create index refund_draws_refund_idx on private.refund_draws (refund_id);
create index refund_draws_unsettled_idx on private.refund_draws (wallet_id)
where settlement_id is null and status = 'posted';
comment on table private.refund_draws is
$$What a refund takes from the merchant: from a payment's pending lot (payment_id), from
available, or (refunds recorded before the ledger, which had no hold) what neither could
cover and the platform absorbed (uncovered); the hold it sits under until the refund
succeeds (posted) or fails (voided); the settlement that reported it. Written by the refund
triggers; read through settlements. No client role reads it.$$;
comment on column private.refund_draws.amount is $$Minor units of the refund's currency.$$;

-- Fees ------------------------------------------------------------------------------------------------
create function private.round_half_up(p_numerator numeric, p_denominator numeric) returns bigint
language sql immutable
set search_path = ''
as $$ select floor(p_numerator / p_denominator + 0.5)::bigint $$;
comment on function private.round_half_up(numeric, numeric) is
$$p_numerator / p_denominator rounded half up to a whole number (minor units), exactly.$$;

create function private.payment_charges(
  p_merchant_id uuid, p_method text, p_gross bigint,
  out fee bigint, out tax bigint, out tax_kind text, out igst bigint, out cgst bigint,
  out sgst bigint, out percent_bps integer, out fixed_fee bigint
) returns record
language plpgsql stable security definer
set search_path = ''
as $$
declare
  pricing public.merchant_pricing;
  rate jsonb;
  gst_bps integer := (private.setting('fees.gst_bps'))::integer;
begin
  select * into pricing from public.merchant_pricing as x where x.merchant_id = p_merchant_id;
  rate := coalesce(pricing.rates -> p_method, private.setting('fees.default_rate'));
  percent_bps := coalesce((rate ->> 'percent_bps')::integer, 0);
  fixed_fee := coalesce((rate ->> 'fixed')::bigint, 0);
  fee := private.round_half_up(p_gross::numeric * percent_bps, 10000) + fixed_fee;
  tax := private.round_half_up(fee::numeric * gst_bps, 10000);
  -- A fee (and its tax) never exceeds the payment itself.
  while fee > 0 and fee + tax > p_gross loop
    fee := least(fee - 1, floor(p_gross::numeric * 10000 / (10000 + gst_bps))::bigint);
    tax := private.round_half_up(fee::numeric * gst_bps, 10000);
  end loop;
  if pricing.state_code is not null
    and pricing.state_code = private.setting('fees.platform_state') #>> '{}' then
    tax_kind := 'cgst_sgst';
    cgst := private.round_half_up(tax, 2);
    sgst := tax - cgst;
    igst := 0;
  else
    tax_kind := 'igst';
    igst := tax;
    cgst := 0;
    sgst := 0;
  end if;
end
$$;
comment on function private.payment_charges(uuid, text, bigint) is
$$The platform's charges on a payment of p_gross minor units by p_method: fee = round half
up(gross x percent_bps / 10000) + fixed (the merchant's rate, else fees.default_rate), tax =
round half up(fee x fees.gst_bps / 10000), both capped so fee + tax <= gross; IGST, or CGST +
SGST (CGST = tax / 2 rounded half up) when the merchant's state is the platform's.$$;

-- A payment's success, once --------------------------------------------------------------------------
create function private.post_payment() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  w public.wallets;
  c record;
  gross bigint;
  net bigint;
  posted jsonb;
  v_lines jsonb;
begin
  if new.status <> 'succeeded' or old.status in ('succeeded', 'partially_refunded', 'refunded') then
    return null;
  end if;
  if exists (select 1 from public.payment_credits as x where x.payment_id = new.id) then
    return null;
  end if;
  w := private.wallet_for(new.merchant_id, new.currency, new.mode);
  gross := case when new.amount_captured > 0 then new.amount_captured else new.amount end;
  select * into c from private.payment_charges(new.merchant_id, new.method, gross);
  net := gross - c.fee - c.tax;
  select jsonb_agg(x) into v_lines
  from jsonb_array_elements(jsonb_build_array(
    jsonb_build_object(
      'account_id', private.ledger_account('provider_clearing', new.currency, new.mode, new.gateway_id),
      'direction', 'debit', 'amount', gross
    ),
    jsonb_build_object('account_id', w.pending_account_id, 'direction', 'credit', 'amount', net),
    jsonb_build_object(
      'account_id', private.ledger_account('fee_revenue', new.currency, new.mode, new.gateway_id),
      'direction', 'credit', 'amount', c.fee
    ),
    jsonb_build_object(
      'account_id', private.ledger_account('gst_payable', new.currency, new.mode, new.gateway_id),
      'direction', 'credit', 'amount', c.tax
    )
  )) as x
  where (x ->> 'amount')::bigint > 0;
  posted := private.ledger_post(
    'payment:' || new.id, 'payment', v_lines,
    jsonb_build_object(
      'merchant_id', new.merchant_id, 'wallet_id', w.id, 'reference_type', 'payment',
      'reference_id', new.id,
      'description', format('payment %s by %s', new.id, new.method),
      'metadata', jsonb_build_object(
        'gross', gross, 'fee', c.fee, 'tax', c.tax, 'tax_kind', c.tax_kind, 'igst', c.igst,
        'cgst', c.cgst, 'sgst', c.sgst, 'percent_bps', c.percent_bps, 'fixed_fee', c.fixed_fee
      )
    )
  );
  insert into public.payment_credits (
    payment_id, merchant_id, wallet_id, gateway_id, currency, mode, method, gross, fee, tax, net,
    tax_kind, igst, cgst, sgst, percent_bps, fixed_fee, entry_id, succeeded_at
  ) values (
    new.id, new.merchant_id, w.id, new.gateway_id, new.currency, new.mode, new.method, gross,
    c.fee, c.tax, net, c.tax_kind, c.igst, c.cgst, c.sgst, c.percent_bps, c.fixed_fee,
    (posted ->> 'entry_id')::bigint, coalesce(new.completed_at, now())
  );
  return null;
end
$$;
comment on function private.post_payment() is
$$Trigger: a payment's move into succeeded (a late success after a failure, expiry or cancel
included) posts it once (key payment:<id>): gross from provider clearing, net to the
merchant's pending account, fee and GST to the gateway's revenue and tax accounts; and
records its lot in payment_credits.$$;
create trigger payments_ledger after update of status on public.payments
for each row execute function private.post_payment();

-- Refunds: held at creation, posted on success, voided on failure -----------------------------------
-- draw_refund decides where a refund's money comes from, under the wallet's lock: the
-- payment's own pending lot, the other pending lots oldest first, then available.
create function private.draw_refund(
  r public.refunds, w public.wallets, p_hold boolean
) returns bigint
language plpgsql security definer
set search_path = ''
as $$
declare
  remaining bigint := r.amount;
  lot record;
  take bigint;
  from_pending bigint := 0;
  available bigint;
  clearing uuid;
  h public.ledger_holds;
  meta jsonb := jsonb_build_object(
    'merchant_id', r.merchant_id, 'wallet_id', w.id, 'reference_type', 'refund', 'reference_id', r.id
  );
begin
  for lot in
    select x.payment_id, x.net - x.consumed - x.reserved - x.released as free
    from public.payment_credits as x
    where x.wallet_id = w.id and x.settlement_id is null
      and x.net - x.consumed - x.reserved - x.released > 0
    order by (x.payment_id = r.payment_id) desc, x.succeeded_at, x.payment_id
    for update
  loop
    exit when remaining = 0;
    take := least(remaining, lot.free);
    update public.payment_credits as x set reserved = x.reserved + take
    where x.payment_id = lot.payment_id;
    insert into private.refund_draws (refund_id, merchant_id, wallet_id, payment_id, account, amount)
    values (r.id, r.merchant_id, w.id, lot.payment_id, 'pending', take);
    remaining := remaining - take;
    from_pending := from_pending + take;
  end loop;
  if remaining > 0 then
    select private.available_of(a) into available from public.ledger_accounts as a
    where a.id = w.available_account_id;
    if available >= remaining or p_hold then
      if available < remaining then
        perform private.raise_http(
          409, 'insufficient_balance',
          format(
            'the merchant''s balance cannot cover this refund: %s pending and %s available (%s %s), %s needed',
            from_pending, greatest(available, 0), w.currency, w.mode, r.amount
          )
        );
      end if;
      insert into private.refund_draws (refund_id, merchant_id, wallet_id, account, amount)
      values (r.id, r.merchant_id, w.id, 'available', remaining);
    else
      -- Only refunds that had no hold (recorded before the ledger) get here: what neither
      -- pending nor available covers is absorbed by the platform, recorded as uncovered.
      if available > 0 then
        insert into private.refund_draws (refund_id, merchant_id, wallet_id, account, amount)
        values (r.id, r.merchant_id, w.id, 'available', available);
      end if;
      insert into private.refund_draws (refund_id, merchant_id, wallet_id, account, amount)
      values (r.id, r.merchant_id, w.id, 'uncovered', remaining - greatest(available, 0));
    end if;
  end if;
  clearing := private.ledger_account('provider_clearing', r.currency, w.mode, r.gateway_id);
  -- One hold per account drawn on; pending holds until the refund completes.
  for lot in
    select d.account, sum(d.amount)::bigint as amount from private.refund_draws as d
    where d.refund_id = r.id and d.hold_id is null and d.status = 'pending'
    group by d.account
  loop
    h := private.ledger_hold(
      'refund:' || r.id || ':' || lot.account, 'refund',
      case lot.account
        when 'pending' then w.pending_account_id
        when 'available' then w.available_account_id
        else private.ledger_account('platform_adjustments', r.currency, w.mode)
      end,
      clearing, lot.amount, null, meta
    );
    update private.refund_draws as d set hold_id = h.id
    where d.refund_id = r.id and d.account = lot.account and d.hold_id is null;
  end loop;
  return from_pending;
end
$$;
comment on function private.draw_refund(public.refunds, public.wallets, boolean) is
$$Under the wallet's lock: reserves a refund's amount on the merchant's pending lots (its
own payment's first, then oldest) and then available, and places one hold per account
(HTTP 409 insufficient_balance when they cannot cover it and p_hold); without p_hold (a
refund that had none) what is not covered is absorbed by platform adjustments. Returns the
part drawn from pending.$$;

create function private.hold_refund() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  p public.payments;
  w public.wallets;
begin
  select * into p from public.payments as x where x.id = new.payment_id;
  -- create_refund refunds succeeded payments only; anything else is not money to hold.
  if new.status <> 'pending' or p.status not in ('succeeded', 'partially_refunded') then
    return null;
  end if;
  w := private.wallet_for(p.merchant_id, p.currency, p.mode);
  perform 1 from public.wallets as x where x.id = w.id for update;
  perform private.draw_refund(new, w, true);
  return null;
end
$$;
comment on function private.hold_refund() is
$$Trigger: a new pending refund of a succeeded payment holds its amount on the merchant's
pending lots, then available (private.draw_refund); HTTP 409 insufficient_balance refuses the
refund when the merchant's balance cannot cover it (fees are not returned on refunds).$$;
create trigger refunds_hold after insert on public.refunds
for each row execute function private.hold_refund();

create function private.settle_refund() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  p public.payments;
  w public.wallets;
  d record;
begin
  if new.status = old.status or new.status not in ('succeeded', 'failed') then
    return null;
  end if;
  select * into p from public.payments as x where x.id = new.payment_id;
  w := private.wallet_for(p.merchant_id, p.currency, p.mode);
  perform 1 from public.wallets as x where x.id = w.id for update;
  if new.status = 'succeeded' and not exists (
    select 1 from private.refund_draws as x
    where x.refund_id = new.id
  ) then
    perform private.draw_refund(new, w, false);
  end if;
  for d in
    select distinct x.hold_id from private.refund_draws as x
    where x.refund_id = new.id and x.status = 'pending'
  loop
    if new.status = 'succeeded' then
      perform private.ledger_hold_post(d.hold_id);
    else
      perform private.ledger_hold_void(d.hold_id);
    end if;
  end loop;
  update public.payment_credits as c set
    reserved = c.reserved - x.amount,
    consumed = c.consumed + case when new.status = 'succeeded' then x.amount else 0 end
  from (
    select y.payment_id, sum(y.amount) as amount from private.refund_draws as y
    where y.refund_id = new.id and y.status = 'pending' and y.payment_id is not null
    group by y.payment_id
  ) as x
  where c.payment_id = x.payment_id;
  update private.refund_draws as x
  set status = case when new.status = 'succeeded' then 'posted' else 'voided' end
  where x.refund_id = new.id and x.status = 'pending';
  return null;
end
$$;
comment on function private.settle_refund() is
$$Trigger: a refund that succeeds posts its holds to the provider clearing account (a refund
that had none draws now, and what the merchant cannot cover is absorbed by the platform);
one that fails voids them, giving the money back where it came from.$$;
create trigger refunds_ledger after update of status on public.refunds
for each row execute function private.settle_refund();

-- Pricing RPCs ---------------------------------------------------------------------------------------
create function private.pricing_view(p_merchant_id uuid) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'object', 'merchant_pricing', 'merchant_id', m.id,
    'rates', (
      select jsonb_object_agg(
        k.method,
        coalesce(x.rates -> k.method, private.setting('fees.default_rate'))
        || jsonb_build_object('default', x.rates -> k.method is null)
      )
      from unnest(array['upi', 'card', 'netbanking', 'wallet']) as k (method)
    ),
    'state', x.state_code, 'platform_state', private.setting('fees.platform_state'),
    'tax', case when x.state_code = private.setting('fees.platform_state') #>> '{}'
      then 'cgst_sgst' else 'igst' end,
    'gst_bps', private.setting('fees.gst_bps'),
    'settlement_delay_days', x.settlement_delay_days,
    'updated_at', x.updated_at
  )
  from public.merchants as m
  left join public.merchant_pricing as x on m.id = x.merchant_id
  where m.id = p_merchant_id
$$;
comment on function private.pricing_view(uuid) is
$$A merchant's effective pricing (defaults filled in and flagged) as the API shows it.$$;

create function private.get_merchant_pricing(p_merchant_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  perform private.require_admin();
  if not exists (select 1 from public.merchants as x where x.id = p_merchant_id) then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  return private.pricing_view(p_merchant_id);
end
$$;
comment on function private.get_merchant_pricing(uuid) is
$$Admins only: a merchant's effective pricing; see public.admin_get_merchant_pricing.$$;

create function public.admin_get_merchant_pricing(p_merchant_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$ select private.get_merchant_pricing(p_merchant_id) $$;
comment on function public.admin_get_merchant_pricing(uuid) is
$$A merchant's pricing as it applies now: MDR per method {percent_bps, fixed (minor units),
default (true when the platform's default applies)}, the merchant's GST state, the platform's,
which tax applies (igst or cgst_sgst), GST in basis points, the settlement delay in working
days (null: the platform's).
Who: platform admins; everyone else 42501.
Returns: {object merchant_pricing, merchant_id, rates, state, platform_state, tax, gst_bps,
settlement_delay_days, updated_at}.
Errors: P0002 unknown merchant; 42501 not an admin.$$;

create function private.set_merchant_pricing(p_merchant_id uuid, p_pricing jsonb) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  bad text;
  v_rates jsonb := coalesce(p_pricing -> 'rates', '{}'::jsonb);
begin
  perform private.require_admin();
  if p_pricing is null or jsonb_typeof(p_pricing) <> 'object' or exists (
    select 1 from jsonb_object_keys(p_pricing) as k
    where k not in ('rates', 'state', 'settlement_delay_days')
  ) then
    raise exception 'pricing is {rates, state, settlement_delay_days}' using errcode = '22023';
  end if;
  -- PUT replaces the whole record: every field is named (state and settlement_delay_days may
  -- be null), so a partial body never resets the rest.
  if not p_pricing ? 'rates' then
    raise exception 'rates is required (PUT replaces the whole pricing; {} for the platform defaults)'
      using errcode = '22023';
  end if;
  if not p_pricing ? 'state' then
    raise exception 'state is required (PUT replaces the whole pricing; null when unknown)'
      using errcode = '22023';
  end if;
  if not p_pricing ? 'settlement_delay_days' then
    raise exception 'settlement_delay_days is required (PUT replaces the whole pricing; null for the platform''s)'
      using errcode = '22023';
  end if;
  if jsonb_typeof(v_rates) <> 'object' then
    raise exception 'rates must be an object {method: {percent_bps, fixed}}' using errcode = '22023';
  end if;
  select string_agg(r.key, ', ') into bad
  from jsonb_each(v_rates) as r
  where r.key not in ('upi', 'card', 'netbanking', 'wallet')
    or jsonb_typeof(r.value) <> 'object'
    or exists (
      select 1 from jsonb_object_keys(r.value) as k
      where k not in ('percent_bps', 'fixed')
    )
    or coalesce(r.value ->> 'percent_bps', '') !~ '^[0-9]{1,5}$'
    or coalesce(r.value ->> 'fixed', '') !~ '^[0-9]{1,12}$'
    or case when coalesce(r.value ->> 'percent_bps', '') ~ '^[0-9]{1,5}$'
      then (r.value ->> 'percent_bps')::integer > 10000 else true end;
  if bad is not null then
    raise exception 'bad rates for %: each method (upi, card, netbanking, wallet) takes {percent_bps 0..10000, fixed minor units >= 0}, integers',
      bad using errcode = '22023';
  end if;
  -- The states and union territories of India by their ISO 3166-2:IN codes
  -- (as listed after the ISO 3166/MA's 2023 changes:
  -- https://handwiki.org/wiki/ISO_3166-2:IN), with the earlier codes still on many GST
  -- records (CT, OR, TG, UT, DD, DN) accepted too.
  if p_pricing ? 'state' and jsonb_typeof(p_pricing -> 'state') <> 'null'
    and coalesce(p_pricing ->> 'state', '') not in (
      'AP', 'AR', 'AS', 'BR', 'CG', 'GA', 'GJ', 'HR', 'HP', 'JH', 'KA', 'KL', 'MP', 'MH', 'MN',
      'ML', 'MZ', 'NL', 'OD', 'PB', 'RJ', 'SK', 'TN', 'TS', 'TR', 'UP', 'UK', 'WB',
      'AN', 'CH', 'DH', 'DL', 'JK', 'LA', 'LD', 'PY',
      'CT', 'OR', 'TG', 'UT', 'DD', 'DN'
    ) then
    raise exception 'state must be the ISO 3166-2:IN code of an Indian state or union territory, such as KA, MH or DL'
      using errcode = '22023';
  end if;
  if p_pricing ? 'settlement_delay_days' and jsonb_typeof(p_pricing -> 'settlement_delay_days') <> 'null'
    and coalesce(p_pricing ->> 'settlement_delay_days', '') !~ '^([0-9]|[12][0-9]|30)$' then
    raise exception 'settlement_delay_days must be a whole number of working days, 0 to 30'
      using errcode = '22023';
  end if;
  if not exists (select 1 from public.merchants as x where x.id = p_merchant_id) then
    raise exception 'merchant % does not exist', p_merchant_id using errcode = 'P0002';
  end if;
  insert into public.merchant_pricing as x (
    merchant_id, rates, state_code, settlement_delay_days, updated_by
  ) values (
    p_merchant_id, v_rates, p_pricing ->> 'state',
    (p_pricing ->> 'settlement_delay_days')::integer, auth.uid()
  )
  on conflict (merchant_id) do update set
    rates = excluded.rates, state_code = excluded.state_code,
    settlement_delay_days = excluded.settlement_delay_days, updated_by = excluded.updated_by;
  return private.pricing_view(p_merchant_id);
end
$$;
comment on function private.set_merchant_pricing(uuid, jsonb) is
$$Admins only: replaces a merchant's pricing; see public.admin_set_merchant_pricing.$$;

create function public.admin_set_merchant_pricing(p_merchant_id uuid, p_pricing jsonb) returns jsonb
language sql
set search_path = ''
as $$ select private.set_merchant_pricing(p_merchant_id, p_pricing) $$;
comment on function public.admin_set_merchant_pricing(uuid, jsonb) is
$$Replaces a merchant's pricing (PUT: the whole record; rates, state and
settlement_delay_days are all required, state and delay may be null): rates {upi|card|netbanking|wallet: {percent_bps
0..10000, fixed minor units}} (methods left out pay the platform default), state (ISO
3166-2:IN code of the merchant's GST registration: the platform's state means CGST + SGST,
any other IGST), settlement_delay_days (0..30 working days; null: the platform's). Applies to
payments that succeed from now on. Audited.
Who: platform admins; everyone else 42501.
Returns: the effective pricing, as admin_get_merchant_pricing.
Errors: 22023 a field missing, unknown field or method, rate not an integer in range, state
not an Indian state or union territory code, bad delay;
P0002 unknown merchant; 42501 not an admin.$$;

-- Policies and grants ----------------------------------------------------------------------------------
create policy merchant_pricing_read on public.merchant_pricing
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));
create policy payment_credits_read on public.payment_credits
for select to authenticated
using ((select private.is_admin()) or merchant_id in (select private.member_merchant_ids()));

revoke all on public.merchant_pricing, public.payment_credits from public, anon, authenticated;
revoke all on private.refund_draws from public, anon, authenticated;
grant select on public.merchant_pricing, public.payment_credits to authenticated;
grant select, insert, update on public.merchant_pricing, public.payment_credits,
private.refund_draws to service_role;

grant execute on function private.get_merchant_pricing(uuid) to authenticated, service_role;
grant execute on function private.set_merchant_pricing(uuid, jsonb) to authenticated, service_role;
grant execute on function private.payment_charges(uuid, text, bigint) to service_role;
revoke all on function public.admin_get_merchant_pricing(uuid) from public, anon;
revoke all on function public.admin_set_merchant_pricing(uuid, jsonb) from public, anon;
grant execute on function public.admin_get_merchant_pricing(uuid) to authenticated, service_role;
grant execute on function public.admin_set_merchant_pricing(uuid, jsonb)
to authenticated, service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
