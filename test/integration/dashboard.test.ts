// The dashboard in a real browser: headless Chromium from the system's packages, driven by
// playwright-core, against a real controller and `upk serve --listen` with its token. Skipped where
// no Chromium is installed (CI installs Debian's, as it installs tmux).
// UPK_SCREENSHOTS=DIR also saves the page at 1280×800 there (docs/images holds the ones in the docs).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Sandbox } from '../helpers/sandbox.js';
import { servePort, startServe, stopServe, type Serve } from '../helpers/serve.js';

const CHROMIUM =
  process.env.UPK_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((f) => existsSync(f));
const SHOTS = process.env.UPK_SCREENSHOTS;
/** How long the page may take to show a change. */
const SHOW_MS = 15_000;

describe('the dashboard in a real browser', { timeout: 240_000, skip: CHROMIUM === undefined ? 'no Chromium installed' : false }, () => {
  const box = new Sandbox('dash');
  let serve: Serve;
  let browser: Browser;
  let page: Page;
  let base = '';
  let token = '';
  /** Every URL the page asked, and whether the request carried the token. */
  const requests: { url: string; authorized: boolean }[] = [];

  const row = (service: string, cell: string): string => `#services tr[data-service="${service}"] td.${cell}`;
  const text = async (selector: string): Promise<string> => ((await page.textContent(selector, { timeout: SHOW_MS })) ?? '').trim();
  const pidOf = async (service: string): Promise<number> => (await (await box.client()).status(service))[0]!.pid!;
  /** Wait until the page shows `want` in `selector` (no reload: the page's own stream updates it). */
  const shows = (selector: string, want: string | RegExp): Promise<string> =>
    box.waitFor(
      `${selector} to show ${String(want)}`,
      async () => {
        const t = ((await page.textContent(selector, { timeout: 1000 }).catch(() => null)) ?? '').trim();
        return (typeof want === 'string' ? t === want : want.test(t)) ? t : undefined;
      },
      SHOW_MS,
    );
  const count = (selector: string): Promise<number> => page.locator(selector).count();
  const shot = async (name: string): Promise<void> => {
    if (SHOTS === undefined) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.evaluate("document.querySelectorAll('#toasts .toast').forEach((t) => t.remove())");
    await page.screenshot({ path: join(SHOTS, name) });
  };

  before(async () => {
    box.writeServices({
      web: {
        ExecStart: `sh -c 'i=0; while :; do i=$((i+1)); echo "request $i served"; sleep 0.5; done'`,
        ShortDescription: 'the web front end',
        MinUptime: 0.1,
        InitialState: 'running',
        CustomActions: { hello: 'echo "hello from an action"' },
      },
      worker: { ExecStart: 'sleep 1000', ShortDescription: 'a queue worker', MinUptime: 0.1, UserRateLimit: 0.1, InitialState: 'running' },
      idle: { ExecStart: 'sleep 1000', MinUptime: 0.1 },
    });
    await box.startController();
    await box.waitForState('web', 'running');
    await box.waitForState('worker', 'running');
    serve = startServe(box, ['--listen', '127.0.0.1:0']);
    base = `http://127.0.0.1:${servePort(await serve.ready)}/`;
    token = readFileSync(join(box.stateDir, 'http-token'), 'utf8').trim();
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'], timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('request', (r) => requests.push({ url: r.url(), authorized: r.headers().authorization === `Bearer ${token}` }));
  });
  after(async () => {
    await browser?.close();
    if (serve) await stopServe(serve);
    await box.cleanup();
  });

  it('asks for the token, then shows every service with its state and pid', async () => {
    await page.goto(base);
    await page.waitForSelector('#login:not([hidden])', { timeout: SHOW_MS });
    assert.equal(await text('#login-error'), '');
    await page.fill('#token', 'not-the-token');
    await page.click('#login button');
    await page.waitForSelector('#login-error:has-text("The token was refused")', { timeout: SHOW_MS });
    await page.fill('#token', token);
    await page.click('#login button');
    await page.waitForSelector(row('web', 'state'), { timeout: SHOW_MS });
    assert.equal(await text(row('web', 'state')), 'running');
    assert.equal(await text(row('worker', 'state')), 'running');
    assert.equal(await text(row('idle', 'state')), 'stopped');
    assert.equal(Number(await text(row('web', 'pid'))), await pidOf('web'));
    assert.match(await text('#controller'), /controller .+, pid \d+/);
    assert.deepEqual(await page.locator('#services tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-service'))), [
      'idle',
      'web',
      'worker',
    ]);
    await shows(row('web', 'uptime'), /^\d+s$/);
    await shot('dashboard.png');
  });

  it('a button stops a service, and its row changes without a reload; the outcome is shown', async () => {
    await page.evaluate('window.notReloaded = true');
    await page.click(`#services tr[data-service="web"] button[data-action="stop"]`);
    await shows(row('web', 'state'), 'stopped');
    assert.equal(await text(row('web', 'pid')), '');
    assert.match(await text('#toasts .toast.ok'), /web: stop done/);
    assert.equal((await (await box.client()).status('web'))[0]!.state, 'stopped');
    assert.equal(await page.evaluate('window.notReloaded'), true, 'no reload');
    await page.click(`#services tr[data-service="web"] button[data-action="start"]`);
    await shows(row('web', 'state'), 'running');
  });

  it('a custom action runs from its row, and its output is shown', async () => {
    await page.selectOption(`#services tr[data-service="web"] select`, 'hello');
    await page.click(`#services tr[data-service="web"] button[data-action="custom"]`);
    await page.waitForSelector('#toasts .toast:has-text("hello from an action")', { timeout: SHOW_MS });
    assert.match(await text('#toasts .toast:has-text("hello from an action")'), /web: hello: exit 0/);
  });

  it('a service that crashes shows its new pid live', async () => {
    const old = await pidOf('worker');
    assert.equal(Number(await text(row('worker', 'pid'))), old);
    process.kill(old, 'SIGKILL');
    const shown = await shows(row('worker', 'pid'), /^\d+$/).then(() =>
      box.waitFor('a new pid', async () => {
        const pid = Number(await text(row('worker', 'pid')));
        return pid !== old && pid > 0 ? pid : undefined;
      }),
    );
    await shows(row('worker', 'state'), 'running');
    assert.equal(shown, await pidOf('worker'));
    assert.match(await text(row('worker', 'exit')), /SIGKILL/);
    assert.equal(await text(row('worker', 'restarts')), '1');
  });

  it("a service's page: its status, why it failed, its charts, its events, and its output following live", async () => {
    await page.click('#services tr[data-service="worker"] td.name a');
    await page.waitForSelector('#detail:not([hidden])', { timeout: SHOW_MS });
    assert.equal(await text('#detail-name'), 'worker');
    assert.equal(await text('#detail-description'), 'a queue worker');
    await page.waitForSelector('#why:has-text("SIGKILL")', { timeout: SHOW_MS });
    await box.waitFor('4 charts', async () => (await count('#charts figure[data-metric]')) === 4, SHOW_MS);
    assert.deepEqual(await page.locator('#charts figure').evaluateAll((f) => f.map((x) => x.getAttribute('data-metric'))), [
      'restarts',
      'uptime',
      'cpu',
      'rss',
    ]);
    assert.match(await text('#charts figure[data-metric="restarts"] figcaption'), /Restarts: 1 in all/);
    const types = await page.locator('#events tbody td.event').allTextContents();
    for (const t of ['spawned', 'exited']) assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);
    // A new event arrives live.
    const before = await count('#events tbody tr');
    await page.click('#detail-actions button[data-action="restart"]');
    await box.waitFor('a new event on the page', async () => (await count('#events tbody tr')) > before, SHOW_MS);

    await page.goto(`${base}#/service/web`);
    await page.waitForSelector('#detail:not([hidden])', { timeout: SHOW_MS });
    await page.waitForSelector('#logs span', { timeout: SHOW_MS });
    const served = async (): Promise<number> =>
      Math.max(...(await page.locator('#logs span').allTextContents()).map((t) => Number(/request (\d+) served/.exec(t)?.[1] ?? 0)));
    const first = await served();
    assert.ok(first > 0);
    await box.waitFor('new lines of output on the page', async () => (await served()) > first + 1, SHOW_MS);
    await shot('dashboard-service.png');
    await page.goto(`${base}#/`);
    await page.waitForSelector('#list:not([hidden])', { timeout: SHOW_MS });
  });

  it('survives a controller restart: says so, then recovers and follows again', async () => {
    const status = await (await box.client()).controllerStatus();
    process.kill(status.pid, 'SIGKILL');
    await page.waitForSelector('#banner:not([hidden])', { timeout: SHOW_MS });
    assert.match(await text('#banner'), /controller/i);
    await shot('dashboard-controller-lost.png');
    await box.startController();
    await page.waitForSelector('#banner', { state: 'hidden', timeout: SHOW_MS });
    // live again: a stop from the page shows, as does one from the command line
    await page.click(`#services tr[data-service="worker"] button[data-action="stop"]`);
    await shows(row('worker', 'state'), 'stopped');
    assert.equal((await box.upk(['start', 'idle'])).code, 0);
    await shows(row('idle', 'state'), 'running');
  });

  it('keeps the token out of every URL, sends it with every API request, and the page has a strict content policy', async () => {
    assert.ok(requests.length > 10);
    for (const r of requests) assert.ok(!r.url.includes(token), `the token is in ${r.url}`);
    const api = requests.filter((r) => new URL(r.url).pathname.startsWith('/api/'));
    assert.ok(api.length > 5);
    // Before the token was given, the page tried without it (and was refused); after, every request carries it.
    const firstAuthorized = api.findIndex((r) => r.authorized);
    assert.ok(firstAuthorized > 0);
    for (const r of api.slice(firstAuthorized)) assert.ok(r.authorized, `no token with ${r.url}`);
    const res = await fetch(base);
    assert.equal(res.status, 200, 'the page itself needs no token (it holds no data)');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*script-src 'self'.*frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal((await fetch(base, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}api/services`)).status, 401, 'the API still needs it');
  });
});
