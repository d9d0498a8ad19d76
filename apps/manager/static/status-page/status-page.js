// The vlab status page: plain DOM, no framework, no build. Every figure comes from the manager's
// HTTP API with the token the operator pastes (kept in this tab's sessionStorage only). Live
// events are read with fetch and a stream reader — EventSource cannot send the Authorization
// header, and a token must never travel in a URL. Text is written with textContent only.

const API = '/api/v1';
const TOKEN_KEY = 'vlab.status-page.token';
/** Reservation states in which a computer is being prepared or reclaimed. */
const ACTIVE = new Set(['pending', 'loading', 'ending']);
/** Reservation states that hold a computer. */
const HOLDING = new Set(['pending', 'loading', 'ready', 'ending']);
const REFRESH_MS = 15_000;
const RETRY_MS = 2000;
/** Streams of single reservations a user's page follows at once (browsers allow 6 connections). */
const MAX_RESERVATION_STREAMS = 4;
const MAX_ERRORS = 10;

const $ = (id) => {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
};

/** An element with attributes and children (strings become text nodes). */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** A refusal of the API, with its documented hint. */
class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `the manager answered HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? `HTTP ${status}`;
    this.hint = error.hint ?? '';
  }
}

/** The signed-in session: its token, user, and what it runs (stopped on sign-out). */
let session;

async function api(method, path, body) {
  if (session === undefined) throw new DOMException('signed out', 'AbortError');
  const headers = { authorization: `Bearer ${session.token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: session.controller.signal,
    cache: 'no-store',
  });
  const text = await response.text();
  const parsed = text === '' ? null : JSON.parse(text);
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401) signOut('The token was refused: sign in again.');
    throw error;
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Signing in and out

async function signIn(token) {
  const controller = new AbortController();
  session = { token, controller, me: undefined, timers: [], streams: new Map(), lab: undefined };
  const me = await api('GET', '/me');
  session.me = me;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('who').textContent = `${me.displayName || me.login} (${me.role})`;
  $('sign-in').hidden = true;
  $('dashboard').hidden = false;
  $('sign-out').hidden = false;
  const admin = me.role === 'admin';
  $('admin').hidden = !admin;
  $('reserve-users-field').hidden = !admin;
  void loadHints();
  await refresh();
  session.timers.push(setInterval(() => void refresh().catch(showRefreshError), REFRESH_MS));
}

function signOut(message = '') {
  if (session !== undefined) {
    session.controller.abort();
    for (const timer of session.timers) clearInterval(timer);
    clearTimeout(session.refreshSoon);
  }
  session = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
  operations.clear();
  errors.clear();
  pastErrorsLoaded.clear();
  for (const id of ['operations', 'errors', 'computers', 'reservations']) $(id).replaceChildren();
  $('progress-empty').hidden = false;
  $('errors-empty').hidden = false;
  $('who').textContent = '';
  $('sign-out').hidden = true;
  $('dashboard').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  const input = $('token');
  input.value = '';
  input.focus();
}

// ---------------------------------------------------------------------------------------------
// The lab's state: computers, reservations, images

let state = { computers: [], reservations: [], images: [] };

async function refresh() {
  if (session === undefined) return;
  const [computers, reservations, images] = await Promise.all([
    api('GET', '/computers'),
    api('GET', '/reservations?limit=50'),
    api('GET', '/images'),
  ]);
  state = { computers: computers.items, reservations: reservations.items, images: images.items };
  renderComputers();
  renderReservations();
  renderSelects();
  settleOperations();
  await followEvents();
  void loadPastErrors();
}

function showRefreshError(error) {
  if (session === undefined || error.name === 'AbortError') return;
  addError({
    id: `refresh-${Date.now()}`,
    at: new Date().toISOString(),
    errorCode: error.code ?? 'HTTP',
    message: `The page could not refresh: ${error.message}`,
    hint: error.hint,
  });
}

function scheduleRefresh() {
  if (session === undefined) return;
  clearTimeout(session.refreshSoon);
  session.refreshSoon = setTimeout(() => void refresh().catch(showRefreshError), 250);
}

const shortId = (id) => id.slice(0, 8);

function badge(value) {
  return el('span', { class: `badge s-${value}` }, value);
}

