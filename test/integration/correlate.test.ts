// What fails together, with real processes: a prerequisite `db` is killed (SIGKILL) 0.4 s
// before each of four failures of `web` (the test kills web too); `upk correlate web` ranks db first
// with k = 4, `upk why web` names it, the fleet-wide view pairs them, and GET /api/correlate answers
// as the OpenAPI document describes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { CorrelationResult, FailureStory } from '../../libclient/index.js';
import { OPENAPI_FILE } from '../../clients/http/openapi.js';
import { OpenApiValidator, closed, type Doc } from '../helpers/openapi.js';
import { withApi } from '../helpers/serve.js';
import { Sandbox, sleep } from '../helpers/sandbox.js';

/** The window of the test: db's kill comes 0.4 s before web's, within ±1 s. */
const WINDOW = '1s';
const FAILURES = 4;

const service = (extra: Record<string, unknown> = {}) => ({ ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1, ...extra });

describe('what fails together: db killed before each failure of web', { timeout: 120_000 }, () => {
  let box: Sandbox;
  before(async () => {
    box = new Sandbox('correlate17');
    box.writeServices({ db: service(), web: service({ Prerequisites: ['db'] }), cache: service() });
    await box.startController();
    for (const s of ['db', 'web', 'cache']) await box.waitForState(s, 'running');
    const c = await box.client();
    const pidOf = async (name: string): Promise<number> => (await c.status(name))[0]!.pid!;
    // The chance is measured from where the history begins: some quiet time first, and between the
    // failures, so that the windows around db's events cover a small part of the range (4 × 2 s of
    // some 35 s with ±1 s: p ≈ 0.25, and P(X ≥ 4 | 4, p) = p⁴ ≈ 0.004).
    await sleep(10_000);
    for (let i = 0; i < FAILURES; i++) {
      const db = await pidOf('db');
      const web = await pidOf('web');
      process.kill(db, 'SIGKILL');
      await sleep(400);
      process.kill(web, 'SIGKILL');
      for (const [name, old] of [
        ['db', db],
        ['web', web],
      ] as const) {
        await box.waitFor(`${name} running again after kill ${i + 1}`, async () => {
          const [s] = await c.status(name);
          return s?.state === 'running' && s.pid !== old;
        });
      }
      // cache fails once, far from web's failures: it must not rank.
      if (i === 1) {
        await sleep(2500);
        process.kill(await pidOf('cache'), 'SIGKILL');
        await box.waitForState('cache', 'running');
      }
      await sleep(4000);
    }
  });
  after(() => box.cleanup());

  it('upk correlate web: db first, with k = 4 of 4, significant, before the failures', async () => {
    const json = await box.upk(['correlate', 'web', '--window', WINDOW, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const r = JSON.parse(json.stdout) as CorrelationResult;
    assert.equal(r.service, 'web');
    assert.equal(r.failures, FAILURES);
    assert.equal(r.tooFew, false);
    assert.equal(r.windowMs, 1000);
    const top = r.correlations[0]!;
    assert.ok(top, json.stdout);
    assert.equal(top.other, 'db', json.stdout);
    assert.ok(top.kind === 'failed' || top.kind === 'restarted', top.kind);
    assert.equal(top.together, FAILURES);
    assert.equal(top.failures, FAILURES);
    assert.equal(top.prerequisite, true);
    assert.equal(top.significant, true, json.stdout);
    assert.ok(top.medianOffsetMs !== null && top.medianOffsetMs < 0 && top.medianOffsetMs > -1000, String(top.medianOffsetMs));
    // By hand from the figures: P(X ≥ 4 | 4, p) = p⁴, and the lift 1 / p.
    assert.ok(Math.abs(top.score - top.chance ** 4) < 1e-12, `${top.score} against p⁴ = ${top.chance ** 4}`);
    assert.ok(Math.abs(top.lift! - 1 / top.chance) < 1e-9);
    // An until to come counts only up to now: chance is not made smaller by a month without events.
    const ahead = await box.upk([
      'correlate',
      'web',
      '--window',
      WINDOW,
      '--until',
      new Date(Date.now() + 30 * 86_400_000).toISOString(),
      '--json',
    ]);
    assert.equal(ahead.code, 0, ahead.stderr);
    const later = (JSON.parse(ahead.stdout) as CorrelationResult).correlations.find((c) => c.other === top.other && c.kind === top.kind)!;
    assert.ok(Math.abs(later.chance - top.chance) < top.chance * 0.1, `p ${later.chance} with a future until, ${top.chance} without`);
    // Both of db's kinds that came with the failures rank above everything of cache.
    const dbRows = r.correlations.filter((c) => c.other === 'db' && c.together === FAILURES).map((c) => c.kind);
    assert.deepEqual(dbRows.sort(), ['failed', 'restarted']);
    assert.ok(!r.correlations.some((c) => c.other === 'cache' && c.kind === 'failed'), json.stdout);

    const text = await box.upk(['correlate', 'web', '--window', WINDOW]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.match(lines[0]!, /^web: 4 failures counted, from .+ UTC to .+ UTC, window ±1 s$/);
    assert.match(lines[1]!, /^OTHER\s+EVENT\s+TOGETHER\s+CHANCE\s+EXPECTED\s+LIFT\s+P\s+OFFSET$/);
    assert.match(
      lines[2]!,
      /^db \(prerequisite\)\s+(failed|restarted)\s+4 of 4\s+\S+%\s+\S+\s+\S+\s+.+ \*\s+(\d+ ms|[\d.]+ s) before$/,
      text.stdout,
    );
    assert.ok(text.stdout.includes('* P < 0.05 with at least 2 failures together'), text.stdout);
  });

  it('upk why web: names db, which failed or restarted before each failure', async () => {
    const story = JSON.parse((await box.upk(['why', 'web', '--window', WINDOW, '--json'])).stdout) as FailureStory;
    const c = story.failure!.correlated!;
    assert.ok(c, JSON.stringify(story.failure));
    assert.deepEqual([c.other, c.together, c.failures, c.prerequisite], ['db', FAILURES, FAILURES, true]);
    const text = await box.upk(['why', 'web', '--window', WINDOW]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^Together: db (failed|restarted) (\d+ ms|[\d.]+ s) before 4 of the last 4 failures of web \(db is a prerequisite; \S+ expected by chance, P = \S+\)\.$/m,
      text.stdout,
    );
    // cache failed once, alone: why cache names nothing (too few failures).
    const cache = JSON.parse((await box.upk(['why', 'cache', '--window', WINDOW, '--json'])).stdout) as FailureStory;
    assert.equal(cache.failure!.correlated, null);
  });

  it('upk correlate (fleet-wide): db and web, the pair whose failures co-occur', async () => {
    const r = JSON.parse((await box.upk(['correlate', '--all', '--window', WINDOW, '--json'])).stdout) as CorrelationResult;
    assert.equal(r.service, null);
    assert.equal(r.failures, 2 * FAILURES + 1, 'db 4, web 4, cache 1');
    const [pair] = r.correlations;
    assert.deepEqual([pair!.service, pair!.other].sort(), ['db', 'web']);
    assert.equal(pair!.together, FAILURES);
    assert.equal(pair!.kind, 'failed');
    assert.equal(r.correlations.length, 1, 'cache fails with nothing');
    const text = await box.upk(['correlate', '--window', WINDOW]);
    assert.match(text.stdout.split('\n')[2]!, /^(db\s+web|web\s+db)\s+4 of 4\s/, text.stdout);
    assert.equal((await box.upk(['correlate', 'web', '--all'])).code, 2);
    assert.equal((await box.upk(['correlate', 'web', '--window', '2d'])).code, 2);
    assert.equal((await box.upk(['correlate', 'nosuch'])).code, 4);
  });

  it('HTTP: GET /api/correlate, as the OpenAPI document describes it', async () => {
    const strict = new OpenApiValidator(closed(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc));
    await withApi(box, async (_get, base) => {
      const answer = await fetch(`${base}/api/correlate?service=web&window=${WINDOW}&limit=1`);
      assert.equal(answer.status, 200);
      const body = (await answer.json()) as CorrelationResult;
      assert.equal(strict.check('/api/correlate', 'GET', 200, body), null);
      assert.equal(body.correlations.length, 1);
      assert.equal(body.correlations[0]!.other, 'db');
      const fleet = (await (await fetch(`${base}/api/correlate?window=${WINDOW}`)).json()) as CorrelationResult;
      assert.equal(strict.check('/api/correlate', 'GET', 200, fleet), null);
      assert.equal(fleet.service, null);
      const why = (await (await fetch(`${base}/api/services/web/why?window=${WINDOW}`)).json()) as FailureStory;
      assert.equal(strict.check('/api/services/web/why', 'GET', 200, why), null);
      assert.equal(why.failure!.correlated!.other, 'db');
      assert.equal((await fetch(`${base}/api/correlate?window=soon`)).status, 400);
      assert.equal((await fetch(`${base}/api/correlate?service=nosuch`)).status, 404);
    });
  });
});
