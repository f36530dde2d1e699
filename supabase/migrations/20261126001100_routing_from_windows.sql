-- Routing reads the last hour's success rate from private.gateway_figures, the one place
-- that defines the live figures (window snapshot plus newer minute buckets, as the gateway
-- list shows them), instead of summing up to 60 minute buckets per gateway on every
-- decision. Signature, grants and ordering are unchanged.
create or replace function private.route_gateways(
  p_amount bigint, p_currency text, p_method text, p_region text
) returns table (
  gateway_id uuid, provider text, priority integer, success_rate numeric, remaining bigint
)
language sql stable
set search_path = ''
as $$
  with candidates as (
    select g.id, g.provider, g.priority, g.daily_limit - coalesce(u.reserved, 0) as remaining
    from public.gateways as g
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
  )
  select c.id, c.provider, c.priority,
    coalesce(f.succeeded_1h::numeric / nullif(f.total_1h, 0), 0.5) as success_rate,
    c.remaining
  from candidates as c
  left join private.gateway_figures(array(select x.id from candidates as x)) as f
    on f.gateway_id = c.id
  order by c.priority, success_rate desc, c.id
$$;

-- service_role may call route_gateways directly, so it needs the figures it reads.
grant execute on function private.gateway_figures(uuid[]) to service_role;
