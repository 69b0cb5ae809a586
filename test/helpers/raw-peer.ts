// A hand-driven peer on one of upkeeper's sockets: it writes any frame (or any bytes), reads the
// messages that come back one at a time, can stop reading, and tells when the other end closed.
import { connect, type Socket } from 'node:net';
import type { Codec } from '../../schema/codec.js';
import { FrameDecoder, encodeFrame } from '../../schema/framing.js';
import { socketAddress } from '../../schema/socket-path.js';

export class RawPeer {
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  private readonly messages: unknown[] = [];
  private waiting: (() => void) | null = null;
  /** Bytes received so far. */
  received = 0;
  /** Resolves when the other end closed the connection. */
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: Socket,
    private readonly codec: Codec,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      for (const payload of this.decoder.push(chunk)) this.messages.push(codec.decode(payload));
      this.waiting?.();
    });
    socket.on('close', () => this.waiting?.());
    socket.on('error', () => undefined);
  }

  static connect(path: string, codec: Codec): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketAddress(path));
      socket.once('connect', () => resolve(new RawPeer(socket, codec)));
      socket.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.socket.write(encodeFrame(this.codec.encode(message)));
  }

  /** The next message, or null when the connection closed first, or after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length === 0) {
      if (this.socket.destroyed || this.socket.readableEnded || Date.now() > deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
    return this.messages.shift()!;
  }

  /** The answer to request `id` (notifications before it are skipped), or null. */
  async answer(id: number, timeoutMs = 5000): Promise<{ result?: unknown; error?: { code: string; message: string } } | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = (await this.next(Math.max(0, deadline - Date.now()))) as { id?: number } | null;
      if (m === null) return null;
      if (m.id === id) return m as never;
    }
  }

  /** Every message received and not yet taken. */
  drain(): unknown[] {
    return this.messages.splice(0);
  }

  /** True when the connection is closed within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  close(): void {
    this.socket.destroy();
  }
}
