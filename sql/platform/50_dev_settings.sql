-- Stands in for: nothing hosted has. Local clusters are development clusters, where
-- webhook endpoints may use plain http (hosted projects accept https only).
-- Local clusters only; never pushed. Idempotent.
do $$
begin
  execute format('alter database %I set app.webhooks_allow_http = %L', current_database(), 'on');
end
$$;
