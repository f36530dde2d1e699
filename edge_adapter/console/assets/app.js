// The console's shell: sign-in, the header, and hash routing between the pages.
import { api, onUnauthorized, session, errorView } from './api.js';
import { clear, h } from './dom.js';
import * as gateways from './gateways.js';
import * as live from './live.js';
import * as queues from './queues.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOutButton = document.getElementById('sign-out');

let me = null;
let signInMessage = null;

function signOut(message = null) {
  session.clear();
  live.stop();
  me = null;
  signInMessage = message;
  render();
}

// A 401 anywhere (an expired or revoked token) returns the operator to the sign-in form,
// with the API's message.
onUnauthorized((message) => signOut(message));
signOutButton.addEventListener('click', () => signOut(null));

function signInForm() {
  const token = h('textarea', {
    name: 'token',
    id: 'token',
    rows: 4,
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'eyJhbGciOi…',
  });
  const status = h('div.form-status', { 'aria-live': 'polite' });
  const form = h(
    'form.sign-in',
    {
      method: 'post',
      id: 'sign-in',
      onsubmit: async (event) => {
        event.preventDefault();
        const value = token.value.trim().replace(/^Bearer\s+/i, '');
        if (!value) return;
        clear(status, 'Signing in…');
        session.set(value);
        signInMessage = null;
        try {
          me = await api('GET', '/api/v1/me');
        } catch (error) {
          if (error.status === 401) return; // signOut() has shown the form with the message
          session.clear();
          clear(status, errorView(error));
          return;
        }
        if (!window.location.hash || window.location.hash === '#/') {
          window.location.hash = '#/gateways';
        }
        render();
      },
    },
    h('h1', {}, 'Sign in'),
    h(
      'p',
      {},
      'Paste an access token of a platform admin (a Supabase JWT; locally: ',
      h('code', {}, 'scripts/token admin'),
      '). It stays in this tab’s session storage and is sent only as an Authorization header.',
    ),
    signInMessage ? h('div.error', { role: 'alert', id: 'sign-in-message' }, signInMessage) : null,
    h('label', { for: 'token' }, 'Access token'),
    token,
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  return form;
}

const PAGES = {
  gateways: gateways.render,
  queues: queues.render,
  live: live.render,
};

function route() {
  const parts = (window.location.hash || '#/gateways').replace(/^#\/?/, '').split('/');
  const page = PAGES[parts[0]] ? parts[0] : 'gateways';
  return { page, params: parts.slice(1).map(decodeURIComponent) };
}

async function render() {
  if (!session.token) {
    nav.hidden = true;
    signOutButton.hidden = true;
    clear(who);
    clear(main, signInForm());
    return;
  }
  if (!me) {
    try {
      me = await api('GET', '/api/v1/me');
    } catch (error) {
      if (error.status !== 401) clear(main, errorView(error));
      return;
    }
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  clear(
    who,
    me.email || me.user_id || me.caller,
    me.is_admin ? h('span.badge', {}, 'admin') : h('span.badge.warn', {}, 'not a platform admin'),
  );
  const { page, params } = route();
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const container = h('section.page', { id: `page-${page}` });
  clear(main, container);
  PAGES[page](container, params);
}

window.addEventListener('hashchange', () => render());
render();
