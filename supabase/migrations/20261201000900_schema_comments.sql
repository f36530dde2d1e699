-- schema_comments: a `comment on` for every public RPC, every table in public, private and
-- audit, the columns that hold money, durations or encoded values, and every security
-- definer function, so the generated schema (supabase/schema/) says what each object is
-- for, who may use it, its units and its errors. Comments only: nothing else changes.
--
-- Conventions used below. Money is bigint minor units (paise for INR) beside a currency
-- column; times are timestamptz unless a name ends in _s (seconds) or _ms (milliseconds);
-- rates are fractions 0..1. "service_role" counts as a platform admin in every check
-- (private.is_admin). anon holds EXECUTE on none of these functions: its calls fail with
-- 42501 like any other refusal. The REST API maps 22xxx to 400, P0001 and 23514 to 422,
-- 42501 to 403, P0002 to 404, 23505 and 23503 to 409.

-- Public RPCs: identity and administration --------------------------------------------------

comment on function public.me() is
$$The signed-in caller's identity: user id, email, whether they are a platform admin, and the
merchants they belong to with their role in each.
Who: any authenticated caller. service_role and API-key callers have no user, so they get
user_id null, is_admin false (no platform_admins row) and no memberships.
Returns: {user_id, email, is_admin, memberships: [{merchant_id, merchant_name, role}]},
memberships ordered by merchant name; role is owner, developer or viewer.
Errors: none of its own (42501 only for callers without EXECUTE, such as anon).$$;

comment on function public.list_audit_logs(
  p_actor uuid, p_table text, p_action text, p_row_id text, p_from timestamp with time zone,
  p_to timestamp with time zone, p_cursor bigint, p_limit integer
) is
$$Reads the append-only audit log, newest first, filtered by actor, table name, action,
row id and time, one page at a time (keyset pagination on the log id).
Who: platform admins and service_role; everyone else gets 42501.
Returns: {items: [{id, created_at, actor_id, actor_role, action, table_schema, table_name,
row_id, old_values, new_values, changed_columns, request_id}], next_cursor}. next_cursor is
the id to pass as p_cursor for the next page, null on the last page. p_from is inclusive and
p_to exclusive (timestamptz); p_limit 1..500, default 50. Values of secret-looking keys
were redacted when the row was written.
Errors: 22023 limit outside 1..500, action not insert/update/delete, from after to, cursor
below 1; 42501 not an admin.$$;

comment on function public.create_merchant(
  p_name text, p_owner_user_id uuid, p_country text, p_idempotency_key text
) is
$$Opens a merchant account (status active), optionally with its first owner.
p_country is an ISO 3166 alpha-2 code, default IN. With p_idempotency_key (1..255 chars,
scoped to the caller) a repeat returns the first result instead of a second merchant.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the merchants row {id, name, status, country, created_at, updated_at}.
Errors: 22023 name not 1..200 characters, country not two capital letters, idempotency key
of the wrong length or reused with different parameters; P0002 owner user does not exist;
42501 not an admin.$$;

comment on function public.set_merchant_status(p_merchant_id uuid, p_status text) is
$$Sets a merchant's status to active, suspended or closed. A merchant that is not active
cannot take payments (route_payment refuses it) and its API keys stop at once (the REST
API answers 401 merchant_inactive).
Who: platform admins and service_role; everyone else gets 42501.
Returns: the merchants row {id, name, status, country, created_at, updated_at}.
Errors: 22023 status not active/suspended/closed; P0002 merchant does not exist; 42501 not
an admin.$$;

comment on function public.set_merchant_member(p_merchant_id uuid, p_user_id uuid, p_role text) is
$$Adds a user to a merchant, or changes their role (owner, developer or viewer). A merchant
always keeps at least one owner, and nobody changes their own membership.
Who: platform admins, service_role and the merchant's owners; developers, viewers, API keys
and outsiders get 42501.
Returns: the merchant_members row {merchant_id, user_id, role, created_at, updated_at}.
Errors: 22023 role not owner/developer/viewer; P0002 user does not exist, or (for admins)
merchant does not exist; P0001 the change would leave the merchant without an owner;
42501 not an owner or admin of the merchant (also when a non-admin names a merchant that
does not exist), or the caller's own membership.$$;

comment on function public.remove_merchant_member(p_merchant_id uuid, p_user_id uuid) is
$$Removes a user from a merchant. The last owner cannot be removed, and nobody removes
themself.
Who: platform admins, service_role and the merchant's owners; others get 42501.
Returns: {removed: true, merchant_id, user_id}.
Errors: P0002 the user is not a member, or (for admins) merchant does not exist; P0001 the
user is the merchant's last owner; 42501 not an owner or admin of the merchant, or the
caller's own membership.$$;

comment on function public.grant_platform_admin(p_user_id uuid) is
$$Makes a user a platform admin (operator of the whole platform). Granting an existing admin
changes nothing.
Who: platform admins and service_role, never to themselves; everyone else gets 42501.
Returns: {user_id, granted}; granted is false when the user already was an admin.
Errors: 42501 not an admin, or granting to oneself; P0002 user does not exist.$$;

comment on function public.revoke_platform_admin(p_user_id uuid) is
$$Takes the platform admin role away from a user. The platform always keeps at least one
admin; concurrent revocations are serialised.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {user_id, revoked: true}.
Errors: P0001 the user is the last admin; P0002 the user is not an admin; 42501 not an
admin.$$;

comment on function public.post_wallet_entry(
  p_merchant_id uuid, p_currency text, p_amount bigint, p_kind text, p_idempotency_key text,
  p_reference text
) is
$$Posts one entry to a merchant's wallet in a currency (the wallet is created on first use):
a positive amount credits it, a negative one debits it, and the balance never goes below
zero. p_kind is adjustment, settlement, fee or payout. p_idempotency_key is required and
scoped to the wallet: a repeat with the same amount and kind returns the first entry.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the wallet_ledger row {id, wallet_id, merchant_id, amount, balance_after, kind,
transaction_id, reference, idempotency_key, created_by, created_at} plus replayed (boolean).
amount and balance_after are minor units of p_currency (paise for INR); amount is signed.
Errors: 22023 idempotency key missing or not 1..255 characters, currency not an ISO 4217
code, amount zero, unknown kind, key reused with a different amount or kind; P0002
merchant does not exist; 23514 insufficient balance for a debit, or reference over 500
characters; 42501 not an admin.$$;

