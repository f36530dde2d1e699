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
    } <= set(jobs)
    query = (
        "select status, return_message from cron.job_run_details"
        " where jobid = %s order by runid desc limit 1"
    )
    deadline = time.monotonic() + 75
    run = None
    while time.monotonic() < deadline:
        run = pg.execute(query, (jobs["lsp-gateway-windows"],)).fetchone()
        if run:
            break
        time.sleep(1)
    assert run is not None, "pg_cron ran no job within a minute"
    assert run[0] == "succeeded", run
