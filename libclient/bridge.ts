// `upk bridge`, the far end of a connection through ssh: standard input and output joined to this machine's controller socket, byte for byte.
import { connect as netConnect, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, UpkError } from '../schema/errors.js';
import { socketAddress } from '../schema/socket-path.js';
import { controllerSocket, notRunningError, readControllerConfig, type DiscoveryOptions } from './discovery.js';

/** After the client's end (ssh's standard input closed), how long the controller has to close its side before the bridge does. */
const END_GRACE_MS = 1000;

/**
 * Connect to the controller that `options` name (found as every client finds it; never a `host`),
 * then copy `input` to it and its answers to `output` until either side closes: the end of `input`
 * (the client, or its ssh, went away: nobody reads the answers any more) ends the bridge within
 * END_GRACE_MS, even when the controller does not close its side (it hangs). Rejects before
 * anything was copied: CONTROLLER_NOT_RUNNING (no controller answers), CONFIG_INVALID.
 */
export async function bridge(options: DiscoveryOptions, input: Readable, output: Writable): Promise<void> {
  const config = readControllerConfig(options);
  const path = controllerSocket(config);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect(socketAddress(path));
    s.once('connect', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => {
      const missing = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      const why = missing
        ? new UpkError(ErrorCode.CONTROLLER_NOT_RUNNING, `the controller is not running (no answer on ${path})`, { cause: err })
        : new UpkError(ErrorCode.PROTOCOL_ERROR, `${path}: ${err.message}`, { cause: err });
      reject(notRunningError(why, config, options));
    });
  });
  await new Promise<void>((resolve) => {
    socket.on('error', () => undefined); // the controller went away: the close below ends the bridge
    output.on('error', () => socket.destroy()); // ssh went away
    input.on('error', () => socket.destroy());
    input.pipe(socket); // input's end half-closes the socket: the controller ends the connection
    socket.pipe(output, { end: false });
    let grace: NodeJS.Timeout | undefined;
    let closed = false;
    // A controller that does not end it (stopped, or stuck) must not hold the bridge on the host for ever.
    const clientGone = (): void => {
      if (!closed && grace === undefined) grace = setTimeout(() => socket.destroy(), END_GRACE_MS);
    };
    input.once('end', clientGone);
    input.once('close', clientGone);
    socket.once('close', () => {
      closed = true;
      clearTimeout(grace);
      input.unpipe(socket);
      input.destroy();
      resolve();
    });
  });
}
