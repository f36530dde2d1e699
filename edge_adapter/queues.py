"""The job queues this code knows. The database's `public.queue_controls` rows are the one
list: `/readyz` fails and the worker refuses to consume if this tuple and those rows differ.
A new queue is a migration calling `private.create_queue(...)` plus its name here (and a
handler in worker/handlers.py)."""

QUEUES = ("gateway_health", "payment", "settlement", "webhook")
# '<queue>:<msg_id>' or '<queue>_dlq:<msg_id>'
JOB_ID_PATTERN = rf"^({'|'.join(QUEUES)})(_dlq)?:[0-9]{{1,18}}$"
