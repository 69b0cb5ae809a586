// MessagePack, used between clients and the controller.
import { Packr, Unpackr } from 'msgpackr';
import type { Codec } from './codec.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false });

export const msgpackCodec: Codec = {
  name: 'msgpack',
  encode: (message) => packr.pack(message),
  decode: (payload) => unpackr.unpack(payload) as unknown,
};
