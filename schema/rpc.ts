// Request/response/notification messages over framed sockets; shared by all three parties.
import type { Duplex } from 'node:stream';
import type { Codec } from './codec.js';
import { FrameDecoder, encodeFrame } from './framing.js';
import { ErrorCode, UpkError, toUpkError, type WireError } from './errors.js';

/**
 * What a connection runs over: a socket (net.Socket), or any duplex stream of bytes that counts what it
 * wrote (libclient's channel through ssh, `libclient/ssh-channel.ts`).
 */
export type RpcStream = Duplex & { readonly bytesWritten: number };

/** A protocol is an interface from method name to its parameter and result types. */
export type MethodMap<M> = { [K in keyof M]: { params: unknown; result: unknown } };
export type ParamsOf<M extends MethodMap<M>, K extends keyof M> = M[K]['params'];
export type ResultOf<M extends MethodMap<M>, K extends keyof M> = M[K]['result'];

/** Server side of a protocol: one handler per method, typed by the shared definition. */
export type Handlers<M extends MethodMap<M>, Ctx> = {
  [K in keyof M]: (params: ParamsOf<M, K>, ctx: Ctx) => Promise<ResultOf<M, K>> | ResultOf<M, K>;
};

/** Checks a request's params at the receiving end; throws UpkError(BAD_REQUEST). */
export type Validators<M extends MethodMap<M>> = { [K in keyof M]: (params: unknown) => ParamsOf<M, K> };

/**
 * A protocol's notifications are an interface from name to params type (one definition, in schema/,
 * for both ends). The receiving end checks each with its validator (throws UpkError(BAD_REQUEST)),
 * then hands it to its handler.
 */
export type NotificationValidators<N> = { [K in keyof N]: (params: unknown) => N[K] };
export type NotificationHandlers<N> = { [K in keyof N]: (params: N[K]) => void };

/** The methods or notifications of a side that sends none. */
export type NoMessages = Record<never, never>;
/** Any method, params and result: for tests of this layer alone. */
export type AnyMethods = Record<string, { params: unknown; result: unknown }>;

interface Pending {
  resolve(value: unknown): void;
  reject(err: UpkError): void;
  timer: NodeJS.Timeout | undefined;
}

/** The request a server takes first on every connection (one of its methods), and how long a peer has to send it. */
export interface Handshake<Method extends string = string> {
  method: Method;
  deadlineMs: number;
}

/** How long a peer has to say `hello` on any of upkeeper's sockets before it is disconnected. */
export const HELLO_DEADLINE_MS = 10_000;
/** After end(), how long a peer may keep its half of the connection open before it is closed. */
const END_GRACE_MS = 5000;

export interface RpcOptions {
  codec: Codec;
  maxFrameBytes: number;
  /** Called for each request; the returned value (or thrown error) becomes the response. */
  onRequest?: (method: string, params: unknown) => Promise<unknown> | unknown;
  onNotification?: (method: string, params: unknown) => void;
  /** Called once when the connection is gone, with the reason if it was an error. */
  onClose?: (reason: Error | undefined) => void;
  /**
   * A server's handshake: any other request before it succeeds is refused and the connection
   * closed; a failed handshake closes it too; so does silence past the deadline.
   */
  handshake?: Handshake;
  /**
   * Stop reading the peer's requests while more than this many bytes wait to be written to it (a
   * peer that sends and never reads cannot make us buffer without bound). Off when absent.
   */
  maxBufferedBytes?: number;
  /**
   * With maxBufferedBytes: a peer that takes nothing of what waits for this long (ms) is disconnected,
   * and what was buffered for it freed (a client that stopped reading for good).
   */
  stallMs?: number;
  /** Requests of the peer handled at once at most; the next ones wait (and its socket is not read). */
  maxInFlight?: number;
}

/**
 * One framed, multiplexed connection. A malformed frame or message closes this connection and
 * nothing else. A request whose connection closes before its answer fails with INTERRUPTED (it may
 * have been carried out); one made on a closed connection fails with PROTOCOL_ERROR (it was not sent).
 * Typed by the protocol's definitions: `Requests`, the methods the peer answers (what this end may
 * ask), and `Notifications`, what this end may tell it; so neither end writes a message by hand.
 */
