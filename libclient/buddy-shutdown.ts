// `upk shutdown` with no controller running: every buddy found in the run directories is asked to
// stop its service and exit, directly on its own socket (the buddy protocol). Their last events wait
// in their journals for the next controller: nothing is acknowledged, so nothing is lost.
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { BUDDY_MAX_FRAME_BYTES, BUDDY_PROTOCOL, type BuddyMethods } from '../schema/buddy-protocol.js';
import { jsonCodec } from '../schema/codec.js';
import { RpcConnection } from '../schema/rpc.js';
import { RUN_DIR } from '../schema/run-dir.js';
import { socketAddress } from '../schema/socket-path.js';
import { processGone } from './client.js';
import { readControllerConfig, type DiscoveryOptions } from './discovery.js';

/** One buddy's part of a shutdown without a controller. */
export interface BuddyShutdown {
  service: string;
  ok: boolean;
  message: string;
}

/** How long a buddy may take to stop its service (a KillTimeout and its SIGKILL) and then exit. */
const STOP_MS = 120_000;
const EXIT_MS = 30_000;

/**
 * With no controller: stop every buddy that answers in the run directories, and its service. Resolves
 * with an outcome per buddy once each has exited (an empty list: none ran).
 */
export async function shutdownBuddies(options: DiscoveryOptions = {}): Promise<BuddyShutdown[]> {
  const { svcRunPath } = readControllerConfig(options);
  let dirs: string[] = [];
  try {
    dirs = readdirSync(svcRunPath, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(svcRunPath, d.name));
  } catch {
    return [];
  }
  const outcomes = await Promise.all(dirs.map((dir) => shutdownOne(join(dir, RUN_DIR.socket), basename(dir))));
  return outcomes.filter((o): o is BuddyShutdown => o !== null);
}

async function shutdownOne(socketPath: string, dirName: string): Promise<BuddyShutdown | null> {
  const rpc = await new Promise<RpcConnection<BuddyMethods> | null>((resolve) => {
    const s = connect(socketAddress(socketPath));
    s.once('error', () => resolve(null));
    s.once('connect', () => resolve(new RpcConnection(s, { codec: jsonCodec, maxFrameBytes: BUDDY_MAX_FRAME_BYTES })));
  });
  if (!rpc) return null; // no buddy there
  try {
    const hello = await rpc.request('hello', { protocol: BUDDY_PROTOCOL }, 5000);
    const service = hello.status.service;
    try {
      const outcome = await rpc.request('shutdown', {}, STOP_MS);
      rpc.end(); // the buddy exits once no one is left to collect its events (they go to its journal)
      await processGone(hello.pid, EXIT_MS);
      return { service, ok: outcome.ok, message: outcome.ok ? `${outcome.message}; its buddy exited` : outcome.message };
    } catch (err) {
      return { service, ok: false, message: (err as Error).message };
    }
  } catch (err) {
    // Something listens on the buddy's socket and does not answer hello: a buddy that is stuck (or
    // stopped by a signal); never skipped in silence, since its service may run on.
    return {
      service: dirName,
      ok: false,
      message: `the buddy on ${socketPath} does not answer (${(err as Error).message}): it and its service may still run (their pids are in ${join(dirname(socketPath), RUN_DIR.status)})`,
    };
  } finally {
    rpc.destroy();
  }
}
