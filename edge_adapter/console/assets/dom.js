// Small DOM helpers. Text always goes in as text nodes (never innerHTML), and no element
// gets a style attribute: the console's CSP allows only its own stylesheet.

/** h('tag.class', {attr: value, onclick: fn}, ...children) */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = [el.className, value].filter(Boolean).join(' ');
    } else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'open'].includes(name)) {
      el[name] = value;
    } else if (name === 'style') {
      throw new Error('inline styles are not allowed by the console CSP');
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An RFC 4122 version 4 id from the browser's CSPRNG (randomUUID needs a secure context). */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const integer = new Intl.NumberFormat('en-IN');

export const fmt = {
  int(n) {
    return n === null || n === undefined ? '–' : integer.format(n);
  },
  /** Minor units as they are (integers: no float arithmetic on money). */
  minor(n) {
    return n === null || n === undefined ? 'no limit' : integer.format(n);
  },
  /** An amount in minor units with its currency, e.g. 12345 INR -> "123.45 INR". */
  money(amount, currency) {
    if (amount === null || amount === undefined) return '–';
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency })
      .resolvedOptions().maximumFractionDigits;
    const s = String(Math.abs(amount)).padStart(digits + 1, '0');
    const major = s.slice(0, s.length - digits);
    const minor = digits ? `.${s.slice(s.length - digits)}` : '';
    return `${amount < 0 ? '-' : ''}${integer.format(BigInt(major))}${minor} ${currency}`;
  },
  pct(x) {
    return x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`;
  },
  ms(n) {
    return n === null || n === undefined ? '–' : `${n} ms`;
  },
  time(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  },
  seconds(s) {
    if (s === null || s === undefined) return '–';
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  },
};

/** Whole minor units from a form field: '' -> empty, anything else must be a safe integer. */
export function parseMinor(raw, label) {
  const text = String(raw ?? '').trim();
  if (text === '') return { empty: true };
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new Error(`${label}: whole minor units (paise), digits only`);
  }
  return { value: Number(text) };
}

export function splitList(raw) {
  return String(raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