comment on function public.admin_set_merchant_rate_limits(
  p_merchant_id uuid, p_api_key_per_min integer, p_user_per_min integer
) is
$$Overrides a merchant's request rate limits: for its API keys (platform default 600 per
minute) and for its dashboard users (default 300 per minute). null restores the default.
A key's own rate_limit_per_min still wins; a user in several merchants with overrides gets
the lowest of them. Takes effect at once (the merchant's cached key admissions are dropped).
Who: platform admins and service_role; everyone else gets 42501.
Returns: the merchant_rate_limits row {merchant_id, api_key_per_min, user_per_min,
updated_by, created_at, updated_at}; limits are requests per minute.
Errors: P0002 merchant does not exist; 22023 a limit outside 1..1000000; 42501 not an
admin.$$;

-- Public RPCs: job queues ---------------------------------------------------------------------

comment on function public.admin_list_queues() is
$$Overview of every job queue (payment, webhook, settlement, gateway_health) for the
operators' dashboard: depth, age, throughput, pause state, settings and recent failures.
state is paused; stalled (work pending and no live worker, or oldest pending over 60 s
with nothing finished in 2 minutes); backlogged (oldest pending over 30 s or more than
1,000 pending); otherwise healthy.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {queues: [{queue, state, pending, delayed, processing, failed (dead-letter depth),
completed_1h, oldest_pending_age_s (seconds), rates: {enqueued|completed|failed: {1m, 5m,
1h}} (job counts), paused: {paused, reason, by, at}, settings: {concurrency, max_attempts,
visibility_timeout_s, backoff_base_s, backoff_max_s, retention_days}, has_live_worker,
latest_failed: [up to 5 {job_id, failed_at, origin, last_error, attempts}]}], generated_at}.
Errors: 42501 not an admin.$$;

comment on function public.admin_queue_stats() is
$$Per-minute job counters of the last hour for each queue, and the workers seen in the last
hour (alive: heartbeat within 15 s; stale; stopped).
Who: platform admins and service_role; everyone else gets 42501.
Returns: {series: {<queue>: [60 x {minute, enqueued, completed, failed, retried,
dead_lettered}]}, workers: [{worker_id, hostname, pid, queues, status, started_at,
last_seen_at, stopped_at, in_flight, in_flight_jobs, processed, failed}], generated_at}.
Counts are jobs; minute is the start of each minute (timestamptz).
Errors: 42501 not an admin.$$;

comment on function public.admin_get_job(p_job_id text) is
$$One job by its id '<queue>:<msg_id>' (e.g. payment:42, payment_dlq:7): its state,
payload, every attempt and its lineage (dead-lettered to, retried as).
Who: platform admins and service_role; everyone else gets 42501.
Returns: {job_id, queue, state, key, payload, last_error, origin, read_count, enqueued_at,
visible_at, finished_at, attempts: [{attempt, outcome, worker_id, started_at, finished_at,
duration_ms, error_class, error_message, traceback}], lineage: [{from, to, kind, at}]}.
state is pending, delayed, processing, retrying or failed (a dead letter) while queued;
completed, dead_lettered, retried or discarded once archived. Secret-looking payload keys
are redacted. duration_ms in milliseconds.
Errors: 22023 malformed job id; P0002 no such job (never existed, or cleaned); 42501 not an
admin.$$;

comment on function public.enqueue_job(
  p_queue text, p_payload jsonb, p_delay_seconds integer, p_job_key text
) is
$$Puts a job on a queue, visible after p_delay_seconds (0..604800, i.e. up to 7 days), and
wakes idle workers. p_job_key (1..200 chars, default a random uuid) travels with the job
through retries and dead-letter retries so handlers apply each effect once.
Who: platform admins and service_role (the REST API's service key); others get 42501.
Returns: {job_id: '<queue>:<msg_id>', key}.
Errors: 22023 unknown queue, payload not a JSON object, delay out of range, key length;
42501 not an admin.$$;

comment on function public.admin_retry_jobs(
  p_queue text, p_job_ids text[], p_limit integer, p_delay_seconds integer
) is
$$Retries dead letters: each is sent back to its original queue (same key and payload,
visible after p_delay_seconds 0..86400), archived in the dead-letter queue, and linked in
job_lineage. Give either p_queue (its oldest dead letters, up to p_limit 1..10000) or
p_job_ids (1..1000 ids such as payment_dlq:7), not both. A dead letter already retried is
skipped. Audited as queue.retry.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {retried, skipped, not_found (counts), jobs: [{from, to}]} (job ids).
Errors: 22023 delay or limit out of range, both or neither of queue and job_ids, job_ids
count, unknown queue, malformed job id, an id that is not a dead letter; 42501 not an
admin.$$;

comment on function public.admin_clean_queue(
  p_queue text, p_state text, p_older_than_seconds integer, p_limit integer, p_delete boolean
) is
$$Cleans a queue in batches of 500, up to p_limit (1..100000) jobs older than
p_older_than_seconds (default 3600): state completed deletes archived (finished) jobs;
state failed archives dead letters, or deletes them when p_delete is true. Audited as
queue.clean.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {queue, state, cleaned (count), action: deleted | archived}.
Errors: 22023 unknown queue, state not completed/failed, older_than_seconds negative,
limit out of range; 42501 not an admin.$$;

comment on function public.admin_pause_queue(p_paused boolean, p_reason text, p_queue text) is
$$Pauses or resumes one queue (p_queue) or all of them (p_queue null). Pausing needs a
reason of 1..500 characters; who paused it and when are kept. Workers learn of it at once
(NOTIFY lsp_queue_controls) or within one poll interval; jobs stay queued while paused.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {paused, queues: [names whose state changed]}.
Errors: 22023 unknown queue, paused null, pausing without a reason; 42501 not an admin.$$;

-- Public RPCs: gateways -----------------------------------------------------------------------

comment on function public.admin_gateway_catalog() is
$$The payment providers a gateway can use (sandbox, Razorpay, Cashfree, PayU, PhonePe,
Paytm, Stripe): their credential fields, base URLs and how credentials are checked.
Who: platform admins and service_role; everyone else gets 42501.
Returns: [{provider, display_name, credential_fields: [{name, label, required, secret}],
base_urls: {test, live}, credential_check: {request, outcomes}, docs_url}], by provider.
Errors: 42501 not an admin.$$;

comment on function public.admin_list_gateways(p_include_archived boolean) is
$$Every gateway with its routing settings, masked credentials, today's volume against its
daily limit, success rates, latency percentiles and health, for the operators' dashboard.
Archived gateways only with p_include_archived. Figures come from per-minute and per-hour
buckets, so the 1 h window spans 60-61 minutes and the 24 h window 24-25 hours.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {gateways: [gateway view], generated_at}, by priority, archived last. A gateway
view is {id, provider, display_name, environment, status, priority, min_amount,
max_amount, daily_limit, currencies, methods, regions, config, credentials (masked),
credentials_rotated_at, today: {day, volume, daily_limit, remaining}, success_rate: {1h,
24h}, transactions: {1h|24h: {succeeded, failed}}, latency_ms: {p50, p95}, health: {state,
changed_at, consecutive_failures, last_probe}, last_test, created_at, updated_at,
archived_at}. Amounts and limits are minor units (paise for INR); today.day is the India
(Asia/Kolkata) date; success rates are fractions 0..1 (null without outcomes); latency_ms
are histogram bucket upper bounds in milliseconds.
Errors: 42501 not an admin.$$;

comment on function public.admin_create_gateway(
  p_gateway jsonb, p_test_result jsonb, p_idempotency_key text
) is
$$Adds a payment gateway. p_gateway: provider (from the catalogue) and display_name
(1..100 chars) and credentials (an object of the provider's fields, strings up to 2000
chars) are required; optional environment test|live (default test), status
active|inactive (default inactive), priority 0..100000 (default after the last), min_amount
(default 100), max_amount and daily_limit (minor units, null = no limit), currencies
(default [INR]), methods and regions (empty = all), config (an object without
secret-looking keys). Credentials go to Vault; only a masked copy is kept.
p_test_result, the adapter's credential check when the request asked for a test, is kept
as last_test. With p_idempotency_key (1..255 chars) a repeat returns the first result.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the gateway view (see admin_list_gateways).
Errors: 22023 gateway not an object, unknown provider, display_name missing, a required
credential missing, an unknown credential field, a field with an invalid value, an
unknown field, max_amount below min_amount, idempotency key of the wrong length or reused
with different parameters; 42501 not an admin.$$;

comment on function public.admin_update_gateway(p_gateway_id uuid, p_changes jsonb) is
$$Changes only the fields sent (a rename never re-enables a gateway): display_name,
environment, status (active|inactive; archive with admin_archive_gateway), priority,
min_amount, max_amount, daily_limit (minor units), currencies, methods, regions, config,
credentials. New credentials replace the Vault secret and set credentials_rotated_at.
The provider cannot change.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the gateway view (see admin_list_gateways).
Errors: 22023 changes empty or not an object, provider present, unknown field, invalid
value, max_amount below min_amount, invalid credentials; P0002 gateway does not exist;
P0001 gateway is archived; 42501 not an admin.$$;

comment on function public.admin_archive_gateway(p_gateway_id uuid, p_force boolean) is
$$Archives a gateway: it stops routing, its Vault credentials are deleted and the masked
copy cleared; the row and its history stay. Refused while it has payments in flight
(created, pending or processing) unless p_force. Archiving twice is harmless.
Who: platform admins and service_role; everyone else gets 42501.
Returns: the gateway view (see admin_list_gateways) plus in_flight_at_archive (count), or
plus already_archived: true when it was archived before.
Errors: P0002 gateway does not exist; P0001 payments in flight and p_force is not true;
42501 not an admin.$$;

comment on function public.admin_set_gateway_priority(p_gateway_ids uuid[]) is
$$Reorders routing: p_gateway_ids is the whole ordered list of non-archived gateways, and
each gets its position (1, 2, ...) as priority; lower routes first. Concurrent reorders
apply one after the other. Audited as gateway.reorder with the order before and after.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {order: [gateway ids]}.
Errors: 22023 empty list, a repeated id, an unknown or archived gateway, a non-archived
gateway left out; 42501 not an admin.$$;

comment on function public.admin_gateway_health() is
$$Health of every non-archived gateway (from the scheduled probes and transaction
outcomes) and availability per region, for the operators' dashboard. 3 consecutive failed
probes make a gateway down; once down, 2 consecutive successes make it healthy; a failure
short of that, or a success slower than 2 s, makes it degraded.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {gateways: [{id, provider, display_name, status, state, changed_at,
consecutive_failures, last_probe, probe_success_rate_1h, transactions_1h: {succeeded,
failed}, success_rate_1h, latency_ms: {p50, p95}, regions}], regions: {<region, or * for
gateways serving all>: {gateways, available, state}}, thresholds:
{down_after_consecutive_failures, up_after_consecutive_successes, degraded_latency_ms},
generated_at}. state is unknown, healthy, degraded or down; rates are fractions 0..1 (null
without data); latency in milliseconds. A region is down when none of its active gateways
is healthy or unknown, degraded when some are not.
Errors: 42501 not an admin.$$;

comment on function public.admin_gateway_test_target(p_gateway_id uuid) is
$$What the adapter's "test gateway" action needs to know before it runs the provider's
credential check: the gateway's provider and environment (never its credentials).
Who: platform admins and service_role; everyone else gets 42501.
Returns: {id, provider, environment}.
Errors: P0002 gateway does not exist; P0001 gateway is archived (it has no credentials);
42501 not an admin.$$;

comment on function public.admin_record_gateway_test(p_gateway_id uuid, p_result jsonb) is
$$Records the result of a manual credential check (run by the adapter) as a gateway probe
with source manual and as the gateway's last_test. It does not move health.
p_result: {ok (boolean), latency_ms, http_status, error_class (auth_failed, unreachable,
timeout, rate_limited, unexpected_response or null), message}.
Who: platform admins and service_role; everyone else gets 42501.
Returns: {ok, latency_ms (milliseconds), http_status, error_class, message (first 500
characters), at (timestamptz)}.
Errors: 22023 result without a boolean ok or with an unknown error_class (checked before
the role); 42501 not an admin; 23503 gateway does not exist; 23514 negative latency_ms.$$;

comment on function public.route_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_region text
) is
$$Previews the routing decision for a payment: the gateways that could take it, in the
order they would be tried. A gateway qualifies when it is active and not down, takes the
currency, the method (empty list = all) and the region (empty = all; IN-KA matches IN),
the amount is within its per-transaction min/max, and its daily limit has room today
(India day). Order: priority, then the last hour's success rate.
p_amount is minor units of p_currency (paise for INR); p_method is card, upi, netbanking,
wallet, emi or paylater; p_region an ISO 3166 code such as IN or IN-KA (default IN).
Who: platform admins and service_role (the REST API's service key); others get 42501.
Returns: {candidates: [{gateway_id, provider, priority, success_rate_1h, remaining_today}]};
success_rate_1h is a fraction 0..1 (0.5 without outcomes in the window); remaining_today
is minor units left under the daily limit, null when there is no limit.
Errors: 22023 amount not positive, currency, method or region invalid; P0002 merchant
does not exist; P0001 merchant is not active; 42501 not an admin.$$;

-- Public RPCs: merchant developer tools -------------------------------------------------------

comment on function public.merchant_list_api_keys(p_merchant_id uuid) is
$$A merchant's API keys (never the keys themselves, nor their digests), newest first.
p_merchant_id defaults to the calling API key's merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {merchant_id, keys: [key view]}. A key view is {id, merchant_id, name, mode,
display (prefix...last4), created_at, last_used_at, expires_at, revoked_at, status,
rate_limit_per_min, requests_24h, replaced_by}; status is active, rotating (revoked_at in
the future: the grace window after a regenerate), revoked or expired; rate_limit_per_min
is requests per minute (the key's own, else the merchant's override, else 600).
Errors: 22023 merchant_id missing (a user caller must name one); 42501 not a member.$$;

comment on function public.merchant_create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_prefix text, p_last4 text, p_key_hash bytea,
  p_expires_at timestamp with time zone
) is
$$Stores a new API key that the adapter generated: only its HMAC-SHA256 digest under the
adapter's pepper (p_key_hash, 32 bytes), its display prefix (lsp_<mode>_ and 4
characters) and its last 4 characters; the full key never reaches the database.
p_mode is test or live; p_expires_at is an optional future timestamptz.
Who: platform admins, service_role, and the merchant's owners and developers; viewers,
API keys (they cannot manage keys) and outsiders get 42501.
Returns: the key view (see merchant_list_api_keys).
Errors: 22023 merchant_id missing, name not 1..100 characters, mode not test/live,
malformed key material, expires_at not in the future; 42501 not an owner or developer;
23505 the digest already exists; 23503 (admins) merchant does not exist.$$;

