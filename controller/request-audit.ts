// The audit trail of client requests: each request that changes something is recorded before it
// runs and completed with its outcome (docs/controller.md, the audit trail).
import type { AuditedParams } from '../schema/client-protocol.js';
import { toUpkError } from '../schema/errors.js';
import { INTERRUPTED_OUTCOME, type AuditStore } from './audit-store.js';
import type { ClientContext } from './client-server.js';
import type { Lifecycle } from './lifecycle.js';
import type { ServiceEntry } from './service-entry.js';

export interface AuditParts {
  readonly store: Pick<AuditStore, 'beginRequest' | 'finishRequest'>;
  readonly lifecycle: Pick<Lifecycle, 'stopping'>;
}

/** What an audited request did: recorded as its outcome; `value` is its answer. */
export interface Done<T> {
  ok: boolean;
  message: string;
  value: T;
}

/**
 * Record a client request, run it, record its outcome. The `requester` among `params` (who asked,
 * for a client that acts for others) is recorded in its own column, and the rest as the params.
 */
export async function audited<T>(
  parts: AuditParts,
  ctx: ClientContext,
  request: string,
  entry: ServiceEntry | null,
  params: object,
  run: () => Promise<Done<T>>,
): Promise<T> {
  const { requester, ...recorded } = params as AuditedParams;
  const id = parts.store.beginRequest({
    client: ctx.client,
    clientPid: ctx.pid,
    clientUser: ctx.user,
    requester: requester ?? null,
    request,
    serviceUuid: entry?.uuid ?? null,
    params: recorded,
  });
  try {
    const { ok, message, value } = await run();
    parts.store.finishRequest(id, ok, message);
    return value;
  } catch (err) {
    // A controller that stops (or whose buddy link closes as it stops) does not know the outcome.
    parts.store.finishRequest(id, false, parts.lifecycle.stopping ? INTERRUPTED_OUTCOME : toUpkError(err).message);
    throw err;
  }
}
