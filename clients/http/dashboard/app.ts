// The dashboard: one page served by `upk serve` (docs/http.md, the dashboard). It reads the HTTP API
// and follows its event stream (no polling); the token, when the server asks one, travels only in
// the Authorization header and is kept in sessionStorage (never a cookie, never a URL sent to a
// server). No framework: the DOM is built with textContent, so no text from a service is ever HTML.
import type {
  ActionResult,
  ControllerInfo,
  ControllerStatus,
  FailureStory,
  LogLine,
  OutcomeItem,
  ServiceEvent,
  ServiceStatus,
  TrendResult,
} from '../../../libclient/index.js';

const TOKEN_KEY = 'upkeeper-token';
/** Waits between tries to reach upk serve (or a controller that is not running) again. */
const RETRY_MS = 2000;
/** Events kept on a service's page. */
const EVENTS_SHOWN = 100;
/** Lines kept in a service's output pane. */
const LOG_LINES_KEPT = 500;

interface WireErrorBody {
  error?: { code: string; message: string };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { text?: string; className?: string; title?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.text !== undefined) e.textContent = props.text;
  if (props.className !== undefined) e.className = props.className;
  if (props.title !== undefined) e.title = props.title;
  e.append(...children);
  return e;
}

// ---- the token and the API ----

/**
 * What a header can carry as a bearer token: visible ASCII, no space. Anything else (a character
 * outside Latin-1 makes fetch() throw, a space is never matched) is refused where it is given.
 */
const isToken = (text: string): boolean => /^[\x21-\x7e]+$/.test(text);

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
if (token !== null && !isToken(token)) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * A token given in the address's fragment (`#token=…`, never sent to a server) is kept, then taken
 * out of the address, whatever it holds: one that is no token is not kept, and the login says so.
 */
function tokenFromFragment(): void {
  const m = /^#token=(.*)$/s.exec(location.hash);
  if (!m) return;
  history.replaceState(null, '', `${location.pathname}#/`);
  let given: string;
  try {
    given = decodeURIComponent(m[1]!);
  } catch {
    given = '';
  }
  if (!isToken(given)) {
    showLogin('The token in the address is not a token: paste the contents of http-token.');
    return;
  }
  token = given;
  sessionStorage.setItem(TOKEN_KEY, token);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token === null ? extra : { ...extra, authorization: `Bearer ${token}` };
}

