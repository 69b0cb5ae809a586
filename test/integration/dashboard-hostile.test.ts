// The dashboard attacked, in a real browser: headless Chromium (playwright-core) against a real
// controller and `upk serve --listen` (200 services: a handler whose client plays a controller of
// them). HTML and script in everything a service says; a content
// security policy that must stop inline script; bad addresses and tokens; 200 services; fast clicks;
// a service removed under its page; upk serve restarted, or out of streams. Skipped where no
// Chromium is installed, as dashboard.test.ts is.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createHandler } from '../../clients/http/index.js';
import type { Client, Notice, ServiceStatus } from '../../libclient/index.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';
import { servePort, startServe, stopServe, type Serve } from '../helpers/serve.js';

const CHROMIUM =
  process.env.UPK_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((f) => existsSync(f));
/** How long the page may take to show a change. */
const SHOW_MS = 15_000;
/** The dashboard's script, as written (not as bundled). */
const APP_SOURCE = fileURLToPath(new URL('../../../clients/http/dashboard/app.ts', import.meta.url));
/** Markup that runs script wherever it is read as HTML: each sets window.pwned. */
const X = (n: number): string => `<img src=x onerror="window.pwned=${n}"><script>window.pwned=${n}</script></script>`;
const MANY = 200;

/** A service's status as a controller of many would send it. */
function fakeStatus(i: number, state: ServiceStatus['state']): ServiceStatus {
  const running = state === 'running';
  return {
    name: `svc${String(i).padStart(3, '0')}`,
    package: null,
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    state,
    desired: running ? 'running' : 'stopped',
    pid: running ? 10_000 + i : null,
    buddyPid: 20_000 + i,
    started: running ? new Date().toISOString() : null,
    since: new Date().toISOString(),
    restarts: i % 3,
    failures: 0,
    lastExit: null,
    hold: null,
    waitingFor: null,
    usage: running ? { cpu: 0.5, rss: 4_000_000, processes: 1 } : null,
    health: null,
    actions: ['a', 'b'],
    description: `service ${i}`,
    unsupervised: null,
  } as ServiceStatus;
}

/**
 * A client that answers as a controller of `n` services (all stopped) would: its status, the list,
 * and subscriptions that send every status, then each change (`change`).
 */
function fakeController(n: number): { client: Client; change(i: number, state: ServiceStatus['state']): void; end(): void } {
  const statuses = Array.from({ length: n }, (_, i) => fakeStatus(i, 'stopped'));
  const subscriptions = new Set<{ push(n: Notice | null): void }>();
  const info = {
    pid: 1,
    version: '0.1.0',
    protocol: 2,
    startedAt: new Date().toISOString(),
    socket: '/x',
    stateDir: '/x',
    configFile: null,
  };
  const subscribe = (): Promise<AsyncIterable<Notice> & { close(): void }> => {
    const queue: (Notice | null)[] = statuses.map((status) => ({ kind: 'status', status }));
    let wake: (() => void) | null = null;
    const sub = {
      push: (notice: Notice | null) => {
        queue.push(notice);
        wake?.();
      },
    };
    subscriptions.add(sub);
    return Promise.resolve({
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = queue.shift();
          if (next === null) return;
          if (next !== undefined) yield next;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      },
      close: () => {
        subscriptions.delete(sub);
        sub.push(null);
      },
    });
  };
  const client = {
    controller: info,
    onBehalfOf: () => client,
    close: () => undefined,
    list: () => Promise.resolve(statuses),
    controllerStatus: () =>
      Promise.resolve({
        ...info,
        uptimeMs: 1,
        ready: true,
        services: n,
        buddies: n,
        clients: 1,
        maxClients: 1000,
        configIssues: [],
        problems: [],
      }),
    subscribe,
  } as unknown as Client;
  return {
    client,
    change: (i, state) => {
      statuses[i] = fakeStatus(i, state);
      for (const sub of subscriptions) sub.push({ kind: 'status', status: statuses[i] });
    },
    end: () => {
      for (const sub of subscriptions) sub.push(null);
    },
  };
}

