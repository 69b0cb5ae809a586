// Every program in docs/library.md runs, against a real controller, and prints what the guide says.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from '../../libclient/index.js';
import { run, Sandbox } from '../helpers/sandbox.js';

const LIBRARY_MD = fileURLToPath(new URL('../../../docs/library.md', import.meta.url));
const WATCH = fileURLToPath(new URL('../../../examples/restart-watch.mjs', import.meta.url));
const LIBCLIENT = pathToFileURL(fileURLToPath(new URL('../../libclient/index.js', import.meta.url))).href;

/** The ```js blocks of the guide that import the library, each with the ```text block that follows it (if any). */
function programs(): { code: string; shown: string | null }[] {
  const blocks = [...readFileSync(LIBRARY_MD, 'utf8').matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
  return blocks
    .map((b, i) => ({ ...b, next: blocks[i + 1] }))
    .filter((b) => b.lang === 'js' && b.body.includes("from 'upkeeper'"))
    .map((b) => ({ code: b.body, shown: b.next?.lang === 'text' ? b.next.body : null }));
}

describe('docs/library.md: the programs of the guide', { timeout: 120_000 }, () => {
  const box = new Sandbox('libdocs');
  const all = programs();
  const checked = new Set<string>();
  let n = 0;

  /** The guide's program that is `marker`, or else contains it, run as a file (the package import pointed at the build). */
  const program = (marker: string): string => {
    const exact = all.filter((p) => p.code === marker);
    const found = exact.length > 0 ? exact : all.filter((p) => p.code.includes(marker));
    assert.equal(found.length, 1, `one program of library.md contains ${JSON.stringify(marker)}`);
    checked.add(found[0]!.code);
    const file = box.file(`program-${++n}.mjs`);
    writeFileSync(file, found[0]!.code.replaceAll("from 'upkeeper'", `from '${LIBCLIENT}'`));
    return file;
  };
  const runProgram = async (marker: string): Promise<string> => {
    const res = await run(process.execPath, [program(marker)], box.env, 20_000);
    assert.equal(res.code, 0, `${marker}: exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    assert.equal(res.stderr, '', `${marker} writes nothing to stderr`);
    return res.stdout;
  };

  before(async () => {
    box.writeServices({
      web: {
        ExecStart: `sh -c 'trap "" USR1; exec sleep 1000'`,
        ExecReload: 'true',
        InitialState: 'running',
        MinUptime: 0.1,
        CustomActions: { hello: 'echo hello' },
      },
    });
    await box.startController();
    await box.waitForState('web', 'running');
  });
  after(() => box.cleanup());

  it('the first steps list the services', async () => {
    await runProgram("import { connect } from 'upkeeper';\n");
    const out = await runProgram('client.list()');
    assert.match(out, /^controller \d+, version \d+\.\d+\.\d+, protocol \d+$/m);
    assert.match(out, /^web +running +wanted running +pid \d+$/m);
  });

  it('actions: status, restart, reload, a custom action, a signal', async () => {
    const out = await runProgram("client: 'deploy-script'");
    assert.match(out, /^web is running \(wanted running\), \d+ restarts$/m);
    assert.match(out, /^web: ok: running, pid \d+$/m);
    assert.match(out, /^reload: reload done, script exited with 0$/m);
    assert.match(out, /^action hello exited with 0: hello$/m);
    assert.match(out, /^sent USR1 to \d+$/m);
  });

  it('acting for others: the restart is recorded with the client and the requester', async () => {
    const out = await runProgram("client.onBehalfOf('alice (chat #ops)')");
    assert.equal(out, 'web: running, for alice (chat #ops)\n');
    const db = box.db();
    const row = db.prepare(`SELECT client, requester, request, params, ok FROM client_requests ORDER BY id DESC LIMIT 1`).get();
    db.close();
    assert.deepEqual(row, { client: 'deploy-bot', requester: 'alice (chat #ops)', request: 'restart', params: '{"service":"web"}', ok: 1 });
  });

  it('events: a query and paging through everything', async () => {
    const out = await runProgram('page by page');
    assert.match(out, /^\S+Z exited \d+ SIGTERM \{.*"requested":true\}$/m, 'the exit of the restart');
    const total = Number(/^(\d+) events in the database$/m.exec(out)?.[1]);
    assert.ok(total >= 4, out);
  });

  it('a subscription prints live events', async () => {
    const child = spawn(process.execPath, [program("types: ['exited', 'spawned']")], { env: box.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await box.waitFor('subscribed', async () => {
        // The program prints nothing until an event comes: restart until one does.
        await (await box.client()).restart('web');
        return /web spawned pid \d+/.test(out);
      });
      assert.match(out, /^\S+Z web exited pid \d+ SIGTERM$/m);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('a configuration reload', async () => {
    const out = await runProgram('client.reloadConfig()');
    assert.equal(out, '', 'nothing changed, nothing printed');
  });

  it('the restart watcher of the guide is examples/restart-watch.mjs (run by examples.test.ts)', () => {
    const file = readFileSync(WATCH, 'utf8');
    const shown = all.find((p) => p.code.includes('WINDOW_MS'));
    assert.ok(shown && file.endsWith(shown.code), 'the guide shows the example file as it is, from its import on');
    checked.add(shown.code);
  });

  it('errors: the codes and messages are those the guide shows', async () => {
    const marker = 'ErrorCode.NO_SUCH_SERVICE';
    const out = await runProgram(marker);
    const shown = all.find((p) => p.code.includes(marker))!.shown;
    assert.equal(out, shown);
  });

  it('trends and failures: trend() per hour and per 15 minutes, why() in words', async () => {
    const out = await runProgram('client.why(');
    assert.match(out, /^web: 0 automatic restarts in 2[45] buckets$/m, 'restarts by a user are not automatic ones');
    const points = [...out.matchAll(/^(\S+) (\S+)(?: %)?$/gm)].filter((m) => m[1]!.endsWith(':00.000Z'));
    assert.ok(points.length === 4 || points.length === 5, `15-minute buckets of the last hour: ${out}`);
    for (const [, start] of points) assert.match(start!, /T\d\d:(00|15|30|45):00\.000Z$/, 'buckets start at multiples of 15 minutes');
    assert.match(out, /^\S+Z \d+(\.\d+)? %$/m, 'web ran in the last bucket');
    assert.match(out, /^no failure kept$/m);
    assert.match(out, /^web has not failed since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, where its history kept begins\.$/m);
    assert.match(out, /^Now: running since .+ UTC, pid \d+, wanted running; 0 automatic restarts since its last start by a user\.$/m);
  });

  it('what changed, and who did it: configHistory() and requests()', async () => {
    const started = new Date();
    const out = await runProgram('client.configHistory(');
    assert.match(out, /^\S+Z added \(start\): InitialState running$/m, out);
    // The restarts of the programs above, today (unless the day began since this test did).
    if (started.getDate() === new Date(started.getTime() - 60_000).getDate()) {
      assert.match(out, /^\S+Z deploy-script \(pid \d+\): running$/m, out);
    }
  });

  it('starting and stopping the controller (this stops it, so it runs last)', async () => {
    const out = await runProgram('startController, stopController');
    assert.match(out, /^was running \d+$/m);
    assert.match(out, /^1 services, 1 buddies, 0 config problems$/m);
    assert.match(out, /^controller \d+ stopped$/m);
    await assert.rejects(connect({ config: box.configFile }), { code: 'CONTROLLER_NOT_RUNNING' });
    await box.startController(); // for the cleanup's shutdown
  });

  it('every program of the guide is checked here', () => {
    const unchecked = all.filter((p) => !checked.has(p.code)).map((p) => p.code.split('\n').slice(0, 3).join('\n'));
    assert.deepEqual(unchecked, [], 'a program of library.md that no test runs');
  });
});
