// OnEvent hooks with a real controller, buddies, services and hook programs: once per event with the
// event on stdin and in the environment, MinInterval, Timeout, events collected after a controller
// restart, a controller killed while a hook runs, a reload, and clear errors for bad values.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startController, type HookRun, type ServiceEvent } from '../../libclient/index.js';
import { Sandbox, alive, groupMembers } from '../helpers/sandbox.js';

/** A hook program: the event's JSON and UPK_* variables into DIR/ID.json and DIR/ID.env, its id appended to DIR/ids. */
const RECORD =
  'cat > "$0/$UPK_EVENT_ID.json"; env | grep -E "^UPK_(HOOK|EVENT_|SERVICE|PID|CODE|SIGNAL)" | sort > "$0/$UPK_EVENT_ID.env"; echo "$UPK_EVENT_ID" >> "$0/ids"';

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

async function hookRuns(box: Sandbox, args: string[] = []): Promise<HookRun[]> {
  const res = await box.upk(['hooks', '--json', ...args]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as HookRun[];
}

async function events(box: Sandbox, service: string, types: string[]): Promise<ServiceEvent[]> {
  const res = await box.upk(['events', service, '--json', ...types.flatMap((t) => ['-t', t])]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as ServiceEvent[];
}

/** A sandbox whose controller file has these hooks, and the folder `out` a hook may write to. */
function hookSandbox(name: string, hooks: (box: Sandbox, out: string) => unknown[]): { box: Sandbox; out: string } {
  const box = new Sandbox(name);
  const out = box.file('out');
  mkdirSync(out);
  const config = JSON.parse(readFileSync(box.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(box.configFile, JSON.stringify({ ...config, OnEvent: hooks(box, out) }));
  return { box, out };
}

describe('OnEvent hooks', { timeout: 120_000 }, () => {
  describe('a running controller', () => {
    let box: Sandbox;
    let out: string;
    before(async () => {
      ({ box, out } = hookSandbox('hooks', (_, out) => [
        { Name: 'record', Events: ['exited', 'failed'], Services: ['crashy'], Command: ['sh', '-c', RECORD, out], MinInterval: 0 },
        { Name: 'limited', Events: ['exited'], Command: ['sh', '-c', 'echo "$UPK_SERVICE $UPK_CODE"'], MinInterval: '1h' },
        { Name: 'calm-only', Events: ['exited'], Services: ['calm'], Command: ['true'] },
        {
          Name: 'hang',
          Events: ['failed'],
          Command: ['sh', '-c', 'sleep 60 & echo "waits for $UPK_SERVICE"; sleep 60'],
          Timeout: '1s',
        },
      ]));
      box.writeServices({
        crashy: {
          ExecStart: `sh -c 'sleep 0.2; exit 3'`,
          InitialState: 'running',
          MinUptime: 1,
          MaxConsecutiveFailures: 2,
          UserRateLimit: 0.1,
        },
        calm: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      });
      await box.startController();
      await box.waitForState('crashy', 'failed', 20_000);
    });
    after(() => box.cleanup());

    it('runs once per event, with the event as JSON on its stdin and its main fields in UPK_* variables', async () => {
      const wanted = await events(box, 'crashy', ['exited', 'failed']);
      assert.equal(wanted.length, 3, 'two exits, then failed');
      await box.waitFor('a run per event', () => lines(join(out, 'ids')).length >= 3);
      assert.deepEqual(lines(join(out, 'ids')).sort(), wanted.map((e) => String(e.id)).sort(), 'each event once');
      const uuid = wanted[0]!.uuid;
      for (const e of wanted) {
        assert.deepEqual(JSON.parse(readFileSync(join(out, `${e.id}.json`), 'utf8')), e);
        const expected = [
          ...(e.code === null ? [] : [`UPK_CODE=${e.code}`]),
          `UPK_EVENT_ID=${e.id}`,
          `UPK_EVENT_TIME=${e.time}`,
          `UPK_EVENT_TYPE=${e.type}`,
          'UPK_HOOK=record',
          ...(e.pid === null ? [] : [`UPK_PID=${e.pid}`]),
          'UPK_SERVICE=crashy',
          `UPK_SERVICE_UUID=${uuid}`,
        ];
        assert.deepEqual(lines(join(out, `${e.id}.env`)), expected);
      }
      const runs = await box.waitFor('the runs recorded as ok', async () => {
        const r = await hookRuns(box, ['crashy', '--hook', 'record']);
        return r.length === 3 && r.every((x) => x.outcome === 'ok') ? r : undefined;
      });
      assert.deepEqual(
        runs.map((r) => [r.eventId, r.eventType, r.service, r.exitCode]),
        wanted.map((e) => [e.id, e.type, 'crashy', 0]),
      );
      assert.deepEqual(await hookRuns(box, ['--hook', 'calm-only']), [], 'calm never exited');
      const table = await box.upk(['hooks', 'crashy', '--hook', 'record']);
      assert.match(table.stdout, /^TIME +HOOK +SERVICE +EVENT +OUTCOME +EXIT +TOOK +DETAIL$/m);
      assert.match(table.stdout, new RegExp(`record +crashy +failed #${wanted[2]!.id} +ok +0 `));
    });

    it('MinInterval: a second event of the service within it is recorded as skipped, with why', async () => {
      const runs = await box.waitFor('both decided', async () => {
        const r = await hookRuns(box, ['--hook', 'limited']);
        return r.length === 2 && r[0]!.outcome === 'ok' ? r : undefined;
      });
      assert.deepEqual(
        runs.map((r) => r.outcome),
        ['ok', 'skipped'],
      );
      assert.equal(runs[0]!.output, 'crashy 3\n');
      assert.match(runs[1]!.reason ?? '', /^MinInterval 1 h: it ran for crashy \d+(\.\d)? m?s before$/);
      const table = await box.upk(['hooks', '--hook', 'limited']);
      assert.match(table.stdout, /limited +crashy +exited #\d+ +skipped +- +- +MinInterval 1 h/);
    });

    it('a hook that outlives its Timeout is killed, with everything in its process group', async () => {
      const [run] = await box.waitFor('the hang hook killed', async () => {
        const r = await hookRuns(box, ['--hook', 'hang']);
        return r[0]?.outcome === 'timed_out' ? r : undefined;
      });
      assert.equal(run!.signal, 'SIGTERM');
      assert.equal(run!.reason, 'still running after its Timeout of 1 s: killed');
      assert.equal(run!.output, 'waits for crashy\n');
      const took = Date.parse(run!.finished!) - Date.parse(run!.started!);
      assert.ok(took >= 1000 && took < 10_000, `took ${took} ms`);
      await box.waitFor('its group gone', () => groupMembers(run!.pid!).length === 0);
    });
  });

  describe('across controller restarts', () => {
    let box: Sandbox;
    let out: string;
    before(async () => {
      ({ box, out } = hookSandbox('hookrestart', (box, out) => [
        { Name: 'record', Events: ['exited', 'failed'], Command: ['sh', '-c', RECORD, out], MinInterval: 0 },
        {
          Name: 'slow',
          Events: ['stopping'],
          Services: ['slowpoke'],
          Command: ['sh', '-c', 'echo "$UPK_EVENT_ID" >> "$0"; sleep 60', box.file('slow')],
        },
      ]));
      box.writeServices({
        flaky: {
          ExecStart: `sh -c 'while [ ! -e ${box.file('flag')} ]; do sleep 0.05; done; exit 5'`,
          InitialState: 'running',
          MinUptime: 0.5,
          MaxConsecutiveFailures: 3,
          UserRateLimit: 0.1,
        },
        slowpoke: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 },
      });
      await box.startController();
      await box.waitForState('flaky', 'running');
      await box.waitForState('slowpoke', 'running');
    });
    after(() => box.cleanup());

    it('events collected after a controller restart run their hooks once; a second restart runs nothing again', async () => {
      assert.equal((await box.upk(['controller', 'stop'])).code, 0);
      // The service fails while no controller runs: its buddy keeps the events.
      writeFileSync(box.file('flag'), '');
      await box.waitFor('flaky failed, with no controller', () => {
        const status = JSON.parse(readFileSync(join(box.runDir('flaky'), 'status'), 'utf8')) as { state: string };
        return status.state === 'failed';
      });
      assert.deepEqual(lines(join(out, 'ids')), [], 'no hook ran meanwhile');
      await box.startController();
      const wanted = await events(box, 'flaky', ['exited', 'failed']);
      assert.ok(wanted.length >= 4, `exits then failed: ${wanted.map((e) => e.type).join(', ')}`);
      await box.waitFor('a run per event', () => lines(join(out, 'ids')).length >= wanted.length);
      assert.deepEqual(lines(join(out, 'ids')).sort(), wanted.map((e) => String(e.id)).sort(), 'each event once');
      const runs = await box.waitFor('every run ok', async () => {
        const r = await hookRuns(box, ['--hook', 'record']);
        return r.length === wanted.length && r.every((x) => x.outcome === 'ok') ? r : undefined;
      });

      const restarted = Date.now();
      assert.equal((await box.upk(['controller', 'restart'])).code, 0);
      assert.equal((await box.upk(['list'])).code, 0, 'the new controller is ready');
      const again = await hookRuns(box, ['--hook', 'record']);
      assert.deepEqual(again, runs, 'no run added or changed');
      assert.ok(again.every((r) => Date.parse(r.started!) < restarted));
      assert.equal(lines(join(out, 'ids')).length, wanted.length);
    });

    it('a controller killed while a hook runs: the run is recorded as interrupted, and never run again', async () => {
      const c = await box.client();
      await c.stop('slowpoke');
      const [running] = await box.waitFor('the slow hook running', async () => {
        const r = await hookRuns(box, ['--hook', 'slow']);
        return r[0]?.outcome === 'running' ? r : undefined;
      });
      const controller = (await c.controllerStatus()).pid;
      process.kill(controller, 'SIGKILL');
      await box.waitFor('the controller gone', () => !alive(controller));
      process.kill(-running!.pid!, 'SIGKILL'); // the hook outlived it (a group of its own)
      await startController({ config: box.configFile, env: box.env });
      const [after] = await hookRuns(box, ['--hook', 'slow']);
      assert.equal(after!.outcome, 'interrupted');
      assert.match(after!.reason ?? '', /the controller stopped while it ran/);
      assert.deepEqual(lines(box.file('slow')), [String(running!.eventId)], 'started once');
    });

    it('a reload applies new hooks, from the events after it; a bad hook is refused with a clear error', async () => {
      const config = JSON.parse(readFileSync(box.configFile, 'utf8')) as { OnEvent: unknown[] };
      const spawnedBefore = (await events(box, 'slowpoke', ['spawned'])).length;
      writeFileSync(
        box.configFile,
        JSON.stringify({ ...config, OnEvent: [{ Events: ['faild'], Command: 'notify-send failed' }] }, null, 2),
      );
      for (const args of [['reload-config'], ['check-config']]) {
        const res = await box.upk(args);
        assert.notEqual(res.code, 0);
        const text = res.stdout + res.stderr;
        assert.match(text, /upkeeper\.conf:\d+: OnEvent\[0\]\.Events\[0\]: unknown event type "faild" \(did you mean "failed"\?\)/);
        assert.match(text, /upkeeper\.conf:\d+: OnEvent\[0\]\.Command: expected a list of strings: the program and its arguments/);
      }
      writeFileSync(
        box.configFile,
        JSON.stringify({
          ...config,
          OnEvent: [{ Name: 'new', Events: ['spawned'], Command: ['sh', '-c', 'echo "$UPK_EVENT_ID" >> "$0"', box.file('new')] }],
        }),
      );
      assert.equal((await box.upk(['reload-config'])).code, 0);
      assert.equal((await box.upk(['start', 'slowpoke'])).code, 0);
      const spawned = await events(box, 'slowpoke', ['spawned']);
      assert.equal(spawned.length, spawnedBefore + 1);
      await box.waitFor('the new hook ran', () => lines(box.file('new')).length > 0);
      assert.deepEqual(lines(box.file('new')), [String(spawned.at(-1)!.id)], 'only for the event after the reload');
    });
  });
});
