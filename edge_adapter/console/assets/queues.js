// Queues: state, depths, rates and workers; pause/resume, retry dead letters (one,
// several, all), clean; and a job's detail with its attempts, errors and lineage.
import { api, errorView } from './api.js';
import { clear, fmt, h } from './dom.js';

const BASE = '/api/v1/admin/queues';

export function render(root, params) {
  if (params[0] === 'jobs' && params[1]) {
    jobDetail(root, params[1]);
    return;
  }
  overview(root);
}

function jobLink(id) {
  return h('a.job-link', { href: `#/queues/jobs/${encodeURIComponent(id)}` }, id);
}

async function retry(body, say) {
  try {
    const r = await api('POST', `${BASE}/retry`, { body });
    const moved = (r.jobs || []).map((j) => `${j.from} → ${j.to}`).join(', ');
    say(h('div.notice.retry-result', {}, `Retried ${r.retried}, skipped ${r.skipped}, not found ${r.not_found}${moved ? `: ${moved}` : ''}.`));
    return r;
  } catch (error) {
    say(errorView(error));
    return null;
  }
}

function overview(root) {
  const messages = h('div.messages', { id: 'queue-messages', 'aria-live': 'polite' });
  const queuesBody = h('div', { id: 'queues' });
  const workersBody = h('div', { id: 'workers' });
  const say = (...content) => clear(messages, ...content);

  async function load() {
    try {
      const [list, stats] = await Promise.all([api('GET', BASE), api('GET', `${BASE}/stats`)]);
      clear(queuesBody, queueTable(list.data), list.data.map(deadLetters));
      clear(workersBody, workerTable(stats.workers || []));
    } catch (error) {
      say(errorView(error));
    }
  }

  async function act(promise) {
    try {
      await promise;
    } catch (error) {
      say(errorView(error));
    }
    await load();
  }

  function pauseForm(queue) {
    // Pausing needs a reason (the API keeps it with who and when).
    const reason = h('input', { name: 'reason', required: true, maxlength: 500, placeholder: 'why (shown to other operators)' });
    return h(
      'form.inline.pause-form',
      {
        'data-queue': queue ?? '*',
        onsubmit: (event) => {
          event.preventDefault();
          const body = { paused: true, reason: reason.value.trim() };
          if (queue) body.queue = queue;
          act(api('POST', `${BASE}/pause`, { body }).then((r) => say(h('div.notice', {}, `Paused ${r.queues.join(', ')}.`))));
        },
      },
      reason,
      h('button', { type: 'submit', class: 'pause' }, queue ? 'Pause' : 'Pause all'),
    );
  }

  function resume(queue) {
    const body = { paused: false };
    if (queue) body.queue = queue;
    return act(api('POST', `${BASE}/pause`, { body }).then((r) => say(h('div.notice', {}, `Resumed ${r.queues.join(', ')}.`))));
  }

  function cleanForm(queue) {
    const state = h('select', { name: 'state' }, h('option', { value: 'completed' }, 'completed'), h('option', { value: 'failed' }, 'failed'));
    const older = h('input', { name: 'older_than_seconds', inputmode: 'numeric', value: '3600', size: 7 });
    const del = h('input', { type: 'checkbox', name: 'delete' });
    return h(
      'form.inline.clean-form',
      {
        'data-queue': queue,
        onsubmit: (event) => {
          event.preventDefault();
          if (!/^[0-9]+$/.test(older.value.trim())) {
            say(h('div.error', { role: 'alert' }, 'Older than: whole seconds'));
            return;
          }
          const query = { queue, state: state.value, older_than_seconds: older.value.trim(), delete: del.checked };
          act(api('DELETE', `${BASE}/clean`, { query }).then((r) => say(h('div.notice.clean-result', {}, `Cleaned ${r.cleaned} ${r.state} jobs of ${r.queue} (${r.action}).`))));
        },
      },
      state,
      ' older than ',
      older,
      ' s ',
      h('label', { title: 'failed jobs: delete instead of archiving' }, del, ' delete'),
      h('button', { type: 'submit' }, 'Clean'),
    );
  }

  function queueTable(queues) {
    const rates = (r) => (r ? `${r['1m']} / ${r['5m']} / ${r['1h']}` : '–');
    return h(
      'table.grid',
      { id: 'queue-table' },
      h('thead', {}, h('tr', {}, ['Queue', 'State', 'Pending', 'Delayed', 'Processing', 'Failed', 'Done 1 h', 'Oldest pending', 'Enqueued 1m/5m/1h', 'Completed 1m/5m/1h', 'Failed 1m/5m/1h', 'Worker', 'Paused', 'Actions'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        queues.map((q) =>
          h(
            'tr',
            { 'data-queue': q.queue, 'data-state': q.state },
            h('td', {}, h('strong', {}, q.queue)),
            h('td.state', {}, h('span', { class: `pill ${q.state}` }, q.state)),
            h('td.pending', {}, fmt.int(q.pending)),
            h('td.delayed', {}, fmt.int(q.delayed)),
            h('td.processing', {}, fmt.int(q.processing)),
            h('td.failed', {}, fmt.int(q.failed)),
            h('td', {}, fmt.int(q.completed_1h)),
            h('td', {}, fmt.seconds(q.oldest_pending_age_s)),
            h('td', {}, rates(q.rates?.enqueued)),
            h('td', {}, rates(q.rates?.completed)),
            h('td', {}, rates(q.rates?.failed)),
            h('td', {}, q.has_live_worker ? 'alive' : 'none'),
            h('td.paused', {}, q.paused?.paused ? `paused: ${q.paused.reason ?? ''} (${q.paused.by ?? ''}, ${fmt.time(q.paused.at)})` : 'no'),
            h(
              'td.actions',
              {},
              q.paused?.paused ? h('button', { type: 'button', class: 'resume', onclick: () => resume(q.queue) }, 'Resume') : pauseForm(q.queue),
              h('button', { type: 'button', class: 'retry-all', disabled: !q.failed, onclick: () => act(retry({ queue: q.queue, limit: 10000 }, say)) }, 'Retry all failed'),
              cleanForm(q.queue),
            ),
          ),
        ),
      ),
    );
  }

  function deadLetters(q) {
    if (!q.latest_failed?.length) return null;
    const boxes = [];
    return h(
      'section.dead-letters',
      { 'data-queue': q.queue },
      h('h2', {}, `Latest dead letters of ${q.queue} (${fmt.int(q.failed)} in all)`),
      h(
        'table.grid',
        {},
        h('thead', {}, h('tr', {}, ['', 'Job', 'Failed at', 'From', 'Attempts', 'Last error', ''].map((t) => h('th', {}, t)))),
        h(
          'tbody',
          {},
          q.latest_failed.map((j) => {
            const box = h('input', { type: 'checkbox', value: j.job_id, 'aria-label': `select ${j.job_id}` });
            boxes.push(box);
            return h(
              'tr',
              { 'data-job': j.job_id },
              h('td', {}, box),
              h('td', {}, jobLink(j.job_id)),
              h('td', {}, fmt.time(j.failed_at)),
              h('td', {}, j.origin ? jobLink(j.origin) : '–'),
              h('td', {}, fmt.int(j.attempts)),
              h('td.error-text', {}, j.last_error ? `${j.last_error.class}: ${j.last_error.message}` : '–'),
              h('td', {}, h('button', { type: 'button', class: 'retry-one', onclick: () => act(retry({ job_ids: [j.job_id] }, say)) }, 'Retry')),
            );
          }),
        ),
      ),
      h(
        'div.toolbar',
        {},
        h('button', {
          type: 'button',
          class: 'retry-selected',
          onclick: () => {
            const ids = boxes.filter((b) => b.checked).map((b) => b.value);
            if (!ids.length) say(h('div.error', { role: 'alert' }, 'Select the jobs to retry.'));
            else act(retry({ job_ids: ids }, say));
          },
        }, 'Retry selected'),
      ),
    );
  }

  const lookup = h('input', { name: 'job_id', placeholder: 'payment_dlq:7', size: 18 });
  clear(
    root,
    h('h1', {}, 'Queues'),
    h(
      'div.toolbar',
      {},
      h('button', { type: 'button', onclick: load }, 'Refresh'),
      pauseForm(null),
      h('button', { type: 'button', class: 'resume-all', onclick: () => resume(null) }, 'Resume all'),
      h(
        'form.inline',
        {
          onsubmit: (event) => {
            event.preventDefault();
            if (lookup.value.trim()) window.location.hash = `#/queues/jobs/${encodeURIComponent(lookup.value.trim())}`;
          },
        },
        lookup,
        h('button', { type: 'submit' }, 'Open job'),
      ),
    ),
    messages,
    queuesBody,
    h('h2', {}, 'Workers'),
    workersBody,
  );
  load();
}

function workerTable(workers) {
  if (!workers.length) return h('p', {}, 'No workers have reported.');
  return h(
    'table.grid',
    { id: 'worker-table' },
    h('thead', {}, h('tr', {}, ['Worker', 'Host / pid', 'Queues', 'Status', 'In flight', 'Processed', 'Failed', 'Last seen'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      workers.map((w) =>
        h(
          'tr',
          { 'data-worker': w.worker_id },
          h('td', {}, w.worker_id),
          h('td', {}, `${w.hostname} / ${w.pid}`),
          h('td', {}, (w.queues || []).join(', ')),
          h('td', {}, h('span', { class: `pill ${w.status}` }, w.status)),
          h('td', {}, fmt.int(w.in_flight)),
          h('td', {}, fmt.int(w.processed)),
          h('td', {}, fmt.int(w.failed)),
          h('td', {}, fmt.time(w.last_seen_at)),
        ),
      ),
    ),
  );
}

async function jobDetail(root, jobId) {
  const messages = h('div.messages', { id: 'job-messages', 'aria-live': 'polite' });
  const body = h('div', { id: 'job' });
  const say = (...content) => clear(messages, ...content);
  clear(root, h('p', {}, h('a', { href: '#/queues' }, '← Queues')), h('h1', {}, `Job ${jobId}`), messages, body);

  let job;
  try {
    job = await api('GET', `${BASE}/jobs/${encodeURIComponent(jobId)}`);
  } catch (error) {
    say(errorView(error));
    return;
  }
  const dl = (pairs) => h('dl.facts', {}, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]));
  clear(
    body,
    dl([
      ['state', h('span', { class: `pill ${job.state}` }, job.state)],
      ['queue', job.queue],
      ['key', job.key ?? '–'],
      ['origin', job.origin ? jobLink(job.origin) : '–'],
      ['read count', fmt.int(job.read_count)],
      ['enqueued', fmt.time(job.enqueued_at)],
      ['visible at', fmt.time(job.visible_at)],
      ['finished', fmt.time(job.finished_at)],
      ['last error', job.last_error ? `${job.last_error.class}: ${job.last_error.message}` : '–'],
    ]),
    job.state === 'failed'
      ? h('div.toolbar', {}, h('button', {
          type: 'button',
          class: 'retry-job',
          onclick: async () => {
            const r = await retry({ job_ids: [job.job_id] }, say);
            const to = r?.jobs?.[0]?.to;
            if (to) say(h('div.notice.retry-result', {}, `Retried as `, jobLink(to), '.'));
          },
        }, 'Retry this job'))
      : null,
    h('h2', {}, 'Payload (secrets masked)'),
    h('pre.payload', {}, JSON.stringify(job.payload, null, 2)),
    h('h2', {}, `Attempts (${job.attempts.length})`),
    job.attempts.length
      ? h(
          'table.grid',
          { id: 'attempts' },
          h('thead', {}, h('tr', {}, ['#', 'Outcome', 'Worker', 'Started', 'Duration', 'Error'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            job.attempts.map((a) =>
              h(
                'tr',
                { 'data-attempt': a.attempt, 'data-outcome': a.outcome },
                h('td', {}, String(a.attempt)),
                h('td', {}, h('span', { class: `pill ${a.outcome}` }, a.outcome)),
                h('td', {}, a.worker_id ?? '–'),
                h('td', {}, fmt.time(a.started_at)),
                h('td', {}, fmt.ms(a.duration_ms)),
                h(
                  'td.error-text',
                  {},
                  a.error_class ? `${a.error_class}: ${a.error_message ?? ''}` : '–',
                  a.traceback ? h('details', {}, h('summary', {}, 'traceback'), h('pre', {}, a.traceback)) : null,
                ),
              ),
            ),
          ),
        )
      : h('p', {}, job.origin ? ['Attempts are recorded on the job that failed: ', jobLink(job.origin), '.'] : 'No attempts recorded yet.'),
    h('h2', {}, 'Lineage'),
    job.lineage.length
      ? h('ul.lineage', {}, job.lineage.map((l) => h('li', {}, jobLink(l.from), ` → ${l.kind} → `, jobLink(l.to), ` (${fmt.time(l.at)})`)))
      : h('p', {}, 'None.'),
  );
}
