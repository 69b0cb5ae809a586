// The notify relay on its own, with real processes: it binds the socket 0600, passes every datagram
// through, exits when its buddy's end of its stdin closes, and refuses a path too long.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_SOCKET_PATH, startRelay, type NotifyMessage } from '../../buddy/notify-relay.js';

const SEND =
  'use Socket; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die; send($s, $ARGV[1], 0, pack_sockaddr_un($ARGV[0])) or die "send: $!"';

describe('notify relay', { timeout: 20_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'upk-relay-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('binds the socket 0600, relays datagrams in order, and exits when its stdin ends', async () => {
    const path = join(dir, 'notify.sock');
    const messages: NotifyMessage[] = [];
    let bound!: () => void;
    const isBound = new Promise<void>((resolve) => (bound = resolve));
    let gone!: (why: string) => void;
    const isGone = new Promise<string>((resolve) => (gone = resolve));
    let got!: () => void;
    const gotAll = new Promise<void>((resolve) => (got = resolve));
    const relay = startRelay(path, {
      bound,
      message: (m) => {
        messages.push(m);
        if (messages.length === 3) got();
      },
      gone,
    });
    await isBound;
    assert.equal(statSync(path).mode & 0o777, 0o600);
    execFileSync('perl', ['-e', SEND, path, 'STATUS=starting\nline two \xff']);
    execFileSync('perl', ['-e', SEND, path, 'READY=1\nSTATUS=ready\nMAINPID=77']);
    execFileSync('systemd-notify', ['WATCHDOG=1'], { env: { NOTIFY_SOCKET: path } });
    await gotAll;
    assert.equal(messages[0]?.status, 'starting');
    assert.deepEqual([messages[1]?.ready, messages[1]?.status, messages[1]?.mainPid], [true, 'ready', 77]);
    assert.equal(messages[2]?.watchdog, true);
    relay.stdin?.end();
    assert.match(await isGone, /exited \(0\)/);
  });

  it('refuses a socket path longer than a sockaddr_un holds', () => {
    const long = join(dir, 'x'.repeat(MAX_SOCKET_PATH));
    assert.throws(
      () => startRelay(long, { bound: () => undefined, message: () => undefined, gone: () => undefined }),
      /longer than 107 bytes/,
    );
  });
});
