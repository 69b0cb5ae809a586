// The client requests about the controller itself: hello (the protocol version both speak), its
// status, stopping it alone, and `upk shutdown` (every service and buddy, then the controller).
import type { ClientMethods, ControllerInfo, ControllerStatus, OutcomeItem } from '../schema/client-protocol.js';
import { ErrorCode, UpkError, toUpkError } from '../schema/errors.js';
import type { Handlers } from '../schema/rpc.js';
import type { Buddies } from './buddies.js';
import { negotiate, type ClientContext } from './client-server.js';
import type { Lifecycle } from './lifecycle.js';
import { audited, type AuditParts } from './request-audit.js';
import { serviceStatus } from './service-entry.js';
import type { ServiceTable } from './service-table.js';

export type SessionMethods = 'hello' | 'controller.status' | 'controller.stop' | 'shutdown';

export interface SessionParts extends AuditParts {
  readonly services: Pick<ServiceTable, 'all'>;
  readonly lifecycle: Pick<Lifecycle, 'stopping' | 'beginShutdown'>;
  readonly buddies: Pick<Buddies, 'shutdown'>;
  info(): ControllerInfo;
  status(): ControllerStatus;
  /** Stop the controller (after the answer in hand is sent). */
  stop(): void;
}

export function sessionHandlers(p: SessionParts): Pick<Handlers<ClientMethods, ClientContext>, SessionMethods> {
  return {
    hello: (q, ctx) => {
      const protocol = negotiate(q.protocol);
      if (protocol === null) {
        throw new UpkError(
          ErrorCode.PROTOCOL_ERROR,
          `no common protocol version: client speaks ${q.protocol.min}..${q.protocol.max}, controller ${p.info().protocol}`,
        );
      }
      ctx.protocol = protocol;
      ctx.client = q.client;
      ctx.pid = q.pid || null;
      ctx.user = q.user || null;
      return { protocol, controller: p.info() };
    },

    'controller.status': () => p.status(),

    'controller.stop': async (q, ctx) => {
      await audited(p, ctx, 'controller.stop', null, q, async () => ({ ok: true, message: 'stopping', value: null }));
      setImmediate(() => p.stop());
      return null;
    },

    shutdown: async (q, ctx) => {
      p.lifecycle.beginShutdown();
      const items = await audited(p, ctx, 'shutdown', null, q, async () => {
        const results = await Promise.all(
          p.services.all().map(async (e): Promise<OutcomeItem> => {
            try {
              const outcome = await p.buddies.shutdown(e);
              return { service: e.config.id, ok: outcome.ok, message: outcome.message, status: serviceStatus(e) };
            } catch (err) {
              const u = toUpkError(err);
              return { service: e.config.id, ok: false, message: u.message, status: serviceStatus(e), error: u.toWire() };
            }
          }),
        );
        const ok = results.every((r) => r.ok);
        return { ok, message: ok ? 'every service and buddy stopped' : 'some services did not stop cleanly', value: results };
      });
      setImmediate(() => p.stop());
      return items;
    },
  };
}
