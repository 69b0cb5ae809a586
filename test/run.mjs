#!/usr/bin/env node
// npm test: runs every compiled test under a fresh sandbox root, then fails if anything the suite
// started (controller, buddy, service, script) still runs. Leftovers are killed after being reported.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repo, 'dist', 'test');
if (!existsSync(dist)) {
  console.error('test: dist/test is missing; build first (npm ci builds; or npm run build)');
  process.exit(1);
}

// Short root: Unix socket paths must stay under 108 bytes.
const root = mkdtempSync(join(tmpdir(), 'upkt-'));
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
const only = process.argv.slice(2);
const tests = files(dist)
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const result = spawnSync(process.execPath, ['--test', '--test-timeout=240000', '--test-concurrency=2', '--test-reporter=spec', ...tests], {
  stdio: 'inherit',
  env: { ...process.env, UPK_TEST_ROOT: root },
  timeout: 15 * 60_000,
});

/** Every process whose command line or environment mentions the sandbox root. */
function leftovers() {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      const environ = readFileSync(`/proc/${name}/environ`, 'latin1');
      const state = readFileSync(`/proc/${name}/stat`, 'latin1').split(') ')[1]?.[0];
      if (state === 'Z') continue;
      if (cmdline.includes(root) || environ.includes(root)) found.push({ pid: Number(name), cmd: cmdline.replaceAll('\0', ' ').trim() });
    } catch {
      /* gone, or not ours */
    }
  }
  return found;
}

let leaked = leftovers();
if (leaked.length > 0) {
  // Give exiting processes a moment before calling them leaks.
  spawnSync('sleep', ['1']);
  leaked = leftovers();
}
for (const p of leaked) {
  console.error(`test: LEAKED process ${p.pid}: ${p.cmd}`);
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}
rmSync(root, { recursive: true, force: true });

if (result.error) console.error(`test: ${result.error.message}`);
if (leaked.length > 0) console.error(`test: FAILED: ${leaked.length} process(es) started by the suite were still running`);
process.exit(result.status !== 0 || leaked.length > 0 || result.error ? 1 : 0);
