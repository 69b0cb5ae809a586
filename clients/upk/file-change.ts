// A change upk makes to the service files (upk add, upk scale, upk remove --delete-file), applied as
// every change is: checked as upk check-config checks, then the controller's all-or-nothing reload;
// undone when either refuses it, so that the files stay as the configuration in force.
import { checkConfiguration, formatConfigIssue, type Client, type ConfigIssue, type DiscoveryOptions, type ReloadResult } from '../../libclient/index.js';

export interface FileChange {
  /** Make the change on disk. */
  apply(): void;
  /** Put the files back as they were. */
  undo(): void;
}

export type Applied = { ok: true; reload: ReloadResult } | { ok: false; issues: ConfigIssue[] };

/** Apply `change`, check every file, reload; undo the change when the check or the reload finds any problem (or fails). */
export async function applyFileChange(client: Client, change: FileChange, options: DiscoveryOptions): Promise<Applied> {
  change.apply();
  try {
    const check = checkConfiguration(options);
    if (!check.ok) {
      change.undo();
      return { ok: false, issues: check.issues };
    }
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

/** Every problem, as upk check-config prints them, then what was undone. */
export function printRefusal(issues: ConfigIssue[], undone: string): void {
  for (const issue of issues) process.stdout.write(`${formatConfigIssue(issue)}\n`);
  process.stdout.write(`${issues.length} problem${issues.length === 1 ? '' : 's'}: ${undone}; nothing changed\n`);
}

/** The discovery options of upk's --config. */
export function discoveryOptions(config: string | undefined): DiscoveryOptions {
  return config === undefined ? {} : { config };
}
