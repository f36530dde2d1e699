// Live: payments, gateway health changes and alerts over Server-Sent Events.
//
// EventSource sends no headers, so each connection starts with a 60 s stream token from
// POST /api/v1/stream/tokens (the operator's token goes in the Authorization header of
// that call, never in a URL). When a connection drops, the console mints a new token and
// opens a new EventSource with ?last_event_id= (what the API replays from), so nothing
// published meanwhile is lost; ids at or below the last one seen are never shown twice.
import { api, errorView, signalUnauthorized } from './api.js';
import { clear, fmt, h } from './dom.js';

const TOPICS = ['admin:payments', 'admin:gateways', 'admin:alerts'];
const PAYMENT_STATUSES = ['created', 'processing', 'requires_action', 'succeeded', 'failed', 'cancelled', 'expired', 'partially_refunded', 'refunded'];
const EVENT_TYPES = [
  ...PAYMENT_STATUSES.map((s) => `payment.${s}`),
  'gateway.health_changed',
  'gateway.figures',
  'alert.firing',
  'alert.acknowledged',
  'alert.resolved',
];
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const KEEP_EVENTS = 200;
const PAGE = 25;

const stream = {
  wanted: false,
  source: null,
  timer: null,
  attempt: 0,
  lastId: null,
  state: 'off',
  detail: '',
};
const data = {
  loaded: false,
  payments: new Map(), // id -> {payment, trail: [{id, status, at}]}
  paymentsCursor: null,
  alerts: new Map(),
  alertsCursor: null,
  alertState: 'open',
  health: [],
  events: [],
  notice: null,
};
let view = null; // the Live page's elements while it is shown
let drawPending = false;

function setState(state, detail = '') {
  stream.state = state;
  stream.detail = detail;
  const badge = document.getElementById('stream-state');
  if (badge) {
    badge.dataset.state = state;
    badge.textContent = `live: ${state}${detail ? ` (${detail})` : ''}`;
  }
  scheduleDraw();
}

export function start() {
  stream.wanted = true;
  if (!stream.source && !stream.timer) connect();
  if (!data.loaded) refetch();
}

export function stop() {
  stream.wanted = false;
  closeSource();
  clearTimeout(stream.timer);
  stream.timer = null;
  stream.attempt = 0;
  stream.lastId = null;
  data.loaded = false;
  data.payments.clear();
  data.alerts.clear();
  data.health = [];
  data.events = [];
  setState('off');
}

function closeSource() {
  if (stream.source) {
    stream.source.close();
    stream.source = null;
  }
}

function retryLater(reason, delay = null) {
  closeSource();
  if (!stream.wanted || stream.timer) return;
  const wait = delay ?? RETRY_MS[Math.min(stream.attempt, RETRY_MS.length - 1)];
  stream.attempt += 1;
  setState('reconnecting', `${reason}; attempt ${stream.attempt} in ${(wait / 1000).toFixed(1)} s`);
  stream.timer = setTimeout(() => {
    stream.timer = null;
    connect();
  }, wait);
}

async function connect() {
  if (!stream.wanted) return;
  setState(stream.attempt ? 'reconnecting' : 'connecting', stream.attempt ? `attempt ${stream.attempt}` : '');
  let token;
  try {
    token = (await api('POST', '/api/v1/stream/tokens', { body: { topics: TOPICS } })).token;
  } catch (error) {
    if (error.status === 401) return; // signed out: the sign-in form says why
    if (error.status === 403) {
      stream.wanted = false;
      setState('forbidden', error.message);
      return;
    }
    retryLater(error.message);
    return;
  }
  if (!stream.wanted || stream.source) return;
  const query = new URLSearchParams({ access_token: token });
  if (stream.lastId !== null) query.set('last_event_id', String(stream.lastId));
  const source = new EventSource(`/api/v1/stream?${query}`);
  stream.source = source;
  const mine = (handler) => (event) => {
    if (stream.source === source) handler(event);
  };
  source.addEventListener('ready', mine((event) => {
    const info = JSON.parse(event.data);
    if (event.lastEventId) stream.lastId = Number(event.lastEventId);
    stream.attempt = 0;
    setState('connected', info.resumed_from != null ? `resumed after event ${info.resumed_from}` : '');
  }));
  source.addEventListener('gap', mine((event) => {
    stream.lastId = Number(event.lastEventId);
    data.notice = 'Some events were no longer kept while disconnected: the lists were fetched again.';
    refetch();
  }));
  source.addEventListener('reconnect', mine(() => retryLater('the server is restarting', 250)));
  source.addEventListener('error', mine((event) => {
    if (event instanceof MessageEvent && event.data) {
      // The server's own `event: error`, then it closes the stream.
      let info = {};
      try {
        info = JSON.parse(event.data);
      } catch {
        info = {};
      }
      closeSource();
      if (info.reason === 'credentials_expired') {
        signalUnauthorized(info.message || 'your sign-in expired: sign in again');
        return;
      }
      if (info.reason === 'topic_forbidden') {
        stream.wanted = false;
        setState('forbidden', info.message || '');
        return;
      }
      retryLater(info.message || info.reason || 'the server ended the stream', 0);
      return;
    }
    retryLater('connection lost');
  }));
  for (const type of EVENT_TYPES) source.addEventListener(type, mine(onEvent));
}

