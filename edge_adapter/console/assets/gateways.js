// Gateways: the list (status, priority, success rates, health, today's volume against the
// daily limit, masked credentials), create from the catalogue, edit, test, archive, and a
// drag-and-drop priority order saved whole in one call.
import { api, errorView } from './api.js';
import { clear, fmt, h, parseMinor, splitList, uuid } from './dom.js';

const BASE = '/api/v1/admin/gateways';
const METHODS = ['card', 'upi', 'netbanking', 'wallet', 'emi', 'paylater'];

export function render(root) {
  const state = { gateways: [], catalog: null, showArchived: false, dragging: null };
  const messages = h('div.messages', { id: 'gateway-messages', 'aria-live': 'polite' });
  const panel = h('div.panel', { id: 'gateway-form-panel' });
  const body = h('tbody');
  const table = h(
    'table.grid',
    { id: 'gateway-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['', 'Priority', 'Gateway', 'Status', 'Health', 'Success 1 h / 24 h', 'Latency p50 / p95',
          'Today / daily limit (minor units)', 'Credentials', 'Last test', ''].map((t) => h('th', {}, t)),
      ),
    ),
    body,
  );

  function say(...content) {
    clear(messages, ...content);
  }

  async function load() {
    try {
      const page = await api('GET', BASE, { query: { include_archived: state.showArchived } });
      // As the API orders a reorder's 'before': priority, then id.
      state.gateways = page.data
        .slice()
        .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      draw();
    } catch (error) {
      say(errorView(error));
    }
  }

  async function catalog() {
    if (!state.catalog) state.catalog = (await api('GET', `${BASE}/catalog`)).data;
    return state.catalog;
  }

  function orderable() {
    return state.gateways.filter((g) => g.status !== 'archived');
  }

  async function saveOrder(ids) {
    try {
      await api('PUT', `${BASE}/priority`, { body: { gateway_ids: ids } });
      say(h('div.notice', {}, 'Priority order saved.'));
    } catch (error) {
      say(errorView(error));
    }
    await load();
  }

  function move(id, toIndex) {
    const ids = orderable().map((g) => g.id);
    const from = ids.indexOf(id);
    if (from < 0 || toIndex < 0 || toIndex >= ids.length || from === toIndex) return;
    ids.splice(from, 1);
    ids.splice(toIndex, 0, id);
    saveOrder(ids);
  }

  function row(g) {
    const archived = g.status === 'archived';
    const index = orderable().findIndex((x) => x.id === g.id);
    const tr = h('tr', {
      'data-id': g.id,
      'data-name': g.display_name,
      draggable: archived ? 'false' : 'true',
      class: archived ? 'archived' : '',
    });
    if (!archived) {
      tr.addEventListener('dragstart', (event) => {
        state.dragging = g.id;
        event.dataTransfer.effectAllowed = 'move';
        event.dataTransfer.setData('text/plain', g.id);
        tr.classList.add('dragging');
      });
      tr.addEventListener('dragend', () => {
        state.dragging = null;
        tr.classList.remove('dragging');
      });
      tr.addEventListener('dragover', (event) => {
        if (state.dragging && state.dragging !== g.id) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'move';
          tr.classList.add('drop-target');
        }
      });
      tr.addEventListener('dragleave', () => tr.classList.remove('drop-target'));
      tr.addEventListener('drop', (event) => {
        event.preventDefault();
        tr.classList.remove('drop-target');
        const id = state.dragging || event.dataTransfer.getData('text/plain');
        if (id && id !== g.id) move(id, index); // takes the target's place
      });
    }
    const today = g.today || {};
    const limit = today.daily_limit ?? g.daily_limit;
    const usage = h(
      'span.usage',
      {},
      `${fmt.int(today.volume ?? 0)} / ${fmt.minor(limit)}`,
      limit ? h('meter', { min: 0, max: limit, value: today.volume ?? 0, high: limit * 0.8 }) : null,
    );
    const creds = Object.entries(g.credentials || {}).map(([k, v]) =>
      h('div.cred', {}, h('span.k', {}, `${k}: `), h('code', {}, typeof v === 'string' ? v : JSON.stringify(v))),
    );
    const test = g.last_test;
    const actions = h(
      'td.actions',
      {},
      archived
        ? null
        : [
            h('button', { type: 'button', class: 'test', onclick: () => testConnection(g) }, 'Test'),
            h('button', { type: 'button', class: 'edit', onclick: () => openForm(g) }, 'Edit'),
            h('button', { type: 'button', class: 'archive', onclick: () => confirmArchive(g, tr) }, 'Archive'),
            h('button', { type: 'button', class: 'up', title: 'Move up', disabled: index === 0, onclick: () => move(g.id, index - 1) }, '↑'),
            h('button', { type: 'button', class: 'down', title: 'Move down', disabled: index === orderable().length - 1, onclick: () => move(g.id, index + 1) }, '↓'),
          ],
    );
    tr.append(
      h('td.handle', { title: archived ? '' : 'Drag to reorder' }, archived ? '' : '⠿'),
      h('td.priority', {}, archived ? '–' : String(g.priority)),
      h('td.name', {}, h('strong', {}, g.display_name), h('div.sub', {}, `${g.provider} · ${g.environment}`)),
      h('td.status', {}, h('span', { class: `pill ${g.status}` }, g.status)),
      h('td.health', {}, h('span', { class: `pill ${g.health?.state}` }, g.health?.state ?? 'unknown')),
      h('td.rates', {}, `${fmt.pct(g.success_rate?.['1h'])} / ${fmt.pct(g.success_rate?.['24h'])}`),
      h('td.latency', {}, `${fmt.ms(g.latency_ms?.p50)} / ${fmt.ms(g.latency_ms?.p95)}`),
      h('td.today', {}, usage),
      h('td.credentials', {}, creds),
      h('td.last-test', {}, test ? `${test.ok ? 'ok' : test.error_class || 'failed'}${test.latency_ms != null ? ` · ${test.latency_ms} ms` : ''}` : '–'),
      actions,
    );
    return tr;
  }

  function draw() {
    clear(body, state.gateways.length ? state.gateways.map(row) : h('tr', {}, h('td', { colspan: 11 }, 'No gateways yet.')));
  }

  async function testConnection(g) {
    say(h('div.notice', {}, `Testing ${g.display_name}…`));
    try {
      const r = await api('POST', `${BASE}/${g.id}/test`);
      say(
        h(
          'div',
          { class: r.ok ? 'notice test-result ok' : 'error test-result', role: 'status' },
          r.ok
            ? `Connection to ${g.display_name} OK (${r.latency_ms} ms, HTTP ${r.http_status}).`
            : `Connection to ${g.display_name} failed: ${r.error_class}${r.message ? ` (${r.message})` : ''}.`,
        ),
      );
    } catch (error) {
      say(errorView(error));
    }
    await load();
  }

  function confirmArchive(g, tr) {
    const force = h('input', { type: 'checkbox', name: 'force' });
    const confirmRow = h(
      'tr.confirm',
      {},
      h(
        'td',
        { colspan: 11 },
        `Archive ${g.display_name}? It leaves routing and its secrets are destroyed; history is kept. `,
        h('label', {}, force, ' even with payments in flight'),
        ' ',
        h('button', {
          type: 'button',
          class: 'danger confirm-archive',
          onclick: async () => {
            try {
              await api('DELETE', `${BASE}/${g.id}`, { query: force.checked ? { force: true } : {} });
              say(h('div.notice', {}, `Archived ${g.display_name}.`));
            } catch (error) {
              say(errorView(error));
            }
            await load();
          },
        }, 'Confirm archive'),
        ' ',
        h('button', { type: 'button', onclick: () => confirmRow.remove() }, 'Cancel'),
      ),
    );
    body.querySelectorAll('tr.confirm').forEach((r) => r.remove());
    tr.after(confirmRow);
  }

  async function openForm(existing = null) {
    let providers;
    try {
      providers = await catalog();
    } catch (error) {
      say(errorView(error));
      return;
    }
    clear(panel, gatewayForm(providers, existing, {
      done: async (message) => {
        clear(panel);
        say(h('div.notice', {}, message));
        await load();
      },
      cancel: () => clear(panel),
    }));
    panel.scrollIntoView({ block: 'nearest' });
  }

  const showArchived = h('input', {
    type: 'checkbox',
    id: 'show-archived',
    onchange: () => {
      state.showArchived = showArchived.checked;
      load();
    },
  });
  clear(
    root,
    h('h1', {}, 'Gateways'),
    h(
      'div.toolbar',
      {},
      h('button', { type: 'button', id: 'new-gateway', onclick: () => openForm(null) }, 'New gateway'),
      h('button', { type: 'button', onclick: load }, 'Refresh'),
      h('label', {}, showArchived, ' show archived'),
      h('span.hint', {}, 'Drag rows (or use ↑ ↓) to change the routing priority; the whole order is saved at once.'),
    ),
    messages,
    panel,
    table,
  );
  load();
}

