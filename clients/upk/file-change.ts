// A change upk makes to the service files (upk add, upk scale, upk remove --delete-file), applied as
// every change is: by the controller's all-or-nothing reload, which checks the files as upk
// reload-config does; undone when it refuses, so that the files stay as the configuration in force.
// One such command at a time (edit-lock.ts): from reading the files to the end of the reload.
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { renameSync, unlinkSync } from 'node:fs';
import {
  formatConfigIssue,
  readControllerConfig,
  type Client,
  type ConfigIssue,
  type DiscoveryOptions,
  type ReloadResult,
} from '../../libclient/index.js';
import { withEditLock } from './edit-lock.js';
import { onFile } from './file-error.js';

export interface FileChange {
  /** Make the change on disk. */
  apply(): void;
  /** Put the files back as they were. */
  undo(): void;
}

export type Applied = { ok: true; reload: ReloadResult } | { ok: false; issues: ConfigIssue[] };

/**
 * Apply `change`, then reload; undo the change when the reload finds any problem (or fails). The
 * environment files are not read here, as reload-config does not read them: a start reads them.
 */
export async function applyFileChange(client: Client, change: FileChange): Promise<Applied> {
  change.apply();
  try {
    const reload = await client.reloadConfig();
    if (!reload.ok) {
      change.undo();
      return { ok: false, issues: reload.issues };
    }
    return { ok: true, reload };
  } catch (err) {
    change.undo();
    throw err;
  }
}

/** Run `edit` (which reads the service files and changes them) as the only upk command doing so. */
export function editingServiceFiles<T>(options: DiscoveryOptions, edit: () => Promise<T>): Promise<T> {
  return withEditLock(readControllerConfig(options).stateDir, edit);
}

/**
 * A file moved aside (not copied), to a name of this command's own that the configuration loader
 * passes over (it reads only `*.conf` not beginning with "."): put back, it is the same file, its
 * mode, owner and kind (a symbolic link stays one) untouched.
 */
export class MovedAside {
  readonly aside: string;
  constructor(readonly file: string) {
    this.aside = join(dirname(file), `.${basename(file)}.upk-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  move(): void {
    onFile('cannot move aside', this.file, () => renameSync(this.file, this.aside));
  }

  putBack(): void {
    onFile(`cannot put back (it is ${this.aside})`, this.file, () => renameSync(this.aside, this.file));
  }

  delete(): void {
    onFile('cannot delete', this.aside, () => unlinkSync(this.aside));
  }
}

/** Every problem, as upk check-config prints them, then what was undone. */
export function printRefusal(issues: ConfigIssue[], undone: string): void {
  for (const issue of issues) process.stdout.write(`${formatConfigIssue(issue)}\n`);
  process.stdout.write(`${issues.length} problem${issues.length === 1 ? '' : 's'}: ${undone}; nothing changed\n`);
}

/** The discovery options of upk's --config. */
export function discoveryOptions(config: string | undefined): DiscoveryOptions {
  return config === undefined ? {} : { config };
}