comment on function public.merchant_rotate_api_key(
  p_key_id uuid, p_prefix text, p_last4 text, p_key_hash bytea, p_grace_seconds integer
) is
$$Regenerates an API key: stores the new key the adapter generated (same name, mode, expiry
and per-key limit) and lets the old one work for p_grace_seconds more (0..86400, i.e. up
to 24 h; 0 stops it at once). The merchant's owners get a notification and an
api_key.rotated webhook event is emitted.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; a key of another merchant is reported as not found.
Returns: the new key's view (see merchant_list_api_keys) plus previous_key_valid_until
(timestamptz).
Errors: P0002 key does not exist (or belongs to a merchant the caller is not in); 42501
not an owner or developer; 22023 grace outside 0..86400, malformed key material; P0001 the
key is already revoked or rotating; 23505 the new digest already exists.$$;

comment on function public.merchant_revoke_api_key(p_key_id uuid) is
$$Revokes an API key at once (a rotating key's grace window ends now). Revoking again
changes nothing.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; a key of another merchant is reported as not found.
Returns: the key view (see merchant_list_api_keys).
Errors: P0002 key does not exist (or belongs to a merchant the caller is not in); 42501
not an owner or developer.$$;

comment on function public.merchant_usage(
  p_merchant_id uuid, p_from timestamp with time zone, p_to timestamp with time zone,
  p_granularity text
) is
$$A merchant's API usage from the per-minute rollups of API-key requests: totals, a time
series, top endpoints and the rate limit of each key not yet revoked. Defaults to the last 24 hours;
p_from inclusive, p_to exclusive; p_granularity minute, hour (default) or day, at most
2000 points. p_merchant_id defaults to the calling API key's merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {merchant_id, from, to, granularity, totals: {requests, errors_4xx, errors_5xx,
rate_limited, p50_ms, p95_ms}, series: [{at, requests, errors_4xx, errors_5xx,
rate_limited}], top_endpoints: [up to 10 {endpoint, requests, errors}], rate_limits:
[{api_key_id, display, limit_per_min, throttled_now, breaches_24h}]}. p50_ms/p95_ms are
latency histogram bucket upper bounds in milliseconds (null without requests); endpoint is
a route template; limit_per_min is requests per minute; breaches_24h counts refusals.
Errors: 22023 merchant_id missing, unknown granularity, from not before to, more than 2000
points; 42501 not a member.$$;

comment on function public.merchant_list_webhook_endpoints(p_merchant_id uuid) is
$$A merchant's webhook endpoints, oldest first, with their last delivery and 24 h success
rate; never their signing secrets. p_merchant_id defaults to the calling API key's merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {merchant_id, endpoints: [endpoint view]}. An endpoint view is {id, merchant_id,
url, description, event_types, enabled, disabled_reason, disabled_at, failing_since,
previous_secret_expires_at, created_at, updated_at, last_delivery: {event_id, status,
status_code, at}, success_rate_24h}; success_rate_24h is the fraction 0..1 of the last
24 h's attempts answered 2xx, null without attempts.
Errors: 22023 merchant_id missing (a user caller must name one); 42501 not a member.$$;

comment on function public.merchant_create_webhook_endpoint(
  p_url text, p_merchant_id uuid, p_event_types text[], p_description text
) is
$$Adds a webhook endpoint with a new Standard Webhooks signing secret (whsec_...), kept in
Vault and shown only in this response. p_url must be https (plain http only where the
database allows it, as local dev clusters do), at most 2000 characters, without
credentials. p_event_types filters events (payment.succeeded or payment.*; null or empty =
all, at most 100). p_description is cut to 500 characters.
Who: platform admins, service_role, and the merchant's owners and developers; viewers,
API keys and outsiders get 42501.
Returns: the endpoint view (see merchant_list_webhook_endpoints) plus secret and
secret_shown_once: true.
Errors: 22023 merchant_id missing, invalid url, non-https url, invalid event types; 42501
not an owner or developer; 23503 (admins) merchant does not exist.$$;

comment on function public.merchant_update_webhook_endpoint(p_endpoint_id uuid, p_changes jsonb) is
$$Changes the fields sent: url, description (cut to 500 characters), event_types (a list),
enabled (boolean). Disabling records "disabled by the merchant"; enabling clears the
disabled reason and the failing_since mark.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; an endpoint of another merchant is reported as not found.
Returns: the endpoint view (see merchant_list_webhook_endpoints).
Errors: P0002 endpoint does not exist (or belongs to a merchant the caller is not in);
42501 not an owner or developer; 22023 changes empty or not an object, unknown field,
invalid url, event_types not a valid list, enabled not a boolean.$$;

comment on function public.merchant_rotate_webhook_secret(p_endpoint_id uuid) is
$$Gives an endpoint a new signing secret. The previous one keeps signing alongside it for
24 hours (previous_secret_expires_at); an older previous secret is deleted at once.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; an endpoint of another merchant is reported as not found.
Returns: the endpoint view (see merchant_list_webhook_endpoints) plus secret (shown only
here) and secret_shown_once: true.
Errors: P0002 endpoint does not exist (or belongs to a merchant the caller is not in);
42501 not an owner or developer.$$;

comment on function public.merchant_list_webhook_events(p_merchant_id uuid, p_limit integer) is
$$A merchant's newest webhook events (p_limit 1..200, default 50) with each delivery and
its attempt log. p_merchant_id defaults to the calling API key's merchant.
Who: platform admins and service_role (any merchant); the merchant's owners, developers,
viewers and its own API keys. Non-members get 42501.
Returns: {events: [{id, type, payload, created_at, deliveries: [{id, endpoint_id, status,
attempts, last_status_code, next_attempt_at, delivered_at, attempt_log: [{attempt, at,
status_code, latency_ms, error, response_body}]}]}]}. id is the webhook-id receivers
dedupe on (msg_...); status is pending, delivered, failed or skipped; latency_ms in
milliseconds; response_body is the first 4 KB of the answer.
Errors: 22023 merchant_id missing, limit outside 1..200; 42501 not a member.$$;

