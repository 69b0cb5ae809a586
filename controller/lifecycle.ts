// The controller's own lifecycle: it serves; `upk shutdown` stops every service and buddy and then the
// controller; a stop (SIGTERM, `upk controller stop`) ends the controller alone, buddies running on.
//
//     serving ──beginShutdown──▶ shutting-down ──beginStop──▶ stopping
//     serving ──beginStop──▶ stopping
import { ErrorCode, UpkError } from '../schema/errors.js';

export type Phase = 'serving' | 'shutting-down' | 'stopping';

export class Lifecycle {
  private current: Phase = 'serving';
  private shutdownAsked = false;

  get phase(): Phase {
    return this.current;
  }

  /** Buddies are started (again) and services supervised only while the controller serves. */
  get supervising(): boolean {
    return this.current === 'serving';
  }

  get stopping(): boolean {
    return this.current === 'stopping';
  }

  /** Why clients are disconnected when the controller stops. */
  get closingReason(): 'shutdown' | 'stop' {
    return this.shutdownAsked ? 'shutdown' : 'stop';
  }

  /** Requests that change services are refused from a shutdown on. */
  refuseDuringShutdown(): void {
    if (this.shutdownAsked) throw new UpkError(ErrorCode.SHUTTING_DOWN, 'the controller is shutting down');
  }

  /** `upk shutdown`: refused when one is already under way (or the controller stops). */
  beginShutdown(): void {
    this.refuseDuringShutdown();
    if (this.current === 'stopping') throw new UpkError(ErrorCode.SHUTTING_DOWN, 'the controller is stopping');
    this.shutdownAsked = true;
    this.current = 'shutting-down';
  }

  /** The controller stops; false when it already does. */
  beginStop(): boolean {
    if (this.current === 'stopping') return false;
    this.current = 'stopping';
    return true;
  }
}
