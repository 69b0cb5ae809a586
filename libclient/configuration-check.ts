// Checks the configuration files without a controller and without touching anything: every problem,
// with file, line and key (what `upk check-config` prints).
import {
  checkEnvironmentFiles,
  checkOutputFiles,
  formatIssue,
  hookProgramIssues,
  loadControllerConfig,
  loadServices,
} from '../schema/config/index.js';
import type { ConfigIssue, ServiceConfig } from '../schema/config/types.js';
import type { DiscoveryOptions } from './discovery.js';

export interface ConfigurationCheck {
  ok: boolean;
  /** The controller file read, or null when the default file does not exist (defaults apply). */
  configFile: string | null;
  /** Every service file read. */
  files: string[];
  /** The ids of the services without problems. */
  services: string[];
  issues: ConfigIssue[];
}

export function checkConfiguration(options: DiscoveryOptions = {}): ConfigurationCheck {
  const env = options.env ?? process.env;
  const loaded = loadControllerConfig({ ...(options.config === undefined ? {} : { config: options.config }), env });
  const issues = [...loaded.issues];
  let services: string[] = [];
  let files: string[] = [];
  if (loaded.config) {
    // The hooks' programs, as the controller would run them (its runs would fail; a reload accepts them).
    if (loaded.config.file !== null)
      issues.push(...hookProgramIssues(loaded.config.file, loaded.config.onEvent, env, loaded.config.stateDir));
    const s = loadServices(loaded.config, env);
    issues.push(...s.issues);
    // The environment files, as a start would read them (a problem there fails a start, not a reload).
    const envFiles = checkEnvironmentFiles(s.services);
    issues.push(...envFiles.issues);
    // Output files the buddy would refuse (a start then loses that output; the service runs).
    issues.push(...checkOutputFiles(s.services));
    services = s.services.map((x) => x.id).filter((id) => !envFiles.failing.has(id));
    files = s.files;
  }
  return { ok: issues.length === 0, configFile: loaded.config?.file ?? null, files, services, issues };
}

/**
 * The services the configuration files define, read as `checkConfiguration` reads them (those with a
 * problem left out), without a controller; none when the controller file has a problem.
 */
export function configuredServices(options: DiscoveryOptions = {}): ServiceConfig[] {
  const env = options.env ?? process.env;
  const loaded = loadControllerConfig({ ...(options.config === undefined ? {} : { config: options.config }), env });
  return loaded.config ? loadServices(loaded.config, env).services : [];
}

/** `file:line: key: message`. */
export const formatConfigIssue = (issue: ConfigIssue): string => formatIssue(issue);