comment on function public.merchant_redeliver_webhook(p_delivery_id bigint) is
$$Sends a delivery again: marks it pending and queues a new attempt on the webhook queue
now, whatever its status and even to a disabled endpoint (the event id, and so the
receiver's dedupe key, stays the same).
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; a delivery of another merchant is reported as not found.
Returns: {delivery_id, status: pending}.
Errors: P0002 delivery does not exist (or belongs to a merchant the caller is not in);
42501 not an owner or developer.$$;

comment on function public.merchant_prepare_webhook_test(p_endpoint_id uuid) is
$$Creates a webhook.test event and one delivery of it to this endpoint (not queued): the
adapter then delivers it at once, records the attempt and reports the outcome.
Who: platform admins, service_role, and the merchant's owners and developers; viewers and
API keys get 42501; an endpoint of another merchant is reported as not found.
Returns: {delivery_id, url}.
Errors: P0002 endpoint does not exist (or belongs to a merchant the caller is not in);
42501 not an owner or developer.$$;

-- Tables: audit ----------------------------------------------------------------------------------

comment on table audit.log is
$$One change to an audited row (insert, update or delete, written by the audit.record_change
triggers) or one administrative action without a row of its own (queue.clean, queue.retry,
gateway.reorder, written by private.audit_action). Append-only: update, delete and truncate
are refused with 42501. Read (RLS): platform admins, through list_audit_logs. Nobody
writes it directly.$$;
comment on column audit.log.created_at is
$$When the change was written (clock_timestamp(), so the rows of one transaction differ).$$;
comment on column audit.log.actor_id is
$$auth.uid() of the caller; null for service_role, API-key callers and scheduled jobs.$$;
comment on column audit.log.actor_role is
$$The caller's JWT role (authenticated, service_role), else the database role.$$;
comment on column audit.log.action is
$$insert, update or delete for row changes; <area>.<verb> (queue.clean) for actions.$$;
comment on column audit.log.table_schema is
$$Schema of the changed table; pgmq for every administrative action (private.audit_action).$$;
comment on column audit.log.row_id is
$$The row's key value(s) as text, comma-joined for composite keys (merchant_id,user_id);
null for actions that name no row.$$;
comment on column audit.log.old_values is
$$The whole row before the change (update, delete), values of secret-looking keys and of the
table's extra redacted columns (key_hash, credentials_secret_id, ...) replaced by
"[redacted]".$$;
comment on column audit.log.new_values is
$$The whole row after the change (insert, update), redacted as old_values; for actions, the
action's details.$$;
comment on column audit.log.changed_columns is
$$For updates, the columns whose value changed, sorted; no-op updates are not logged.$$;
comment on column audit.log.request_id is
$$The API request's x-request-id (at most 128 characters); null outside a request.$$;

-- Tables: private ------------------------------------------------------------------------------

comment on table private.idempotency_keys is
$$The first response of an idempotent RPC call (create_merchant, admin_create_gateway) per
scope (the RPC), actor and key: a repeat returns it, a different request under the same
key is refused with 22023. No policies and no client grants: only private.idempotency_*
(security definer) read and write it. No retention job prunes it yet.$$;
comment on column private.idempotency_keys.actor is
$$The caller: auth.uid() as text, else its role name (service_role).$$;
comment on column private.idempotency_keys.request_hash is
$$md5 (hex) of the request's parameters as JSON text: a fingerprint, not a secret.$$;

comment on table private.key_admissions is
$$What the API-key gate needs about one key (merchant, mode, limit, until when usable) next
to its GCRA rate-limit bucket, so admitting a request is one conditional UPDATE. A cache:
the tables stay the truth. Changes to the key, its merchant's status or the merchant's
limits invalidate the merchant's rows in the same transaction (triggers), and
private.api_key_gate rebuilds a missing or invalid row. Unlogged (empty after a crash,
rebuilt on demand). No policies or client grants: security definer functions only. Rows
idle for an hour are dropped hourly by pg_cron.$$;
comment on column private.key_admissions.key_hash is
$$HMAC-SHA256 digest (32 bytes) of the API key under the adapter's LSP_API_KEY_PEPPER, as
api_keys.key_hash; the key itself is never stored.$$;
comment on column private.key_admissions.per_min is
$$The key's limit in requests per minute (private.rate_limit_for).$$;
comment on column private.key_admissions.burst_fraction is
$$The adapter's burst fraction (0..1, LSP_RATE_LIMIT_BURST_FRACTION) the row was built for;
a different fraction rebuilds it.$$;
comment on column private.key_admissions.burst is
$$Requests admitted at once from a full bucket: greatest(10, per_min x burst_fraction).$$;
comment on column private.key_admissions.emission is
$$GCRA emission interval: 1 minute / per_min (the spacing of requests at the sustained rate).$$;
comment on column private.key_admissions.tolerance is
$$GCRA tolerance: emission x (burst - 1), how far tat may run ahead of now.$$;
comment on column private.key_admissions.usable_until is
$$When the key stops (revocation or expiry); null = no end; -infinity = invalidated by a
change, rebuilt on the next request.$$;
comment on column private.key_admissions.tat is
$$GCRA theoretical arrival time: a request is admitted while tat - now <= tolerance.$$;

comment on table private.rate_limits is
$$GCRA rate-limit buckets of dashboard users (bucket user:<uuid>): one row-locked statement
per request (private.rate_limit_take), so parallel requests never over-admit. API keys use
private.key_admissions. Unlogged. No policies or client grants. Buckets idle for an hour
are dropped hourly by pg_cron (a full bucket is as good as none).$$;
comment on column private.rate_limits.bucket is
$$What is limited: user:<user id>.$$;
comment on column private.rate_limits.tat is
$$GCRA theoretical arrival time (timestamptz); see private.key_admissions.tat.$$;

comment on table private.rate_limit_breaches is
$$Refused (429) requests per rate-limit bucket and minute, for alerting and the usage page.
Written by private.rate_limit_take (users) and, in batches, private.add_rate_limit_breaches
(API keys: the gate's refusal rolls back its own writes). No policies or client grants.
Kept 35 days.$$;
comment on column private.rate_limit_breaches.bucket is
$$key:<api key id> or user:<user id>.$$;
comment on column private.rate_limit_breaches.minute is
$$Start of the minute (timestamptz).$$;
comment on column private.rate_limit_breaches.breaches is
$$Requests refused in that minute.$$;

-- Tables: public ----------------------------------------------------------------------------------

comment on table public.api_keys is
$$A merchant's API key for the REST API: name, mode, display parts, limit, lifetime and the
digest the gate looks keys up by; never the key. Read (RLS): platform admins, and the
merchant's members and its API keys; key_hash is not granted to clients. Written only
through merchant_create_api_key, merchant_rotate_api_key and merchant_revoke_api_key
(owners, developers, admins), and last_used_at in batches by the adapter
(private.touch_api_keys). Audited with key_hash redacted; a change drops the key's
cached admission.$$;
comment on column public.api_keys.mode is
$$test or live: which kind of payments the key acts on.$$;
comment on column public.api_keys.prefix is
$$Display prefix: lsp_test_ or lsp_live_ and the first 4 characters of the key's random part.$$;
comment on column public.api_keys.last4 is
$$The key's last 4 characters (part of its checksum), for display.$$;
comment on column public.api_keys.key_hash is
$$HMAC-SHA256 (32 bytes) of the full key under the adapter's LSP_API_KEY_PEPPER, which is
never in the database, so a dump alone cannot verify a key. Not readable by clients.$$;
comment on column public.api_keys.rate_limit_per_min is
$$This key's limit in requests per minute; null = the merchant's override
(merchant_rate_limits.api_key_per_min), else 600.$$;
comment on column public.api_keys.expires_at is
$$When the key stops working; null = never.$$;
comment on column public.api_keys.last_used_at is
$$Last admitted request, written in batches (up to LSP_LAST_USED_FLUSH_S, 5 s, late).$$;
comment on column public.api_keys.revoked_at is
$$When the key stops; in the future while a regenerated key's grace window runs (rotating).$$;
comment on column public.api_keys.revoked_reason is
$$revoked (merchant_revoke_api_key) or rotated (merchant_rotate_api_key).$$;
comment on column public.api_keys.replaced_by is
$$The key that merchant_rotate_api_key made to replace this one.$$;

comment on table public.api_usage_minute is
$$API-key request counts per merchant, key, minute and endpoint, with a latency histogram.
Written in batches off the request path by the adapter (private.record_api_usage,
service_role). Read (RLS): platform admins, the merchant's members and its API keys;
merchant_usage sums it. No retention job prunes it yet.$$;
comment on column public.api_usage_minute.minute is
$$Start of the minute (timestamptz) the requests were answered in.$$;
comment on column public.api_usage_minute.endpoint is
$$The route template (/api/v1/merchant/webhooks/{id}), not the concrete path.$$;
comment on column public.api_usage_minute.requests is
$$Requests answered, whatever the status.$$;
comment on column public.api_usage_minute.errors_4xx is
$$Requests answered 400..499 except 429.$$;
comment on column public.api_usage_minute.errors_5xx is
$$Requests answered 500 or above.$$;
comment on column public.api_usage_minute.rate_limited is
$$Requests answered 429.$$;
comment on column public.api_usage_minute.h1 is
$$Latency histogram: requests answered in at most 25 ms (the adapter's time to answer).$$;
comment on column public.api_usage_minute.h2 is
$$Latency histogram: requests answered in more than 25 and at most 50 ms.$$;
comment on column public.api_usage_minute.h3 is
$$Latency histogram: requests answered in more than 50 and at most 100 ms.$$;
comment on column public.api_usage_minute.h4 is
$$Latency histogram: requests answered in more than 100 and at most 200 ms.$$;
comment on column public.api_usage_minute.h5 is
$$Latency histogram: requests answered in more than 200 and at most 300 ms.$$;
comment on column public.api_usage_minute.h6 is
$$Latency histogram: requests answered in more than 300 and at most 500 ms.$$;
comment on column public.api_usage_minute.h7 is
$$Latency histogram: requests answered in more than 500 and at most 750 ms.$$;
comment on column public.api_usage_minute.h8 is
$$Latency histogram: requests answered in more than 750 and at most 1000 ms.$$;
comment on column public.api_usage_minute.h9 is
$$Latency histogram: requests answered in more than 1000 and at most 1500 ms.$$;
comment on column public.api_usage_minute.h10 is
$$Latency histogram: requests answered in more than 1500 and at most 2000 ms.$$;
comment on column public.api_usage_minute.h11 is
$$Latency histogram: requests answered in more than 2000 and at most 3000 ms.$$;
comment on column public.api_usage_minute.h12 is
$$Latency histogram: requests answered in more than 3000 and at most 5000 ms.$$;
comment on column public.api_usage_minute.h13 is
$$Latency histogram: requests answered in more than 5000 and at most 10000 ms.$$;
comment on column public.api_usage_minute.h14 is
$$Latency histogram: requests answered in more than 10000 ms.$$;

comment on table public.gateway_daily_usage is
$$Amount committed per gateway and India (Asia/Kolkata) day against the gateway's
daily_limit: pending and succeeded payments count; a failed or cancelled one gives its
amount back. Kept by the transactions trigger private.transaction_gateway_accounting under
this row's lock, so concurrent payments cannot jointly pass the limit. Read (RLS):
platform admins. No client writes it.$$;
comment on column public.gateway_daily_usage.day is
$$The India (Asia/Kolkata) calendar date the payments were created on.$$;
comment on column public.gateway_daily_usage.reserved is
$$Sum of the committed payments' amounts in minor units (paise for INR), as stored on
transactions; not converted between currencies.$$;

comment on table public.gateway_probes is
$$One credential check of a gateway: source probe (scheduled every minute by pg_cron
through the gateway_health queue; moves health) or manual (an admin's test; recorded
only). Written by the worker (private.record_gateway_probe) and admin_record_gateway_test.
Read (RLS): platform admins. Kept 7 days.$$;
comment on column public.gateway_probes.source is
$$probe (scheduled, moves health) or manual (an admin's test, does not).$$;
comment on column public.gateway_probes.latency_ms is
$$Milliseconds the check took, to the provider's answer or to giving up.$$;
comment on column public.gateway_probes.http_status is
$$The provider's HTTP status; null when there was no answer.$$;
comment on column public.gateway_probes.error_class is
$$Why a check failed: auth_failed, unreachable, timeout, rate_limited or
unexpected_response (5xx or an unparseable answer); null when ok.$$;

comment on table public.gateway_providers is
$$The provider catalogue (reference data the migrations insert): per provider its
credential fields, test and live base URLs and how credentials are checked. Read (RLS):
platform admins (admin_gateway_catalog). Written only by migrations.$$;
comment on column public.gateway_providers.credential_fields is
$$[{name, label, required, secret}]: the credentials a gateway of this provider needs;
fields with secret false are shown unmasked.$$;
comment on column public.gateway_providers.base_urls is
$${test, live}: the provider's API base URL per environment.$$;
comment on column public.gateway_providers.credential_check is
$${request, outcomes}: the call that checks credentials and what its answers mean.$$;

comment on table public.gateway_stats_hour is
$$Transaction outcomes per gateway and hour, kept by the transactions trigger
private.transaction_outcome_buckets: each transaction counts once, when it first succeeds
or fails (cancelled ones do not count). Feeds the 24 h figures. Read (RLS): platform
admins. Kept 35 days.$$;
comment on column public.gateway_stats_hour.hour is
$$Start of the hour (timestamptz) the outcome was recorded in.$$;
comment on column public.gateway_stats_hour.volume is
$$Sum of succeeded amounts in minor units (paise for INR); not converted between currencies.$$;

comment on table public.gateway_stats_minute is
$$Transaction outcomes per gateway and minute with a provider-latency histogram, kept by the
transactions trigger private.transaction_outcome_buckets (each transaction counts once,
when it first succeeds or fails). Feeds the 1 h success rate, p50/p95 latency and routing.
Read (RLS): platform admins. Kept 2 days.$$;
comment on column public.gateway_stats_minute.minute is
$$Start of the minute (timestamptz) the outcome was recorded in.$$;
comment on column public.gateway_stats_minute.volume is
$$Sum of succeeded amounts in minor units (paise for INR); not converted between currencies.$$;
comment on column public.gateway_stats_minute.h1 is
$$Latency histogram: outcomes with provider_latency_ms at most 25.$$;
comment on column public.gateway_stats_minute.h2 is
$$Latency histogram: outcomes with provider_latency_ms over 25 and at most 50.$$;
comment on column public.gateway_stats_minute.h3 is
$$Latency histogram: outcomes with provider_latency_ms over 50 and at most 100.$$;
comment on column public.gateway_stats_minute.h4 is
$$Latency histogram: outcomes with provider_latency_ms over 100 and at most 200.$$;
comment on column public.gateway_stats_minute.h5 is
$$Latency histogram: outcomes with provider_latency_ms over 200 and at most 300.$$;
comment on column public.gateway_stats_minute.h6 is
$$Latency histogram: outcomes with provider_latency_ms over 300 and at most 500.$$;
comment on column public.gateway_stats_minute.h7 is
$$Latency histogram: outcomes with provider_latency_ms over 500 and at most 750.$$;
comment on column public.gateway_stats_minute.h8 is
$$Latency histogram: outcomes with provider_latency_ms over 750 and at most 1000.$$;
comment on column public.gateway_stats_minute.h9 is
$$Latency histogram: outcomes with provider_latency_ms over 1000 and at most 1500.$$;
comment on column public.gateway_stats_minute.h10 is
$$Latency histogram: outcomes with provider_latency_ms over 1500 and at most 2000.$$;
comment on column public.gateway_stats_minute.h11 is
$$Latency histogram: outcomes with provider_latency_ms over 2000 and at most 3000.$$;
comment on column public.gateway_stats_minute.h12 is
$$Latency histogram: outcomes with provider_latency_ms over 3000 and at most 5000.$$;
comment on column public.gateway_stats_minute.h13 is
$$Latency histogram: outcomes with provider_latency_ms over 5000 and at most 10000.$$;
comment on column public.gateway_stats_minute.h14 is
$$Latency histogram: outcomes with provider_latency_ms over 10000, and outcomes without a
provider_latency_ms (private.latency_bucket(null) is 14).$$;

comment on table public.gateway_windows is
$$Per gateway, a snapshot of the last complete hour (from minute buckets) and the last
complete day (from hour buckets), refreshed every minute by pg_cron
(private.refresh_gateway_windows). Readers add the buckets newer than the snapshot, so the
windows span 60-61 minutes and 24-25 hours without scanning. Read (RLS): platform admins.$$;
comment on column public.gateway_windows.through_minute is
$$The 1 h figures cover minute buckets from through_minute - 1 hour up to, not including,
through_minute.$$;
comment on column public.gateway_windows.succeeded_1h is
$$Succeeded transactions in the hour window.$$;
comment on column public.gateway_windows.total_1h is
$$Succeeded plus failed transactions in the hour window.$$;
comment on column public.gateway_windows.hist_1h is
$$14 counts: the hour window's latency histogram, same buckets as gateway_stats_minute.h1..h14.$$;
comment on column public.gateway_windows.through_hour is
$$The 24 h figures cover hour buckets from through_hour - 1 day up to, not including,
through_hour.$$;
comment on column public.gateway_windows.succeeded_24h is
$$Succeeded transactions in the day window.$$;
comment on column public.gateway_windows.total_24h is
$$Succeeded plus failed transactions in the day window.$$;

comment on table public.gateways is
$$A payment gateway account the platform routes payments to: its provider, routing
settings (priority, amount bounds, daily limit, currencies, methods, regions), a reference
to its credentials in Vault with a masked copy, and its health. Read (RLS): platform admins
only. Written through the admin_*_gateway RPCs; health by the worker's probes
(private.record_gateway_probe). Audited with credentials_secret_id redacted; a reorder is
audited once as gateway.reorder instead of a row per priority change.$$;
comment on column public.gateways.environment is
$$test or live: which base URL and credentials the gateway uses.$$;
comment on column public.gateways.status is
$$active (routed), inactive (kept, not routed) or archived (ended; credentials deleted).$$;
comment on column public.gateways.priority is
$$Routing order, lower first (0..100000); admin_set_gateway_priority renumbers 1..n.$$;
comment on column public.gateways.min_amount is
$$Smallest payment routed here, in minor units (paise for INR) of the payment's currency.$$;
comment on column public.gateways.max_amount is
$$Largest payment routed here, in minor units of the payment's currency; null = no maximum.$$;
comment on column public.gateways.daily_limit is
$$Most this gateway may take per India (Asia/Kolkata) day, in minor units, counted over
pending and succeeded payments (gateway_daily_usage); null = no limit.$$;
comment on column public.gateways.currencies is
$$ISO 4217 codes of the currencies the gateway accepts (at least one).$$;
comment on column public.gateways.methods is
$$Payment methods served (card, upi, netbanking, wallet, emi, paylater); empty = all.$$;
comment on column public.gateways.regions is
$$ISO 3166 country or subdivision codes served (IN, IN-KA); empty = all; IN-KA matches IN.$$;
comment on column public.gateways.config is
$$Non-secret provider settings (an object); secret-looking keys are refused.$$;
comment on column public.gateways.credentials_secret_id is
$$Id of the Vault secret holding the credentials JSON; null once archived. Only
private.gateway_credentials (service_role) decrypts it.$$;
comment on column public.gateways.credentials_masked is
$$The credentials with every field the catalogue does not mark non-secret masked: first 2
characters, ****, last 2; ******** when shorter than 10.$$;
comment on column public.gateways.credentials_rotated_at is
$$When the credentials were last replaced; null if never.$$;
comment on column public.gateways.health_state is
$$unknown (never probed), healthy, degraded or down, from the scheduled probes.$$;
comment on column public.gateways.health_changed_at is
$$When health_state last changed.$$;
comment on column public.gateways.consecutive_failures is
$$Scheduled probes failed in a row; 3 make the gateway down.$$;
comment on column public.gateways.consecutive_successes is
$$Scheduled probes succeeded in a row; 2 bring a down gateway back.$$;
comment on column public.gateways.last_probe is
$$The last scheduled probe: {ok, latency_ms (ms), http_status, error_class, message, at}.$$;
comment on column public.gateways.last_test is
$$The last manual credential check, same shape as last_probe.$$;

comment on table public.job_attempts is
$$One attempt at running a job: worker, start, finish, duration and outcome (succeeded,
failed, timed_out, lost) with the error. Written by the worker through the
private.worker_* functions (service_role). Read (RLS): platform admins (admin_get_job).
Kept for the queue's retention_days (default 7).$$;
comment on column public.job_attempts.msg_id is
$$The pgmq message id within queue_name; the job id is <queue_name>:<msg_id>.$$;
comment on column public.job_attempts.attempt is
$$1 for the first attempt.$$;
comment on column public.job_attempts.duration_ms is
$$Milliseconds the handler ran.$$;
comment on column public.job_attempts.error_class is
$$The exception's class name (first 200 characters); WorkerLost for a lost attempt.$$;
comment on column public.job_attempts.error_message is
$$The error message (first 2000 characters).$$;
comment on column public.job_attempts.traceback is
$$The traceback, truncated to 4000 characters.$$;

comment on table public.job_lineage is
$$A link between two jobs (ids <queue>:<msg_id>): dead_lettered (a job out of attempts ->
its copy in <queue>_dlq) or retried (a dead letter -> the job an admin retry created).
Written by private.worker_fail and admin_retry_jobs. Read (RLS): platform admins.$$;

comment on table public.merchant_members is
$$A user's membership of a merchant, with a role: owner (manages members, API keys and
webhooks), developer (manages API keys and webhooks) or viewer (reads). Read (RLS):
platform admins, members of the same merchant and its API keys. Written through
create_merchant, set_merchant_member and remove_merchant_member (admins, owners). Audited.$$;

comment on table public.merchant_rate_limits is
$$A merchant's override of request rate limits, set by admins through
admin_set_merchant_rate_limits. Read (RLS): platform admins, the merchant's members and its
API keys. Audited; a change drops the merchant's key admissions, so it applies at once.$$;
comment on column public.merchant_rate_limits.api_key_per_min is
$$Requests per minute for each of the merchant's API keys without a limit of its own;
null = 600.$$;
comment on column public.merchant_rate_limits.user_per_min is
$$Requests per minute for each of the merchant's dashboard users; null = no override (300
unless another of the user's merchants has one); a user under several overrides gets the
lowest.$$;

comment on table public.merchants is
$$A merchant account: a business that takes payments through the platform. Read (RLS):
platform admins, its members and its API keys. Written through create_merchant and
set_merchant_status (admins). Audited; a status change stops or restarts its API keys at
once.$$;
comment on column public.merchants.status is
$$active (takes payments), suspended or closed (routing refuses it, its API keys are
refused).$$;
comment on column public.merchants.country is
$$ISO 3166 alpha-2 code (default IN).$$;

comment on table public.notifications is
$$A message to a merchant's dashboard users (API key regenerated, webhook endpoint
disabled). Read (RLS): platform admins, and the merchant's members (and API keys) for rows
addressed to them or to everyone. Written by the database functions that raise them
(private.rotate_api_key, private.record_webhook_attempt); no RPC marks them read yet.$$;
comment on column public.notifications.user_id is
$$The addressee; null = every member of the merchant.$$;
comment on column public.notifications.kind is
$$<area>.<event>, such as api_key.rotated or webhook.endpoint_disabled.$$;
comment on column public.notifications.details is
$$Kind-specific data (an object).$$;
comment on column public.notifications.read_at is
$$When the addressee read it; null = unread.$$;

comment on table public.platform_admins is
$$The users who operate the whole platform (platform admins). Read (RLS): admins see every
row, a user sees their own. Written through grant_platform_admin and revoke_platform_admin
(admins; at least one stays). Audited.$$;
comment on column public.platform_admins.granted_by is
$$The admin who granted the role; null when granted by service_role or a migration.$$;

comment on table public.queue_controls is
$$Operator settings of one job queue (payment, webhook, settlement, gateway_health): pause
state, and the worker's concurrency, attempts, visibility timeout, backoff and retention.
Rows come from migrations; the pause fields change through admin_pause_queue, the others
only by migration. Read (RLS): platform admins. Audited.$$;
comment on column public.queue_controls.paused_by is
$$The user who paused the queue; null when not paused or paused by service_role.$$;
comment on column public.queue_controls.concurrency is
$$Jobs of this queue one worker process runs at once.$$;
comment on column public.queue_controls.max_attempts is
$$Attempts before a job is moved to the dead-letter queue <queue>_dlq.$$;
comment on column public.queue_controls.visibility_timeout_s is
$$Seconds a read job stays invisible to other workers; a handler still running near it is
cancelled and counted as timed_out.$$;
comment on column public.queue_controls.backoff_base_s is
$$Seconds: a failed job is retried after backoff_base_s x 2^(attempt - 1), +-20% jitter.$$;
comment on column public.queue_controls.backoff_max_s is
$$Seconds: the cap on that retry delay.$$;
comment on column public.queue_controls.retention_days is
$$Days archived jobs and attempt history are kept.$$;

comment on table public.queue_stats_minute is
$$Job counters per queue and minute, bumped by the functions that move jobs, so dashboards
never count a pgmq archive. Read (RLS): platform admins. Kept 7 days.$$;
comment on column public.queue_stats_minute.minute is
$$Start of the minute (timestamptz).$$;
comment on column public.queue_stats_minute.failed is
$$Failed attempts, whether retried in place or dead-lettered.$$;
comment on column public.queue_stats_minute.retried is
$$Failed attempts retried in place.$$;
comment on column public.queue_stats_minute.dead_lettered is
$$Jobs moved to the dead-letter queue.$$;

comment on table public.transactions is
$$A payment a merchant takes: amount, currency, the gateway it was routed to, its status and
the provider's answer. Status moves forward only: created -> pending or processing ->
succeeded, failed or cancelled; succeeded -> partially_refunded -> refunded (P0001
otherwise). Read (RLS): platform admins, the merchant's members and its API keys. Written
by service_role (payment processing); no client RPC writes it. Triggers keep the audit
log, the gateway's daily limit (P0001 when reached) and the outcome buckets.$$;
comment on column public.transactions.status is
$$created, pending, processing, succeeded, failed, cancelled, partially_refunded or refunded.$$;
comment on column public.transactions.provider_reference is
$$The provider's own id for the payment.$$;
comment on column public.transactions.amount is
$$The payment's amount, positive, in minor units of currency (paise for INR).$$;
comment on column public.transactions.currency is
$$ISO 4217 code of amount.$$;
comment on column public.transactions.provider_latency_ms is
$$Milliseconds the provider took to decide the payment; feeds the latency histogram.$$;
comment on column public.transactions.idempotency_key is
$$The merchant's key for this payment, unique per merchant (1..255 characters).$$;
comment on column public.transactions.completed_at is
$$When the payment reached succeeded, failed or cancelled.$$;

comment on table public.wallet_ledger is
$$One signed entry in a merchant wallet's ledger (payment, refund, settlement, fee,
adjustment, payout). Append-only: update, delete and truncate are refused with 42501.
Inserting applies the entry to the wallet under the wallet's lock and refuses one that
would take the balance below zero (23514). Read (RLS): platform admins, the merchant's
members and its API keys. Written through post_wallet_entry (admins). Audited.$$;
comment on column public.wallet_ledger.amount is
$$Signed minor units of the wallet's currency (paise for INR): positive credits, negative
debits, never zero.$$;
comment on column public.wallet_ledger.balance_after is
$$The wallet's balance right after this entry, in minor units of its currency; never
negative.$$;
comment on column public.wallet_ledger.idempotency_key is
$$The poster's key for this entry, unique per wallet (1..255 characters).$$;

comment on table public.wallets is
$$A merchant's balance in one currency (one wallet per merchant and currency). The balance
changes only through wallet_ledger entries (a direct change is refused with 42501) and never
goes below zero. Read (RLS): platform admins, the merchant's members and its API keys.
Created by post_wallet_entry on first use. Audited.$$;
comment on column public.wallets.currency is
$$ISO 4217 code of balance.$$;
comment on column public.wallets.balance is
$$Current balance in minor units of currency (paise for INR); never negative.$$;

comment on table public.webhook_attempts is
$$One HTTP attempt at delivering a webhook: when, the answer's status and latency, and the
first 4 KB of its body or the error. Written by private.record_webhook_attempt (the worker
and the test action). Read (RLS): platform admins, the merchant's members and its API keys.
No retention job prunes it yet.$$;
comment on column public.webhook_attempts.attempt is
$$1 for the first attempt of the delivery.$$;
comment on column public.webhook_attempts.started_at is
$$When the request was sent.$$;
comment on column public.webhook_attempts.status_code is
$$The receiver's HTTP status; null when there was no answer.$$;
comment on column public.webhook_attempts.latency_ms is
$$Milliseconds from sending the request to its answer (or giving up).$$;
comment on column public.webhook_attempts.response_body is
$$The first 4 KB of the receiver's answer.$$;
comment on column public.webhook_attempts.error is
$$Why there was no usable answer (timeout, refused address, ...); at most 500 characters.$$;

comment on table public.webhook_deliveries is
$$One event to one endpoint: status, attempts so far and the next retry. Created by
private.emit_event (one per matching enabled endpoint) and merchant_prepare_webhook_test;
updated by private.record_webhook_attempt and merchant_redeliver_webhook. Read (RLS):
platform admins, the merchant's members and its API keys.$$;
comment on column public.webhook_deliveries.status is
$$pending (queued or retrying), delivered, failed (out of retries or endpoint disabled) or
skipped (allowed, not set by any code yet).$$;
comment on column public.webhook_deliveries.attempts is
$$Attempts made so far.$$;
comment on column public.webhook_deliveries.next_attempt_at is
$$When the next attempt is due; null unless one is scheduled.$$;
comment on column public.webhook_deliveries.last_status_code is
$$The receiver's HTTP status at the last attempt; null when there was no answer.$$;

comment on table public.webhook_endpoints is
$$A merchant's URL that receives signed webhook events: its event filter, enabled state and
signing secrets (in Vault). Read (RLS): platform admins, the merchant's members and its API
keys; the secret id columns are not granted to clients. Written through the
merchant_*_webhook_* RPCs (owners, developers, admins) and by delivery outcomes
(failing_since; disabled after a 410 or five days of continuous failure). Audited with the
secret ids redacted.$$;
comment on column public.webhook_endpoints.event_types is
$$Event filter: exact types (payment.succeeded) or <area>.* (payment.*); empty = every event.$$;
comment on column public.webhook_endpoints.failing_since is
$$Start of the current run of failed attempts; null while delivering. The endpoint is
disabled once it has failed continuously for LSP_WEBHOOK_DISABLE_AFTER_S (5 days).$$;
comment on column public.webhook_endpoints.secret_id is
$$Id of the Vault secret holding the current signing secret (whsec_...).$$;
comment on column public.webhook_endpoints.previous_secret_id is
$$Id of the Vault secret replaced by the last rotation; still signs until
previous_secret_expires_at.$$;
comment on column public.webhook_endpoints.previous_secret_expires_at is
$$Last rotation + 24 hours: until then deliveries carry both signatures.$$;

comment on table public.webhook_events is
$$Something that happened to a merchant (api_key.rotated, webhook.test, ...), delivered to
each matching enabled endpoint. Written by private.emit_event and
merchant_prepare_webhook_test. Read (RLS): platform admins, the merchant's members and its
API keys. No retention job prunes it yet.$$;
comment on column public.webhook_events.id is
$$msg_ and 32 hex characters; sent as the webhook-id header, stable across retries, for
receivers to dedupe on.$$;
comment on column public.webhook_events.type is
$$<area>.<event>, such as payment.succeeded.$$;

comment on table public.worker_heartbeats is
$$One worker process: its queues, when it was last seen (heartbeat every 5 s), the jobs in
flight and its counters. Written by the worker (private.worker_heartbeat, service_role).
Read (RLS): platform admins. Deleted a day after the worker stopped or was last seen.$$;
comment on column public.worker_heartbeats.last_seen_at is
$$Last heartbeat; a worker seen within 15 s is alive, else stale.$$;
comment on column public.worker_heartbeats.stopped_at is
$$When the worker shut down cleanly; null while running (or if it died).$$;
comment on column public.worker_heartbeats.in_flight_jobs is
$$Ids (<queue>:<msg_id>) of the jobs running at the last heartbeat.$$;
comment on column public.worker_heartbeats.processed is
$$Jobs this process completed successfully since it started.$$;
comment on column public.worker_heartbeats.failed is
$$Job attempts of this process that failed since it started.$$;

-- Security definer functions: what each checks and does ------------------------------------------

comment on function audit.record_change() is
$$Audit trigger: appends the change to audit.log with the caller, request id, key columns
(tg_argv[0], default id) and the old and new row redacted (secret-looking keys plus the
columns in tg_argv[1:]); skips no-op updates.$$;

-- Who is calling
comment on function private.is_admin() is
$$True for service_role and for users in platform_admins.$$;
comment on function private.is_service_role() is
$$True when the JWT role or the database role is service_role.$$;
comment on function private.current_role_is(p_role text) is
$$True when the caller holds the role: admin, service_role, or a merchant role (owner,
developer, viewer) in any merchant.$$;
comment on function private.member_merchant_ids(p_roles text[]) is
$$The merchants the caller belongs to (with one of p_roles, if given), plus the calling API
key's merchant when p_roles is null or includes api_key; used by RLS policies.$$;
comment on function private.has_merchant_role(p_merchant_id uuid, p_roles text[]) is
$$True when the caller is a member of the merchant (with one of p_roles, if given; api_key
stands for the merchant's API keys).$$;
comment on function private.require_admin() is
$$Raises 42501 unless the caller is a platform admin or service_role.$$;
comment on function private.require_user() is
$$Returns auth.uid(); raises 42501 when there is no signed-in user.$$;
comment on function private.require_merchant(p_merchant_id uuid, p_roles text[], p_doing text) is
$$The merchant a call acts on: p_merchant_id, else the calling API key's merchant, else the
caller's only membership (22023 naming the choices for a member of several; 22023 when none
is known). Then requires one of p_roles ('api_key' admits API keys; null: any member) or
admin (42501 otherwise; P0002 when an admin names an unknown merchant).$$;
comment on function private.check_member_manager(p_merchant_id uuid, p_user_id uuid) is
$$Raises unless the caller may manage the merchant's members: P0002 unknown merchant (admins
only), 42501 not an owner or admin, or the caller's own membership.$$;
comment on function private.keeps_an_owner(p_merchant_id uuid, p_user_id uuid) is
$$True when the merchant has an owner other than p_user_id.$$;
comment on function private.check_row_access(
  p_found boolean, p_merchant_id uuid, p_roles text[], p_what text, p_id text
) is
$$Raises P0002 when the row is missing or of a merchant the caller is not in, 42501 when
the caller is a member without one of p_roles; admins pass.$$;
comment on function private.create_queue(
  p_queue text, p_concurrency integer, p_max_attempts integer, p_visibility_timeout_s integer
) is
$$Makes a job queue (migrations only, as service_role): its queue_controls row (the one list
of queue names) and its pgmq queue and <queue>_dlq. Idempotent.$$;
comment on function private.rate_limit_for(p_api_key_id uuid, p_user_id uuid) is
$$A key's or user's limit in requests per minute: the key's own, else the merchant's
override, else 600 for keys; the lowest override of the user's merchants, else 300.$$;
comment on function private.migration_version() is
$$The newest applied migration version (for /readyz); null when the CLI's table is missing.$$;

