-- Routing reads the last hour's success rate the way the gateway list does: the per-minute
-- window snapshot (refreshed by pg_cron) plus the minute buckets newer than it, instead of
-- summing up to 60 minute buckets per gateway on every decision. Same answer, a fraction of
-- the rows. Signature, grants and ordering are unchanged.
-- Not a call to private.gateway_figures, which holds the same rule: that also computes
-- percentiles and the 24 h window, and on this per-payment path a decision over 50 gateways
-- took 0.89-0.95 ms through it against 0.64-0.67 ms with these few lines (same data,
-- alternating pgbench runs).
create or replace function private.route_gateways(
  p_amount bigint, p_currency text, p_method text, p_region text
) returns table (
  gateway_id uuid, provider text, priority integer, success_rate numeric, remaining bigint
)
language sql stable
set search_path = ''
as $$
  select g.id, g.provider, g.priority,
    coalesce(
      (coalesce(w.succeeded_1h, 0) + coalesce(lm.succeeded, 0))::numeric
      / nullif(coalesce(w.total_1h, 0) + coalesce(lm.total, 0), 0),
      0.5
    ) as success_rate,
    g.daily_limit - coalesce(u.reserved, 0) as remaining
  from public.gateways as g
  left join public.gateway_windows as w on w.gateway_id = g.id
  left join lateral (
    select sum(s.succeeded) as succeeded, sum(s.succeeded + s.failed) as total
    from public.gateway_stats_minute as s
    where s.gateway_id = g.id
      and s.minute >= coalesce(w.through_minute, date_trunc('minute', now()) - interval '1 hour')
  ) as lm on true
  left join public.gateway_daily_usage as u
    on u.gateway_id = g.id and u.day = private.india_day(now())
  where g.status = 'active'
    and g.health_state <> 'down'
    and p_currency = any(g.currencies)
    and (g.methods = '{}' or p_method = any(g.methods))
    and (g.regions = '{}' or p_region = any(g.regions) or split_part(p_region, '-', 1) = any(g.regions))
    and p_amount >= g.min_amount
    and (g.max_amount is null or p_amount <= g.max_amount)
    and (g.daily_limit is null or coalesce(u.reserved, 0) + p_amount <= g.daily_limit)
  order by g.priority, success_rate desc, g.id
$$;
