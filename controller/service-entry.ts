// One service in the controller's memory: its configuration and identity, its standing in the
// configuration, its buddy link and last known status, and the client-facing status derived from them.
import type { ServiceConfig } from '../schema/config/types.js';
import type { BuddyStatus, DesiredState, ServiceStatus, Unsupervised } from '../schema/records.js';
import { processAlive } from '../system/process-group.js';
import type { BuddyLink } from './buddy-link.js';

/**
 * Where a service stands in the configuration. Its transitions, each one method below:
 *
 *     configured ──markMissing──▶ missing ──reconfigure──▶ configured
 *     configured | missing ──retire──▶ retiring ──(ServiceTable.remove)──▶ removed
 *
 * `missing`: the files no longer define it; it keeps its last good configuration until `upk remove`.
 * `retiring`: being removed (or replaced by a new identity): its buddy is shut down and never started
 * again. `removed`: out of the table; its history stays in the database.
 */
export type Standing = 'configured' | 'missing' | 'retiring' | 'removed';

/**
 * A service in the controller's memory. Its fields change only through the named transitions below,
 * each called by the one part that owns that decision (noted on each).
 */
export class ServiceEntry {
  private _standing: Standing;
  private _config: ServiceConfig;
  private _desired: DesiredState;
  private _link: BuddyLink | null = null;
  private _status: BuddyStatus | null;
  private _startDue = false;
  private _waitingFor: string[] | null = null;
  private _unsupervised: Unsupervised | null = null;

  constructor(
    config: ServiceConfig,
    readonly uuid: string,
    readonly runDir: string,
    /** What the user wants (kept in the database). */
    desired: DesiredState,
    status: BuddyStatus | null = null,
    standing: Standing = 'configured',
  ) {
    this._config = config;
    this._desired = desired;
    this._status = status;
    this._standing = standing;
  }

  /** A removed service's buddy found running: it is retired from the start (buddies.ts). */
  static stray(config: ServiceConfig, uuid: string, runDir: string): ServiceEntry {
    return new ServiceEntry(config, uuid, runDir, 'stopped', null, 'retiring');
  }

  get standing(): Standing {
    return this._standing;
  }
  get config(): ServiceConfig {
    return this._config;
  }
  get desired(): DesiredState {
    return this._desired;
  }
  /** The link to its buddy (open or closed), or null when none is bound. */
  get link(): BuddyLink | null {
    return this._link;
  }
  /** The buddy's last answer, kept while it is unreachable. */
  get status(): BuddyStatus | null {
    return this._status;
  }
  /** Being removed, or removed: its buddy is not started again when it exits. */
  get retired(): boolean {
    return this._standing === 'retiring' || this._standing === 'removed';
  }
  /** No longer in the configuration files: it keeps its last good configuration until `upk remove`. */
  get missing(): boolean {
    return this._standing === 'missing';
  }
  /** Reconciliation found it should start (service control starts it, in order with the others). */
  get startDue(): boolean {
    return this._startDue;
  }
  /** Prerequisites it waits for before it starts (shown as the state `waiting`), or null. */
  get waitingFor(): string[] | null {
    return this._waitingFor;
  }
  /** No buddy could be started for it: why, since when, and how many launches failed (retried meanwhile). */
  get unsupervised(): Unsupervised | null {
    return this._unsupervised;
  }

  // Configuration (configuration.ts).

  /** The files define it (again), with this configuration: a missing service is configured again. Was it missing? */
  reconfigure(config: ServiceConfig): boolean {
    const wasMissing = this._standing === 'missing';
    this._config = config;
    if (wasMissing) this._standing = 'configured'; // (one being removed stays so)
    return wasMissing;
  }

  /** The files no longer define it: it keeps its last configuration. False when it was already missing. */
  markMissing(): boolean {
    if (this._standing !== 'configured') return false;
    this._standing = 'missing';
    return true;
  }

  /** It is being removed (configuration.ts, buddies.ts): from here on its buddy is not started again. */
  retire(): void {
    if (this._standing !== 'removed') this._standing = 'retiring';
  }

  // Desired state (the controller's setDesired: it records it in the database too).

  /** False when it was already so. A start still due is no longer due once it is wanted stopped. */
  setDesired(desired: DesiredState): boolean {
    if (desired === 'stopped') this._startDue = false;
    if (this._desired === desired) return false;
    this._desired = desired;
    return true;
  }

  // Buddy and status (buddies.ts binds and loses links; anyone with a fresh answer records it).

  /** A buddy serves it now, and said this in its hello. */
  bind(link: BuddyLink): void {
    this._link = link;
    this._status = link.hello.status;
  }

  /** Its link closed: false when that link was no longer its own (a newer one is bound). */
  unbind(link: BuddyLink): boolean {
    if (this._link !== link) return false;
    this._link = null;
    return true;
  }

  /** A fresh answer of its buddy (a poll, a command's outcome). */
  observe(status: BuddyStatus): void {
    this._status = status;
  }

  // Starting (buddies.ts's reconciliation marks a start due; service control carries it out).

  markStartDue(): void {
    this._startDue = true;
  }

  /** Its start was sent to its buddy. */
  startSent(): void {
    this._startDue = false;
  }

  /** It waits for these prerequisites (null: it no longer waits). */
  waitFor(refs: string[] | null): void {
    this._waitingFor = refs && refs.length > 0 ? refs : null;
  }

  // Supervision (buddies.ts).

  markUnsupervised(why: Unsupervised): void {
    this._unsupervised = why;
  }

  /** A buddy runs for it again; false when it was not unsupervised. */
  markSupervised(): boolean {
    if (!this._unsupervised) return false;
    this._unsupervised = null;
    return true;
  }

  /** Out of the table (ServiceTable.remove). */
  removed(): void {
    this._standing = 'removed';
  }
}

/** The client-facing status of a service (every view derives from this). */
export function serviceStatus(e: ServiceEntry): ServiceStatus {
  const s = e.status;
  const reachable = e.link?.open === true;
  // Without a buddy the last status may be stale: its process is shown only while it provably runs.
  const running = s?.pid != null && (reachable || processAlive(s.pid, s.pidStartTime));
  return {
    name: e.config.id,
    package: e.config.package,
    uuid: e.uuid,
    state: e.waitingFor ? 'waiting' : reachable && s ? s.state : 'unknown',
    desired: e.desired,
    pid: running ? s.pid : null,
    buddyPid: reachable ? e.link.pid : null,
    started: running ? (s?.started ?? null) : null,
    since: s?.since ?? null,
    restarts: s?.restarts ?? 0,
    failures: s?.failures ?? 0,
    lastExit: s?.lastExit ?? null,
    hold: s?.hold ?? null,
    waitingFor: e.waitingFor,
    usage: reachable ? (s?.usage ?? null) : null,
    health: reachable ? (s?.health ?? null) : null,
    actions: e.config.customActions.map((a) => a.name),
    description: e.config.shortDescription,
    unsupervised: e.unsupervised,
    ...(reachable && running && s?.notify?.status ? { statusText: s.notify.status } : {}),
    ...(reachable && s?.listen ? { listen: s.listen } : {}),
    ...(reachable && s?.nextRun ? { nextRun: s.nextRun } : {}),
    ...(reachable && s?.previous ? { previous: s.previous } : {}),
  };
}
