-- Provider settlements: what each gateway actually paid us, matched to the payments and
-- refunds it covers, clearing the gateway's provider clearing account.
--
-- The settlement worker fetches each gateway's settlement report (Razorpay's settlement recon
-- API, the sandbox's own report; pg_cron lsp-provider-reports queues the last two days every
-- morning) and hands it here, normalised: {settlement_id, utr, settled_at, currency, items:
-- [{type payment|refund|adjustment, entity_id (the provider's id), reference (ours, as the
-- provider echoes it), amount, fee (without tax), tax}]}. Each item is matched to one of our
-- attempts' payments or refunds on that gateway (by the provider's id or our reference) and
-- checked: succeeded, same amount, not settled by the provider before. Matched items clear
-- the gateway's provider clearing account; anything else goes to its provider suspense
-- account and is reported (public.provider_settlement_lines with the reason; an alert once
-- the realtime issue lands). The entry: debit platform bank the net received, debit provider
-- fees the provider's fee and tax, credit clearing / suspense the gross (refunds the other
-- way). A report is ingested once per gateway and provider settlement id.

create table public.provider_settlements (
  id uuid primary key default gen_random_uuid(),
  gateway_id uuid not null references public.gateways (id),
  provider text not null,
  provider_settlement_id text not null check (char_length(provider_settlement_id) between 1 and 100),
  mode text not null check (mode in ('test', 'live')),
  currency text not null references public.currencies (code),
  amount bigint not null,
  fees bigint not null,
  tax bigint not null,
  utr text check (char_length(utr) <= 100),
  settled_at timestamptz,
  status text not null check (status in ('matched', 'mismatched')),
  lines_count integer not null,
  unmatched_count integer not null,
  created_at timestamptz not null default now(),
  constraint provider_settlements_unique unique (gateway_id, provider_settlement_id)
);
alter table public.provider_settlements enable row level security;
create index provider_settlements_list_idx on public.provider_settlements (created_at desc, id);
create trigger provider_settlements_append_only before update or delete on public.provider_settlements
for each row execute function private.refuse_change();
comment on table public.provider_settlements is
$$A settlement a gateway's provider paid us (its report), ingested once: net amount received,
the provider's fees and tax (minor units), UTR, and whether every line matched one of our
succeeded payments or refunds (matched) or not (mismatched: see its lines). Who reads (RLS):
platform admins only. Written by the settlement worker (private.ingest_provider_settlement).$$;
comment on column public.provider_settlements.amount is
$$Net minor units the provider paid into the platform's bank account.$$;
comment on column public.provider_settlements.fees is
$$The provider's fees on the settlement, without tax, minor units.$$;
comment on column public.provider_settlements.tax is $$Tax on those fees, minor units.$$;

create table public.provider_settlement_lines (
  id bigint primary key generated always as identity,
  provider_settlement_id uuid not null references public.provider_settlements (id),
  gateway_id uuid not null references public.gateways (id),
  kind text not null check (kind in ('payment', 'refund', 'adjustment')),
  provider_entity_id text check (char_length(provider_entity_id) <= 100),
  reference text check (char_length(reference) <= 100),
  amount bigint not null,
  fee bigint not null default 0,
  tax bigint not null default 0,
  payment_id text references public.payments (id),
  refund_id text references public.refunds (id),
  match text not null check (
    match in ('matched', 'unknown', 'amount_mismatch', 'not_succeeded', 'duplicate')
  ),
  detail text check (char_length(detail) <= 300),
  created_at timestamptz not null default now()
);
alter table public.provider_settlement_lines enable row level security;
create index provider_settlement_lines_settlement_idx on public.provider_settlement_lines (
  provider_settlement_id
);
create index provider_settlement_lines_payment_idx on public.provider_settlement_lines (payment_id)
where payment_id is not null and match = 'matched';
create index provider_settlement_lines_refund_idx on public.provider_settlement_lines (refund_id)
where refund_id is not null and match = 'matched';
create trigger provider_settlement_lines_append_only
before update or delete on public.provider_settlement_lines
for each row execute function private.refuse_change();
comment on table public.provider_settlement_lines is
$$One line of a provider settlement: a payment, refund or adjustment as the provider reports
it (its id, our reference, gross amount, fee and tax in minor units) and how it matched ours:
matched, unknown (no such payment or refund of ours on the gateway), amount_mismatch,
not_succeeded (ours did not succeed) or duplicate (the provider settled it before). Who reads
(RLS): platform admins only.$$;
comment on column public.provider_settlement_lines.amount is
$$Gross minor units of the line (positive; refunds are money out).$$;

