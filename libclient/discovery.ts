// Finds the controller the way every client does: --config, else $UPKEEPER_CONFIG, else the default file.
import { join } from 'node:path';
import { formatIssue, loadControllerConfig, resolveConfigFile } from '../schema/config/index.js';
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

/**
 * CONTROLLER_NOT_RUNNING at a first connection, saying which configuration led to the socket: its file,
 * or the default settings and where no file was found. `details`: `{socket, configFile}` (null: the
 * defaults). Any other error is returned as it is.
 */
export function notRunningError(err: unknown, config: ControllerConfig, options: DiscoveryOptions): unknown {
  if (!(err instanceof UpkError) || err.code !== ErrorCode.CONTROLLER_NOT_RUNNING) return err;
  const socket = controllerSocket(config);
  const searched = resolveConfigFile({ config: options.config, env: options.env ?? process.env }).file;
  const where = config.file === null ? `the default settings, no file found at ${searched}` : config.file;
  const why = err.message.startsWith('the controller is not running')
    ? `the controller is not running: no answer on ${socket}`
    : err.message;
  return new UpkError(ErrorCode.CONTROLLER_NOT_RUNNING, `${why} (configuration: ${where})`, {
    details: { socket, configFile: config.file },
    cause: err,
  });
}
