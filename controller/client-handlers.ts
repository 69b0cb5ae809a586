// What the controller does for each client request (client-protocol.ts defines them).
import type { ClientMethods, OutcomeItem } from '../schema/client-protocol.js';
import { ErrorCode, UpkError, toUpkError } from '../schema/errors.js';
import { EVENT_TYPE_NAMES, type ActionResult } from '../schema/records.js';
import type { Handlers } from '../schema/rpc.js';
import { BUDDY_REQUEST_TIMEOUT_MS } from './buddy-link.js';
import { storedConfig } from './buddies.js';
import { INTERRUPTED_OUTCOME } from './audit-store.js';
import { negotiate, type ClientContext } from './client-server.js';
import type { Controller } from './controller.js';
import { serviceStatus, type ServiceEntry } from './service-table.js';
import { sendProblems, sendStatus, wantsService, type Subscriber } from './publisher.js';
import { pickMatch } from '../schema/event-filter.js';
import { logTail } from './log-tail.js';
import { eventPage } from './event-pages.js';

type Command = 'start' | 'stop' | 'restart' | 'reload';

/**
 * How long a request that only reads waits for a polling round before it answers with what is known
 * (a buddy that does not answer, or a database that cannot be written, never holds up a read).
 */
export const READ_WAIT_MS = 500;
/** After a reload script, how long its service has to show it survived the reload. */
const RELOAD_SETTLE_MS = 250;

export function makeClientHandlers(c: Controller): Handlers<ClientMethods, ClientContext> {
  const handlers = serviceHandlers(c);
  // Until every buddy is attached, requests about services wait; hello and the controller's own
  // requests do not.
  const immediate = new Set<keyof ClientMethods>(['hello', 'controller.status', 'controller.stop']);
  for (const name of Object.keys(handlers) as (keyof ClientMethods)[]) {
    if (immediate.has(name)) continue;
    const handler = handlers[name] as (p: unknown, ctx: ClientContext) => Promise<unknown>;
    (handlers as Record<string, unknown>)[name] = async (p: unknown, ctx: ClientContext) => {
      await c.ready;
      return handler(p, ctx);
    };
  }
  return handlers;
}