describe(
  'the dashboard attacked, in a real browser',
  { timeout: 300_000, skip: CHROMIUM === undefined ? 'no Chromium installed' : false },
  () => {
    const box = new Sandbox('dashhostile');
    let serve: Serve;
    let browser: Browser;
    let base = '';
    let port = 0;
    let token = '';

    const pwned = (page: Page): Promise<unknown> => page.evaluate('window.pwned');
    /** A new page, logged in by the address's fragment, showing its list. */
    const open = async (hash = ''): Promise<Page> => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${base}#token=${token}`);
      await page.waitForSelector('#services tr[data-service="web"]', { timeout: SHOW_MS });
      if (hash !== '') await page.goto(`${base}${hash}`);
      return page;
    };
    const waitFor = (what: string, check: () => Promise<boolean>, ms = SHOW_MS): Promise<true> =>
      box.waitFor(what, async () => (await check()) || undefined, ms);

    before(async () => {
      writeFileSync(box.file('xss.sh'), `echo '${X(1)}'\necho '</pre></script>${X(2)}'\nexec sleep 300\n`);
      box.writeServices({
        xss: {
          ExecStart: `sh ${box.file('xss.sh')}`,
          ShortDescription: `${X(3)}</title></script>`,
          MinUptime: 0.1,
          InitialState: 'running',
          HealthCheck: `echo '${X(4)}'; exit 1`,
          HealthInterval: 1,
          HealthAction: 'none',
          CustomActions: { html: `echo '${X(5)}'` },
        },
        web: { ExecStart: 'sleep 300', MinUptime: 1.5, InitialState: 'running' },
        ticker: {
          ExecStart: `sh -c 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'`,
          MinUptime: 0.1,
          InitialState: 'running',
        },
        gone: { ExecStart: 'sleep 300', MinUptime: 0.1, InitialState: 'running' },
      });
      await box.startController();
      for (const s of ['xss', 'web', 'ticker', 'gone']) await box.waitForState(s, 'running', 30_000);
      serve = startServe(box, ['--listen', '127.0.0.1:0']);
      port = servePort(await serve.ready);
      base = `http://127.0.0.1:${port}/`;
      token = readFileSync(join(box.stateDir, 'http-token'), 'utf8').trim();
      browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'], timeout: 60_000 });
    });
    after(async () => {
      await browser?.close();
      if (serve) await stopServe(serve);
      await box.cleanup();
    });

    it('shows 200 services within seconds, and a flood of 1,200 changes, not one whole table per status', async () => {
      // 200 real services are 200 buddies (~9 GB on this machine): a handler of its own, whose client
      // answers as a controller of 200 services would, serves the page here.
      const fake = fakeController(MANY);
      const handler = createHandler({ client: fake.client });
      const server: Server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const page = await browser.newPage();
      try {
        const t0 = Date.now();
        await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
        await page.waitForFunction(`document.querySelectorAll('#services tbody tr').length === ${MANY}`, null, { timeout: 60_000 });
        const shown = Date.now() - t0;
        const names = await page.locator('#services tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-service')));
        assert.deepEqual(names, [...names].sort());
        const t1 = Date.now();
        for (let round = 0; round < 6; round++) for (let i = 0; i < MANY; i++) fake.change(i, round % 2 === 0 ? 'running' : 'stopped');
        fake.change(123, 'failed');
        await page.waitForSelector('#services tr[data-service="svc123"] td.state:has-text("failed")', { timeout: 60_000 });
        const flood = Date.now() - t1;
        assert.equal(await page.locator('#services td.state:has-text("stopped")').count(), MANY - 1);
        assert.ok(shown < 10_000 && flood < 10_000, `${MANY} rows shown in ${shown} ms, ${MANY * 6} changes in ${flood} ms`);
      } finally {
        await page.close();
        fake.end();
        handler.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('never reads what a service says as HTML: its description, output, action output and health output show as text and run nothing', async () => {
      const page = await open();
      await page.selectOption('#services tr[data-service="xss"] select', 'html');
      await page.click('#services tr[data-service="xss"] button[data-action="custom"]');
      await page.waitForSelector('#toasts .toast:has-text("onerror")', { timeout: SHOW_MS });
      await page.click('#services tr[data-service="xss"] td.name a');
      await page.waitForSelector('#logs span', { timeout: SHOW_MS });
      await waitFor('the health output', async () => ((await page.textContent('#detail-status')) ?? '').includes('window.pwned=4'));
      assert.equal(await page.textContent('#detail-description'), `${X(3)}</title></script>`);
      const logs = (await page.textContent('#logs')) ?? '';
      assert.ok(logs.includes(X(1)) && logs.includes(`</pre></script>${X(2)}`), logs);
      assert.ok(((await page.textContent('#toasts')) ?? '').includes(X(5)));
      await sleep(500);
      assert.equal(await pwned(page), undefined);
      assert.equal(await page.locator('img').count(), 0, 'no element made of their text');
      assert.equal(await page.locator('script').count(), 1, 'only the page own script');
      await page.close();
    });

    it('the content security policy stops script put into the page inline, and the script never writes HTML', async () => {
      const page = await open();
      const blocked: string[] = [];
      page.on('console', (m) => m.text().includes('Content Security Policy') && blocked.push(m.text()));
      await page.evaluate(`{
      const s = document.createElement('script');
      s.textContent = 'window.pwned = "inline script"';
      document.body.append(s);
      const d = document.createElement('div');
      d.innerHTML = '<img src=x onerror="window.pwned = 1"><a id="js" href="javascript:window.pwned=2">x</a>';
      document.body.append(d);
    }`);
      await page.click('#js');
      await sleep(1000);
      assert.equal(await pwned(page), undefined);
      assert.ok(blocked.length >= 2, `the browser says it blocked them: ${blocked.join(' | ')}`);
      await page.close();
      const source = readFileSync(APP_SOURCE, 'utf8');
      for (const sink of [
        'innerHTML',
        'outerHTML',
        'insertAdjacentHTML',
        'document.write',
        'createContextualFragment',
        'eval(',
        'new Function',
      ])
        assert.ok(!source.includes(sink), `app.ts uses ${sink}`);
    });

    it('an address that is no service page shows the list, not a broken page', async () => {
      const page = await open();
      for (const hash of ['#/service/%E0%A4%A', '#/service/%', '#/service/', '#/nothing']) {
        await page.goto(`${base}${hash}`);
        await page.reload();
        await page.waitForSelector('#services tr[data-service="web"]', { timeout: SHOW_MS });
        await sleep(2500); // past a retry
        assert.equal(await page.isVisible('#banner'), false, `${hash}: ${await page.textContent('#banner')}`);
        assert.equal(await page.isVisible('#list'), true, hash);
      }
      await page.close();
    });

    it('a token no header can carry is refused at the login, and the login comes back', async () => {
      for (const bad of ['pässwörd', '€uro', 'tab\there', 'a\u2028b']) {
        const page = await browser.newPage();
        await page.goto(base);
        await page.waitForSelector('#login:not([hidden])', { timeout: SHOW_MS });
        await page.fill('#token', bad);
        await page.click('#login button');
        await sleep(2500);
        assert.equal(await page.isVisible('#login'), true, JSON.stringify(bad));
        assert.match((await page.textContent('#login-error')) ?? '', /not a token|refused/, JSON.stringify(bad));
        assert.equal(await page.isVisible('#banner'), false, `${JSON.stringify(bad)}: ${await page.textContent('#banner')}`);
        await page.close();
      }
    });

    it('a token with + / = in the address is taken, and taken out of the address', async () => {
      const odd = 'abc+def/ghi~jkl.mno_pqr-stu==';
      const handler = createHandler({ token: odd, connect: { config: box.configFile } });
      const server: Server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const page = await browser.newPage();
      try {
        const at = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
        await page.goto(`${at}#token=${odd}`);
        await page.waitForSelector('#services tr[data-service="web"]', { timeout: SHOW_MS });
        assert.ok(!page.url().includes('token'), page.url());
        // one that is no token is taken out of the address too, and the login says so (a new tab: none kept)
        const other = await browser.newPage();
        await other.goto(`${at}#token=${encodeURIComponent('pä ss')}`);
        await other.waitForSelector('#login:not([hidden])', { timeout: SHOW_MS });
        assert.ok(!other.url().includes('token'), other.url());
        assert.match((await other.textContent('#login-error')) ?? '', /not a token/);
        await other.close();
      } finally {
        await page.close();
        handler.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('clicking a button fast asks the change once, though the row is drawn again meanwhile', async () => {
      const page = await open();
      const posts: string[] = [];
      page.on('request', (r) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname));
      for (let i = 0; i < 5; i++) {
        // force: a disabled button is clicked all the same (and does nothing)
        await page.click('#services tr[data-service="web"] button[data-action="restart"]', { force: true, timeout: 2000 });
        await sleep(80);
      }
      await waitFor('the restart to end', async () => page.isEnabled('#services tr[data-service="web"] button[data-action="restart"]'));
      await sleep(500);
      assert.deepEqual(posts, ['/api/services/web/restart']);
      await page.close();
    });

    it('a service removed while its page is open: the page says so, and offers no button', async () => {
      const page = await open('#/service/gone');
      await page.waitForSelector('#detail-actions button[data-action="stop"]', { timeout: SHOW_MS });
      const rest = Object.fromEntries(Object.entries(JSON.parse(readFileSync(join(box.servicesDir, 'services.conf'), 'utf8')) as object));
      delete (rest as Record<string, unknown>).gone;
      box.writeServices(rest);
      assert.equal((await box.upk(['reload-config'])).code, 0);
      assert.equal((await box.upk(['remove', 'gone'])).code, 0);
      await waitFor('the page to say it was removed', async () => /removed/i.test((await page.textContent('#detail-status')) ?? ''));
      assert.equal(await page.locator('#detail-actions button').count(), 0);
      assert.equal(await page.locator('#services tr[data-service="gone"]').count(), 0);
      await page.close();
    });

    it('when upk serve restarts: it says so, then follows again, its output showing no line twice', async () => {
      const page = await open('#/service/ticker');
      await page.waitForSelector('#logs span', { timeout: SHOW_MS });
      await stopServe(serve);
      await page.waitForSelector('#banner:has-text("Cannot reach upk serve")', { timeout: SHOW_MS });
      serve = startServe(box, ['--listen', `127.0.0.1:${port}`]);
      await serve.ready;
      await page.waitForSelector('#banner', { state: 'hidden', timeout: SHOW_MS });
      const lines = async (): Promise<string[]> => page.locator('#logs span').allTextContents();
      const last = async (): Promise<number> => Math.max(...(await lines()).map((t) => Number(/tick (\d+)/.exec(t)?.[1] ?? 0)));
      const now = await last();
      await waitFor('new output', async () => (await last()) > now + 3);
      const all = await lines();
      assert.equal(new Set(all).size, all.length, `a line twice: ${all.filter((l, i) => all.indexOf(l) !== i).join(', ')}`);
      await page.close();
    });

    it('opened while no controller runs (503): it says so, and follows once one is started', async () => {
      assert.equal((await box.upk(['controller', 'stop'])).code, 0);
      const page = await browser.newPage();
      try {
        await page.goto(`${base}#token=${token}`);
        await page.waitForSelector('#banner:has-text("Cannot reach upk serve or the controller")', { timeout: SHOW_MS });
        assert.equal(await page.isVisible('#login'), false, 'not taken for a refused token');
        await box.startController();
        await page.waitForSelector('#banner', { state: 'hidden', timeout: SHOW_MS });
        await page.waitForSelector('#services tr[data-service="web"] td.state:has-text("running")', { timeout: SHOW_MS });
      } finally {
        await page.close();
      }
    });

    it('when upk serve has no stream left (429): it says so, and follows again once one is free', async () => {
      const held: Socket[] = [];
      try {
        for (let i = 0; i < 70; i++) {
          const s = connect({ host: '127.0.0.1', port }, () =>
            s.write(`GET /api/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`),
          );
          s.on('error', () => undefined);
          held.push(s);
        }
        await sleep(1500);
        const page = await browser.newPage();
        await page.goto(`${base}#token=${token}`);
        await page.waitForSelector('#banner:has-text("at most 64 live streams")', { timeout: SHOW_MS });
        for (const s of held) s.destroy();
        await page.waitForSelector('#banner', { state: 'hidden', timeout: SHOW_MS });
        await page.waitForSelector('#services tr[data-service="web"]', { timeout: SHOW_MS });
        await page.close();
      } finally {
        for (const s of held) s.destroy();
      }
    });
  },
);
