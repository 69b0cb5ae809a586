// The exit codes of upk and upk-controller: one table, documented in docs/cli.md.
import type { ErrorCode } from './errors.js';

export const ExitCode = {
  OK: 0,
  /** An unexpected error (a bug, or the system refused something). */
  ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  CONTROLLER_NOT_RUNNING: 3,
  /** No such service (or no such action of a service). */
  NO_SUCH_SERVICE: 4,
  /** The action failed: a start that did not come up, a script that exited non-zero, a buddy that did not answer. */
  ACTION_FAILED: 5,
  /** `upk status`: a named service is not in its desired state. */
  NOT_IN_DESIRED_STATE: 6,
  /** The configuration has errors. */
  CONFIG_INVALID: 7,
  /** Gave up waiting. */
  TIMEOUT: 8,
  /** `upk-controller`: another controller already runs for this StateDir. */
  CONTROLLER_RUNNING: 9,
  /** The controller went away after the request was sent and before it answered: it may have been carried out. */
  INTERRUPTED: 10,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const BY_ERROR: Record<ErrorCode, ExitCode> = {
  CONTROLLER_NOT_RUNNING: ExitCode.CONTROLLER_NOT_RUNNING,
  CONTROLLER_RUNNING: ExitCode.CONTROLLER_RUNNING,
  NO_SUCH_SERVICE: ExitCode.NO_SUCH_SERVICE,
  AMBIGUOUS_SERVICE: ExitCode.NO_SUCH_SERVICE,
  NO_SUCH_ACTION: ExitCode.NO_SUCH_SERVICE,
  ACTION_FAILED: ExitCode.ACTION_FAILED,
  NOT_RUNNING: ExitCode.ACTION_FAILED,
  BUDDY_UNREACHABLE: ExitCode.ACTION_FAILED,
  SHUTTING_DOWN: ExitCode.ACTION_FAILED,
  BAD_REQUEST: ExitCode.USAGE,
  PROTOCOL_ERROR: ExitCode.ERROR,
  CONFIG_INVALID: ExitCode.CONFIG_INVALID,
  TIMEOUT: ExitCode.TIMEOUT,
  INTERRUPTED: ExitCode.INTERRUPTED,
  LIMIT_REACHED: ExitCode.ERROR,
  INTERNAL: ExitCode.ERROR,
};

export function exitCodeFor(code: ErrorCode): ExitCode {
  return BY_ERROR[code];
}
