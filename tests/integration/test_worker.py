"""The worker as operators run it: separate processes, real pgmq, real failures."""

import signal
import subprocess
import time

from .conftest import QUEUE, Queues, wait_until


def test_jobs_complete_with_attempt_history_and_counters(queues: Queues):
    queues.start_worker()
    job_ids = queues.enqueue(20)
    assert wait_until(lambda: queues.effects() == 20)
    assert wait_until(lambda: queues.pending() == 0)
    archived = queues.scalar(f"select count(*) from pgmq.a_{QUEUE}")
    assert archived == 20
    attempts = queues.conn.execute(
        "select outcome, count(*) from public.job_attempts where queue_name = %s group by 1",
        (QUEUE,),
    ).fetchall()
    assert attempts == [("succeeded", 20)]
    stats = queues.conn.execute(
        "select sum(enqueued), sum(completed) from public.queue_stats_minute where queue_name = %s",
        (QUEUE,),
    ).fetchone()
    assert stats == (20, 20)
    one = queues.conn.execute(
        "select job_id, attempt from test_support.effects where job_id = %s", (job_ids[0],)
    ).fetchone()
    assert one == (job_ids[0], 1)


def test_kill_9_mid_job_redelivers_after_the_visibility_timeout_and_applies_once(queues: Queues):
    first = queues.start_worker()
    # The effect is committed, then the worker dies before it can archive the job.
    [job_id] = queues.enqueue(1, {"sleep_after": 30})
    assert wait_until(lambda: queues.effects() == 1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=5)
    killed_at = time.monotonic()
    queues.start_worker()
    assert wait_until(
        lambda: (
            queues.scalar(
                "select count(*) from test_support.deliveries where job_id = %s", (job_id,)
            )
            == 2
        ),
        timeout=15,
    )
    # Not before the 3 s visibility timeout ran out.
    assert time.monotonic() - killed_at >= 2.5
    assert queues.effects() == 1
    history = queues.conn.execute(
        "select attempt, outcome from public.job_attempts where queue_name = %s order by attempt",
        (QUEUE,),
    ).fetchall()
    assert history[0] == (1, "lost")


def test_a_poison_job_dead_letters_with_its_history_and_retry_from_there_succeeds(queues: Queues):
    queues.conn.execute("insert into test_support.poison values ('poison-1')")
    queues.start_worker()
    [job_id] = queues.enqueue(1, key_prefix="poison")
    dlq = wait_until(
        lambda: queues.scalar(
            "select to_job from public.job_lineage where from_job = %s and kind = 'dead_lettered'",
            (job_id,),
        ),
        timeout=20,
    )
    assert dlq and dlq.startswith(f"{QUEUE}_dlq:")
    history = queues.conn.execute(
        "select attempt, outcome, error_class, error_message like 'poison job%%', traceback <> ''"
        " from public.job_attempts where queue_name = %s and msg_id = %s order by attempt",
        (QUEUE, int(job_id.split(":")[1])),
    ).fetchall()
    assert history == [(n, "failed", "ValueError", True, True) for n in (1, 2, 3)]
    assert queues.pending() == 0
    dead = queues.conn.execute(
        f"select message -> 'last_error' ->> 'class', message ->> 'origin',"
        f" (message ->> 'attempts')::int from pgmq.q_{QUEUE}_dlq"
    ).fetchone()
    assert dead == ("ValueError", job_id, 3)

    queues.conn.execute("delete from test_support.poison")
    result = queues.as_service("select public.admin_retry_jobs(p_job_ids => array[%s])", (dlq,))
    assert result["retried"] == 1
    new_job = result["jobs"][0]["to"]
    assert wait_until(lambda: queues.effects() == 1)
    effect = queues.conn.execute("select job_key, job_id from test_support.effects").fetchone()
    assert effect == ("poison-1", new_job)
    again = queues.as_service("select public.admin_retry_jobs(p_job_ids => array[%s])", (dlq,))
    assert (again["retried"], again["skipped"]) == (0, 1)


def test_two_workers_over_2000_jobs_apply_every_effect_exactly_once(queues: Queues):
    queues.configure(concurrency=20, visibility_timeout_s=30)
    queues.start_worker()
    queues.start_worker()
    queues.enqueue(2000)
    assert wait_until(lambda: queues.effects() == 2000, timeout=120), queues.effects()
    assert wait_until(lambda: queues.pending() == 0)
    per_worker = queues.conn.execute(
        "select count(distinct worker_id) from test_support.effects"
    ).fetchone()
    assert per_worker == (2,)
    duplicates = queues.scalar(
        "select count(*) from (select job_key from test_support.deliveries"
        " group by 1 having count(*) > 1) as d"
    )
    assert duplicates == 0
    assert queues.scalar(f"select count(*) from pgmq.a_{QUEUE}") == 2000


def test_pause_stops_consumption_and_resume_restarts_it(queues: Queues):
    queues.start_worker()
    queues.as_service("select public.admin_pause_queue(true, 'maintenance', %s)", (QUEUE,))
    time.sleep(0.5)  # > one poll interval
    queues.enqueue(5)
    time.sleep(1.0)
    assert queues.effects() == 0
    assert queues.pending() == 5
    queues.as_service("select public.admin_pause_queue(false, null, %s)", (QUEUE,))
    assert wait_until(lambda: queues.effects() == 5, timeout=10)


