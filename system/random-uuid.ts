// A random (version 4) UUID from /dev/urandom, for the buddy: node:crypto, for randomUUID alone,
// would cost every buddy ~11 ms of CPU at start (its loading, measured with perf stat).
import { closeSync, openSync, readSync } from 'node:fs';

export function randomUuid(): string {
  const b = Buffer.alloc(16);
  const fd = openSync('/dev/urandom', 'r');
  try {
    if (readSync(fd, b, 0, 16, null) !== 16) throw new Error('/dev/urandom gave fewer than 16 bytes');
  } finally {
    closeSync(fd);
  }
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // the RFC 4122 variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