function serviceHandlers(c: Controller): Handlers<ClientMethods, ClientContext> {
  /**
   * Every uuid a service name has had (configured or removed): names resolve as for every command;
   * the name of a service with Instances means every instance configured.
   */
  function uuidsNamed(name: string): string[] {
    const group = instancesNamed(name);
    if (group.length > 1) return group.flatMap((e) => uuidsNamed(e.config.id));
    const configured = c.services.find(name);
    const found = c.store.servicesNamed(configured?.config.id ?? name);
    const ids = [...new Set(found.map((f) => f.id))];
    if (ids.length === 0)
      throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service named ${JSON.stringify(name)} has ever been configured`);
    if (ids.length > 1) {
      throw new UpkError(ErrorCode.AMBIGUOUS_SERVICE, `${name} is ambiguous: ${ids.join(', ')}`, { details: { candidates: ids } });
    }
    return found.map((f) => f.uuid);
  }

  /** The configured services a name means (an unknown name: none). */
  function instancesNamed(name: string): ServiceEntry[] {
    try {
      return c.services.resolve([name]);
    } catch (err) {
      if ((err as UpkError).code === ErrorCode.NO_SUCH_SERVICE) return [];
      throw err;
    }
  }

  function checkTypes(types: string[] | undefined): void {
    const unknown = (types ?? []).filter((t) => !(EVENT_TYPE_NAMES as string[]).includes(t));
    if (unknown.length > 0) {
      throw new UpkError(ErrorCode.BAD_REQUEST, `unknown event type ${unknown.join(', ')} (known: ${EVENT_TYPE_NAMES.join(', ')})`);
    }
  }

  /** Record a client action, run it, record its outcome. */
  async function audited<T>(
    ctx: ClientContext,
    action: string,
    entry: ServiceEntry | null,
    params: unknown,
    run: () => Promise<{ ok: boolean; message: string; value: T }>,
  ): Promise<T> {
    const id = c.store.beginAction({
      client: ctx.client,
      clientPid: ctx.pid,
      clientUser: ctx.user,
      action,
      serviceUuid: entry?.uuid ?? null,
      params,
    });
    try {
      const { ok, message, value } = await run();
      c.store.finishAction(id, ok, message);
      return value;
    } catch (err) {
      // A controller that stops (or whose buddy link closes as it stops) does not know the outcome.
      c.store.finishAction(id, false, c.stopping ? INTERRUPTED_OUTCOME : toUpkError(err).message);
      throw err;
    }
  }

  function refuseDuringShutdown(): void {
    if (c.shuttingDown) throw new UpkError(ErrorCode.SHUTTING_DOWN, 'the controller is shutting down');
  }

  /** One service's part of a request; `together`: every service the request names. */
  async function control(
    kind: Command,
    entry: ServiceEntry,
    ctx: ClientContext,
    together: ReadonlySet<ServiceEntry> = new Set(),
  ): Promise<OutcomeItem> {
    const item = (ok: boolean, message: string, extra: Partial<OutcomeItem> = {}): OutcomeItem => ({
      service: entry.config.id,
      ok,
      message,
      status: serviceStatus(entry),
      ...extra,
    });
    try {
      return await audited(ctx, kind, entry, { service: entry.config.id }, async () => {
        let result: OutcomeItem;
        if (kind === 'reload') {
          const link = await c.buddies.linkOf(entry);
          const before = entry.status?.pid ? { pid: entry.status.pid, at: Date.now() } : null;
          const action = await link.call('reload', {});
          result = item(action.code === 0, describeAction(action), { action });
          // A reload after which the service's process is gone (a HUP it does not handle) is no reload.
          if (before?.pid && action.code === 0) {
            await new Promise((r) => setTimeout(r, RELOAD_SETTLE_MS));
            await c.poller.collect([entry], READ_WAIT_MS);
            const after = entry.status;
            if (after && after.pid !== before.pid) {
              const exit = after.lastExit && Date.parse(after.lastExit.at) >= before.at ? after.lastExit : null;
              const how = exit ? (exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`) : 'exited';
              const next = after.pid ? `, and was started again (pid ${after.pid})` : '';
              result = item(
                false,
                `${describeAction(action)}, but the process ${before.pid} ${how}${next}: it does not reload on this signal`,
                { action },
              );
            }
          }
        } else if (kind === 'stop') {
          c.setDesired(entry, 'stopped');
          const outcome = await (await c.buddies.linkOf(entry)).call('stop', { controller: true });
          entry.status = outcome.status;
          // Stopping a prerequisite leaves the services that need it alone (docs/controller.md).
          // (Those the same request stops are not told as left running: they are stopping too.)
          const dependents = c.starter
            .dependentsUp(entry)
            .filter((d) => !together.has(d))
            .map((d) => d.config.id);
          const note = dependents.length > 0 ? `; still running, and needing it: ${dependents.join(', ')}` : '';
          result = item(outcome.ok, outcome.message + note);
        } else {
          if (kind === 'restart') c.setDesired(entry, 'running'); // a start sets it once no conflict refuses it
          if (kind === 'restart' && c.starter.prerequisitesUp(entry)) {
            const outcome = await (await c.buddies.linkOf(entry)).call('restart', { controller: true });
            entry.status = outcome.status;
            result = item(outcome.ok, outcome.message);
          } else {
            // A start (or a restart whose prerequisites are down): prerequisites first.
            if (kind === 'restart') await (await c.buddies.linkOf(entry)).call('stop', { controller: true });
            const outcome = await c.starter.start(entry);
            result = item(outcome.ok, outcome.message);
          }
        }
        await c.poller.collect([entry]); // the events of this action are in the database before we answer
        result.status = serviceStatus(entry);
        return { ok: result.ok, message: result.message, value: result };
      });
    } catch (err) {
      const e = toUpkError(err);
      return item(false, e.message, { error: e.toWire() });
    }
  }

  const commandHandler = (kind: Command) => async (p: { services: string[] }, ctx: ClientContext) => {
    refuseDuringShutdown();
    const entries = c.services.resolve(p.services);
    if (kind === 'start' || kind === 'restart') return c.starter.startMany(entries, (e) => control(kind, e, ctx));
    const together = new Set(entries);
    return Promise.all(entries.map((e) => control(kind, e, ctx, together)));
  };

  return {
    hello: (p, ctx) => {
      const protocol = negotiate(p.protocol);
      if (protocol === null) {
        throw new UpkError(
          ErrorCode.PROTOCOL_ERROR,
          `no common protocol version: client speaks ${p.protocol.min}..${p.protocol.max}, controller ${c.info().protocol}`,
        );
      }
      ctx.protocol = protocol;
      ctx.client = p.client;
      ctx.pid = p.pid || null;
      ctx.user = p.user || null;
      return { protocol, controller: c.info() };
    },

    'controller.status': () => ({
      ...c.info(),
      ready: c.isReady,
      uptimeMs: Date.now() - c.startedAt,
      services: c.services.size,
      buddies: c.services.all().filter((e) => e.link?.open).length,
      clients: c.clientConnections,
      maxClients: c.maxClientConnections,
      configIssues: c.configuration.issues,
      problems: c.problems.list(),
    }),

    'controller.stop': async (_p, ctx) => {
      await audited(ctx, 'controller.stop', null, {}, async () => ({ ok: true, message: 'stopping', value: null }));
      setImmediate(() => void c.stop());
      return null;
    },

    shutdown: async (_p, ctx) => {
      refuseDuringShutdown();
      c.shuttingDown = true;
      const items = await audited(ctx, 'shutdown', null, {}, async () => {
        const entries = c.services.all();
        const results = await Promise.all(
          entries.map(async (e): Promise<OutcomeItem> => {
            try {
              const outcome = await c.buddies.shutdown(e);
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
      setImmediate(() => void c.stop());
      return items;
    },

    list: async () => {
      await c.poller.collect(undefined, READ_WAIT_MS);
      return c.services.all().map(serviceStatus);
    },

    status: async (p) => {
      const entries = p.services && p.services.length > 0 ? c.services.resolve(p.services) : c.services.all();
      await c.poller.collect(entries, READ_WAIT_MS);
      return entries.map(serviceStatus);
    },

    start: commandHandler('start'),
    stop: commandHandler('stop'),
    restart: commandHandler('restart'),
    reload: commandHandler('reload'),

    action: async (p, ctx) => {
      refuseDuringShutdown();
      const entry = c.services.resolveOne(p.service);
      return audited(ctx, 'action', entry, p, async () => {
        const result = await (await c.buddies.linkOf(entry)).call('action', { action: p.action });
        await c.poller.collect([entry]);
        return { ok: result.code === 0, message: describeAction(result), value: result };
      });
    },

    signal: async (p, ctx) => {
      refuseDuringShutdown();
      const entry = c.services.resolveOne(p.service);
      return audited(ctx, 'signal', entry, p, async () => {
        const params = p.group === undefined ? { signal: p.signal } : { signal: p.signal, group: p.group };
        const result = await (await c.buddies.linkOf(entry)).call('signal', params, BUDDY_REQUEST_TIMEOUT_MS);
        await c.poller.collect([entry]);
        return { ok: true, message: `sent ${p.signal} to ${result.pid}`, value: result };
      });
    },

    events: async (q) => {
      const uuids = q.service === undefined ? null : uuidsNamed(q.service);
      checkTypes(q.types);
      await c.poller.collect(undefined, READ_WAIT_MS);
      return c.store.queryEvents(q, uuids);
    },

    'events.page': async (q) => {
      const uuids = q.service === undefined ? null : uuidsNamed(q.service);
      checkTypes(q.types);
      if (q.cursor === undefined) await c.poller.collect(undefined, READ_WAIT_MS);
      return eventPage(c.store, q, uuids);
    },

    trend: async (q) => {
      await c.poller.collect(undefined, READ_WAIT_MS);
      const asked = q.services && !q.services.includes('all') ? q.services : c.services.all().map((e) => e.config.id);
      // A service with Instances: a series for each instance.
      const named = asked.flatMap((name) => {
        const group = instancesNamed(name);
        return group.length > 1 ? group.map((e) => e.config.id) : [name];
      });
      // Each id with every identity it has had (its current one first), as `events` and `why` read them.
      const picked = named.map((name) => {
        const entry = c.services.find(name);
        const uuids = uuidsNamed(entry?.config.id ?? name);
        return { id: entry?.config.id ?? name, uuids: entry ? [entry.uuid, ...uuids.filter((u) => u !== entry.uuid)] : uuids };
      });
      const created = c.store.createdTimes(picked.flatMap((x) => x.uuids));
      const history = c.store.trends.historyStart() ?? 0;
      return c.store.trends.trend(
        q,
        picked.map((x) => ({ ...x, knownFrom: Math.max(history, Math.min(...x.uuids.map((u) => created.get(u) ?? 0))) })),
      );
    },

    why: async (p) => {
      const entry = c.services.find(p.service);
      const uuids = uuidsNamed(p.service);
      if (entry) await c.poller.collect([entry], READ_WAIT_MS);
      const stored = entry ? null : c.store.serviceByUuid(uuids[0]!);
      const command = (entry?.config ?? (stored ? storedConfig(stored.config) : null))?.execStart ?? null;
      return c.store.failureStory({
        service: entry?.config.id ?? p.service,
        uuid: entry?.uuid ?? uuids[0]!,
        uuids,
        command,
        status: entry ? serviceStatus(entry) : null,
      });
    },

    logs: (p) => {
      const found = p.service === 'all' ? [] : c.services.resolve([p.service]);
      if (found.length !== 1) throw new UpkError(ErrorCode.BAD_REQUEST, 'logs takes one service, not all');
      const entry = found[0]!;
      return logTail(entry.config.id, entry.config, entry.runDir, p.lines ?? 20);
    },

    'config.reload': async (p, ctx) => {
      const r = await audited(ctx, 'config.reload', null, p, async () => {
        const result = await c.configuration.reload('reload');
        const message = result.ok
          ? `applied: ${result.changes.length} change(s)`
          : `refused: ${result.issues.length} problem(s); nothing changed`;
        return { ok: result.ok, message, value: result };
      });
      if (p.restart && r.ok) {
        // The running services whose changes wait for their next start, restarted now (each audited).
        const waiting = r.changes.filter((x) => x.restart).flatMap((x) => c.services.get(x.service) ?? []);
        r.restarted = await c.starter.startMany(waiting, (e) => control('restart', e, ctx));
      }
      return r;
    },

    remove: async (p, ctx) => {
      refuseDuringShutdown();
      const entries = c.services.resolve(p.services);
      return audited(ctx, 'remove', null, p, async () => {
        const changes = await c.configuration.remove(entries);
        return { ok: true, message: `removed ${changes.map((x) => x.service).join(', ')}`, value: changes };
      });
    },

    subscribe: (p, ctx) => {
      const names = p.services && !p.services.includes('all') ? p.services : null;
      const uuids = names === null ? null : new Set(names.flatMap(uuidsNamed));
      checkTypes(p.types);
      const match = pickMatch(p);
      const lastId = c.store.lastEventId();
      const sub: Subscriber = {
        connection: ctx.connection,
        id: p.subscription,
        uuids,
        types: p.types ? new Set(p.types) : null,
        match,
        lastId: p.sinceId ?? lastId,
        live: p.sinceId === undefined,
        who: `${ctx.client} (pid ${ctx.pid ?? '?'})`,
        allowance: 0,
      };
      // The current statuses first; then (with sinceId) the stored events after it, as fast as the
      // client reads, then live ones (publisher.ts).
      c.publisher.add(sub);
      const statuses = c.services
        .all()
        .filter((e) => wantsService(sub, e.uuid))
        .map(serviceStatus);
      for (const status of statuses) sendStatus(sub, status);
      sendProblems(sub, c.problems.list());
      c.publisher.begun(sub, statuses);
      return { subscription: p.subscription, lastId };
    },

    unsubscribe: (p, ctx) => {
      c.publisher.remove(ctx.connection, p.subscription);
      return null;
    },
  };
}

export function describeAction(a: ActionResult): string {
  if (a.signal) return `${a.action} killed by ${a.signal}`;
  return a.code === 0 ? `${a.action} done` : `${a.action} exited with code ${a.code ?? 'unknown'}`;
}
