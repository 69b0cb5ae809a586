// How a protocol turns messages into frame payloads. Kept apart so a buddy never loads msgpackr.

export interface Codec {
  readonly name: string;
  encode(message: unknown): Uint8Array;
  /** Throws on a payload that is not a well-formed message. */
  decode(payload: Buffer): unknown;
}

/** JSON, used between controller and buddies: free in a buddy (no extra module, ~1 MB less PSS). */
export const jsonCodec: Codec = {
  name: 'json',
  encode: (message) => Buffer.from(JSON.stringify(message), 'utf8'),
  decode: (payload) => JSON.parse(payload.toString('utf8')) as unknown,
};