function onEvent(event) {
  const id = Number(event.lastEventId);
  if (stream.lastId !== null && id <= stream.lastId) return; // never twice, never backwards
  stream.lastId = id;
  const envelope = JSON.parse(event.data);
  const body = envelope.data || {};
  data.events.unshift({ id, event: event.type, topic: envelope.topic, at: envelope.at, body });
  data.events.length = Math.min(data.events.length, KEEP_EVENTS);
  if (event.type.startsWith('payment.')) {
    const entry = data.payments.get(body.id) || { payment: body, trail: [] };
    entry.payment = newer(entry.payment, body);
    entry.trail.push({ id, event: event.type, status: body.status, at: envelope.at });
    data.payments.set(body.id, entry);
  } else if (event.type === 'gateway.health_changed') {
    data.health.unshift({ id, ...body });
    data.health.length = Math.min(data.health.length, KEEP_EVENTS);
  } else if (event.type.startsWith('alert.')) {
    data.alerts.set(body.id, body);
  }
  scheduleDraw();
}

function newer(a, b) {
  if (!a) return b;
  return String(b.updated_at || '') >= String(a.updated_at || '') ? b : a;
}

async function refetch() {
  data.loaded = true;
  data.payments.clear();
  data.alerts.clear();
  data.paymentsCursor = null;
  data.alertsCursor = null;
  await Promise.all([morePayments(), moreAlerts()]);
}

async function morePayments() {
  try {
    const page = await api('GET', '/api/v1/admin/payments', { query: { limit: PAGE, cursor: data.paymentsCursor } });
    for (const p of page.data) {
      const entry = data.payments.get(p.id);
      if (entry) entry.payment = newer(entry.payment, p);
      else data.payments.set(p.id, { payment: p, trail: [] });
    }
    data.paymentsCursor = page.next_cursor;
    data.error = null;
  } catch (error) {
    data.error = error;
  }
  scheduleDraw();
}

async function moreAlerts() {
  try {
    const query = { limit: PAGE, cursor: data.alertsCursor };
    if (data.alertState !== 'all') query.state = data.alertState;
    const page = await api('GET', '/api/v1/admin/alerts', { query });
    for (const a of page.data) if (!data.alerts.has(a.id)) data.alerts.set(a.id, a);
    data.alertsCursor = page.next_cursor;
    data.error = null;
  } catch (error) {
    data.error = error;
  }
  scheduleDraw();
}

async function acknowledge(alert) {
  try {
    const updated = await api('POST', `/api/v1/admin/alerts/${alert.id}/acknowledge`, { idempotencyKey: `ack-${alert.id}` });
    data.alerts.set(updated.id, updated);
  } catch (error) {
    data.error = error;
  }
  scheduleDraw();
}

export function render(root) {
  const status = h('div.live-status', { id: 'live-status' });
  const messages = h('div.messages', { id: 'live-messages', 'aria-live': 'polite' });
  const alerts = h('div', { id: 'alerts' });
  const payments = h('div', { id: 'payments' });
  const health = h('div', { id: 'health' });
  const events = h('div', { id: 'events' });
  const stateFilter = h(
    'select',
    {
      id: 'alert-state',
      onchange: () => {
        data.alertState = stateFilter.value;
        data.alerts.clear();
        data.alertsCursor = null;
        moreAlerts();
      },
    },
    ['open', 'firing', 'acknowledged', 'resolved', 'all'].map((s) => h('option', { value: s, selected: s === data.alertState }, s)),
  );
  clear(
    root,
    h('h1', {}, 'Live'),
    status,
    messages,
    h('h2', {}, 'Alerts ', h('label', {}, 'state ', stateFilter)),
    alerts,
    h('h2', {}, 'Payments'),
    payments,
    h('h2', {}, 'Gateway health changes'),
    health,
    h('h2', {}, 'Latest events'),
    events,
  );
  view = { root, status, messages, alerts, payments, health, events };
  start();
  draw();
}

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