export class RpcConnection<Requests extends MethodMap<Requests> = NoMessages, Notifications = NoMessages> {
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** end() was called: nothing more is written. */
  private ending = false;
  private closeReason: Error | undefined;
  /** The handshake: not yet seen (null), in progress (a promise of its success), or done (true). */
  private greeting: Promise<boolean> | true | null = null;
  private deadline: NodeJS.Timeout | undefined;
  /** Frames received and not yet handled (while too much waits to be written, or too many requests run). */
  private readonly inbox: Buffer[] = [];
  /** Requests of the peer being handled now. */
  private inFlight = 0;
  /** The socket is not read (something waits in the inbox, or too much waits to be written). */
  private paused = false;
  /** Waiting for 'drain' (more than maxBufferedBytes wait to be written). */
  private over = false;
  private stall: NodeJS.Timeout | undefined;
  /**
   * Frames written while the socket is backed up, gathered here and written as one chunk at its next
   * 'drain' (a client that reads slowly, or not at all, costs its bytes, not a queue entry per frame).
   */
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  /** Frames at the end of the outbox not yet merged into one chunk. */
  private unmerged = 0;

  constructor(
    readonly socket: RpcStream,
    private readonly options: RpcOptions,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(undefined));
    const hs = options.handshake;
    if (hs) {
      this.deadline = setTimeout(() => {
        if (this.greeting !== true) this.shutdown(new Error(`no ${hs.method} within ${hs.deadlineMs} ms`));
      }, hs.deadlineMs);
      this.deadline.unref();
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** True once the handshake succeeded (always true without one). */
  get greeted(): boolean {
    return !this.options.handshake || this.greeting === true;
  }

  /** Bytes written and not yet taken by the peer's socket. */
  get buffered(): number {
    return this.socket.writableLength + this.outboxBytes;
  }

  /** Ask the peer; the answer is taken as the protocol defines it (a peer's answers are not checked). */
  request<K extends keyof Requests & string>(method: K, params: ParamsOf<Requests, K>, timeoutMs = 0): Promise<ResultOf<Requests, K>> {
    if (this.closed || this.ending) {
      return Promise.reject(new UpkError(ErrorCode.PROTOCOL_ERROR, 'connection is closed', { cause: this.closeReason }));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new UpkError(ErrorCode.TIMEOUT, `no answer to ${method} within ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send({ id, method, params })) {
        this.pending.delete(id);
        if (timer) clearTimeout(timer);
        reject(new UpkError(ErrorCode.LIMIT_REACHED, `the request ${method} is larger than one message may carry`));
      }
    });
  }

  /** Send a notification; false when the connection is closed or it is too large for a frame. */
  notify<K extends keyof Notifications & string>(name: K, params: Notifications[K]): boolean {
    return !this.closed && !this.ending && this.send({ method: name, params });
  }

  /** Close after flushing what was written; nothing more is sent. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.inbox.length = 0; // nothing more is handled: what came after is dropped
    const rest = this.takeOutbox();
    if (rest) this.socket.end(rest);
    else this.socket.end();
    // A peer that keeps its half open gets a moment to read what was sent, then the socket goes.
    setTimeout(() => this.shutdown(undefined), END_GRACE_MS).unref();
  }

  destroy(reason?: Error): void {
    this.shutdown(reason);
  }

  /** Write one message; false (nothing written) when it would exceed the frame limit. */
  private send(message: object): boolean {
    if (this.ending || this.closed) return false;
    const payload = this.options.codec.encode(message);
    if (payload.length > this.options.maxFrameBytes) return false;
    const frame = encodeFrame(payload);
    if (this.outbox.length > 0 || this.socket.writableNeedDrain) this.gather(frame);
    else this.socket.write(frame);
    const limit = this.options.maxBufferedBytes;
    if (limit !== undefined && !this.over && this.buffered > limit) {
      this.over = true;
      this.updateReading();
      this.armStall();
    }
    return true;
  }

  private gather(frame: Buffer): void {
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    if (++this.unmerged >= 256) {
      this.outbox.push(Buffer.concat(this.outbox.splice(-this.unmerged)));
      this.unmerged = 0;
    }
  }

  private takeOutbox(): Buffer | null {
    if (this.outbox.length === 0) return null;
    const chunk = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox);
    this.outbox = [];
    this.outboxBytes = 0;
    this.unmerged = 0;
    return chunk;
  }

  /** The peer took everything written: write what was gathered meanwhile; read again when under the limit. */
  private onDrain(): void {
    if (this.closed) return;
    const chunk = this.takeOutbox();
    if (chunk) this.socket.write(chunk);
    if (!this.over) return;
    const limit = this.options.maxBufferedBytes ?? Infinity;
    if (this.buffered > limit) {
      this.armStall(); // it read something: the stall counts again from now
      return;
    }
    this.over = false;
    clearTimeout(this.stall);
    this.pump();
  }

  /** With stallMs: disconnect the peer unless it takes something (anything) within that time. */
  private armStall(): void {
    const stallMs = this.options.stallMs;
    if (stallMs === undefined) return;
    clearTimeout(this.stall);
    const taken = this.socket.bytesWritten;
    this.stall = setTimeout(() => {
      if (this.socket.bytesWritten > taken) return this.armStall(); // slow, but it reads
      this.shutdown(
        new Error(`it read nothing for ${stallMs / 1000} s while more than ${this.options.maxBufferedBytes} bytes waited for it`),
      );
    }, stallMs);
    this.stall.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.ending) return;
    try {
      for (const payload of this.decoder.push(chunk)) this.inbox.push(payload);
    } catch (err) {
      this.shutdown(err as Error);
      return;
    }
    this.pump();
  }

  /** True while the next frame must wait: too much waits to be written, or too many requests run. */
  private get blocked(): boolean {
    const max = this.options.maxInFlight;
    return this.over || (max !== undefined && this.inFlight >= max);
  }

  /** Handle the frames received, as far as the peer's reading and the requests in flight allow. */
  private pump(): void {
    while (this.inbox.length > 0 && !this.closed && !this.ending && !this.blocked) {
      const payload = this.inbox.shift()!;
      let message: unknown;
      try {
        message = this.options.codec.decode(payload);
      } catch (err) {
        this.shutdown(new Error(`undecodable ${this.options.codec.name} frame: ${(err as Error).message}`));
        return;
      }
      if (!this.dispatch(message)) {
        this.shutdown(new Error('frame is not a request, response or notification'));
        return;
      }
    }
    this.updateReading();
  }

  /** Read the socket only while nothing waits in the inbox and the peer takes what it is sent. */
  private updateReading(): void {
    if (this.closed) return;
    const wait = this.over || this.inbox.length > 0;
    if (wait && !this.paused) this.socket.pause();
    else if (!wait && this.paused) this.socket.resume();
    this.paused = wait;
  }

  /** Returns false when the message has no valid shape. */
  private dispatch(message: unknown): boolean {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) return false;
    const m = message as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    const hasId = typeof m.id === 'number' && Number.isInteger(m.id);
    if (typeof m.method === 'string') {
      if (hasId) {
        this.inFlight += 1;
        void this.answer(m.id as number, m.method, m.params).finally(() => {
          this.inFlight -= 1;
          this.pump();
        });
      } else if (m.id === undefined) {
        if (this.options.handshake && this.greeting === null) return false; // a server hears nothing before its handshake
        if (!this.greeted) return true; // (one sent right behind the handshake is ignored)
        this.options.onNotification?.(m.method, m.params);
      } else {
        return false;
      }
      return true;
    }
    if (!hasId) return false;
    const pending = this.pending.get(m.id as number);
    if (!pending) return true; // a late answer to a request that timed out
    this.pending.delete(m.id as number);
    if (pending.timer) clearTimeout(pending.timer);
    if (m.error !== undefined) pending.reject(UpkError.fromWire(m.error));
    else pending.resolve(m.result);
    return true;
  }

  private async answer(id: number, method: string, params: unknown): Promise<void> {
    const hs = this.options.handshake;
    if (hs && method === hs.method && this.greeting === true) {
      this.reply(
        { id, error: new UpkError(ErrorCode.PROTOCOL_ERROR, `${hs.method} was already said on this connection`).toWire() },
        method,
      );
      return;
    }
    if (hs && method === hs.method && this.greeting !== true) {
      const done = this.respond(id, method, params);
      this.greeting = done;
      const ok = await done;
      if (ok) {
        this.greeting = true;
        clearTimeout(this.deadline);
      } else {
        this.end(); // a failed handshake (a protocol no one speaks, say): the answer, then nothing more
      }
      return;
    }
    if (hs && this.greeting !== true) {
      // Pipelined behind a handshake in progress: it waits for it. Before any handshake: refused.
      const ok = this.greeting === null ? false : await this.greeting;
      if (!ok) {
        this.reply({ id, error: new UpkError(ErrorCode.PROTOCOL_ERROR, `the first request must be ${hs.method}`).toWire() }, method);
        this.end();
        return;
      }
    }
    await this.respond(id, method, params);
  }

  /** Run a request's handler and send its answer; true when it succeeded. */
  private async respond(id: number, method: string, params: unknown): Promise<boolean> {
    let reply: { id: number; result?: unknown; error?: WireError };
    try {
      if (!this.options.onRequest) throw new UpkError(ErrorCode.BAD_REQUEST, 'this endpoint takes no requests');
      const result = await this.options.onRequest(method, params);
      reply = { id, result: result === undefined ? null : result };
    } catch (err) {
      reply = { id, error: toUpkError(err).toWire() };
    }
    this.reply(reply, method);
    return reply.error === undefined;
  }

  /** Send an answer; one too large for a frame is replaced by an error saying so. */
  private reply(reply: { id: number; result?: unknown; error?: WireError }, method: string): void {
    if (this.closed || this.ending || this.send(reply)) return;
    const max = this.options.maxFrameBytes;
    const error = new UpkError(
      ErrorCode.LIMIT_REACHED,
      `the answer to ${method} is larger than the ${Math.round(max / 1048576)} MiB one message may carry; ask for less`,
      { details: { maxFrameBytes: max } },
    );
    this.send({ id: reply.id, error: error.toWire() });
  }

  private shutdown(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    clearTimeout(this.deadline);
    clearTimeout(this.stall);
    this.outbox = [];
    this.outboxBytes = 0;
    this.socket.destroy();
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new UpkError(ErrorCode.INTERRUPTED, `the connection closed before the answer came${reason ? ` (${reason.message})` : ''}`));
    }
    this.pending.clear();
    this.options.onClose?.(reason);
  }
}

/** Dispatch a request to typed handlers after validating its params. */
export async function dispatchTyped<M extends MethodMap<M>, Ctx>(
  handlers: Handlers<M, Ctx>,
  validators: Validators<M>,
  method: string,
  params: unknown,
  ctx: Ctx,
): Promise<unknown> {
  if (!Object.prototype.hasOwnProperty.call(handlers, method)) {
    throw new UpkError(ErrorCode.BAD_REQUEST, `unknown method ${JSON.stringify(method)}`);
  }
  const key = method as keyof M;
  const checked = validators[key](params ?? {});
  return handlers[key](checked, ctx);
}

/**
 * The `onNotification` of a connection that receives the notifications N: each checked by its
 * validator, then handed to its handler. One of an unknown name or with bad params is dropped and the
 * connection stays open, as a bad request in a good frame is answered with an error and the
 * connection stays open (only a malformed frame closes it); with no answer to carry the error,
 * `dropped` gets it.
 */
export function receiveTyped<N>(
  handlers: NotificationHandlers<N>,
  validators: NotificationValidators<N>,
  dropped: (err: UpkError) => void,
): (method: string, params: unknown) => void {
  return (method, params) => {
    if (!Object.prototype.hasOwnProperty.call(validators, method)) {
      dropped(new UpkError(ErrorCode.BAD_REQUEST, `unknown notification ${JSON.stringify(method)}`));
      return;
    }
    const name = method as keyof N;
    let checked: N[keyof N];
    try {
      checked = validators[name](params ?? {});
    } catch (err) {
      const e = toUpkError(err);
      dropped(new UpkError(e.code, `notification ${method}: ${e.message}`, { cause: err }));
      return;
    }
    handlers[name](checked);
  };
}
