-- A wallet entry sent without an idempotency key matched no function (the wrapper required
-- the argument), which surfaced as a 500. The wrapper now takes it as optional so the call
-- resolves and private.post_wallet_entry answers with its own 22023 ("an idempotency key of
-- 1 to 255 characters is required"). The key stays mandatory; grants are unchanged.
create or replace function public.post_wallet_entry(
  p_merchant_id uuid, p_currency text, p_amount bigint, p_kind text,
  p_idempotency_key text default null, p_reference text default null
) returns jsonb
language sql volatile
set search_path = ''
as $$
  select private.post_wallet_entry(
    p_merchant_id, p_currency, p_amount, p_kind, p_reference, p_idempotency_key
  )
$$;
