// Generates a service's run directory: scripts/, actions/, log/ (with the output FIFOs) and buddy.json
// (with the environment services inherit); reads back the uuid a run directory records.
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { ControllerConfig, ServiceConfig } from '../schema/config/types.js';
import { UUID_RE } from '../schema/config/names.js';
import { directCommand, directStopSignal } from '../schema/config/scripts.js';
import { LOG, RUN_DIR, SCRIPT, actionNumber } from '../schema/run-dir.js';
import { readSettings } from '../schema/run-dir-read.js';
import { writeWhole } from '../system/files.js';

/** Write a file whole unless it already has this content and mode; true when it changed. */
function updateWhole(file: string, content: string, mode: number): boolean {
  try {
    if (readFileSync(file, 'utf8') === content && (statSync(file).mode & 0o777) === mode) return false;
  } catch {
    /* missing: write it */
  }
  writeWhole(file, content, mode);
  return true;
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Point `link` at `target`, atomically. */
function linkTo(link: string, target: string): void {
  const tmp = `${link}.new`;
  try {
    unlinkSync(tmp);
  } catch {
    /* none left over */
  }
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

/** The FIFOs of a run directory (made by `ensureFifos`, all services' at once: one mkfifo process). */
export function runDirFifos(runDir: string): string[] {
  return [join(runDir, RUN_DIR.log, LOG.stdoutPipe), join(runDir, RUN_DIR.log, LOG.stderrPipe)];
}

/** The scripts a service's configuration asks for: file name → text. */
export function scriptsOf(svc: ServiceConfig): Map<string, string> {
  const scripts = new Map<string, string>([
    [SCRIPT.start, svc.startScript],
    [SCRIPT.stop, svc.stopScript],
    [SCRIPT.reload, svc.reloadScript],
  ]);
  if (svc.pipeStdoutScript) scripts.set(SCRIPT.pipeStdout, svc.pipeStdoutScript);
  if (svc.pipeStderrScript) scripts.set(SCRIPT.pipeStderr, svc.pipeStderrScript);
  for (const a of svc.customActions) scripts.set(a.name, a.script);
  return scripts;
}

/**
 * Create or update the run directory. Scripts that changed take effect on their next run; the
 * buddy re-reads buddy.json when told to (`reconfigure`). Returns true when buddy.json changed.
 */
export function prepareRunDir(runDir: string, svc: ServiceConfig, settings: BuddySettings): boolean {
  ensureDir(runDir);
  const scriptsDir = join(runDir, RUN_DIR.scripts);
  const actionsDir = join(runDir, RUN_DIR.actions);
  const logDir = join(runDir, RUN_DIR.log);
  for (const d of [scriptsDir, actionsDir, logDir]) ensureDir(d);

  // A service that runs as another user (SetUID/SetGID, controller running as root) executes its
  // scripts through a descriptor the buddy opens (see buddy/spawn-script.ts): the directories stay
  // 0700; the scripts are root's, executable by the service's group, writable by nobody else.
  const group = settings.uid !== null || settings.gid !== null ? settings.gid : null;
  const scriptMode = group === null ? 0o700 : 0o750;
  const scripts = scriptsOf(svc);
  for (const [name, text] of scripts) {
    const file = join(scriptsDir, name);
    updateWhole(file, text, scriptMode);
    if (group !== null) chownSync(file, 0, group);
  }
  for (const name of readdirSync(scriptsDir)) {
    if (!scripts.has(name)) unlinkSync(join(scriptsDir, name));
  }

  const links = new Map<string, string>([
    [SCRIPT.start, SCRIPT.start],
    [SCRIPT.stop, SCRIPT.stop],
    [SCRIPT.reload, SCRIPT.reload],
  ]);
  svc.customActions.forEach((a, i) => links.set(actionNumber(i), a.name));
  for (const [link, script] of links) linkTo(join(actionsDir, link), `../${RUN_DIR.scripts}/${script}`);
  for (const name of readdirSync(actionsDir)) {
    if (!links.has(name)) unlinkSync(join(actionsDir, name));
  }

  return updateWhole(join(runDir, RUN_DIR.settings), JSON.stringify(settings, null, 2) + '\n', 0o600);
}

/** The buddy's settings for a service; `baseEnv` is what the controller passes on to services. */
export function buddySettings(
  svc: ServiceConfig,
  uuid: string,
  runDir: string,
  baseEnv: Record<string, string>,
  controllerEndpoint: string | null,
): BuddySettings {
  const environment: Record<string, string> = { ...baseEnv };
  for (const [k, v] of Object.entries(svc.environment)) {
    if (v === null) delete environment[k];
    else environment[k] = v;
  }
  environment.UPKEEPER_SERVICE = svc.id;
  environment.UPKEEPER_SERVICE_UUID = uuid;
  environment.UPKEEPER_RUN_DIR = runDir;
  if (svc.instance !== undefined) environment.UPK_INSTANCE = String(svc.instance);
  return {
    settingsVersion: 1,
    service: svc.id,
    uuid,
    killTimeout: svc.killTimeout,
    maxConsecutiveFailures: svc.maxConsecutiveFailures,
    userMaxRestarts: svc.userMaxRestarts,
    userRestartWindow: svc.userRestartWindow,
    userRateLimit: svc.userRateLimit,
    randomizeRateLimit: svc.randomizeRateLimit,
    minUptime: svc.minUptime,
    serviceType: svc.serviceType,
    readyFd: svc.readyFd,
    readyLine: svc.readyLine,
    startTimeout: svc.startTimeout,
    watchdogSec: svc.watchdogSec,
    maxRunTime: svc.maxRunTime,
    schedule: svc.schedule,
    scheduleOverlap: svc.scheduleOverlap,
    cronRestart: svc.cronRestart,
    pidFile: svc.pidFile,
    processMatch: svc.processMatch,
    ringbufferSize: svc.ringbufferSize,
    reconnectRetries: svc.reconnectRetries,
    journalMaxEvents: svc.journalMaxEvents,
    controllerEndpoint,
    logMaxSize: svc.logMaxSize,
    logKeep: svc.logKeep,
    logTimestamps: svc.logTimestamps,
    sampleInterval: svc.sampleInterval,
    healthCheck: svc.healthCheck,
    healthInterval: svc.healthInterval,
    healthTimeout: svc.healthTimeout,
    healthRetries: svc.healthRetries,
    healthRecoveries: svc.healthRecoveries,
    healthStartPeriod: svc.healthStartPeriod,
    healthAction: svc.healthAction,
    healthExpect: svc.healthExpect,
    healthFailLine: svc.healthFailLine,
    readyCheck: svc.readyCheck,
    readyCheckInterval: svc.readyCheckInterval,
    maxMemory: svc.maxMemory,
    maxMemoryAction: svc.maxMemoryAction,
    maxCpu: svc.maxCpu,
    maxCpuWindow: svc.maxCpuWindow,
    listen: svc.listen,
    restartMode: svc.restartMode,
    maxCpuAction: svc.maxCpuAction,
    activityFile: svc.activityFile,
    activityTimeout: svc.activityTimeout,
    activityAction: svc.activityAction,
    customActions: svc.customActions.map((a) => a.name),
    startCommand: directCommand(svc.startScript, svc.execStart),
    stopSignal: directStopSignal(svc.stopScript, svc.execStop),
    pipeStdout: svc.pipeStdoutScript !== null,
    pipeStderr: svc.pipeStderrScript !== null,
    redirectStdout: svc.redirectStdout,
    redirectStderr: svc.redirectStderr,
    environment,
    environmentFiles: svc.environmentFiles,
    // Another user cannot enter the run directory: such a service starts in / unless told otherwise.
    workingDirectory: svc.workingDirectory ?? (svc.setUid === null && svc.setGid === null ? runDir : '/'),
    uid: svc.setUid,
    gid: svc.setGid,
  };
}

/** The uuid a run directory's buddy.json records (what the service was), or null. */
export function recordedUuid(runDir: string): string | null {
  try {
    const { uuid } = readSettings(join(runDir, RUN_DIR.settings));
    return UUID_RE.test(uuid) ? uuid : null;
  } catch {
    return null;
  }
}

/** What services inherit from the controller: its environment, and where to find it. */
export function serviceEnvironment(config: ControllerConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  if (config.file) env.UPKEEPER_CONFIG = config.file;
  return env;
}
