"""pg_cron really runs our jobs on this cluster (probes, windows, retention). Runs late in
the suite, so at least one minute boundary has passed; waits for one if not."""

import time

import psycopg


def test_scheduled_jobs_run_and_succeed(pg: psycopg.Connection):
    jobs = dict(pg.execute("select jobname, jobid from cron.job").fetchall())
    assert {
        "lsp-gateway-probes",
        "lsp-gateway-windows",
        "lsp-queue-retention",
        "lsp-rate-limit-retention",
        "lsp-payment-checks",
        "lsp-idempotency-retention",
        "lsp-previous-credentials",
        "lsp-provider-event-retention",
    } <= set(jobs)
    # The latest finished run (one may be starting at this very minute boundary).
    query = (
        "select status, return_message from cron.job_run_details"
        " where jobid = %s and status not in ('starting', 'running') order by runid desc limit 1"
    )
    for name in ("lsp-gateway-windows", "lsp-payment-checks"):
        deadline = time.monotonic() + 75
        run = None
        while time.monotonic() < deadline:
            run = pg.execute(query, (jobs[name],)).fetchone()
            if run:
                break
            time.sleep(1)
        assert run is not None, f"pg_cron ran no {name} within a minute"
        assert run[0] == "succeeded", (name, run)
