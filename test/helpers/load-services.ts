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

/** A controller configuration for a unit test: no file behind it, the defaults of the keys, `fields` over them. */
export function controllerConfig(
  fields: Partial<ControllerConfig> & Pick<ControllerConfig, 'stateDir' | 'svcConfigPath' | 'svcRunPath'>,
): ControllerConfig {
  return {
    file: null,
    buddyPollingInterval: 0.5,
    upkBuddyPath: null,
    auditMaxAge: null,
    auditMaxRecords: null,
    serviceDefaults: {},
    onEvent: [],
    fleetDatabase: null,
    fleetHost: null,
    ...fields,
  };
}

/** A controller configuration with everything under `dir` (upkeeper.d/ for the service files, state/). */
export function controllerConfigIn(dir: string, defaults: Record<string, unknown> = {}): ControllerConfig {
  return controllerConfig({
    stateDir: path.join(dir, 'state'),
    svcConfigPath: path.join(dir, 'upkeeper.d'),
    svcRunPath: path.join(dir, 'state', 'run'),
    serviceDefaults: defaults,
  });
}