create function private.ingest_provider_settlement(p_gateway_id uuid, p_report jsonb) returns jsonb
language plpgsql security definer
set search_path = ''
as $$
declare
  g public.gateways;
  ps public.provider_settlements;
  item jsonb;
  v_kind text;
  v_amount bigint;
  v_match text;
  v_detail text;
  v_payment text;
  v_refund text;
  p public.payments;
  r public.refunds;
  clearing bigint := 0;
  suspense bigint := 0;
  v_fees bigint := 0;
  v_taxes bigint := 0;
  bank bigint;
  matched jsonb := '[]'::jsonb;
  v_lines jsonb;
  posted jsonb;
  v_currency text := upper(p_report ->> 'currency');
begin
  select * into g from public.gateways as x where x.id = p_gateway_id;
  if not found then
    raise exception 'gateway % does not exist', p_gateway_id using errcode = 'P0002';
  end if;
  if coalesce(p_report ->> 'settlement_id', '') = '' or jsonb_typeof(p_report -> 'items') <> 'array' then
    raise exception 'a settlement report needs settlement_id and items' using errcode = '22023';
  end if;
  perform private.check_currency(v_currency);
  -- One ingestion per gateway and provider settlement at a time, and once.
  perform pg_advisory_xact_lock(hashtextextended(g.id || '|' || (p_report ->> 'settlement_id'), 14));
  select * into ps from public.provider_settlements as x
  where x.gateway_id = g.id and x.provider_settlement_id = p_report ->> 'settlement_id';
  if found then
    return jsonb_build_object('id', ps.id, 'status', ps.status, 'already_ingested', true);
  end if;
  for item in select x from jsonb_array_elements(p_report -> 'items') as x loop
    v_kind := item ->> 'type';
    if v_kind not in ('payment', 'refund', 'adjustment')
      or coalesce(item ->> 'amount', '') !~ '^-?[0-9]{1,18}$'
      or coalesce(item ->> 'fee', '0') !~ '^[0-9]{1,18}$'
      or coalesce(item ->> 'tax', '0') !~ '^[0-9]{1,18}$' then
      raise exception 'settlement items are {type payment|refund|adjustment, amount, fee, tax} in minor units'
        using errcode = '22023';
    end if;
    v_amount := (item ->> 'amount')::bigint;
    v_payment := null;
    v_refund := null;
    v_detail := null;
    if v_kind = 'payment' then
      select x.* into p from public.payments as x
      where x.id = (
        select a.payment_id from public.payment_attempts as a
        where a.gateway_id = g.id
          and (a.provider_payment_id = item ->> 'entity_id' or a.id = item ->> 'reference')
        order by (a.provider_payment_id = item ->> 'entity_id') desc nulls last
        limit 1
      );
      if not found then
        v_match := 'unknown';
        v_detail := 'no payment of ours on this gateway has this id or reference';
      else
        v_payment := p.id;
        if p.status not in ('succeeded', 'partially_refunded', 'refunded') then
          v_match := 'not_succeeded';
          v_detail := 'our payment is ' || p.status;
        elsif p.amount_captured <> v_amount or p.currency <> v_currency then
          v_match := 'amount_mismatch';
          v_detail := format('we captured %s %s, the provider settled %s %s',
            p.amount_captured, p.currency, v_amount, v_currency);
        elsif exists (
          select 1 from public.provider_settlement_lines as l
          where l.payment_id = p.id and l.match = 'matched'
        ) or matched @> jsonb_build_array(p.id) then
          v_match := 'duplicate';
          v_detail := 'the provider settled this payment before';
        else
          v_match := 'matched';
          matched := matched || jsonb_build_array(p.id);
        end if;
      end if;
    elsif v_kind = 'refund' then
      select x.* into r from public.refunds as x
      where x.gateway_id = g.id
        and (x.provider_refund_id = item ->> 'entity_id' or x.id = item ->> 'reference')
      limit 1;
      if not found then
        v_match := 'unknown';
        v_detail := 'no refund of ours on this gateway has this id or reference';
      else
        v_refund := r.id;
        v_payment := r.payment_id;
        if r.status <> 'succeeded' then
          v_match := 'not_succeeded';
          v_detail := 'our refund is ' || r.status;
        elsif r.amount <> v_amount then
          v_match := 'amount_mismatch';
          v_detail := format('we refunded %s, the provider settled %s', r.amount, v_amount);
        elsif exists (
          select 1 from public.provider_settlement_lines as l
          where l.refund_id = r.id and l.match = 'matched'
        ) or matched @> jsonb_build_array(r.id) then
          v_match := 'duplicate';
          v_detail := 'the provider settled this refund before';
        else
          v_match := 'matched';
          matched := matched || jsonb_build_array(r.id);
        end if;
      end if;
    else
      v_match := 'unknown';
      v_detail := 'a provider adjustment: review it';
    end if;
    -- Signed gross: payments in, refunds out, adjustments as given.
    if v_match = 'matched' then
      clearing := clearing + case v_kind when 'refund' then -v_amount else v_amount end;
    else
      suspense := suspense + case v_kind when 'refund' then -v_amount else v_amount end;
    end if;
    v_fees := v_fees + coalesce((item ->> 'fee')::bigint, 0);
    v_taxes := v_taxes + coalesce((item ->> 'tax')::bigint, 0);
    v_lines := coalesce(v_lines, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
      'kind', v_kind, 'entity_id', left(item ->> 'entity_id', 100),
      'reference', left(item ->> 'reference', 100), 'amount', v_amount,
      'fee', coalesce((item ->> 'fee')::bigint, 0), 'tax', coalesce((item ->> 'tax')::bigint, 0),
      'payment_id', v_payment, 'refund_id', v_refund, 'match', v_match, 'detail', v_detail
    ));
  end loop;
  bank := clearing + suspense - v_fees - v_taxes;
  insert into public.provider_settlements (
    gateway_id, provider, provider_settlement_id, mode, currency, amount, fees, tax, utr,
    settled_at, status, lines_count, unmatched_count
  ) values (
    g.id, g.provider, p_report ->> 'settlement_id', g.environment, v_currency, bank, v_fees,
    v_taxes, left(p_report ->> 'utr', 100), (p_report ->> 'settled_at')::timestamptz,
    case when exists (
      select 1 from jsonb_array_elements(coalesce(v_lines, '[]'::jsonb)) as x
      where x ->> 'match' <> 'matched'
    ) then 'mismatched' else 'matched' end,
    jsonb_array_length(coalesce(v_lines, '[]'::jsonb)),
    (
      select count(*) from jsonb_array_elements(coalesce(v_lines, '[]'::jsonb)) as x
      where x ->> 'match' <> 'matched'
    )
  ) returning * into ps;
  insert into public.provider_settlement_lines (
    provider_settlement_id, gateway_id, kind, provider_entity_id, reference, amount, fee, tax,
    payment_id, refund_id, match, detail
  )
  select ps.id, g.id, x.kind, x.entity_id, x.reference, x.amount, x.fee, x.tax, x.payment_id,
    x.refund_id, x.match, x.detail
  from jsonb_to_recordset(coalesce(v_lines, '[]'::jsonb)) as x (
    kind text, entity_id text, reference text, amount bigint, fee bigint, tax bigint,
    payment_id text, refund_id text, match text, detail text
  );
  select jsonb_agg(x) into v_lines
  from jsonb_array_elements(jsonb_build_array(
    jsonb_build_object(
      'account_id', private.ledger_account('platform_bank', v_currency, g.environment),
      'direction', case when bank >= 0 then 'debit' else 'credit' end, 'amount', abs(bank)
    ),
    jsonb_build_object(
      'account_id', private.ledger_account('provider_fees', v_currency, g.environment, g.id),
      'direction', 'debit', 'amount', v_fees + v_taxes
    ),
    jsonb_build_object(
      'account_id', private.ledger_account('provider_clearing', v_currency, g.environment, g.id),
      'direction', case when clearing >= 0 then 'credit' else 'debit' end, 'amount', abs(clearing)
    ),
    jsonb_build_object(
      'account_id', private.ledger_account('provider_suspense', v_currency, g.environment, g.id),
      'direction', case when suspense >= 0 then 'credit' else 'debit' end, 'amount', abs(suspense)
    )
  )) as x
  where (x ->> 'amount')::bigint > 0;
  if jsonb_array_length(coalesce(v_lines, '[]'::jsonb)) >= 2 then
    posted := private.ledger_post(
      'provider_settlement:' || g.id || ':' || ps.provider_settlement_id, 'provider_settlement',
      v_lines,
      jsonb_build_object(
        'reference_type', 'provider_settlement', 'reference_id', ps.id,
        'description', format('%s settlement %s, UTR %s', g.provider, ps.provider_settlement_id,
          coalesce(ps.utr, '?'))
      )
    );
  end if;
  return jsonb_build_object(
    'id', ps.id, 'status', ps.status, 'lines', ps.lines_count, 'unmatched', ps.unmatched_count,
    'amount', ps.amount, 'entry_id', (posted ->> 'entry_id')::bigint, 'already_ingested', false
  );
