// The REST API as the console calls it: the same public routes any client uses, with the
// operator's token as `Authorization: Bearer`. The token lives in this tab's
// sessionStorage only: never in a URL, a cookie or localStorage.
import { h } from './dom.js';

const TOKEN_KEY = 'lsp.console.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An answer other than 2xx, as the API's error envelope tells it. */
export class ApiError extends Error {
  constructor(status, code, message, details = null, requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

let unauthorized = () => {};

/** Who to tell when the API says 401 (the token expired or is not valid). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function signalUnauthorized(message) {
  unauthorized(message);
}

export async function api(method, path, { query, body, idempotencyKey } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') {
      url.searchParams.set(name, String(value));
    }
  }
  const headers = { Accept: 'application/json' };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'the API could not be reached; try again');
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    const error = new ApiError(
      response.status,
      e.code || `http_${response.status}`,
      e.message || `the API answered ${response.status}`,
      e.details ?? null,
      e.request_id ?? response.headers.get('x-request-id'),
    );
    if (response.status === 401) unauthorized(error.message);
    throw error;
  }
  return data;
}

/** An error as the operator sees it: the API's message, its details, the request id. */
export function errorView(error) {
  if (!(error instanceof ApiError)) {
    return h('div.error', { role: 'alert' }, h('span.message', {}, String(error.message || error)));
  }
  const details = [];
  if (Array.isArray(error.details)) {
    for (const d of error.details) {
      if (d && typeof d === 'object' && 'field' in d) details.push(`${d.field}: ${d.problem}`);
    }
  } else if (error.details && error.details.test) {
    const t = error.details.test;
    details.push(`test: ${t.error_class || 'failed'}${t.message ? ` (${t.message})` : ''}`);
  }
  return h(
    'div.error',
    { role: 'alert', 'data-status': error.status, 'data-code': error.code },
    h('span.message', {}, error.message),
    details.length ? h('ul.details', {}, details.map((d) => h('li', {}, d))) : null,
    error.requestId ? h('span.request-id', {}, ` request ${error.requestId}`) : null,
  );
}
