// Request/response/notification messages over framed sockets; shared by all three parties.
import type { Socket } from 'node:net';
import type { Codec } from './codec.js';
import { FrameDecoder, encodeFrame } from './framing.js';
import { ErrorCode, UpkError, toUpkError, type WireError } from './errors.js';

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

interface Pending {
  resolve(value: unknown): void;
  reject(err: UpkError): void;
  timer: NodeJS.Timeout | undefined;
}

export interface RpcOptions {
  codec: Codec;
  maxFrameBytes: number;
  /** Called for each request; the returned value (or thrown error) becomes the response. */
  onRequest?: (method: string, params: unknown) => Promise<unknown> | unknown;
  onNotification?: (method: string, params: unknown) => void;
  /** Called once when the connection is gone, with the reason if it was an error. */
  onClose?: (reason: Error | undefined) => void;
}

/**
 * One framed, multiplexed connection. A malformed frame or message closes this connection and
 * nothing else: pending requests fail with PROTOCOL_ERROR (or CONTROLLER/BUDDY gone, as closed).
 */
export class RpcConnection {
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private closeReason: Error | undefined;

  constructor(
    readonly socket: Socket,
    private readonly options: RpcOptions,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(undefined));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  request(method: string, params: unknown, timeoutMs = 0): Promise<unknown> {
    if (this.closed) {
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
      this.send({ id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    if (!this.closed) this.send({ method, params });
  }

  /** Close after flushing what was written. */
  end(): void {
    if (!this.closed) this.socket.end();
  }

  destroy(reason?: Error): void {
    this.shutdown(reason);
  }

  private send(message: object): void {
    this.socket.write(encodeFrame(this.options.codec.encode(message)));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let payloads: Buffer[];
    try {
      payloads = this.decoder.push(chunk);
    } catch (err) {
      this.shutdown(err as Error);
      return;
    }
    for (const payload of payloads) {
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
      if (this.closed) return;
    }
  }

  /** Returns false when the message has no valid shape. */
  private dispatch(message: unknown): boolean {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) return false;
    const m = message as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    const hasId = typeof m.id === 'number' && Number.isInteger(m.id);
    if (typeof m.method === 'string') {
      if (hasId) {
        void this.answer(m.id as number, m.method, m.params);
      } else if (m.id === undefined) {
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
    let reply: { id: number; result?: unknown; error?: WireError };
    try {
      if (!this.options.onRequest) throw new UpkError(ErrorCode.BAD_REQUEST, 'this endpoint takes no requests');
      const result = await this.options.onRequest(method, params);
      reply = { id, result: result === undefined ? null : result };
    } catch (err) {
      reply = { id, error: toUpkError(err).toWire() };
    }
    if (!this.closed) this.send(reply);
  }

  private shutdown(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.socket.destroy();
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new UpkError(ErrorCode.PROTOCOL_ERROR, `connection closed${reason ? `: ${reason.message}` : ''}`));
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