-- Idempotency and audit helpers
comment on function private.idempotency_replay(p_scope text, p_key text, p_request jsonb) is
$$Serialises calls with the same scope, caller and key (advisory lock) and returns the stored
response of an earlier call; 22023 for a key of the wrong length or reused with different
parameters; null when there is none.$$;
comment on function private.idempotency_store(
  p_scope text, p_key text, p_request jsonb, p_response jsonb
) is
$$Stores the response under the scope, caller and key (when a key was given) and returns it.$$;
comment on function private.audit_action(
  p_action text, p_target_table text, p_target_id text, p_details jsonb
) is
$$Appends an administrative action (queue.clean, queue.retry, gateway.reorder) to audit.log
with the caller, request id and redacted details.$$;

-- Merchants, members, admins, wallets (wrapped by the public RPCs of the same names)
comment on function private.create_merchant(
  p_name text, p_owner_user_id uuid, p_country text, p_idempotency_key text
) is
$$Admins only: validates, creates the merchant and its first owner, idempotently; see
public.create_merchant.$$;
comment on function private.set_merchant_status(p_merchant_id uuid, p_status text) is
$$Admins only: sets the merchant's status; see public.set_merchant_status.$$;
comment on function private.set_merchant_member(p_merchant_id uuid, p_user_id uuid, p_role text) is
$$Admins and owners: adds a member or changes their role, keeping an owner; see
public.set_merchant_member.$$;
comment on function private.remove_merchant_member(p_merchant_id uuid, p_user_id uuid) is
$$Admins and owners: removes a member, keeping an owner; see public.remove_merchant_member.$$;
comment on function private.grant_platform_admin(p_user_id uuid) is
$$Admins only, never to themselves: adds the user to platform_admins; see
public.grant_platform_admin.$$;
comment on function private.revoke_platform_admin(p_user_id uuid) is
$$Admins only: removes the user from platform_admins, keeping at least one admin; see
public.revoke_platform_admin.$$;
comment on function private.post_wallet_entry(
  p_merchant_id uuid, p_currency text, p_amount bigint, p_kind text, p_reference text,
  p_idempotency_key text
) is
$$Admins only: posts a signed ledger entry (minor units) to the merchant's wallet, creating
the wallet, idempotent per wallet and key; see public.post_wallet_entry.$$;
comment on function private.set_merchant_rate_limits(
  p_merchant_id uuid, p_api_key_per_min integer, p_user_per_min integer
) is
$$Admins only: upserts the merchant's per-minute limits; see
public.admin_set_merchant_rate_limits.$$;

