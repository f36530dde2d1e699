-- The webhook event catalogue names every event the platform sends, and says who receives it:
-- merchants' endpoints get merchant events (payments, refunds, settlements, bank accounts, API
-- keys); operators' alert destinations get alert.* events. A merchant cannot subscribe to an
-- operator event, and the merchant catalogue lists merchant events only.

-- migration-lint: allow adding-field-with-default: a constant default is a catalogue-only change in Postgres 11+, and the table has a few dozen rows
-- migration-lint: allow constraint-missing-not-valid: the check is validated over a few dozen catalogue rows, all of them 'merchant' by the default
alter table public.webhook_event_types
add column audience text not null default 'merchant'
constraint webhook_event_types_audience_check check (audience in ('merchant', 'operator'));
comment on column public.webhook_event_types.audience is
$$Who receives the event: merchant (merchants' webhook endpoints subscribe to it) or operator
(the operators' alert destinations, admin_put_alert_destinations).$$;

insert into public.webhook_event_types (type, description, audience) values
('settlement.processed', 'A settlement was paid out to the bank account; payout.utr is the bank''s reference.', 'merchant'),
('settlement.failed', 'A settlement''s payout failed; its amount is back in available balance.', 'merchant'),
('bank_account.updated', 'The settlement bank account was set or replaced (masked: last 4 digits).', 'merchant'),
('alert.firing', 'An alert rule''s condition was met (operators only).', 'operator'),
('alert.acknowledged', 'An operator acknowledged a firing alert (operators only).', 'operator'),
('alert.resolved', 'An alert''s condition cleared (operators only).', 'operator')
on conflict (type) do update set
  description = excluded.description,
  audience = excluded.audience;

create or replace function private.check_event_types(p_types text[]) returns text[]
language plpgsql stable security definer
set search_path = ''
as $$
declare
  unknown text;
begin
  if p_types is null then
    return '{}';
  end if;
  if cardinality(p_types) > 100 or exists (
    select 1 from unnest(p_types) as t where t !~ '^([a-z_]+(\.[a-z_]+)+|[a-z_]+\.\*)$'
  ) then
    raise exception 'event_types must be names such as payment.succeeded or api_key.*'
      using errcode = '22023';
  end if;
  select t into unknown from unnest(p_types) as t
  where not exists (
    select 1 from public.webhook_event_types as c
    where c.audience = 'merchant'
      and (c.type = t or (t like '%.*' and c.type like left(t, -1) || '%'))
  )
  limit 1;
  if unknown is not null then
    raise exception 'event type % does not exist: see GET /api/v1/merchant/webhooks/event-types',
      unknown using errcode = '22023';
  end if;
  return array(select distinct t from unnest(p_types) as t order by t);
end
$$;
comment on function private.check_event_types(text[]) is
$$Validates a merchant endpoint's subscription list (22023): at most 100 names, each a
catalogued merchant event type (public.webhook_event_types, audience merchant) or <area>.* for
an area with such types; returns them sorted and deduplicated ('{}' for null).$$;

create or replace function public.merchant_webhook_event_types() returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
    'data', coalesce(
      jsonb_agg(jsonb_build_object('type', t.type, 'description', t.description) order by t.type),
      '[]'
    ),
    'next_cursor', null
  )
  from public.webhook_event_types as t
  where t.audience = 'merchant'
$$;
comment on function public.merchant_webhook_event_types() is
$$The webhook event types a merchant's endpoint can subscribe to (operator alert.* events are
not among them).
Who: any signed-in caller (users, API keys, service_role).
Returns: {data: [{type, description}], next_cursor: null}, by type.
Errors: none of its own (42501 only for callers without EXECUTE, such as anon).$$;
