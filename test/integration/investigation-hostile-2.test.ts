// The audit as an investigation tool, attacked a second time (issue 17, after the first pass's fixes):
// renames that meet a service dropped from the files, terminal escapes in `upk why` and `upk events`,
// `all` as an HTTP path, and times the HTTP API takes but cannot give back. Each test states what the
// docs promise; each fails while the finding it names stands.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../libclient/index.js';
import { withApi } from '../helpers/serve.js';
import { alive, Sandbox, sleep } from '../helpers/sandbox.js';

const FIXED_UUID = '0f8fad5b-d9cb-469f-a165-70867728950f';
const ESC_OUT = `printf '\\033]0;PWNED\\007\\033[31mred\\n'; exit 3`;

describe('the audit as an investigation tool, attacked again', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let client: Client;
  const services = (step: 0 | 1) => ({
    // Step 0: `keeper` (a UUID the controller assigns) and `mover` (a fixed UUID). Step 1: keeper's
    // entry deleted, and mover renamed to keeper in the same reload.
    ...(step === 0
      ? {
          keeper: { ExecStart: 'sleep 1001', InitialState: 'running', MinUptime: 0.2 },
          mover: { ExecStart: 'sleep 1002', InitialState: 'running', MinUptime: 0.2, UUID: FIXED_UUID },
        }
      : { keeper: { ExecStart: 'sleep 1002', InitialState: 'running', MinUptime: 0.2, UUID: FIXED_UUID } }),
    // Writes terminal escapes (an OSC title, a colour) on its way out, then fails: given up at once.
    escout: { ExecStart: ['sh', '-c', ESC_OUT], InitialState: 'running', MinUptime: 0.2, MaxConsecutiveFailures: 1 },
    // A health check whose output holds a terminal escape; the buddy restarts it for that.
    sick: {
      ExecStart: 'sleep 1000',
      InitialState: 'running',
      MinUptime: 0.2,
      HealthCheck: `printf '\\033[31mred\\n'; exit 1`,
      HealthInterval: 0.3,
      HealthRetries: 1,
      HealthAction: 'restart',
      UserRateLimit: 0.2,
    },
  });

  before(async () => {
    box = new Sandbox('invhostile2');
    box.writeServices(services(0));
    await box.startController();
    client = await box.client();
  });
  after(() => box.cleanup());

  it('upk why prints no terminal escape from a command, its last output or a health check output', async () => {
    await box.waitForState('escout', 'failed');
    await box.waitFor(
      'sick restarted for its health',
      async () => (await client.events({ service: 'sick', types: ['unhealthy'] })).length > 0,
    );
    for (const name of ['escout', 'sick']) {
      const r = await box.upk(['why', name]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /red/, r.stdout);
      assert.doesNotMatch(r.stdout, /\x1b|\x07/, `ESC or BEL of ${name}'s text reaches the terminal: ${JSON.stringify(r.stdout)}`);
    }
  });

  it('upk events prints no terminal escape from a health check output in DETAIL', async () => {
    const r = await box.upk(['events', 'sick', '--type', 'unhealthy', '-n', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /red/, r.stdout);
    assert.doesNotMatch(r.stdout, /\x1b/, `ESC reaches the terminal: ${JSON.stringify(r.stdout)}`);
  });

  it('GET /api/services/all is refused, not answered with one service picked among all', () =>
    withApi(box, async (get) => {
      // `all` means every service (docs/cli.md, "Naming services"): the route of one service cannot
      // answer it with the first of them, as if it were the one asked about.
      const all = await get('/api/services/all');
      if (all.status === 200) {
        const one = (JSON.parse(all.text) as { service?: { name: string } }).service;
        assert.equal(one?.name, undefined, `GET /api/services/all answered one service as "all": ${one?.name}`);
      } else assert.equal(all.status, 400, all.text);
    }));

  it("a time the HTTP API takes, it gives back in a form it takes: the next page with the answer's since and until", () =>
    withApi(box, async (get) => {
      // 0000-01-01T00:00+01:00 is 31 December of the year -1 UTC, outside the range of times
      // (docs/cli.md, Times: a time outside 0000-01-01 to 9999-12-31 UTC is refused). Accepted, the
      // answer's `since` is a text that the next page's request is refused for.
      const first = await get('/api/timeline?since=0000-01-01T00:00:00%2B01:00&limit=1');
      if (first.status !== 200) return assert.equal(first.status, 400, first.text);
      const t = JSON.parse(first.text) as { since: string; until: string; next?: string };
      const again = await get(
        `/api/timeline?since=${encodeURIComponent(t.since)}&until=${encodeURIComponent(t.until)}&limit=1${t.next ? `&after=${t.next}` : ''}`,
      );
      assert.equal(again.status, 200, `the answer's own since (${t.since}) refused: ${again.text.slice(0, 300)}`);
    }));

  // Last: it changes the services.
  it('a rename onto the name of a service dropped from the files in the same reload does not end that service silently', async () => {
    const keeper = await box.waitForState('keeper', 'running');
    await box.waitForState('mover', 'running');
    await sleep(100);
    box.writeServices(services(1));
    const reload = await box.upk(['reload-config']);
    await sleep(1000);
    if (reload.code === 0) {
      // Applied: the old keeper, no longer in the files, is `kept` until upk remove (docs/cli.md,
      // upk reload-config), or at least said to be removed, and that recorded in its history.
      assert.match(reload.stdout, /^keeper: (kept|removed): /m, `the old keeper's fate is not told: ${reload.stdout}`);
      const db = box.db();
      try {
        const fate = db
          .prepare("SELECT change FROM config_changes WHERE service_uuid = ? AND change IN ('kept', 'removed')")
          .all(keeper.uuid) as { change: string }[];
        assert.ok(fate.length > 0, `no configuration change records what became of the old keeper (${keeper.uuid})`);
      } finally {
        db.close();
      }
    } else {
      // Refused (exit 7): nothing changed, the old keeper runs on.
      assert.equal(reload.code, 7, reload.stdout + reload.stderr);
      assert.ok(alive(keeper.pid!), 'refused, yet the old keeper was stopped');
    }
  });
});
