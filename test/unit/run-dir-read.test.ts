// buddy.json and status, read by the buddy and the controller: checked field by field.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buddySettings } from '../../controller/run-dir.js';
import { loadServiceText } from '../helpers/load-services.js';
import { previousStatus, readSettings } from '../../schema/run-dir-read.js';

const T = { timeout: 5000 };
const dir = mkdtempSync(join(tmpdir(), 'upk-rdr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('readSettings takes what a controller writes, fills fields later versions added, and names a bad field', T, (t) => {
  const svc = loadServiceText(t, JSON.stringify({ web: { ExecStart: 'sleep 1' } })).services[0]!;
  const settings = buddySettings(svc, '00000000-0000-4000-8000-000000000001', dir, { PATH: '/bin' }, null);
  const file = join(dir, 'buddy.json');
  writeFileSync(file, JSON.stringify(settings));
  assert.deepEqual(readSettings(file), settings);
  const { logKeep: _dropped, ...older } = settings;
  writeFileSync(file, JSON.stringify(older));
  assert.equal(readSettings(file).logKeep, 5);
  writeFileSync(file, JSON.stringify({ ...settings, killTimeout: '10' }));
  assert.throws(() => readSettings(file), /buddy\.json: killTimeout: expected number, got "10"/);
  const { workingDirectory: _gone, ...holed } = settings;
  writeFileSync(file, JSON.stringify(holed));
  assert.throws(() => readSettings(file), /buddy\.json: workingDirectory: expected string, got nothing/);
  writeFileSync(file, JSON.stringify({ ...settings, settingsVersion: 2 }));
  assert.throws(() => readSettings(file), /not a buddy settings file of version 1/);
});

test('previousStatus: null for another service, a damaged file, or one without the fields a survivor is judged by', T, () => {
  const file = join(dir, 'status');
  const good = { uuid: 'u1', state: 'running', pid: 42, pidStartTime: 7 };
  writeFileSync(file, JSON.stringify(good));
  assert.deepEqual(previousStatus(file, 'u1'), good);
  assert.equal(previousStatus(file, 'u2'), null);
  writeFileSync(file, JSON.stringify({ ...good, pid: '42' }));
  assert.equal(previousStatus(file, 'u1'), null);
  writeFileSync(file, '{"uuid": "u1", ');
  assert.equal(previousStatus(file, 'u1'), null);
  assert.equal(previousStatus(join(dir, 'none'), 'u1'), null);
});