-- Job queues
comment on function private.enqueue(
  p_queue text, p_payload jsonb, p_delay_seconds integer, p_job_key text
) is
$$For producers in the database and service_role: validates and sends {key, payload} to the
queue, counts it and NOTIFYs lsp_jobs. No role check of its own (not granted to clients).$$;
comment on function private.enqueue_job(
  p_queue text, p_payload jsonb, p_delay_seconds integer, p_job_key text
) is
$$Admins only: private.enqueue on behalf of public.enqueue_job.$$;
comment on function private.get_job(p_job_id text) is
$$Admins only: one job's state, redacted payload, attempts and lineage; see
public.admin_get_job.$$;
comment on function private.queue_overview() is
$$Admins only: depth, age, rates, state and settings of every queue; see
public.admin_list_queues.$$;
comment on function private.queue_stats() is
$$Admins only: the last hour's per-minute counters and the workers; see
public.admin_queue_stats.$$;
comment on function private.retry_jobs(
  p_queue text, p_job_ids text[], p_limit integer, p_delay_seconds integer
) is
$$Admins only: sends dead letters back to their queues and records lineage and an audit
row; see public.admin_retry_jobs.$$;
comment on function private.clean_queue(
  p_queue text, p_state text, p_older_than_seconds integer, p_limit integer, p_delete boolean
) is
$$Admins only: deletes old archived jobs or archives/deletes old dead letters, audited; see
public.admin_clean_queue.$$;
comment on function private.pause_queue(p_queue text, p_paused boolean, p_reason text) is
$$Admins only: pauses or resumes queues and notifies workers; see public.admin_pause_queue.$$;
comment on function private.queue_retention(p_batch integer) is
$$pg_cron every 10 minutes: deletes archived jobs and attempts older than each queue's
retention_days (p_batch per queue and run), minute counters after 7 days and heartbeats of
workers gone for a day.$$;