def test_sigterm_finishes_in_flight_work_and_releases_what_cannot_finish(queues: Queues):
    worker = queues.start_worker()
    [quick] = queues.enqueue(1, {"sleep_before": 0.5}, key_prefix="quick")
    [slow] = queues.enqueue(1, {"sleep_before": 60}, key_prefix="slow")
    assert wait_until(lambda: queues.scalar("select count(*) from test_support.deliveries") == 2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    # The quick job finished and was archived; the slow one is visible again right away.
    assert queues.scalar("select count(*) from test_support.effects where job_id = %s", (quick,))
    assert (
        queues.scalar(
            f"select count(*) from pgmq.a_{QUEUE} where msg_id = %s", (int(quick.split(":")[1]),)
        )
        == 1
    )
    assert queues.scalar(
        f"select vt <= now() from pgmq.q_{QUEUE} where msg_id = %s", (int(slow.split(":")[1]),)
    )
    stopped = queues.scalar(
        "select stopped_at is not null from public.worker_heartbeats where pid = %s",
        (worker.pid,),
    )
    assert stopped is True


def test_the_worker_survives_a_database_restart_and_finishes_the_backlog(queues: Queues):
    import os
    from pathlib import Path

    scripts_db = Path(__file__).resolve().parents[2] / "scripts" / "db"
    env = {
        **os.environ,
        "LSP_PGDATA": os.environ["LSP_TEST_PGDATA"],
        "LSP_PGPORT": os.environ["LSP_TEST_PGPORT"],
    }
    worker = queues.start_worker()
    queues.enqueue(300, {"sleep_before": 0.02})
    assert wait_until(lambda: queues.effects() >= 20)
    queues.conn.close()
    subprocess.run([str(scripts_db), "stop"], env=env, check=True, capture_output=True)
    time.sleep(2)
    subprocess.run(
        [str(scripts_db), "start", "--no-build"], env=env, check=True, capture_output=True
    )
    import psycopg

    queues.conn = psycopg.connect(os.environ["LSP_TEST_DATABASE_URL"], autocommit=True)
    assert worker.poll() is None, "the worker crashed during the restart"
    assert wait_until(lambda: queues.effects() == 300, timeout=60), queues.effects()
    assert wait_until(lambda: queues.pending() == 0, timeout=30)


def test_a_handler_outliving_its_visibility_timeout_is_cut_off_and_retried(queues: Queues):
    queues.configure(visibility_timeout_s=2, max_attempts=2)
    queues.start_worker()
    [job_id] = queues.enqueue(1, {"sleep_before": 30}, key_prefix="slowpoke")
    msg_id = int(job_id.split(":")[1])
    outcomes = wait_until(
        lambda: (
            queues.conn.execute(
                "select array_agg(outcome order by attempt) from public.job_attempts"
                " where queue_name = %s and msg_id = %s",
                (QUEUE, msg_id),
            ).fetchone()[0]
            if queues.scalar(
                "select count(*) from public.job_attempts where queue_name = %s and msg_id = %s",
                (QUEUE, msg_id),
            )
            >= 2
            else None
        ),
        timeout=20,
    )
    assert outcomes == ["timed_out", "timed_out"]
    assert queues.effects() == 0
    assert wait_until(
        lambda: (
            queues.scalar("select count(*) from public.job_lineage where from_job = %s", (job_id,))
            == 1
        )
    )


def test_retention_deletes_old_archives_and_attempts_in_batches(queues: Queues):
    c = queues.conn
    assert (
        queues.scalar("select schedule from cron.job where jobname = 'lsp-queue-retention'")
        == "*/10 * * * *"
    )
    ids = queues.enqueue(5)
    msg_ids = [int(j.split(":")[1]) for j in ids]
    c.execute("select pgmq.archive(%s, %s::bigint[])", (QUEUE, msg_ids))
    c.execute(
        "insert into public.job_attempts (queue_name, msg_id, attempt, outcome, created_at)"
        " select %s, m, 1, 'succeeded', now() - interval '30 days' from unnest(%s::bigint[]) m",
        (QUEUE, msg_ids),
    )
    c.execute(
        f"update pgmq.a_{QUEUE} set archived_at = now() - interval '30 days'"
        " where msg_id = any(%s)",
        (msg_ids[:3],),
    )
    removed = queues.as_service("select private.queue_retention(2)")
    assert removed[QUEUE] == 2  # one batch of 2 per run
    queues.as_service("select private.queue_retention(100)")
    assert queues.scalar(f"select count(*) from pgmq.a_{QUEUE}") == 2
    assert (
        queues.scalar("select count(*) from public.job_attempts where queue_name = %s", (QUEUE,))
        == 0
    )


def test_a_handler_for_a_queue_the_database_lacks_is_refused_loudly(queues: Queues):
    """queue_controls is the one list of queues: the worker consumes only those."""
    worker = queues.start_worker(
        "--queues", f"{QUEUE},emails", "--handler", "emails=tests.jobs:record_effect"
    )
    queues.enqueue(3)
    assert wait_until(lambda: queues.effects() == 3)
    log = (queues.tmp / f"worker-{len(queues.workers) - 1}.log").read_text()
    refusal = next(line for line in log.splitlines() if "no such queue" in line)
    assert '"queues": ["emails"]' in refusal
    started = next(line for line in log.splitlines() if "worker started" in line)
    assert f'"queues": ["{QUEUE}"]' in started
    assert worker.poll() is None


def test_the_code_and_the_database_name_the_same_queues(pg):
    from edge_adapter.queues import QUEUES

    names = [r[0] for r in pg.execute("select queue_name from public.queue_controls")]
    assert sorted(names) == sorted(QUEUES)
