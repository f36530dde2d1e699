-- Webhook endpoints: what a merchant may subscribe to is a catalogue, and an endpoint can be
-- deleted. An event type outside the catalogue was accepted at registration and never
-- matched; now webhook_events.type references the catalogue, so emitting an uncatalogued
-- type fails too (each capability adds its types here with the code that emits them).
-- Deleting an endpoint destroys its signing secrets; its past deliveries stay in the event
-- log without it.
-- migration-lint: allow adding-foreign-key-constraint: webhook_events.type gets a reference to a new, small catalogue filled first from every type ever emitted; the scan reads one column of a table the worker only appends to
-- migration-lint: allow ban-drop-not-null: webhook_deliveries.endpoint_id may now be null (a deleted endpoint); nothing is rewritten
-- migration-lint: allow constraint-missing-not-valid: both references are checked on tables of at most a few thousand rows in this release (events are pruned by nothing yet, but the check is an index lookup per row)
-- migration-lint: allow ban-drop-constraint: the deliveries' endpoint reference is recreated at once with on delete set null

create table public.webhook_event_types (
  type text primary key check (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
  description text not null check (char_length(description) between 1 and 300),
  created_at timestamptz not null default now()
);
comment on table public.webhook_event_types is
$$The events a webhook endpoint can subscribe to (<area>.<event>), each with what it means.
Every webhook event's type is one of these (foreign key). Read by any signed-in caller and
served at GET /api/v1/merchant/webhooks/event-types; written only by migrations.$$;
alter table public.webhook_event_types enable row level security;
revoke all on public.webhook_event_types from anon, authenticated;
grant select on public.webhook_event_types to authenticated, service_role;
create policy webhook_event_types_read on public.webhook_event_types
for select to authenticated using (true);

insert into public.webhook_event_types (type, description) values
('payment.created', 'A payment was created; the charge runs next.'),
('payment.requires_action', 'The customer must act: next_action says how (a redirect or a UPI intent).'),
('payment.succeeded', 'The payment was captured (amount_captured).'),
('payment.failed', 'Every gateway tried failed; failure says why.'),
('payment.cancelled', 'The merchant cancelled the payment before it completed.'),
('payment.expired', 'The customer did not complete the payment in time.'),
('payment.partially_refunded', 'A refund succeeded and part of the capture is still unrefunded (sent for each such refund).'),
('payment.refunded', 'Refunds now cover the whole capture.'),
('refund.created', 'A refund was requested; it is pending at the provider.'),
('refund.succeeded', 'The provider completed the refund.'),
('refund.failed', 'The provider refused the refund; the amount can be refunded again.'),
('api_key.rotated', 'An API key was regenerated; the old one works until the grace window ends.'),
('webhook.test', 'Sent by the webhook test; carries no business data.');
-- Types emitted before the catalogue existed keep their history valid.
insert into public.webhook_event_types (type, description)
select distinct
  e.type,
  'An event type from before the catalogue.' as description
from public.webhook_events as e
on conflict (type) do nothing;

alter table public.webhook_events
add constraint webhook_events_type_fkey foreign key (type)
references public.webhook_event_types (type);

-- Subscriptions name catalogued types, or <area>.* for an area that has some.
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
    where c.type = t or (t like '%.*' and c.type like left(t, -1) || '%')
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
$$Validates a subscription list (22023): at most 100 names, each a catalogued type
(public.webhook_event_types) or <area>.* for an area with catalogued types; returns them
sorted and deduplicated ('{}' for null).$$;

-- Deleting an endpoint keeps the deliveries already made (without the endpoint).
alter table public.webhook_deliveries alter column endpoint_id drop not null;
alter table public.webhook_deliveries drop constraint webhook_deliveries_endpoint_id_fkey;
alter table public.webhook_deliveries
add constraint webhook_deliveries_endpoint_id_fkey foreign key (endpoint_id)
references public.webhook_endpoints (id) on delete set null;
comment on column public.webhook_deliveries.endpoint_id is
$$The endpoint delivered to; null once that endpoint was deleted.$$;

create function private.delete_webhook_endpoint(p_endpoint_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  e public.webhook_endpoints;
  skipped integer;
begin
  select * into e from public.webhook_endpoints as x where x.id = p_endpoint_id for update;
  perform private.check_row_access(
    found, e.merchant_id, '{owner,developer}', 'webhook endpoint', p_endpoint_id::text
  );
  update public.webhook_deliveries as d set status = 'skipped'
  where d.endpoint_id = e.id and d.status = 'pending';
  get diagnostics skipped = row_count;
  delete from public.webhook_endpoints as x where x.id = e.id;
  delete from vault.secrets as s where s.id in (e.secret_id, e.previous_secret_id);
  return jsonb_build_object(
    'id', e.id, 'deleted', true, 'pending_deliveries_skipped', skipped
  );
end
$$;
comment on function private.delete_webhook_endpoint(uuid) is
$$Admins, owners and developers of the endpoint's merchant: deletes it and its secrets; see
public.merchant_delete_webhook_endpoint.$$;

create function public.merchant_delete_webhook_endpoint(p_endpoint_id uuid) returns jsonb
language sql volatile
set search_path = ''
as $$ select private.delete_webhook_endpoint(p_endpoint_id) $$;
comment on function public.merchant_delete_webhook_endpoint(uuid) is
$$Deletes a webhook endpoint: its signing secrets are destroyed at once, deliveries still
pending to it are skipped, and the deliveries already made stay in the event log (their
endpoint_id becomes null).
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; an endpoint of another merchant is reported as not found.
Returns: {id, deleted: true, pending_deliveries_skipped}.
Errors: P0002 endpoint does not exist (or belongs to a merchant the caller is not in);
42501 not an owner or developer.$$;

create function public.merchant_webhook_event_types() returns jsonb
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
$$;
comment on function public.merchant_webhook_event_types() is
$$The webhook event types an endpoint can subscribe to.
Who: any signed-in caller (users, API keys, service_role).
Returns: {data: [{type, description}], next_cursor: null}, by type.
Errors: none of its own (42501 only for callers without EXECUTE, such as anon).$$;

revoke execute on function private.delete_webhook_endpoint(uuid),
public.merchant_delete_webhook_endpoint(uuid), public.merchant_webhook_event_types()
from public, anon;
grant execute on function private.delete_webhook_endpoint(uuid),
public.merchant_delete_webhook_endpoint(uuid), public.merchant_webhook_event_types()
to authenticated, service_role;
