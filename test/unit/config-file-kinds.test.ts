// Tests of what kind of file a configuration file may be: regular files of at most 4 MiB; FIFOs, devices, directories, sockets and larger files are errors naming the file, found without blocking.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_FILE_MAX_BYTES, type ControllerConfig, formatIssue, loadServices } from '../../schema/config/index.js';
import { controllerConfig } from '../helpers/load-services.js';

const T = { timeout: 40_000 };
const CONFIG_API = new URL('../../schema/config/index.js', import.meta.url).href;

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-kind-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Run `code` (an ES module body with `api`, the configuration API, and `arg`, JSON) in a child Node
 * limited to 10 s and 2 GB of address space, and return what it printed as JSON: a reader that
 * blocks on a FIFO or reads /dev/zero without end fails the test instead of hanging it (a child
 * that reads nothing ends in well under a second, even on a loaded machine).
 */
function inChild(code: string, arg: unknown): unknown {
  const body = `const api = await import(${JSON.stringify(CONFIG_API)}); const arg = JSON.parse(process.argv[1]); ${code}`;
  const r = spawnSync(
    'sh',
    ['-c', 'ulimit -v 2000000; exec "$0" "$@"', process.execPath, '--input-type=module', '-e', body, JSON.stringify(arg)],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  assert.equal(r.signal, null, `the reader did not finish within 10 s (killed by ${r.signal}): it blocked or read without end`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function serviceConfig(dir: string, d: string): ControllerConfig {
  return controllerConfig({ stateDir: dir, svcConfigPath: d, svcRunPath: path.join(dir, 'run') });
}

const loadServicesIssues = (config: ControllerConfig): string[] =>
  inChild('console.log(JSON.stringify(api.loadServices(arg, {}).issues.map(api.formatIssue)));', config) as string[];

const controllerIssues = (file: string): string[] =>
  inChild('console.log(JSON.stringify(api.loadControllerConfig({ config: arg, env: {} }).issues.map(api.formatIssue)));', file) as string[];

test('the limit is 4 MiB', () => {
  assert.equal(CONFIG_FILE_MAX_BYTES, 4 * 1024 * 1024);
});

test(
  'service folder: a FIFO, a link to /dev/zero, a sparse 9.3 GiB file, a directory and a socket named *.conf are errors naming them; the rest loads',
  T,
  async (t) => {
    const dir = tempDir(t);
    const d = path.join(dir, 'upkeeper.d');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'a-good.conf'), '{ "web": { "ExecStart": "x" } }');
    execFileSync('mkfifo', [path.join(d, 'b-fifo.conf')]);
    fs.symlinkSync('/dev/zero', path.join(d, 'c-zero.conf'));
    execFileSync('truncate', ['-s', '10000000000', path.join(d, 'd-huge.conf')]);
    fs.mkdirSync(path.join(d, 'e-dir.conf'));
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(d, 'f-socket.conf'), resolve));
    t.after(() => server.close());

    assert.deepEqual(loadServicesIssues(serviceConfig(dir, d)), [
      `${d}/b-fifo.conf: cannot read the file: it is a FIFO, not a regular file`,
      `${d}/c-zero.conf: cannot read the file: it is a character device, not a regular file`,
      `${d}/d-huge.conf: cannot read the file: it is 9.3 GiB; configuration files may be at most 4 MiB`,
      `${d}/e-dir.conf: cannot read the file: it is a directory, not a regular file`,
      `${d}/f-socket.conf: cannot read the file: it is a socket, not a regular file`,
    ]);
    const r = loadServices(serviceConfig(dir, d), {});
    assert.deepEqual(
      r.services.map((s) => s.id),
      ['web'],
    );
    assert.deepEqual(r.files, [path.join(d, 'a-good.conf')]);
  },
);

test('a file of exactly 4 MiB is read; one byte more is an error', T, (t) => {
  const dir = tempDir(t);
  const d = path.join(dir, 'upkeeper.d');
  fs.mkdirSync(d);
  const body = '{ "web": { "ExecStart": "x" } }';
  fs.writeFileSync(path.join(d, 'a.conf'), body + ' '.repeat(CONFIG_FILE_MAX_BYTES - body.length));
  fs.writeFileSync(path.join(d, 'b.conf'), '{}' + ' '.repeat(CONFIG_FILE_MAX_BYTES - 1));
  const r = loadServices(serviceConfig(dir, d), {});
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['web'],
  );
  assert.deepEqual(r.issues.map(formatIssue), [
    `${d}/b.conf: cannot read the file: it is ${CONFIG_FILE_MAX_BYTES + 1} bytes; configuration files may be at most 4 MiB`,
  ]);
});

test('the controller config: a FIFO, a link to /dev/zero or an oversize file is an error naming it', T, (t) => {
  const dir = tempDir(t);
  const fifo = path.join(dir, 'fifo.conf');
  execFileSync('mkfifo', [fifo]);
  const zero = path.join(dir, 'zero.conf');
  fs.symlinkSync('/dev/zero', zero);
  const big = path.join(dir, 'big.conf');
  execFileSync('truncate', ['-s', '5M', big]);
  assert.deepEqual(controllerIssues(fifo), [`${fifo}: cannot read the file: it is a FIFO, not a regular file`]);
  assert.deepEqual(controllerIssues(zero), [`${zero}: cannot read the file: it is a character device, not a regular file`]);
  assert.deepEqual(controllerIssues(big), [`${big}: cannot read the file: it is 5 MiB; configuration files may be at most 4 MiB`]);
});

test('a symbolic link to a regular file is read', T, (t) => {
  const dir = tempDir(t);
  const d = path.join(dir, 'upkeeper.d');
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(dir, 'real.json'), '{ "web": { "ExecStart": "x" } }');
  fs.symlinkSync(path.join(dir, 'real.json'), path.join(d, 'web.conf'));
  const r = loadServices(serviceConfig(dir, d), {});
  assert.deepEqual(r.issues, []);
  assert.deepEqual(
    r.services.map((s) => s.id),
    ['web'],
  );
});