-- Gateways
comment on function private.gateway_catalog() is
$$Admins only: the provider catalogue; see public.admin_gateway_catalog.$$;
comment on function private.list_gateways(p_include_archived boolean) is
$$Admins only: every gateway's view with figures; see public.admin_list_gateways.$$;
comment on function private.create_gateway(
  p_gateway jsonb, p_test_result jsonb, p_idempotency_key text
) is
$$Admins only: validates and inserts a gateway, credentials to Vault, idempotently; see
public.admin_create_gateway.$$;
comment on function private.update_gateway(p_gateway_id uuid, p_changes jsonb) is
$$Admins only: applies a partial update, rotating credentials when sent; see
public.admin_update_gateway.$$;
comment on function private.archive_gateway(p_gateway_id uuid, p_force boolean) is
$$Admins only: archives a gateway and deletes its Vault secret, refusing in-flight payments
unless forced; see public.admin_archive_gateway.$$;
comment on function private.store_credentials(g public.gateways, p_credentials jsonb) is
$$Puts the credentials in Vault (deleting the gateway's previous secret, stamping the
rotation) and sets the masked copy on the row value; callers check the role.$$;
comment on function private.gateway_credentials(p_gateway_id uuid) is
$$service_role only (not granted to clients): the decrypted credentials, provider and
environment of a non-archived gateway, for the adapter's tests and the worker's probes.$$;
comment on function private.gateway_test_target(p_gateway_id uuid) is
$$Admins only: a testable gateway's provider and environment; see
public.admin_gateway_test_target.$$;
comment on function private.record_gateway_test(p_gateway_id uuid, p_result jsonb) is
$$Admins only: records a manual check as a probe and as last_test; see
public.admin_record_gateway_test.$$;
comment on function private.gateway_health() is
$$Admins only: health per gateway and availability per region; see
public.admin_gateway_health.$$;
comment on function private.set_gateway_priority(p_gateway_ids uuid[]) is
$$Admins only: renumbers the priorities of every non-archived gateway in the given order,
audited; see public.admin_set_gateway_priority.$$;
comment on function private.route_payment(
  p_merchant_id uuid, p_amount bigint, p_currency text, p_method text, p_region text
) is
$$Admins only: validates the payment and an active merchant, then lists
private.route_gateways' candidates; see public.route_payment.$$;
comment on function private.enqueue_gateway_probes() is
$$pg_cron every minute: queues one gateway_health probe per active gateway (one per gateway
and minute by job key); returns how many.$$;
comment on function private.refresh_gateway_windows() is
$$pg_cron every minute: rewrites each non-archived gateway's last complete hour and day in
gateway_windows; returns the rows written.$$;
comment on function private.gateway_retention() is
$$pg_cron hourly: deletes probes older than 7 days (50,000 per run), minute buckets older
than 2 days and hour buckets older than 35 days.$$;

