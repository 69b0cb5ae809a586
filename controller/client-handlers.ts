// What the controller does for each client request (client-protocol.ts defines them), by concern:
// the controller itself (session-handlers.ts), commands that change services (command-handlers.ts),
// reads (query-handlers.ts; the audit's, audit-handlers.ts; correlations, correlation-handlers.ts) and
// subscriptions (subscription-handlers.ts).
import type { ClientMethods } from '../schema/client-protocol.js';
import type { Handlers } from '../schema/rpc.js';
import { auditHandlers, type AuditParts } from './audit-handlers.js';
import type { ClientContext } from './client-server.js';
import { commandHandlers, type CommandParts } from './command-handlers.js';
import { correlationHandlers, type CorrelationParts } from './correlation-handlers.js';
import { queryHandlers, type QueryParts } from './query-handlers.js';
import { sessionHandlers, type SessionMethods, type SessionParts } from './session-handlers.js';
import { subscriptionHandlers, type SubscriptionParts } from './subscription-handlers.js';
import { timelineHandlers, type TimelineParts } from './timeline-handlers.js';

export type ClientParts = SessionParts &
  CommandParts &
  QueryParts &
  AuditParts &
  CorrelationParts &
  TimelineParts &
  SubscriptionParts & {
    /** Resolves once every buddy is attached and drained. */
    readonly ready: Promise<void>;
  };

/** Until every buddy is attached, requests about services wait; hello and the controller's own requests do not. */
const IMMEDIATE: ReadonlySet<string> = new Set<SessionMethods>(['hello', 'controller.status', 'controller.stop']);

export function makeClientHandlers(p: ClientParts): Handlers<ClientMethods, ClientContext> {
  const handlers: Handlers<ClientMethods, ClientContext> = {
    ...sessionHandlers(p),
    ...commandHandlers(p),
    ...queryHandlers(p),
    ...auditHandlers(p),
    ...correlationHandlers(p),
    ...timelineHandlers(p),
    ...subscriptionHandlers(p),
  };
  for (const name of Object.keys(handlers) as (keyof ClientMethods)[]) {
    if (IMMEDIATE.has(name)) continue;
    const handler = handlers[name] as (q: unknown, ctx: ClientContext) => Promise<unknown>;
    (handlers as Record<string, unknown>)[name] = async (q: unknown, ctx: ClientContext) => {
      await p.ready;
      return handler(q, ctx);
    };
  }
  return handlers;
}
