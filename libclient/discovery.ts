// Finds the controller the way every client does: --config, else $UPKEEPER_CONFIG, else the default file.
import { join } from 'node:path';
import { formatIssue, loadControllerConfig } from '../schema/config/index.js';
import type { ControllerConfig } from '../schema/config/types.js';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { STATE_DIR } from '../schema/state-dir.js';


export interface DiscoveryOptions {
  /** Controller config file; default $UPKEEPER_CONFIG, then $XDG_CONFIG_HOME/upkeeper/upkeeper.conf. */
  config?: string;
  /** Environment to read UPKEEPER_CONFIG and XDG paths from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Read the controller configuration or throw CONFIG_INVALID with every issue in `details`. */
export function readControllerConfig(options: DiscoveryOptions = {}): ControllerConfig {
  const { config, issues } = loadControllerConfig({ config: options.config, env: options.env ?? process.env });
  if (!config) {
    throw new UpkError(ErrorCode.CONFIG_INVALID, issues.map(formatIssue).join('\n') || 'invalid configuration', {
      details: issues,
    });
  }
  return config;
}

export function controllerSocket(config: ControllerConfig): string {
  return join(config.stateDir, STATE_DIR.socket);
}
