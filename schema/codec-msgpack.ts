// MessagePack, used between clients and the controller.
// msgpackr/pack is the plain JavaScript build: it does not load the optional native msgpackr-extract,
// whose lookup and loading cost about 10 ms at every start of upk, and which speeds up only large
// messages (ours are small).
import { Packr, Unpackr } from 'msgpackr/pack';
import type { Codec } from './codec.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false });

export const msgpackCodec: Codec = {
  name: 'msgpack',
  encode: (message) => packr.pack(message),
  decode: (payload) => unpackr.unpack(payload) as unknown,
};