async function api<T>(path: string, init: { method?: 'GET' | 'POST'; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const res = await fetch(`api/${path}`, {
    method: init.method ?? 'GET',
    headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const body = (await res.json().catch(() => ({}))) as T & WireErrorBody;
  if (res.status === 401) refused();
  // A change answers its outcome with the status of its error: the outcome is the answer.
  if (!res.ok && !(init.method === 'POST' && 'outcome' in body))
    throw new ApiError(res.status, body.error?.code ?? 'HTTP', body.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/** The server asks a token (none given yet), or refused the one given. */
function refused(): void {
  showLogin(token === null ? '' : 'The token was refused.');
}

function showLogin(message: string): void {
  $('login').hidden = false;
  $('list').hidden = true;
  $('detail').hidden = true;
  if (message !== '') $('login-error').textContent = message; // (else what it said stays)
}

// ---- Server-Sent Events over fetch (EventSource cannot send the Authorization header) ----

/** Run a handler of the page's; a fault in it is reported, and breaks neither the stream nor the page. */
function guarded(run: () => void): void {
  try {
    run();
  } catch (err) {
    console.error('upkeeper dashboard:', err);
  }
}

interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Follow a stream until `signal` aborts: each message to `onMessage`; when the stream breaks (upk serve
 * gone, a controller that was not running), `onBroken` is told, and it is opened again after RETRY_MS,
 * resuming after the last event id it carried.
 */
async function follow(
  path: string,
  signal: AbortSignal,
  onMessage: (m: SseMessage) => void,
  onBroken: (why: string) => void,
  onOpen: () => void = () => undefined,
): Promise<void> {
  let lastId: string | null = null;
  while (!signal.aborted) {
    try {
      const res = await fetch(path, { headers: headers(lastId === null ? {} : { 'last-event-id': lastId }), signal });
      if (res.status === 401) {
        refused();
        return;
      }
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => ({}))) as WireErrorBody;
        throw new Error(body.error?.message ?? `${res.status} ${res.statusText}`);
      }
      guarded(onOpen);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const m: SseMessage = { event: 'message', data: '', id: null };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon === 0) continue; // a comment (the keepalive)
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') m.event = text;
            else if (field === 'data') m.data += m.data === '' ? text : `\n${text}`;
            else if (field === 'id') m.id = text;
          }
          if (m.id !== null) lastId = m.id;
          if (m.data !== '') guarded(() => onMessage(m));
        }
      }
      if (!signal.aborted) onBroken('the stream ended');
    } catch (err) {
      if (signal.aborted) return;
      onBroken((err as Error).message);
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

// ---- words and numbers ----

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

function exitText(s: ServiceStatus): string {
  const e = s.lastExit;
  if (!e) return '';
  const how = e.signal !== null ? e.signal : e.code !== null ? `code ${e.code}` : 'unknown';
  return `${how}, ${duration(Date.now() - Date.parse(e.at))} ago`;
}

const localTime = (iso: string): string => new Date(iso).toLocaleString();

// ---- what the page knows ----

const services = new Map<string, ServiceStatus>();
let controllerLost = false;
let serveBroken: string | null = null;

function showBanner(): void {
  const banner = $('banner');
  const text =
    serveBroken !== null
      ? `Cannot reach upk serve or the controller (${serveBroken}); trying again…`
      : controllerLost
        ? 'The controller is not reachable: services run on under their buddies. Waiting for it to come back…'
        : '';
  banner.textContent = text;
  banner.hidden = text === '';
  document.body.classList.toggle('stale', text !== ''); // what the page shows may be out of date
}

function showController(c: ControllerInfo | ControllerStatus): void {
  $('controller').textContent = `controller ${c.version}, pid ${c.pid}, up since ${localTime(c.startedAt)}`;
}

// ---- the list of services ----

const BUTTONS = ['start', 'stop', 'restart', 'reload'] as const;

/**
 * The changes asked and not answered yet, as `service` NUL `verb` (`custom` for an action): their
 * buttons stay disabled, also in a row drawn again meanwhile, so a fast second click asks nothing.
 */
const pending = new Set<string>();
const pendingKey = (service: string, verb: string): string => `${service}\0${verb}`;

/** Disable the buttons of a change in flight, wherever the service's buttons are (its row, its page). */
function syncButtons(service: string): void {
  for (const box of document.querySelectorAll<HTMLElement>('.buttons'))
    if (box.dataset.service === service)
      for (const b of box.querySelectorAll<HTMLButtonElement>('button[data-action]'))
        b.disabled = pending.has(pendingKey(service, b.dataset.action!));
}

function actionButtons(s: ServiceStatus): HTMLElement {
  const box = el('div', { className: 'buttons' });
  box.dataset.service = s.name;
  for (const verb of BUTTONS) {
    const b = el('button', { text: verb });
    b.dataset.action = verb;
    b.disabled = pending.has(pendingKey(s.name, verb));
    b.addEventListener('click', () => void change(s.name, verb));
    box.append(b);
  }
  if (s.actions.length > 0) {
    const select = el('select', { title: 'custom actions' });
    select.setAttribute('aria-label', `actions of ${s.name}`);
    for (const a of s.actions) select.append(el('option', { text: a }));
    const run = el('button', { text: 'run' });
    run.dataset.action = 'custom';
    run.disabled = pending.has(pendingKey(s.name, 'custom'));
    run.addEventListener('click', () => void custom(s.name, select.value));
    box.append(select, run);
  }
  return box;
}

function stateCell(s: ServiceStatus): HTMLElement {
  // Not in its wanted state: wanted running but stopped or failed, or wanted stopped but running.
  const wanted = s.desired === 'running' ? s.state !== 'stopped' && s.state !== 'failed' : s.state === 'stopped';
  return el('span', {
    text: s.state,
    className: `state state-${s.state}${wanted ? '' : ' unwanted'}`,
    title: `desired: ${s.desired}${s.hold ? `; held (${s.hold.reason}) until ${localTime(s.hold.until)}` : ''}`,
  });
}

/** A service's row, empty: `fillRow` writes its cells. */
function makeRow(name: string): HTMLTableRowElement {
  const link = el('a', { text: name });
  link.href = `#/service/${encodeURIComponent(name)}`;
  const cell = (className: string): HTMLTableCellElement => el('td', { className });
  const tr = el(
    'tr',
    {},
    el('td', { className: 'name' }, link),
    cell('state'),
    cell('health'),
    cell('num pid'),
    cell('num uptime'),
    cell('num restarts'),
    cell('exit'),
    cell('num cpu'),
    cell('num memory'),
    el('td', {}),
  );
  tr.dataset.service = name;
  return tr;
}

/**
 * Write a service's status into its row, in place: a select open, a focused button and a disabled
 * one stay as they are. The buttons are made again only when its custom actions changed.
 */
function fillRow(tr: HTMLTableRowElement, s: ServiceStatus): void {
  const [name, state, health, pid, , restarts, exit, cpu, memory, actions] = [...tr.cells];
  name!.title = s.description ?? '';
  state!.replaceChildren(stateCell(s));
  health!.textContent = s.health?.status ?? '';
  health!.className = `health health-${s.health?.status ?? 'none'}`;
  pid!.textContent = s.pid === null ? '' : String(s.pid);
  restarts!.textContent = String(s.restarts);
  exit!.textContent = exitText(s);
  cpu!.textContent = s.usage ? `${s.usage.cpu.toFixed(1)} %` : '';
  memory!.textContent = s.usage ? bytes(s.usage.rss) : '';
  const names = JSON.stringify(s.actions);
  if (tr.dataset.actions !== names) {
    actions!.replaceChildren(actionButtons(s));
    tr.dataset.actions = names;
  }
}

/** The rows by service; the services whose row is to be written again at the next `flushList`. */
const rows = new Map<string, HTMLTableRowElement>();
const dirty = new Set<string>();
let flushQueued = false;

/**
 * Mark a service's row to be written again. The rows are written once for all the statuses that
 * came together (200 at a stream's start, a flood of changes): each row once, never the whole table
 * for each status.
 */
function markDirty(name: string): void {
  dirty.add(name);
  if (flushQueued) return;
  flushQueued = true;
  setTimeout(flushList, 0);
}

function flushList(): void {
  flushQueued = false;
  const body = $('services').querySelector('tbody')!;
  let added = false;
  for (const name of dirty) {
    const s = services.get(name);
    let tr = rows.get(name);
    if (!s) {
      tr?.remove();
      rows.delete(name);
      continue;
    }
    if (!tr) {
      tr = makeRow(name);
      rows.set(name, tr);
      added = true;
    }
    fillRow(tr, s);
  }
  dirty.clear();
  if (added) {
    // in name order; a row already in its place is not moved (it would lose its focus)
    let next: HTMLTableRowElement | null = null;
    for (const name of [...rows.keys()].sort().reverse()) {
      const tr = rows.get(name)!;
      if (tr.parentNode !== body || tr.nextSibling !== next) body.insertBefore(tr, next);
      next = tr;
    }
  }
  $('empty').hidden = services.size > 0;
  const counts = { running: 0, stopped: 0, failed: 0 };
  for (const s of services.values()) if (s.state in counts) counts[s.state as keyof typeof counts]++;
  $('counts').textContent = `${services.size} services: ${counts.running} running, ${counts.stopped} stopped, ${counts.failed} failed`;
  tickUptimes();
}

function tickUptimes(): void {
  for (const [name, r] of rows) {
    const s = services.get(name);
    const cell = r.cells[4];
    if (s && cell) cell.textContent = s.started !== null && s.pid !== null ? duration(Date.now() - Date.parse(s.started)) : '';
  }
}

function updateService(s: ServiceStatus): void {
  services.set(s.name, s);
  markDirty(s.name);
  if (current === s.name) {
    if (currentRemoved)
      void openDetail(s.name); // configured again under its name
    else renderDetailStatus(s);
  }
}

/** The service is no longer configured: gone from the list, and its page, if open, says so. */
function removeService(name: string): void {
  services.delete(name);
  markDirty(name);
  if (current !== name) return;
  currentRemoved = true;
  detailAbort?.abort(); // its output is no longer followed
  $('detail-status')
    .querySelector('tbody')!
    .replaceChildren(
      el(
        'tr',
        {},
        el('th', { text: 'state' }),
        el('td', {}, el('span', { text: 'removed: no longer configured (its history stays)', className: 'state state-removed' })),
      ),
    );
  $('detail-actions').replaceChildren();
}

// ---- changes, with their outcome ----

function toast(text: string, ok: boolean, detail = ''): void {
  const t = el('div', { className: `toast ${ok ? 'ok' : 'bad'}` }, el('strong', { text }));
  if (detail !== '') t.append(el('pre', { text: detail }));
  const close = el('button', { text: '×', title: 'dismiss' });
  close.addEventListener('click', () => t.remove());
  t.prepend(close);
  $('toasts').prepend(t);
  setTimeout(() => t.remove(), ok ? 6000 : 20000);
}

async function change(service: string, verb: (typeof BUTTONS)[number]): Promise<void> {
  const key = pendingKey(service, verb);
  if (pending.has(key)) return;
  pending.add(key);
  syncButtons(service);
  try {
    const answer = await api<{ outcome: OutcomeItem; error?: { message: string } }>(`services/${encodeURIComponent(service)}/${verb}`, {
      method: 'POST',
      body: {},
    });
    const o = answer.outcome;
    if (o.status) updateService(o.status);
    const action = o.action ? `exit ${o.action.code ?? o.action.signal}` : '';
    toast(
      `${service}: ${verb} ${o.ok ? 'done' : 'failed'}: ${o.message}`,
      o.ok,
      [action, o.action?.output ?? ''].filter(Boolean).join('\n'),
    );
  } catch (err) {
    toast(`${service}: ${verb} failed: ${(err as Error).message}`, false);
  } finally {
    pending.delete(key);
    syncButtons(service);
  }
}

async function custom(service: string, action: string): Promise<void> {
  const key = pendingKey(service, 'custom');
  if (pending.has(key)) return;
  pending.add(key);
  syncButtons(service);
  try {
    const { result } = await api<{ result: ActionResult }>(
      `services/${encodeURIComponent(service)}/actions/${encodeURIComponent(action)}`,
      { method: 'POST', body: {} },
    );
    const ok = result.code === 0;
    const how = result.signal !== null ? `signal ${result.signal}` : `exit ${result.code}`;
    toast(`${service}: ${action}: ${how} after ${result.durationMs} ms`, ok, result.output);
  } catch (err) {
    toast(`${service}: ${action} failed: ${(err as Error).message}`, false);
  } finally {
    pending.delete(key);
    syncButtons(service);
  }
}

// ---- one service's page ----

let current: string | null = null;
/** The service of the page open was removed (removeService): its page says so. */
let currentRemoved = false;
let detailAbort: AbortController | null = null;

function renderDetailStatus(s: ServiceStatus): void {
  $('detail-description').textContent = s.description ?? '';
  const facts: [string, string | Node][] = [
    ['state', stateCell(s)],
    ['desired', s.desired],
    ['pid', s.pid === null ? '—' : String(s.pid)],
    ['started', s.started === null ? '—' : localTime(s.started)],
    ['restarts', String(s.restarts)],
    ['failures in a row', String(s.failures)],
    ['last exit', exitText(s) || '—'],
    ['health', s.health ? `${s.health.status}${s.health.lastOutput ? ` (${s.health.lastOutput})` : ''}` : '—'],
    ['CPU, memory', s.usage ? `${s.usage.cpu.toFixed(1)} %, ${bytes(s.usage.rss)}, ${s.usage.processes} processes` : '—'],
  ];
  if (s.statusText !== undefined) facts.push(['says', s.statusText]);
  if (s.unsupervised) facts.push(['unsupervised', s.unsupervised.reason]);
  const body = $('detail-status').querySelector('tbody')!;
  body.replaceChildren(...facts.map(([k, v]) => el('tr', {}, el('th', { text: k }), el('td', {}, v))));
  body.querySelector('tr:nth-child(3) td')!.classList.add('pid');
  $('detail-actions').replaceChildren(actionButtons(s));
}

function eventDetail(e: ServiceEvent): string {
  const parts: string[] = [];
  if (e.code !== null) parts.push(`code ${e.code}`);
  if (e.signal !== null) parts.push(e.signal);
  if (e.detail && typeof e.detail === 'object') {
    const d = e.detail;
    for (const key of ['reason', 'action', 'cause', 'error', 'check', 'how'])
      if (typeof d[key] === 'string') parts.push(`${key}: ${String(d[key])}`);
  }
  return parts.join(', ');
}

function addEvent(e: ServiceEvent): void {
  const body = $('events').querySelector('tbody')!;
  const tr = el(
    'tr',
    {},
    el('td', { text: localTime(e.time) }),
    el('td', { text: e.type, className: `event event-${e.type}` }),
    el('td', { text: e.pid === null ? '' : String(e.pid), className: 'num' }),
    el('td', { text: eventDetail(e) }),
  );
  tr.dataset.id = String(e.id);
  body.prepend(tr);
  while (body.rows.length > EVENTS_SHOWN) body.lastElementChild!.remove();
}

function addLogLine(l: LogLine): void {
  const pre = $('logs');
  const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(el('span', { text: `${l.line}\n`, className: l.stream, title: localTime(l.time) }));
  while (pre.childNodes.length > LOG_LINES_KEPT) pre.firstChild!.remove();
  if (stick) pre.scrollTop = pre.scrollHeight;
}

function renderWhy(story: FailureStory): void {
  const why = $('why');
  if (!story.failure) {
    why.textContent = story.historyFrom ? `No failure since ${localTime(story.historyFrom)}.` : 'No failure in the history kept.';
    return;
  }
  const f = story.failure;
  const how = f.run.signal !== null ? `killed by ${f.run.signal}` : `exit code ${f.run.code ?? 'unknown'}`;
  const lines = [
    `Run started ${localTime(f.run.started)} (pid ${f.run.pid ?? '?'}), ended ${f.run.ended ? localTime(f.run.ended) : '—'}: ${how}.`,
    `${f.failuresInRow} failed run(s) in a row; ${f.restartsHourBefore} automatic restart(s) in the hour before.`,
  ];
  if (f.error) lines.push(`Could not start: ${f.error}`);
  if (f.usageBefore)
    lines.push(
      `Before it: CPU ${f.usageBefore.cpu.toFixed(1)} %, memory ${bytes(f.usageBefore.rss)} (highest ${bytes(f.usageBefore.rssMax)}).`,
    );
  why.replaceChildren(...lines.map((t) => el('p', { text: t })));
  const output = [f.lastOutput?.stdout ?? '', f.lastOutput?.stderr ?? ''].filter((t) => t !== '').join('\n');
  if (output !== '') why.append(el('pre', { text: output }));
}

const CHARTS = [
  { metric: 'restarts', title: 'Restarts' },
  { metric: 'uptime', title: 'Uptime %' },
  { metric: 'cpu', title: 'CPU %' },
  { metric: 'rss', title: 'Memory' },
] as const;
const RANGES: Record<string, { ms: number; bucket: string }> = {
  '6h': { ms: 6 * 3600_000, bucket: '10m' },
  '24h': { ms: 24 * 3600_000, bucket: '1h' },
  '7d': { ms: 7 * 24 * 3600_000, bucket: '6h' },
};

/** A bar chart as SVG: one bar a bucket, scaled to the highest value; a bucket without a value has none. */
function chart(title: string, t: TrendResult): HTMLElement {
  const points = t.series[0]?.points ?? [];
  const values = points.map((p) => p.value);
  const top = Math.max(t.unit === 'percent' ? 100 : 0, ...values.map((v) => v ?? 0)) || 1;
  const W = 300;
  const H = 80;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const w = W / Math.max(points.length, 1);
  points.forEach((p, i) => {
    if (p.value === null) return;
    const h = Math.max((p.value / top) * (H - 2), p.value > 0 ? 1 : 0);
    const bar = document.createElementNS(ns, 'rect');
    bar.setAttribute('x', String(i * w + 0.5));
    bar.setAttribute('y', String(H - h));
    bar.setAttribute('width', String(Math.max(w - 1, 0.5)));
    bar.setAttribute('height', String(h));
    const tip = document.createElementNS(ns, 'title');
    tip.textContent = `${localTime(p.start)}: ${t.unit === 'bytes' ? bytes(p.value) : p.value.toFixed(t.unit === 'count' ? 0 : 1)}`;
    bar.append(tip);
    svg.append(bar);
  });
  const total = t.series[0]?.total ?? null;
  const summary =
    total === null
      ? 'no data'
      : t.unit === 'bytes'
        ? `highest ${bytes(t.series[0]?.max ?? total)}`
        : t.unit === 'count'
          ? `${total} in all`
          : `${total.toFixed(1)} % over the range`;
  const figure = el('figure', { className: 'chart' });
  figure.dataset.metric = t.metric;
  figure.append(svg, el('figcaption', { text: `${title}: ${summary}` }));
  return figure;
}

async function loadCharts(name: string, signal: AbortSignal): Promise<void> {
  const range = RANGES[$<HTMLSelectElement>('range').value] ?? RANGES['24h']!;
  const since = new Date(Date.now() - range.ms).toISOString();
  const figures = await Promise.all(
    CHARTS.map(async ({ metric, title }) => {
      try {
        const q = new URLSearchParams({ metric, bucket: range.bucket, since, service: name });
        return chart(title, await api<TrendResult>(`trend?${q.toString()}`, { signal }));
      } catch (err) {
        return el('figure', { className: 'chart', text: `${title}: ${(err as Error).message}` });
      }
    }),
  );
  if (!signal.aborted) $('charts').replaceChildren(...figures);
}

async function openDetail(name: string): Promise<void> {
  detailAbort?.abort();
  const abort = new AbortController();
  detailAbort = abort;
  current = name;
  currentRemoved = false;
  $('list').hidden = true;
  $('detail').hidden = false;
  $('detail-name').textContent = name;
  $('events').querySelector('tbody')!.replaceChildren();
  $('logs').replaceChildren();
  $('charts').replaceChildren();
  $('why').textContent = '…';
  const known = services.get(name);
  if (known) renderDetailStatus(known);
  const path = encodeURIComponent(name);
  void api<FailureStory>(`services/${path}/why`, { signal: abort.signal })
    .then(renderWhy)
    .catch((err: Error) => !abort.signal.aborted && ($('why').textContent = err.message));
  void loadCharts(name, abort.signal);
  // The events of the last day (oldest first), then the live ones from the page's one event stream.
  try {
    // the newest that match, oldest first
    const q = new URLSearchParams({
      service: name,
      since: new Date(Date.now() - 24 * 3600_000).toISOString(),
      limit: String(EVENTS_SHOWN),
    });
    const { events } = await api<{ events: ServiceEvent[] }>(`events?${q.toString()}`, { signal: abort.signal });
    for (const e of events) addEvent(e);
  } catch {
    /* shown live from now on */
  }
  void follow(
    `api/services/${path}/logs/stream?lines=50`,
    abort.signal,
    (m) => m.event === 'line' && addLogLine(JSON.parse(m.data) as LogLine),
    () => undefined,
    // each (re)connection sends its last lines first: they replace what the pane shows, not add to it
    () => $('logs').replaceChildren(),
  );
}

function closeDetail(): void {
  detailAbort?.abort();
  detailAbort = null;
  current = null;
  $('detail').hidden = true;
  $('list').hidden = false;
}

function route(): void {
  const m = /^#\/service\/(.+)$/.exec(location.hash);
  let name: string | null = null;
  try {
    if (m) name = decodeURIComponent(m[1]!);
  } catch {
    /* not an address the page made (%E0%A4%A): the list */
  }
  if (name !== null) void openDetail(name);
  else closeDetail();
}

// ---- start ----

async function start(): Promise<void> {
  tokenFromFragment();
  $('login').hidden = true;
  // One stream for the page: every status as it changes, and every event (the service page shows its own).
  const abort = new AbortController();
  let lastEventId = 0;
  let opened = false;
  await follow(
    'api/stream',
    abort.signal,
    (m) => {
      const data = JSON.parse(m.data) as unknown;
      switch (m.event) {
        case 'status':
          updateService(data as ServiceStatus);
          break;
        case 'removed':
          removeService((data as { service: string }).service);
          break;
        case 'event': {
          const e = data as ServiceEvent;
          if (e.id > lastEventId && e.service === current) addEvent(e);
          lastEventId = Math.max(lastEventId, e.id);
          break;
        }
        case 'controller': {
          const c = data as { state: 'lost' | 'back'; controller?: ControllerInfo };
          controllerLost = c.state === 'lost';
          if (c.controller) showController(c.controller);
          showBanner();
          break;
        }
      }
    },
    (why) => {
      serveBroken = why;
      showBanner();
    },
    () => {
      serveBroken = null;
      controllerLost = false;
      showBanner();
      // the statuses of every service follow at once: a service removed meanwhile is gone from the list
      for (const name of services.keys()) markDirty(name);
      services.clear();
      if (!opened) route();
      opened = true;
      void api<ControllerStatus>('controller').then(showController, () => undefined);
    },
  );
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const given = $<HTMLInputElement>('token').value.trim();
  if (!isToken(given)) {
    $('login-error').textContent = 'That is not a token: a token is visible ASCII characters, no space (the contents of http-token).';
    return;
  }
  token = given;
  sessionStorage.setItem(TOKEN_KEY, token);
  location.reload();
});
$('range').addEventListener('change', () => current !== null && void loadCharts(current, detailAbort!.signal));
window.addEventListener('hashchange', route);
setInterval(tickUptimes, 1000);
void start();
