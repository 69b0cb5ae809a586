// A Unix socket server only this user may use: the socket file is 0600 (and its directory 0700).
import { chmodSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';
import { socketAddress } from './socket-path.js';

/**
 * Listen on `path`, replacing a socket file left there (the caller knows it is stale). `backlog`:
 * connections that may wait to be accepted (the kernel caps it at net.core.somaxconn); past it, a
 * connect(2) fails with EAGAIN.
 */
export function listenPrivate(server: Server, path: string, backlog = 511): Promise<void> {
  removeSocket(path);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: socketAddress(path), backlog }, () => {
      server.off('error', reject);
      chmodSync(path, 0o600);
      resolve();
    });
  });
}

/** Stop accepting, end the open connections (what they were sent still arrives), remove the file. */
export function closePrivate(server: Server, connections: Iterable<{ end(): void }>, path: string): void {
  server.close();
  for (const c of connections) c.end();
  removeSocket(path);
}

function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* none */
  }
}
