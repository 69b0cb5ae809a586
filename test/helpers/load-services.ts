// Service files loaded as the controller loads them, from a text written to a temporary folder (for unit tests of config keys).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { ControllerConfig, LoadedServices } from '../../schema/config/index.js';
import { loadServicesWith } from '../../schema/config/load-services.js';

/** Load `text` as upkeeper.d/svc.conf, with `defaults` as ServiceDefaults; the folder goes when the test ends. */
export function loadServiceText(t: TestContext, text: string, defaults: Record<string, unknown> = {}): LoadedServices & { file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upk-svc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'upkeeper.d'));
  const file = path.join(dir, 'upkeeper.d', 'svc.conf');
  fs.writeFileSync(file, text);
  const config = controllerConfigIn(dir, defaults);
  return { ...loadServicesWith(config, { HOME: dir }, { uid: 0, gid: 0, passwdFile: '/etc/passwd', groupFile: '/etc/group' }), file };
}

/** A controller configuration with everything under `dir` (upkeeper.d/ for the service files, state/), no file behind it. */
export function controllerConfigIn(dir: string, defaults: Record<string, unknown> = {}): ControllerConfig {
  return {
    file: null,
    stateDir: path.join(dir, 'state'),
    svcConfigPath: path.join(dir, 'upkeeper.d'),
    svcRunPath: path.join(dir, 'state', 'run'),
    buddyPollingInterval: 0.5,
    upkBuddyPath: null,
    auditMaxAge: null,
    auditMaxRecords: null,
    serviceDefaults: defaults,
  };
}
