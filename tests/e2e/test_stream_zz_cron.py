"""pg_cron really runs the live and alert jobs on this cluster: the minute's alert evaluation
and gateway figures, and the tick that numbers (and so broadcasts) live events and takes
queue snapshots. Runs late in the suite, so a minute boundary has passed; waits if not."""

import time

import psycopg


def latest(pg: psycopg.Connection, jobid: int, finished: bool) -> tuple[str, str] | None:
    states = "('starting', 'running')" if finished else "('starting')"
    return pg.execute(
        "select status, return_message from cron.job_run_details"
        f" where jobid = %s and status not in {states} order by runid desc limit 1",
        (jobid,),
    ).fetchone()


def test_the_alert_and_live_jobs_run_under_pg_cron(pg: psycopg.Connection):
    jobs = dict(pg.execute("select jobname, jobid from cron.job").fetchall())
    # Before pg_cron 1.5 the tick is a procedure that runs for most of each minute: running
    # is as good as done; with 1.5+ it is a one-second job like the others.
    checks = [("lsp-alert-rules", True), ("lsp-live-gateway-figures", True)]
    checks += (
        [("lsp-live-ticks", False)]
        if "lsp-live-ticks" in jobs
        else [("lsp-live-sequence", True), ("lsp-live-queues", True)]
    )
    for name, finished in checks:
        deadline = time.monotonic() + 75
        run = None
        while run is None and time.monotonic() < deadline:
            run = latest(pg, jobs[name], finished)
            if run is None:
                time.sleep(1)
        assert run is not None, f"pg_cron ran no {name} within a minute"
        assert run[0] in (("succeeded",) if finished else ("succeeded", "running")), (name, run)
    failed = pg.execute(
        "select j.jobname, d.return_message from cron.job_run_details as d"
        " join cron.job as j using (jobid)"
        " where j.jobname like any (array['lsp-live-%', 'lsp-alert-%']) and d.status = 'failed'"
    ).fetchall()
    assert failed == []
