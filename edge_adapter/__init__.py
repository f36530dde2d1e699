"""LightSpeedPay edge adapter: thin REST/SSE over the Postgres RPCs, plus the queue worker."""