end
$$;
comment on function private.ingest_provider_settlement(uuid, jsonb) is
$$service_role (the settlement worker): ingests a gateway's settlement report once, matches
each line, posts the money (bank, provider fees, clearing, suspense) and reports what did
not match. Returns {id, status matched|mismatched, lines, unmatched, amount,
already_ingested}. 22023 malformed report; P0002 unknown gateway.$$;

create function private.enqueue_provider_reports() returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  n integer := 0;
  g record;
  d date;
begin
  for g in
    select x.id from public.gateways as x
    where x.status = 'active' and x.provider in ('razorpay', 'sandbox')
  loop
    for d in select (now() at time zone 'UTC')::date - k from generate_series(0, 1) as k loop
      perform private.enqueue(
        'settlement', jsonb_build_object('provider_report', g.id, 'day', d), 0,
        'provider-report:' || g.id || ':' || d || ':' || to_char(now() at time zone 'UTC', 'HH24MI')
      );
      n := n + 1;
    end loop;
  end loop;
  return n;
end
$$;
comment on function private.enqueue_provider_reports() is
$$pg_cron, daily 00:30 UTC (06:00 in India): a job per active gateway whose provider
publishes a settlement report (razorpay, sandbox) for today and yesterday (UTC); ingestion is
idempotent per settlement. The number enqueued.$$;
select cron.schedule('lsp-provider-reports', '30 0 * * *', 'select private.enqueue_provider_reports()');

