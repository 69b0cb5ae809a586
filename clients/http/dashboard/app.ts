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

let token: string | null = sessionStorage.getItem(TOKEN_KEY);

/** A token given in the address's fragment (`#token=…`, never sent to a server) is kept, then taken out of the address. */
function tokenFromFragment(): void {
  const m = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!m) return;
  token = m[1]!;
  sessionStorage.setItem(TOKEN_KEY, token);
  history.replaceState(null, '', `${location.pathname}#/`);
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
  $('login').hidden = false;
  $('list').hidden = true;
  $('detail').hidden = true;
  $('login-error').textContent = token === null ? '' : 'The token was refused.';
}

// ---- Server-Sent Events over fetch (EventSource cannot send the Authorization header) ----

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
      onOpen();
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
          if (m.data !== '') onMessage(m);
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

function actionButtons(s: ServiceStatus): HTMLElement {
  const box = el('div', { className: 'buttons' });
  for (const verb of BUTTONS) {
    const b = el('button', { text: verb });
    b.dataset.action = verb;
    b.addEventListener('click', () => void change(s.name, verb, b));
    box.append(b);
  }
  if (s.actions.length > 0) {
    const select = el('select', { title: 'custom actions' });
    select.setAttribute('aria-label', `actions of ${s.name}`);
    for (const a of s.actions) select.append(el('option', { text: a }));
    const run = el('button', { text: 'run' });
    run.dataset.action = 'custom';
    run.addEventListener('click', () => void custom(s.name, select.value, run));
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

function row(s: ServiceStatus): HTMLTableRowElement {
  const link = el('a', { text: s.name });
  link.href = `#/service/${encodeURIComponent(s.name)}`;
  const cell = (text: string, className = ''): HTMLTableCellElement => el('td', { text, className });
  const tr = el(
    'tr',
    {},
    el('td', { className: 'name', title: s.description ?? '' }, link),
    el('td', { className: 'state' }, stateCell(s)),
    cell(s.health?.status ?? '', `health health-${s.health?.status ?? 'none'}`),
    cell(s.pid === null ? '' : String(s.pid), 'num pid'),
    cell('', 'num uptime'),
    cell(String(s.restarts), 'num restarts'),
    cell(exitText(s), 'exit'),
    cell(s.usage ? `${s.usage.cpu.toFixed(1)} %` : '', 'num cpu'),
    cell(s.usage ? bytes(s.usage.rss) : '', 'num memory'),
    el('td', {}, actionButtons(s)),
  );
  tr.dataset.service = s.name;
  return tr;
}

function renderList(): void {
  const body = $('services').querySelector('tbody')!;
  const names = [...services.keys()].sort();
  const rows = new Map([...body.querySelectorAll<HTMLTableRowElement>('tr')].map((r) => [r.dataset.service!, r]));
  for (const [name, r] of rows) if (!services.has(name)) r.remove();
  let before: Element | null = null;
  for (const name of names.reverse()) {
    const fresh = row(services.get(name)!);
    const old = rows.get(name);
    if (old && old.isConnected) {
      // keep an open custom-action choice
      const was = old.querySelector('select')?.value;
      old.replaceWith(fresh);
      if (was !== undefined) fresh.querySelector('select')!.value = was;
    }
    body.insertBefore(fresh, before);
    before = fresh;
  }
  $('empty').hidden = services.size > 0;
  const counts = { running: 0, stopped: 0, failed: 0 };
  for (const s of services.values()) if (s.state in counts) counts[s.state as keyof typeof counts]++;
  $('counts').textContent = `${services.size} services: ${counts.running} running, ${counts.stopped} stopped, ${counts.failed} failed`;
  tickUptimes();
}

function tickUptimes(): void {
  for (const r of document.querySelectorAll<HTMLTableRowElement>('#services tbody tr')) {
    const s = services.get(r.dataset.service!);
    const cell = r.querySelector('.uptime');
    if (s && cell) cell.textContent = s.started !== null && s.pid !== null ? duration(Date.now() - Date.parse(s.started)) : '';
  }
}

function updateService(s: ServiceStatus): void {
  services.set(s.name, s);
  renderList();
  if (current === s.name) renderDetailStatus(s);
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

async function change(service: string, verb: (typeof BUTTONS)[number], button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
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
    button.disabled = false;
  }
}

async function custom(service: string, action: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
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
    button.disabled = false;
  }
}

// ---- one service's page ----

let current: string | null = null;
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
    const q = new URLSearchParams({ service: name, since: new Date(Date.now() - 24 * 3600_000).toISOString(), limit: '10000' });
    const { events } = await api<{ events: ServiceEvent[] }>(`events?${q.toString()}`, { signal: abort.signal });
    for (const e of events.slice(-EVENTS_SHOWN)) addEvent(e);
  } catch {
    /* shown live from now on */
  }
  void follow(
    `api/services/${path}/logs/stream?lines=50`,
    abort.signal,
    (m) => m.event === 'line' && addLogLine(JSON.parse(m.data) as LogLine),
    () => undefined,
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
  if (m) void openDetail(decodeURIComponent(m[1]!));
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
          services.delete((data as { service: string }).service);
          renderList();
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
      services.clear();
      renderList();
      if (!opened) route();
      opened = true;
      void api<ControllerStatus>('controller').then(showController, () => undefined);
    },
  );
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $<HTMLInputElement>('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  location.reload();
});
$('range').addEventListener('change', () => current !== null && void loadCharts(current, detailAbort!.signal));
window.addEventListener('hashchange', route);
setInterval(tickUptimes, 1000);
void start();