/** The create form (driven by the catalogue's credential fields) or the edit form. */
function gatewayForm(providers, existing, { done, cancel }) {
  const editing = Boolean(existing);
  const idempotencyKey = uuid(); // one per form: a double submit replays, never duplicates
  const status = h('div.form-status', { 'aria-live': 'polite' });
  const field = (label, input, hint = null) =>
    h('label.field', {}, h('span', {}, label), input, hint ? h('small', {}, hint) : null);

  const provider = h(
    'select',
    { name: 'provider', disabled: editing },
    providers.map((p) =>
      h('option', { value: p.provider, selected: existing ? existing.provider === p.provider : false }, `${p.display_name} (${p.provider})`),
    ),
  );
  const name = h('input', { name: 'display_name', required: true, maxlength: 200, value: existing?.display_name ?? '' });
  const environment = h('select', { name: 'environment' }, ['test', 'live'].map((v) => h('option', { value: v, selected: (existing?.environment ?? 'test') === v }, v)));
  const gatewayStatus = h('select', { name: 'status' }, ['active', 'inactive'].map((v) => h('option', { value: v, selected: (existing?.status ?? 'active') === v }, v)));
  const minAmount = h('input', { name: 'min_amount', inputmode: 'numeric', value: existing?.min_amount ?? '' });
  const maxAmount = h('input', { name: 'max_amount', inputmode: 'numeric', value: existing?.max_amount ?? '' });
  const dailyLimit = h('input', { name: 'daily_limit', inputmode: 'numeric', value: existing?.daily_limit ?? '' });
  const currencies = h('input', { name: 'currencies', value: (existing?.currencies ?? ['INR']).join(', ') });
  const regions = h('input', { name: 'regions', value: (existing?.regions ?? []).join(', '), placeholder: 'empty: every region' });
  const methodBoxes = METHODS.map((m) => h('input', { type: 'checkbox', name: 'methods', value: m, checked: (existing?.methods ?? []).includes(m) }));
  const testFirst = h('input', { type: 'checkbox', name: 'test', checked: true });
  const credentialBox = h('fieldset.credentials', {});

  function drawCredentials() {
    const info = providers.find((p) => p.provider === provider.value);
    clear(
      credentialBox,
      h('legend', {}, editing ? 'Credentials (leave empty to keep the current ones; fill them to rotate)' : 'Credentials'),
      (info?.credential_fields ?? []).map((f) =>
        field(
          `${f.label}${f.required ? ' *' : ''}`,
          h('input', {
            name: `credential:${f.name}`,
            'data-credential': f.name,
            type: f.secret ? 'password' : 'text',
            autocomplete: 'off',
            required: !editing && f.required,
            placeholder: editing ? existing.credentials?.[f.name] ?? '' : '',
          }),
        ),
      ),
    );
  }
  provider.addEventListener('change', drawCredentials);
  drawCredentials();

  function credentials() {
    const out = {};
    for (const input of credentialBox.querySelectorAll('input[data-credential]')) {
      if (input.value !== '') out[input.dataset.credential] = input.value;
    }
    return out;
  }

  function collect() {
    const body = {
      display_name: name.value.trim(),
      environment: environment.value,
      status: gatewayStatus.value,
      currencies: splitList(currencies.value).map((c) => c.toUpperCase()),
      regions: splitList(regions.value).map((r) => r.toUpperCase()),
      methods: methodBoxes.filter((b) => b.checked).map((b) => b.value),
    };
    for (const [key, input, label] of [
      ['min_amount', minAmount, 'Minimum amount'],
      ['max_amount', maxAmount, 'Maximum amount'],
      ['daily_limit', dailyLimit, 'Daily limit'],
    ]) {
      const parsed = parseMinor(input.value, label);
      if (!parsed.empty) body[key] = parsed.value;
      else if (editing && key !== 'min_amount') body[key] = null; // cleared: no limit
    }
    const creds = credentials();
    if (!editing) {
      body.provider = provider.value;
      body.credentials = creds;
      body.test = testFirst.checked;
    } else if (Object.keys(creds).length) {
      body.credentials = creds;
    }
    return body;
  }

  /** Only what changed: a partial update leaves everything else as it is. */
  function changes(body) {
    const out = {};
    for (const [key, value] of Object.entries(body)) {
      if (key === 'credentials') {
        out.credentials = value;
        continue;
      }
      if (JSON.stringify(existing[key] ?? null) !== JSON.stringify(value)) out[key] = value;
    }
    return out;
  }

  const form = h(
    'form.gateway-form',
    {
      id: 'gateway-form',
      method: 'post',
      onsubmit: async (event) => {
        event.preventDefault();
        let body;
        try {
          body = collect();
        } catch (error) {
          clear(status, h('div.error', { role: 'alert' }, error.message));
          return;
        }
        const submit = form.querySelector('button[type=submit]');
        submit.disabled = true;
        clear(status, editing ? 'Saving…' : body.test ? 'Testing the connection, then saving…' : 'Saving…');
        try {
          if (editing) {
            const delta = changes(body);
            if (!Object.keys(delta).length) {
              clear(status, 'Nothing changed.');
              return;
            }
            const saved = await api('PUT', `${BASE}/${existing.id}`, { body: delta });
            await done(`Saved ${saved.display_name}.`);
          } else {
            const saved = await api('POST', BASE, { body, idempotencyKey });
            const t = saved.last_test;
            await done(`Created ${saved.display_name}${t ? ` (connection test ${t.ok ? 'passed' : 'failed'}${t.latency_ms != null ? `, ${t.latency_ms} ms` : ''})` : ''}.`);
          }
        } catch (error) {
          clear(status, errorView(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, editing ? `Edit ${existing.display_name}` : 'New gateway'),
    h(
      'div.fields',
      {},
      field('Provider', provider),
      field('Display name', name),
      field('Environment', environment),
      field('Status', gatewayStatus),
      field('Minimum amount', minAmount, 'minor units (paise)'),
      field('Maximum amount', maxAmount, 'minor units; empty: no limit'),
      field('Daily limit', dailyLimit, 'minor units per India day; empty: no limit'),
      field('Currencies', currencies, 'ISO 4217, comma-separated'),
      field('Regions', regions, 'e.g. IN, IN-KA'),
      h('fieldset.methods', {}, h('legend', {}, 'Methods (none: every method)'), methodBoxes.map((b) => h('label', {}, b, ` ${b.value}`))),
    ),
    credentialBox,
    editing ? null : h('label.check', {}, testFirst, ' Test the connection first (the gateway is saved only if it passes)'),
    h('div.toolbar', {}, h('button', { type: 'submit' }, editing ? 'Save changes' : 'Create gateway'), h('button', { type: 'button', onclick: cancel }, 'Cancel')),
    status,
  );
  return form;
}
