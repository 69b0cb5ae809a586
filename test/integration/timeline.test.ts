// upk timeline against a real controller: the events of two services, a configuration change applied by
// upk reload-config and a stop asked by upk, interleaved in time order, in bursts split by a pause
// longer than the gap; with NAME, --limit, pages (--after), --json, the text form and GET /api/timeline.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TIMELINE_BURST_GAP_MS, type TimelineEntry, type TimelineResult } from '../../libclient/index.js';
import { OPENAPI_FILE } from '../../clients/http/openapi.js';
import { OpenApiValidator, closed, type Doc } from '../helpers/openapi.js';
import { withApi } from '../helpers/serve.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';

const svc = (execStart: string) => ({ ExecStart: execStart, InitialState: 'running', MinUptime: 0.1 });

/** An entry in a few words, for comparisons. */
function brief(e: TimelineEntry): string {
  if (e.kind === 'event') return `event ${e.service} ${e.event.type}`;
  if (e.kind === 'config') return `config ${e.service} ${e.change.change} ${(e.change.keys ?? []).join(',')}`;
  return `request ${e.request.request} ${e.service ?? '-'} ${e.request.client} ${String(e.request.ok)}`;
}

describe('upk timeline', { timeout: 120_000 }, () => {
  let box: Sandbox;
  let since: string;
  let pauseEnded: number;
  before(async () => {
    box = new Sandbox('timeline17');
    since = new Date(Date.now() - 1000).toISOString();
    box.writeServices({ alpha: svc('sleep 1000'), beta: svc('sleep 1000') }, 'services.conf');
    await box.startController();
    for (const s of ['alpha', 'beta']) await box.waitForState(s, 'running');
    // A pause longer than the gap: the start-up is a burst of its own.
    await sleep(TIMELINE_BURST_GAP_MS + 1500);
    pauseEnded = Date.now();
    box.writeServices({ alpha: svc('sleep 1000'), beta: svc('sleep 2000') }, 'services.conf');
    const reload = await box.upk(['reload-config', '--restart']);
    assert.equal(reload.code, 0, reload.stderr);
    await box.waitFor('beta running again', async () => {
      const [b] = await (await box.client()).status('beta');
      return b?.state === 'running' && b.pid !== null && b.restarts >= 0 && b;
    });
    const stop = await box.upk(['stop', 'alpha']);
    assert.equal(stop.code, 0, stop.stderr);
  });
  after(() => box.cleanup());

  it('interleaves events, configuration changes and requests in time order, in bursts', async () => {
    const t = await (await box.client()).timeline({ since });
    assert.equal(t.truncated, false);
    const times = t.entries.map((e) => Date.parse(e.time));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'oldest first',
    );
    assert.ok(t.bursts.length >= 2, JSON.stringify(t.bursts));
    assert.equal(
      t.bursts.reduce((n, b) => n + b.count, 0),
      t.entries.length,
    );
    // The start-up: both services added and started.
    const first = t.entries.slice(t.bursts[0]!.first, t.bursts[0]!.first + t.bursts[0]!.count).map(brief);
    for (const s of ['alpha', 'beta']) {
      assert.ok(first.includes(`config ${s} added `), first.join('\n'));
      assert.ok(first.includes(`event ${s} spawned`), first.join('\n'));
    }
    // The last burst: after the pause, the reload, beta's restart, the stop of alpha.
    const last = t.bursts.at(-1)!;
    assert.ok(Date.parse(last.from) >= pauseEnded - 50, `${last.from} after the pause`);
    assert.deepEqual(last.services, ['alpha', 'beta']);
    const seq = t.entries.slice(last.first, last.first + last.count).map(brief);
    const at = (what: string): number => {
      const i = seq.indexOf(what);
      assert.ok(i >= 0, `${what} in\n${seq.join('\n')}`);
      return i;
    };
    const reload = at('request config.reload - upk true');
    const change = at('config beta changed ExecStart');
    const betaExit = at('event beta exited');
    const stop = at('request stop alpha upk true');
    const alphaExit = at('event alpha exited');
    assert.ok(reload < change && change < betaExit && betaExit < stop && stop < alphaExit, seq.join('\n'));
    // The gaps inside a burst are shorter than the gap; between bursts, not.
    for (let i = 1; i < t.bursts.length; i++) {
      assert.ok(Date.parse(t.bursts[i]!.from) - Date.parse(t.bursts[i - 1]!.to) >= t.gapMs);
    }
  });

  it('with NAME, --limit, --after, --json and as text', async () => {
    const only = JSON.parse((await box.upk(['timeline', 'beta', '--since', since, '--json'])).stdout) as TimelineResult;
    assert.ok(only.entries.length > 0);
    assert.ok(
      only.entries.every((e) => e.service === 'beta' || e.service === null),
      JSON.stringify(only.entries.map(brief)),
    );
    assert.ok(only.entries.some((e) => e.kind === 'request' && e.request.request === 'config.reload'));

    const cut = JSON.parse((await box.upk(['timeline', '--since', since, '--limit', '2', '--json'])).stdout) as TimelineResult;
    assert.equal(cut.entries.length, 2);
    assert.equal(cut.truncated, true);
    assert.equal(typeof cut.next, 'string');

    // Paged: the next page is the one the cut text names; every page after it in turn, each entry once, in order.
    const whole = (await (await box.client()).timeline({ since: cut.since, until: cut.until })).entries;
    const cutText = await box.upk(['timeline', '--since', cut.since, '--until', cut.until, '--limit', '2']);
    const command = /\(cut at 2 entries; the next page: (upk timeline .*)\)$/.exec(cutText.stdout.trimEnd())?.[1];
    assert.equal(command, `upk timeline --since ${cut.since} --until ${cut.until} --limit 2 --after ${cut.next}`, cutText.stdout);
    const paged = [...cut.entries];
    let next = cut.next;
    while (next !== undefined) {
      const page = await box.upk([...command.split(' ').slice(1, -1), next, '--json']);
      assert.equal(page.code, 0, page.stderr);
      const t = JSON.parse(page.stdout) as TimelineResult;
      assert.ok(t.entries.length <= 2);
      paged.push(...t.entries);
      next = t.next;
    }
    assert.deepEqual(paged.map(brief), whole.map(brief));
    assert.deepEqual(
      paged.map((e) => JSON.stringify(e)),
      whole.map((e) => JSON.stringify(e)),
      'each entry once',
    );
    const badCursor = await box.upk(['timeline', '--since', since, '--after', 'nonsense']);
    assert.equal(badCursor.code, 2, 'a cursor no answer gave: BAD_REQUEST');
    assert.match(badCursor.stderr, /after must be the next of a timeline answer/);

    const text = await box.upk(['timeline', '--since', since]);
    assert.equal(text.code, 0, text.stderr);
    const blocks = text.stdout.trimEnd().split('\n\n');
    assert.ok(blocks.length >= 2, text.stdout);
    assert.match(blocks.at(-1)!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC – \d\d:\d\d:\d\d UTC {2}\d+ entries in .*: alpha, beta\n/);
    assert.match(text.stdout, /\n {2}\d\d:\d\d:\d\d\.\d{3} {2}beta +configuration changed \(reload\): ExecStart\n/);
    assert.match(text.stdout, /\n {2}\d\d:\d\d:\d\d\.\d{3} {2}alpha +stop asked by upk, user \S+ → ok/);
    assert.match(text.stdout, /\n {2}\d\d:\d\d:\d\d\.\d{3} {2}alpha +stopping\n/);
    // A request about no one service, marked so, in a service's timeline too.
    const beta = await box.upk(['timeline', 'beta', '--since', since]);
    assert.match(beta.stdout, /\n {2}\d\d:\d\d:\d\d\.\d{3} {2}\(all\) +config\.reload --restart asked by upk/, beta.stdout);

    const future = await box.upk(['timeline', '--since', new Date(Date.now() + 60_000).toISOString()]);
    assert.equal(future.code, 2, 'since after until (now)');
    assert.equal((await box.upk(['timeline', 'nosuch', '--since', since])).code, 4);
    assert.equal((await box.upk(['timeline', '--limit', '0'])).code, 2);
  });

  it('GET /api/timeline, as its OpenAPI document declares', async () => {
    const strict = new OpenApiValidator(closed(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc));
    await withApi(box, async (_get, base) => {
      const res = await fetch(`${base}/api/timeline?since=${encodeURIComponent(since)}&service=alpha`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as TimelineResult;
      assert.equal(strict.check('/api/timeline', 'GET', 200, body), null);
      assert.ok(body.entries.some((e) => e.kind === 'request' && e.request.request === 'stop'));
      // One page and the next: `after` = `next`, with the answer's since and until.
      const range = `since=${encodeURIComponent(body.since)}&until=${encodeURIComponent(body.until)}&service=alpha`;
      const first = (await (await fetch(`${base}/api/timeline?${range}&limit=1`)).json()) as TimelineResult;
      assert.equal(strict.check('/api/timeline', 'GET', 200, first), null);
      assert.equal(first.truncated, true);
      const second = (await (await fetch(`${base}/api/timeline?${range}&limit=1&after=${first.next!}`)).json()) as TimelineResult;
      assert.equal(strict.check('/api/timeline', 'GET', 200, second), null);
      assert.deepEqual([...first.entries, ...second.entries].map(brief), body.entries.slice(0, 2).map(brief));
      assert.equal((await fetch(`${base}/api/timeline?${range}&after=1-q-1`)).status, 400);
      assert.equal((await fetch(`${base}/api/timeline`)).status, 400);
      assert.equal((await fetch(`${base}/api/timeline?since=never`)).status, 400);
    });
  });
});
