-- Retention for the limiter's tables, which nothing pruned. A bucket whose TAT has passed is
-- full, exactly as if it did not exist, so deleting one idle for an hour changes no decision
-- (a key's admission row is rebuilt from the tables on its next request). Breach counts are
-- read for 24 h (usage) and kept 35 days as alerting history.
create function private.rate_limit_retention() returns void
language sql volatile security definer
set search_path = ''
as $$
  delete from private.rate_limits as r where r.tat < now() - interval '1 hour';
  delete from private.key_admissions as a where a.tat < now() - interval '1 hour';
  delete from private.rate_limit_breaches as b where b.minute < now() - interval '35 days';
$$;
revoke all on function private.rate_limit_retention() from public, anon, authenticated;

select cron.schedule(
  'lsp-rate-limit-retention', '23 * * * *', 'select private.rate_limit_retention()'
);