-- API keys and rate limits
comment on function private.create_api_key(
  p_merchant_id uuid, p_name text, p_mode text, p_prefix text, p_last4 text, p_hash bytea,
  p_expires_at timestamp with time zone
) is
$$Admins, owners and developers: validates and inserts a key digest; see
public.merchant_create_api_key.$$;
comment on function private.list_api_keys(p_merchant_id uuid) is
$$Admins and members (API keys included): the merchant's key views; see
public.merchant_list_api_keys.$$;
comment on function private.revoke_api_key(p_key_id uuid) is
$$Admins, owners and developers of the key's merchant: revokes it now; see
public.merchant_revoke_api_key.$$;
comment on function private.rotate_api_key(
  p_key_id uuid, p_prefix text, p_last4 text, p_hash bytea, p_grace_seconds integer
) is
$$Admins, owners and developers of the key's merchant: adds the replacement key, ends the
old one after the grace window and notifies owners; see public.merchant_rotate_api_key.$$;
comment on function private.merchant_usage(
  p_merchant_id uuid, p_from timestamp with time zone, p_to timestamp with time zone,
  p_granularity text
) is
$$Admins and members (API keys included): the merchant's usage figures; see
public.merchant_usage.$$;
comment on function private.api_key_gate(p_hash bytea, p_burst_fraction numeric, p_limit boolean) is
$$service_role only: admits a request with the API key whose digest is p_hash (status and,
when p_limit, the GCRA limit in one UPDATE of private.key_admissions, rebuilt when missing);
answers {api_key_id, merchant_id, mode, per_min, remaining, reset_ms (ms)}, raises PT401
(detail: why) or PT429 (detail: limit, retry_after_ms, reset_ms).$$;
comment on function private.build_key_admission(
  p_hash bytea, p_burst_fraction numeric, p_now timestamp with time zone
) is
$$Called by the gate: rebuilds a key's admission row from api_keys, merchants and the limits
under a shared advisory lock on the merchant; raises PT401 for an unknown, revoked or
expired key or a merchant that is not active.$$;
comment on function private.forget_key_admissions() is
$$Trigger on api_keys, merchants and merchant_rate_limits: under an exclusive advisory lock
on the merchant, invalidates (or deletes) the affected key admissions so the gate rebuilds
them from the tables.$$;
comment on function private.rate_limit_take(p_bucket text, p_per_min integer, p_burst integer) is
$$service_role only: one GCRA step for a bucket (row-locked, never over-admits); counts a
refusal in rate_limit_breaches; returns allowed, remaining, retry_after_ms, reset_ms (ms).$$;
comment on function private.add_rate_limit_breaches(
  p_buckets text[], p_minutes timestamp with time zone[], p_counts integer[]
) is
$$service_role only: adds the adapter's batched API-key refusal counts per bucket and minute.$$;
comment on function private.rate_limit_retention() is
$$pg_cron hourly: drops rate-limit buckets and key admissions idle for an hour and breach
counts older than 35 days.$$;
comment on function private.touch_api_keys(
  p_ids uuid[], p_used_at timestamp with time zone[]
) is
$$service_role only: moves keys' last_used_at forward (never back) from the adapter's batch.$$;
comment on function private.notify_key_rotation() is
$$Trigger on api_keys: emits an api_key.rotated webhook event when a key is marked rotated.$$;

-- Webhooks
comment on function private.create_webhook_endpoint(
  p_merchant_id uuid, p_url text, p_event_types text[], p_description text
) is
$$Admins, owners and developers: validates and adds an endpoint with a new Vault secret,
returned once; see public.merchant_create_webhook_endpoint.$$;
comment on function private.update_webhook_endpoint(p_endpoint_id uuid, p_changes jsonb) is
$$Admins, owners and developers of the endpoint's merchant: applies the sent fields; see
public.merchant_update_webhook_endpoint.$$;
comment on function private.rotate_webhook_secret(p_endpoint_id uuid) is
$$Admins, owners and developers of the endpoint's merchant: new secret, the old one kept
24 h; see public.merchant_rotate_webhook_secret.$$;
comment on function private.list_webhook_endpoints(p_merchant_id uuid) is
$$Admins and members (API keys included): the merchant's endpoint views; see
public.merchant_list_webhook_endpoints.$$;
comment on function private.list_webhook_events(p_merchant_id uuid, p_limit integer) is
$$Admins and members (API keys included): newest events with deliveries and attempts; see
public.merchant_list_webhook_events.$$;
comment on function private.redeliver(p_delivery_id bigint) is
$$Admins, owners and developers of the delivery's merchant: marks it pending and queues an
attempt; see public.merchant_redeliver_webhook.$$;
comment on function private.prepare_webhook_test(p_endpoint_id uuid) is
$$Admins, owners and developers of the endpoint's merchant: creates a webhook.test event and
its delivery; see public.merchant_prepare_webhook_test.$$;
comment on function private.new_webhook_secret(p_endpoint uuid) is
$$Makes a signing secret (whsec_ and 24 random bytes, base64), stores it in Vault and
returns its id and value; callers check the role.$$;
comment on function private.emit_event(p_merchant_id uuid, p_type text, p_payload jsonb) is
$$service_role and triggers: records a merchant event, creates a delivery per matching
enabled endpoint and queues each; returns the event id.$$;
comment on function private.webhook_delivery_job(p_delivery_id bigint) is
$$service_role only: what a delivery attempt needs: endpoint, event and the decrypted
signing secrets (current, and previous while within its 24 h).$$;
comment on function private.record_webhook_attempt(
  p_delivery_id bigint, p_attempt jsonb, p_retry_in_s integer, p_disable_after_s integer
) is
$$service_role only: records an attempt and its outcome: delivered, retrying (queued again
after p_retry_in_s seconds), failed, or disabled (410, or failing for p_disable_after_s
seconds, which notifies owners and developers).$$;