function draw() {
  if (!view || !view.root.isConnected) {
    view = null;
    return;
  }
  clear(
    view.status,
    h('span', { class: `pill ${stream.state}`, id: 'connection-state', 'data-state': stream.state }, stream.state),
    stream.detail ? ` ${stream.detail}` : '',
    ` · last event ${stream.lastId ?? '–'} `,
    stream.wanted
      ? h('button', { type: 'button', id: 'disconnect', onclick: () => { stream.wanted = false; closeSource(); clearTimeout(stream.timer); stream.timer = null; setState('off', 'disconnected by you'); } }, 'Disconnect')
      : h('button', { type: 'button', id: 'connect', onclick: () => { stream.attempt = 0; start(); } }, 'Connect'),
  );
  clear(
    view.messages,
    data.notice ? h('div.notice', {}, data.notice) : null,
    data.error ? errorView(data.error) : null,
  );
  drawAlerts();
  drawPayments();
  clear(
    view.health,
    data.health.length
      ? h('ul.health-changes', {}, data.health.map((c) => h('li', { 'data-event-id': c.id, 'data-gateway': c.gateway_id }, `${fmt.time(c.changed_at)} · ${c.display_name} (${c.provider}): `, h('span', { class: `pill ${c.from}` }, c.from), ' → ', h('span', { class: `pill ${c.to}` }, c.to), ` · ${c.consecutive_failures} consecutive failures`)))
      : h('p', {}, 'No health changes since you opened the stream.'),
  );
  clear(
    view.events,
    h('ol.event-log', {}, data.events.slice(0, 50).map((e) => h('li', { 'data-event-id': e.id, 'data-event': e.event }, `#${e.id} ${e.event} · ${e.topic} · ${fmt.time(e.at)}`))),
  );
}

function drawAlerts() {
  const rows = [...data.alerts.values()]
    .filter((a) => data.alertState === 'all' || (data.alertState === 'open' ? a.state !== 'resolved' : a.state === data.alertState))
    .sort((a, b) => String(b.fired_at).localeCompare(String(a.fired_at)));
  clear(
    view.alerts,
    rows.length
      ? h(
          'table.grid',
          { id: 'alert-table' },
          h('thead', {}, h('tr', {}, ['Severity', 'Alert', 'State', 'Value / threshold', 'Fired', 'Last seen', ''].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            rows.map((a) =>
              h(
                'tr',
                { 'data-alert': a.id, 'data-kind': a.kind, 'data-subject': a.subject?.id, 'data-state': a.state },
                h('td', {}, h('span', { class: `pill ${a.severity}` }, a.severity)),
                h('td', {}, a.title, h('div.sub', {}, `${a.kind} · ${a.subject?.type} ${a.subject?.id}`)),
                h('td.state', {}, h('span', { class: `pill ${a.state}` }, a.state), a.resolution ? ` (${a.resolution})` : ''),
                h('td', {}, `${a.value} / ${a.threshold}`),
                h('td', {}, fmt.time(a.fired_at)),
                h('td', {}, fmt.time(a.last_seen_at)),
                h('td', {}, a.state === 'firing' ? h('button', { type: 'button', class: 'acknowledge', onclick: () => acknowledge(a) }, 'Acknowledge') : null),
              ),
            ),
          ),
        )
      : h('p', {}, 'No alerts.'),
    data.alertsCursor ? h('button', { type: 'button', class: 'more-alerts', onclick: moreAlerts }, 'Load more alerts') : null,
  );
}

function drawPayments() {
  const rows = [...data.payments.values()].sort((a, b) => String(b.payment.created_at).localeCompare(String(a.payment.created_at)));
  clear(
    view.payments,
    rows.length
      ? h(
          'table.grid',
          { id: 'payment-table' },
          h('thead', {}, h('tr', {}, ['Payment', 'Merchant', 'Amount', 'Method', 'Status', 'Seen live', 'Updated'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            rows.map(({ payment: p, trail }) =>
              h(
                'tr',
                { 'data-payment': p.id, 'data-status': p.status },
                h('td', {}, h('code', {}, p.id), h('div.sub', {}, p.mode)),
                h('td', {}, h('code', {}, p.merchant_id)),
                h('td', {}, fmt.money(p.amount, p.currency)),
                h('td', {}, p.method ?? '–'),
                h('td.status', {}, h('span', { class: `pill ${p.status}` }, p.status), p.failure ? h('div.sub', {}, `${p.failure.code}: ${p.failure.message ?? ''}`) : null),
                h('td.trail', {}, trail.map((t, i) => [i ? ' → ' : '', h('span', { 'data-event-id': t.id, 'data-event': t.event, 'data-status': t.status, title: `${t.event} · ${fmt.time(t.at)}` }, t.status)])),
                h('td', {}, fmt.time(p.updated_at)),
              ),
            ),
          ),
        )
      : h('p', {}, 'No payments yet.'),
    data.paymentsCursor ? h('button', { type: 'button', class: 'more-payments', onclick: morePayments }, 'Load more payments') : null,
  );
}
