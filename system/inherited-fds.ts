// Descriptors a process inherited by mistake: a shell's open file or a parent's pipe without
// close-on-exec would otherwise pass from the controller to every buddy and from a buddy to its
// service (systemd closes them for its services too). Node opens all of its own with close-on-exec.
import { closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

const O_CLOEXEC = 0o2000000;

/** Close every descriptor above 2 that lacks close-on-exec; the numbers closed. */
export function closeInheritedDescriptors(): number[] {
  const closed: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return closed; // no /proc: nothing to judge by
  }
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    let flags: number;
    try {
      const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (m === null) continue;
      flags = parseInt(m[1]!, 8);
    } catch {
      continue; // closed meanwhile (the listing's own descriptor)
    }
    if ((flags & O_CLOEXEC) !== 0 || ownFile(fd)) continue;
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // gone already
    }
  }
  return closed;
}

/**
 * A file named with this process's pid was opened by node itself, before any of our code ran, and
 * without close-on-exec: V8's perf map (--perf-basic-prof: /tmp/perf-PID.map), its log (--prof:
 * isolate-…-PID-v8.log), a jitdump (--perf-prof). Closed, its descriptor number would go to the next
 * file opened (the audit database) and V8 would write into that.
 */
function ownFile(fd: number): boolean {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    return target.startsWith('/') && new RegExp(`(^|\\D)${process.pid}(\\D|$)`).test(basename(target));
  } catch {
    return false;
  }
}
