// The client requests that change services: start, stop, restart, reload, attach, a custom action, a signal,
// a configuration reload and `upk remove`. Each is audited; what a command means for services that
// depend on each other is decided by service control (service-control.ts), not here.
import type { AuditedParams, ClientMethods, OutcomeItem } from '../schema/client-protocol.js';
import { toUpkError } from '../schema/errors.js';
import type { Handlers } from '../schema/rpc.js';
import { BUDDY_REQUEST_TIMEOUT_MS } from './buddy-link.js';
import type { Buddies } from './buddies.js';
import type { ClientContext } from './client-server.js';
import type { Configuration } from './configuration.js';
import type { Lifecycle } from './lifecycle.js';
import { audited, type AuditParts } from './request-audit.js';
import { describeAction, type ServiceControl } from './service-control.js';
import { serviceStatus, type ServiceEntry } from './service-entry.js';
import type { ServiceTable } from './service-table.js';

type Command = 'start' | 'stop' | 'restart' | 'reload' | 'attach';
export type CommandMethods = 'start' | 'stop' | 'restart' | 'reload' | 'attach' | 'action' | 'signal' | 'config.reload' | 'remove';

export interface CommandParts extends AuditParts {
  readonly services: Pick<ServiceTable, 'resolve' | 'resolveOne'>;
  readonly lifecycle: Pick<Lifecycle, 'stopping' | 'refuseDuringShutdown'>;
  readonly control: Pick<ServiceControl, 'start' | 'stop' | 'restart' | 'reload' | 'attach' | 'each' | 'startMany' | 'waitingForRestart'>;
  readonly buddies: Pick<Buddies, 'call'>;
  readonly configuration: Pick<Configuration, 'reload' | 'remove'>;
  /** A polling round over these services: their events are in the database after it. */
  collect(entries: ServiceEntry[]): Promise<void>;
}

export function commandHandlers(p: CommandParts): Pick<Handlers<ClientMethods, ClientContext>, CommandMethods> {
  /** One service's part of a request `asked` (its requester); `together`: every service the request names. */
  async function control(
    kind: Command,
    entry: ServiceEntry,
    ctx: ClientContext,
    asked: AuditedParams,
    together?: ReadonlySet<ServiceEntry>,
    overlap = false,
  ): Promise<OutcomeItem> {
    const item = (ok: boolean, message: string, extra: Partial<OutcomeItem> = {}): OutcomeItem => ({
      service: entry.config.id,
      ok,
      message,
      status: serviceStatus(entry),
      ...extra,
    });
    try {
      const params =
        asked.requester === undefined ? { service: entry.config.id } : { service: entry.config.id, requester: asked.requester };
      return await audited(p, ctx, kind, entry, params, async () => {
        let result: OutcomeItem;
        if (kind === 'reload') {
          const r = await p.control.reload(entry);
          result = item(r.ok, r.message, { action: r.action });
        } else {
          const r =
            kind === 'stop'
              ? await p.control.stop(entry, together)
              : kind === 'restart'
                ? await p.control.restart(entry, overlap)
                : kind === 'attach'
                  ? await p.control.attach(entry)
                  : await p.control.start(entry);
          result = item(r.ok, r.message);
        }
        await p.collect([entry]); // the events of this request are in the database before we answer
        result.status = serviceStatus(entry);
        return { ok: result.ok, message: result.message, value: result };
      });
    } catch (err) {
      const e = toUpkError(err);
      return item(false, e.message, { error: e.toWire() });
    }
  }

  const command = (kind: Command) => async (q: { services: string[]; overlap?: boolean } & AuditedParams, ctx: ClientContext) => {
    p.lifecycle.refuseDuringShutdown();
    return p.control.each(kind, p.services.resolve(q.services), (e, together) => control(kind, e, ctx, q, together, q.overlap === true));
  };

  return {
    start: command('start'),
    stop: command('stop'),
    restart: command('restart'),
    reload: command('reload'),
    attach: command('attach'),

    action: async (q, ctx) => {
      p.lifecycle.refuseDuringShutdown();
      const entry = p.services.resolveOne(q.service);
      return audited(p, ctx, 'action', entry, q, async () => {
        const result = await p.buddies.call(entry, 'action', { action: q.action });
        await p.collect([entry]);
        return { ok: result.code === 0, message: describeAction(result), value: result };
      });
    },

    signal: async (q, ctx) => {
      p.lifecycle.refuseDuringShutdown();
      const entry = p.services.resolveOne(q.service);
      return audited(p, ctx, 'signal', entry, q, async () => {
        const params = q.group === undefined ? { signal: q.signal } : { signal: q.signal, group: q.group };
        const result = await p.buddies.call(entry, 'signal', params, BUDDY_REQUEST_TIMEOUT_MS);
        await p.collect([entry]);
        return { ok: true, message: `sent ${q.signal} to ${result.pid}`, value: result };
      });
    },

    'config.reload': async (q, ctx) => {
      const r = await audited(p, ctx, 'config.reload', null, q, async () => {
        const result = await p.configuration.reload('reload');
        const message = result.ok
          ? `applied: ${result.changes.length} change(s)`
          : `refused: ${result.issues.length} problem(s); nothing changed`;
        return { ok: result.ok, message, value: result };
      });
      if (q.restart && r.ok) {
        // The running services whose changes wait for their next start, restarted now (each audited).
        r.restarted = await p.control.each('restart', p.control.waitingForRestart(r.changes), (e) => control('restart', e, ctx, q));
      }
      return r;
    },

    remove: async (q, ctx) => {
      p.lifecycle.refuseDuringShutdown();
      const entries = p.services.resolve(q.services);
      return audited(p, ctx, 'remove', null, q, async () => {
        const changes = await p.configuration.remove(entries);
        return { ok: true, message: `removed ${changes.map((x) => x.service).join(', ')}`, value: changes };
      });
    },
  };
}