function reservationOn(computer) {
  return state.reservations.find((r) => r.computer === computer && HOLDING.has(r.state));
}

function renderComputers() {
  const rows = state.computers.map((c) => {
    const held = reservationOn(c.name);
    const loaded = c.loaded === null ? 'none' : `${c.loaded.image} revision ${c.loaded.revision}`;
    const stateCell = el('td', {}, badge(c.state));
    if (c.state === 'maintenance' && c.maintenanceReason) {
      stateCell.append(el('div', { class: 'note' }, c.maintenanceReason));
    }
    return el(
      'tr',
      { 'data-computer': c.name },
      el('th', { scope: 'row' }, c.name),
      stateCell,
      el('td', {}, badge(c.power.state)),
      el('td', {}, loaded, c.tainted ? ' (used)' : ''),
      el(
        'td',
        {},
        held === undefined
          ? '—'
          : el('span', {}, el('code', {}, shortId(held.id)), ` ${held.logins.join(', ')}`),
      ),
    );
  });
  $('computers').replaceChildren(...rows);
}

function ends(iso) {
  const at = new Date(iso);
  const minutes = Math.round((at.getTime() - Date.now()) / 60_000);
  const when = at.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  if (minutes <= 0) return when;
  return `${when} (in ${minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`})`;
}

function renderReservations() {
  const rows = state.reservations.map((r) =>
    el(
      'tr',
      { 'data-reservation': r.id },
      el('th', { scope: 'row' }, el('code', { title: r.id }, shortId(r.id))),
      el('td', {}, `${r.image} revision ${r.revision}`),
      el('td', {}, r.computer ?? '—'),
      el('td', {}, r.logins.join(', ')),
      el('td', {}, badge(r.state)),
      el('td', {}, r.endedAt === null ? ends(r.endsAt) : `ended ${ends(r.endedAt)}`),
    ),
  );
  $('reservations').replaceChildren(...rows);
}

/** Fills a select with options, keeping what was chosen. */
function fill(select, options) {
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, text]) => el('option', { value }, text)));
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}

function renderSelects() {
  const images = state.images
    .map((image) => {
      const production = image.revisions.filter((r) => r.state === 'production');
      const newest = production.at(-1);
      return newest === undefined
        ? undefined
        : [image.name, `${image.name} (revision ${newest.revision})`];
    })
    .filter((option) => option !== undefined);
  fill($('reserve-image'), images);
  fill($('reserve-computer'), [
    ['', 'Any available'],
    ...state.computers.map((c) => [c.name, `${c.name} (${c.state})`]),
  ]);
  fill(
    $('admin-computer'),
    state.computers.map((c) => [c.name, `${c.name} (${c.state})`]),
  );
  fill(
    $('admin-image'),
    state.images.map((image) => [image.name, image.name]),
  );
}

// ---------------------------------------------------------------------------------------------
// Live events: progress bars, errors

/** Hints of the documented error codes, by code. */
let hints = {};

async function loadHints() {
  try {
    const response = await fetch('/status-page/hints.json');
    if (response.ok) hints = await response.json();
  } catch {
    // Errors are shown without their hint.
  }
}

/** Reads a Server-Sent Events stream with fetch, reconnecting after drops with Last-Event-ID. */
async function readStream(path, onEvent, signal) {
  const token = session.token;
  let lastId;
  while (!signal.aborted) {
    try {
      const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
      if (lastId !== undefined) headers['last-event-id'] = String(lastId);
      const response = await fetch(`${API}${path}`, { headers, signal, cache: 'no-store' });
      if (!response.ok || response.body === null) {
        // Refused (gone, or not ours): following again would be refused again.
        if (response.status === 401) signOut('The token was refused: sign in again.');
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value.replaceAll('\r\n', '\n');
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          let data = '';
          let id;
          for (const line of frame.split('\n')) {
            if (line.startsWith('data:')) data += line.slice(5).trimStart();
            else if (line.startsWith('id:')) id = Number(line.slice(3).trim());
          }
          if (id !== undefined) lastId = id;
          if (data !== '') onEvent(JSON.parse(data));
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      console.warn('the event stream dropped; reconnecting', error);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** Starts the streams the page needs: the lab's for an admin, each active reservation's for a user. */
async function followEvents() {
  const signal = session.controller.signal;
  if (session.me.role === 'admin') {
    // Once per session; a failed start is tried again at the next refresh.
    session.lab ??= labStreamStart().then(
      (after) => void readStream(`/events/stream?after=${after}`, onEvent, signal),
      (error) => {
        if (session !== undefined) session.lab = undefined;
        throw error;
      },
    );
    await session.lab;
    return;
  }
  const wanted = state.reservations.filter((r) => ACTIVE.has(r.state) || capturing(r));
  for (const [id, controller] of session.streams) {
    if (!wanted.some((r) => r.id === id)) {
      controller.abort();
      session.streams.delete(id);
    }
  }
  for (const r of wanted) followReservation(r.id);
}

function followReservation(id) {
  if (session.me.role === 'admin' || session.streams.has(id)) return;
  if (session.streams.size >= MAX_RESERVATION_STREAMS) return;
  const controller = new AbortController();
  session.controller.signal.addEventListener('abort', () => controller.abort(), { once: true });
  session.streams.set(id, controller);
  void readStream(`/reservations/${id}/stream`, onEvent, controller.signal);
}

/**
 * Where the lab's stream starts: before the first event of the oldest reservation being prepared,
 * so its bar shows where it is; else after the newest reservation's last event (roughly now).
 */
async function labStreamStart() {
  const active = state.reservations.filter((r) => ACTIVE.has(r.state) || capturing(r));
  const oldest = active.at(-1);
  if (oldest !== undefined) {
    const first = await api('GET', `/events?reservation=${oldest.id}&limit=1`);
    return Math.max(0, (first.items[0]?.id ?? 1) - 1);
  }
  const newest = state.reservations[0];
  if (newest === undefined) return 0;
  const events = await api('GET', `/events?reservation=${newest.id}&limit=1000`);
  return events.items.at(-1)?.id ?? 0;
}

/** Whether an image revision is being captured from the reservation's computer. */
function capturing(reservation) {
  return state.images.some((image) =>
    image.revisions.some(
      (r) =>
        r.state === 'capturing' &&
        r.capturedFrom !== null &&
        r.capturedFrom === reservation.computer,
    ),
  );
}

function onEvent(event) {
  if (event.kind === 'progress' && event.progress !== null) {
    showProgress(event);
    return;
  }
  if (event.errorCode !== null) addError(event);
  if (event.kind === 'ready' && event.reservationId !== null) {
    finishOperation(event.reservationId, 'ready', 'ready');
  } else if (
    (event.kind === 'failed' || event.kind === 'workflow-failed') &&
    event.reservationId !== null
  ) {
    finishOperation(event.reservationId, 'failed', 'failed');
  } else if (event.kind === 'ended' && event.reservationId !== null) {
    finishOperation(event.reservationId, 'ended', 'ended');
  }
  scheduleRefresh();
}

/** The progress bars, by reservation id (or `computer:<name>` for an admin's reload). */
const operations = new Map();
let operationCount = 0;

function operationKey(event) {
  return event.reservationId ?? `computer:${event.computer ?? 'lab'}`;
}

function operation(key, computer) {
  let op = operations.get(key);
  if (op !== undefined) return op;
  operationCount += 1;
  const labelId = `operation-${operationCount}`;
  const title = key.startsWith('computer:')
    ? `Computer ${key.slice('computer:'.length)}`
    : `Reservation ${shortId(key)}`;
  const label = el('span', { id: labelId }, computer ? `${title} on ${computer}` : title);
  const phase = el('span', { class: 'phase' }, 'requested');
  const bar = el('progress', { 'aria-labelledby': labelId });
  const figures = el('div', { class: 'figures' }, 'waiting for a computer');
  const item = el(
    'li',
    { class: 'operation', 'data-operation': key },
    el('div', {}, label, ' — ', phase),
    bar,
    figures,
  );
  op = { key, item, label, title, phase, bar, figures, finished: false, computer };
  operations.set(key, op);
  $('operations').prepend(item);
  $('progress-empty').hidden = true;
  return op;
}

function announce(text) {
  $('announcer').textContent = text;
}

function amount(unit, n) {
  if (unit === 'steps') return `${n} ${n === 1 ? 'step' : 'steps'}`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let at = 0;
  while (value >= 1024 && at < units.length - 1) {
    value /= 1024;
    at += 1;
  }
  return `${at === 0 ? value : value.toFixed(1)} ${units[at]}`;
}

function duration(seconds) {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function showProgress(event) {
  const key = operationKey(event);
  const op = operation(key, event.computer);
  if (op.finished) return;
  if (event.computer && !op.computer) {
    op.computer = event.computer;
    op.label.textContent = `${op.title} on ${event.computer}`;
  }
  const p = event.progress;
  const phase = event.step ?? 'progress';
  if (op.phase.textContent !== phase) announce(`${op.label.textContent}: ${phase}`);
  op.phase.textContent = phase;
  const parts = [];
  if (p.total !== null && p.total > 0) {
    op.bar.max = p.total;
    op.bar.value = Math.min(p.done, p.total);
    parts.push(
      p.unit === 'steps'
        ? `${p.done} of ${amount('steps', p.total)}`
        : `${amount('bytes', p.done)} of ${amount('bytes', p.total)}`,
    );
    parts.push(`${Math.floor((Math.min(p.done, p.total) / p.total) * 100)}%`);
  } else {
    op.bar.removeAttribute('value');
    parts.push(amount(p.unit, p.done));
  }
  if (p.ratePerSecond !== null && p.ratePerSecond > 0) {
    parts.push(
      p.unit === 'bytes'
        ? `${amount('bytes', p.ratePerSecond)}/s`
        : `${p.ratePerSecond.toFixed(1)} steps/s`,
    );
  }
  if (p.etaSeconds !== null && p.etaSeconds >= 0) parts.push(`${duration(p.etaSeconds)} left`);
  op.figures.textContent = parts.join(' · ');
}

function finishOperation(key, outcome, text) {
  const op = operations.get(key);
  if (op === undefined || op.finished) return;
  op.finished = true;
  op.phase.textContent = text;
  op.bar.max = 1;
  op.bar.value = outcome === 'ready' || outcome === 'ended' ? 1 : 0;
  op.figures.textContent = outcome === 'failed' ? 'stopped: see the errors below' : 'done';
  announce(`${op.label.textContent}: ${text}`);
}

/** Ends the bars of reservations the last refresh shows past preparing (events may lag). */
function settleOperations() {
  for (const op of operations.values()) {
    if (op.finished || op.key.startsWith('computer:')) continue;
    const r = state.reservations.find((x) => x.id === op.key);
    if (r === undefined || ACTIVE.has(r.state) || capturing(r)) continue;
    finishOperation(
      op.key,
      r.state === 'failed' ? 'failed' : r.state === 'ended' ? 'ended' : 'ready',
      r.state,
    );
  }
}

/** The errors shown, by a key that folds the same failure reported by several events. */
const errors = new Map();
const pastErrorsLoaded = new Set();

function addError(event) {
  const key = `${event.reservationId ?? event.computer ?? ''}|${event.errorCode}|${event.message ?? ''}`;
  if (errors.has(key)) return;
  const hint = event.hint || hints[event.errorCode] || 'See docs/errors.md for this code.';
  const where = [
    event.kind ? `${event.kind}${event.step ? ` (${event.step})` : ''}` : undefined,
    event.computer ? `on ${event.computer}` : undefined,
    event.reservationId ? `reservation ${shortId(event.reservationId)}` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const at = new Date(event.at);
  // A module error's message repeats its code and hint: shown once each.
  let message = event.message ?? '';
  if (message.startsWith(`${event.errorCode}: `))
    message = message.slice(event.errorCode.length + 2);
  const repeated = message.lastIndexOf(' What to do: ');
  if (repeated >= 0) message = message.slice(0, repeated);
  const item = el(
    'li',
    { class: 'error', 'data-code': event.errorCode },
    el(
      'div',
      {},
      el('time', { datetime: event.at }, at.toLocaleTimeString()),
      ' ',
      el('span', { class: 'code' }, event.errorCode),
      where ? ` — ${where}` : '',
    ),
    message ? el('div', { class: 'message' }, message) : null,
    el('p', { class: 'hint' }, el('strong', {}, 'What to do: '), hint),
  );
  errors.set(key, { at: at.getTime(), item });
  const newest = [...errors.values()].sort((a, b) => b.at - a.at).slice(0, MAX_ERRORS);
  $('errors').replaceChildren(...newest.map((e) => e.item));
  $('errors-empty').hidden = true;
}

/** The errors of the newest failed reservations, which happened before the page opened. */
async function loadPastErrors() {
  const failed = state.reservations
    .filter((r) => r.state === 'failed' && !pastErrorsLoaded.has(r.id))
    .slice(0, 5);
  for (const r of failed) {
    pastErrorsLoaded.add(r.id);
    try {
      const events = await api('GET', `/events?reservation=${r.id}&limit=1000`);
      for (const event of events.items) if (event.errorCode !== null) addError(event);
    } catch (error) {
      showRefreshError(error);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Forms

function showProblem(id, error) {
  const box = $(id);
  box.replaceChildren(
    el('div', {}, el('span', { class: 'code' }, error.code ?? 'Error'), `: ${error.message}`),
    error.hint ? el('div', {}, el('strong', {}, 'What to do: '), error.hint) : null,
  );
}

/** Whether a reservation request is on its way (a second Enter does not send another). */
let reserving = false;

async function reserve(event) {
  event.preventDefault();
  if (reserving) return;
  $('reserve-error').replaceChildren();
  $('reserve-result').textContent = '';
  const minutes = Number($('reserve-minutes').value);
  const body = { requestId: crypto.randomUUID(), image: $('reserve-image').value, minutes };
  const computer = $('reserve-computer').value;
  if (computer !== '') body.computer = computer;
  const users = $('reserve-users').value.trim();
  if (session.me.role === 'admin' && users !== '') {
    body.logins = users.split(/[\s,]+/).filter(Boolean);
  }
  reserving = true;
  try {
    const made = await api('POST', '/reservations', body);
    operation(made.id, made.computer ?? undefined);
    $('reserve-result').textContent =
      `Reservation ${shortId(made.id)} requested${made.computer ? ` on ${made.computer}` : ''}; its progress is shown below.`;
    followReservation(made.id);
    scheduleRefresh();
  } catch (error) {
    if (error.name !== 'AbortError') showProblem('reserve-error', error);
  } finally {
    reserving = false;
  }
}

function adminFields() {
  const action = $('admin-action').value;
  $('admin-reason-field').hidden = action !== 'maintenance-on';
  $('admin-image-field').hidden = action !== 'reload';
}

async function adminAction(event) {
  event.preventDefault();
  $('admin-error').replaceChildren();
  $('admin-result').textContent = '';
  const name = $('admin-computer').value;
  const path = `/computers/${encodeURIComponent(name)}`;
  const action = $('admin-action').value;
  try {
    let computer;
    if (action === 'maintenance-on') {
      const reason = $('admin-reason').value.trim() || 'taken out of service on the status page';
      computer = await api('POST', `${path}/maintenance`, { reason });
    } else if (action === 'maintenance-off') {
      computer = await api('DELETE', `${path}/maintenance`);
    } else {
      computer = await api('POST', `${path}/reload`, { image: $('admin-image').value });
    }
    $('admin-result').textContent = `${computer.name} is ${computer.state}.`;
    scheduleRefresh();
  } catch (error) {
    if (error.name !== 'AbortError') showProblem('admin-error', error);
  }
}

async function submitToken(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  $('sign-in-error').textContent = '';
  if (token === '') {
    $('sign-in-error').textContent = 'Paste an API token first.';
    return;
  }
  try {
    await signIn(token);
    $('main').focus();
  } catch (error) {
    const message = error.status === 401 ? 'The token was refused.' : error.message;
    signOut(message);
  }
}

function start() {
  $('sign-in-form').addEventListener('submit', (event) => void submitToken(event));
  $('sign-out').addEventListener('click', () => signOut());
  $('reserve-form').addEventListener('submit', (event) => void reserve(event));
  $('admin-form').addEventListener('submit', (event) => void adminAction(event));
  $('admin-action').addEventListener('change', adminFields);
  adminFields();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved !== null) {
    signIn(saved).catch((error) =>
      signOut(error.status === 401 ? 'Sign in again.' : error.message),
    );
  } else {
    $('token').focus();
  }
}

start();