create function private.list_provider_settlements(
  p_gateway_id uuid, p_status text, p_cursor text, p_limit integer
) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  c record := private.read_cursor(p_cursor);
  page jsonb;
  n integer;
  last_at timestamptz;
  last_id text;
begin
  perform private.require_admin();
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'limit must be between 1 and 200' using errcode = '22023';
  end if;
  if p_status is not null and p_status not in ('matched', 'mismatched') then
    raise exception 'status must be matched or mismatched' using errcode = '22023';
  end if;
  select coalesce(jsonb_agg(x.v order by x.created_at desc, x.id desc), '[]'), count(*)
  into page, n
  from (
    select s.created_at, s.id, jsonb_build_object(
      'id', s.id, 'object', 'provider_settlement', 'gateway_id', s.gateway_id,
      'provider', s.provider, 'provider_settlement_id', s.provider_settlement_id, 'mode', s.mode,
      'currency', s.currency, 'amount', s.amount, 'fees', s.fees, 'tax', s.tax, 'utr', s.utr,
      'settled_at', s.settled_at, 'status', s.status, 'lines', s.lines_count,
      'unmatched', coalesce((
        select jsonb_agg(jsonb_build_object(
          'kind', l.kind, 'provider_entity_id', l.provider_entity_id, 'reference', l.reference,
          'amount', l.amount, 'match', l.match, 'detail', l.detail, 'payment_id', l.payment_id,
          'refund_id', l.refund_id
        ) order by l.id)
        from public.provider_settlement_lines as l
        where l.provider_settlement_id = s.id and l.match <> 'matched'
      ), '[]'::jsonb),
      'created_at', s.created_at
    ) as v
    from public.provider_settlements as s
    where (p_gateway_id is null or s.gateway_id = p_gateway_id)
      and (p_status is null or s.status = p_status)
      and (c.at is null or (s.created_at, s.id::text) < (c.at, c.id))
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
comment on function private.list_provider_settlements(uuid, text, text, integer) is
$$Admins only: a page of provider settlements; see public.admin_list_provider_settlements.$$;

create function public.admin_list_provider_settlements(
  p_gateway_id uuid default null, p_status text default null, p_cursor text default null,
  p_limit integer default 50
) returns jsonb
language sql stable
set search_path = ''
as $$ select private.list_provider_settlements(p_gateway_id, p_status, p_cursor, p_limit) $$;
comment on function public.admin_list_provider_settlements(uuid, text, text, integer) is
$$The providers' settlements, newest first: net amount received, the provider's fees and tax
(minor units), UTR, and for each the lines that did not match ours (unknown, amount_mismatch,
not_succeeded, duplicate) with the reason; filters gateway and status; keyset pagination.
Who: platform admins; everyone else 42501.
Returns: {data: [provider_settlement], next_cursor: text | null}; limit 1..200 (default 50).
Errors: 22023 bad status, limit or cursor; 42501 not an admin.$$;

create policy provider_settlements_read on public.provider_settlements
for select to authenticated using ((select private.is_admin()));
create policy provider_settlement_lines_read on public.provider_settlement_lines
for select to authenticated using ((select private.is_admin()));
revoke all on public.provider_settlements, public.provider_settlement_lines
from public, anon, authenticated;
grant select on public.provider_settlements, public.provider_settlement_lines to authenticated;
grant select, insert on public.provider_settlements, public.provider_settlement_lines to service_role;

grant execute on function private.ingest_provider_settlement(uuid, jsonb) to service_role;
grant execute on function private.enqueue_provider_reports() to service_role;
grant execute on function private.list_provider_settlements(uuid, text, text, integer)
to authenticated, service_role;
revoke all on function public.admin_list_provider_settlements(uuid, text, text, integer)
from public, anon;
grant execute on function public.admin_list_provider_settlements(uuid, text, text, integer)
to authenticated, service_role;

revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
