// Type notify: receives the service's sd_notify datagrams on NOTIFY_SOCKET. Node cannot bind an
// AF_UNIX datagram socket (dgram knows only UDP), and the buddy takes no native addon: a few lines of
// Perl (perl-base, on every Debian and Ubuntu; only its core Socket module) bind the socket and print
// each datagram as one line of hex, which the buddy reads from the relay's stdout. The relay exits
// when its stdin (a pipe from the buddy) closes: it never outlives its buddy.
import { spawn, type ChildProcess } from 'node:child_process';
import { findOnPath, HELPER_TAG } from '../schema/programs.js';

/** The relay, run as `perl -e RELAY PATH`: "bound" once the socket is there, then one hex line per datagram. */
const RELAY =
  HELPER_TAG +
  String.raw`
use strict; use Socket;
my $path = shift;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
unlink $path;
my $mask = umask 0177;
bind($s, pack_sockaddr_un($path)) or die "cannot bind $path: $!\n";
umask $mask;
$| = 1;
print "bound\n";
my $rin = '';
vec($rin, fileno($s), 1) = 1;
vec($rin, fileno(STDIN), 1) = 1;
while (1) {
  my $n = select(my $rout = $rin, undef, undef, undef);
  if ($n < 0) { next if $!{EINTR}; die "select: $!\n"; }
  if (vec($rout, fileno(STDIN), 1)) { my $b; exit 0 unless sysread(STDIN, $b, 512); }
  if (vec($rout, fileno($s), 1)) { my $d; print unpack('H*', $d), "\n" if defined recv($s, $d, 65536, 0); }
}
`;

/** The longest socket path a sockaddr_un holds (108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH = 107;

/** What a datagram says, as systemd's sd_notify(3) defines the fields the buddy uses. */
export interface NotifyMessage {
  ready: boolean;
  status?: string;
  watchdog: boolean;
  stopping: boolean;
  mainPid?: number;
}

/** Parse one datagram: newline-separated VARIABLE=VALUE assignments; unknown ones are ignored. */
export function parseNotify(datagram: string): NotifyMessage {
  const message: NotifyMessage = { ready: false, watchdog: false, stopping: false };
  for (const line of datagram.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const [name, value] = [line.slice(0, eq), line.slice(eq + 1)];
    if (name === 'READY' && value === '1') message.ready = true;
    else if (name === 'STATUS') message.status = value;
    else if (name === 'WATCHDOG' && value === '1') message.watchdog = true;
    else if (name === 'STOPPING' && value === '1') message.stopping = true;
    else if (name === 'MAINPID' && /^[1-9]\d{0,9}$/.test(value)) message.mainPid = Number(value);
  }
  return message;
}

/** Perl's path, from PATH (then /usr/bin and /bin), or null. */
export function findPerl(path = process.env.PATH ?? ''): string | null {
  return findOnPath('perl', `${path}:/usr/bin:/bin`);
}

export interface RelayHandlers {
  /** The socket is bound: the service may be started. */
  bound(): void;
  message(message: NotifyMessage): void;
  /** The relay ended (`error`: why, with what it wrote to stderr). */
  gone(error: string): void;
}

/** Start the relay for `socketPath`; throws when perl cannot be found or started. */
export function startRelay(socketPath: string, on: RelayHandlers): ChildProcess {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH)
    throw new Error(`NOTIFY_SOCKET ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter RunDir`);
  const perl = findPerl();
  if (perl === null) throw new Error('Type notify needs perl (to receive NOTIFY_SOCKET datagrams), and none is in PATH, /usr/bin or /bin');
  const child = spawn(perl, ['-e', RELAY, socketPath], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => (stderr = (stderr + text).slice(-1000)));
  child.stdin.on('error', () => undefined); // (it ended: told by `exit`)
  // One line per datagram (hex, so never a newline inside); a chunk may end mid-line.
  let pending = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (text: string) => {
    const lines = (pending + text).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'bound') on.bound();
      else on.message(parseNotify(Buffer.from(line, 'hex').toString('utf8')));
    }
  });
  let told = false;
  const gone = (why: string): void => {
    if (told) return;
    told = true;
    on.gone(`the NOTIFY_SOCKET relay (${perl}) ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  };
  child.once('error', (err) => gone(`could not run: ${err.message}`));
  child.once('close', (code, signal) => gone(`exited (${signal ?? code})`));
  return child;
}
