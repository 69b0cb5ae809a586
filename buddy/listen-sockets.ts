// Listen (docs/buddy.md, "Listening sockets"): the service's sockets are opened and held by a holder, a
// few lines of Perl in a session of its own, so that they outlive every run and every buddy; each run
// takes them from it on its way to the start script (pidfd_getfd), as systemd's socket activation gives
// them: descriptors 3, 4…, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES. Node can neither hold a listening
// socket without accepting on it nor receive a descriptor from another process; Perl's core can both
// bind and, through syscall(), take a descriptor from a process that allowed it.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { BuddySettings } from '../schema/buddy-protocol.js';
import type { ListenSocket } from '../schema/listen.js';
import { HELPER_TAG } from '../schema/programs.js';
import { RUN_DIR } from '../schema/run-dir.js';
import { writeWhole } from '../system/files.js';
import { processAlive, processStartTime } from '../system/process-group.js';
import { findPerl } from './notify-relay.js';

/** How long the holder may take to open the sockets and say so. */
const HOLDER_START_MS = 5000;
/** A holder let go gets this long after SIGTERM to close its sockets (then SIGKILL); a new one waits for it. */
const HOLDER_LEAVE_MS = 2000;
const HOLDER_LEAVE_POLL_MS = 20;
const PERL_MISSING = 'Listen needs perl, and none is in PATH, /usr/bin or /bin';

/**
 * The holder: argv RUN_DIR, then six words a socket (kind host port path backlog mode). Says
 * "ok FD…" or "error INDEX MESSAGE" on stdout; then holds the sockets until SIGTERM (it removes its
 * Unix socket files then), or until the run directory is gone or its `listen` record no longer names
 * it (lost with a buddy, or overwritten): no buddy would let it go, and it would keep the addresses
 * from every later holder. PR_SET_PTRACER_ANY lets a run's start
 * script, which is not its descendant, take them where the Yama LSM restricts ptrace (scope 1).
 */
const HOLDER =
  HELPER_TAG +
  String.raw`
use strict; use warnings; use Config; use Socket qw(:DEFAULT inet_pton IPPROTO_IPV6 IPV6_V6ONLY);
$SIG{PIPE} = 'IGNORE'; $SIG{HUP} = 'IGNORE'; $SIG{INT} = 'IGNORE';
$| = 1;
my $dir = shift @ARGV;
my (@held, @paths);
sub fail { print "error ", scalar(@held), " $_[0]\n"; exit 1 }
while (@ARGV) {
  my ($kind, $host, $port, $path, $backlog, $mode) = splice(@ARGV, 0, 6);
  my $s;
  if ($kind eq 'unix') {
    if (-S $path) {
      socket(my $probe, PF_UNIX, SOCK_STREAM, 0) or fail("socket: $!");
      fail("$path: another process listens on it") if connect($probe, pack_sockaddr_un($path));
      unlink $path;
    } elsif (-e $path) { fail("$path exists and is not a socket") }
    socket($s, PF_UNIX, SOCK_STREAM, 0) or fail("socket: $!");
    # The file gets its mode as bind creates it (a chmod by path after could follow a link planted meanwhile).
    my $umask = umask(0777 & ~($mode + 0));
    my $bound = bind($s, pack_sockaddr_un($path));
    my $why = "$!";
    umask($umask);
    fail("$path: $why") unless $bound;
    push @paths, $path;
  } else {
    my @try = $host eq '' ? ([AF_INET6, '::'], [AF_INET, '0.0.0.0']) : $host =~ /:/ ? ([AF_INET6, $host]) : ([AF_INET, $host]);
    my $error;
    for my $t (@try) {
      my ($family, $ip) = @$t;
      if (!socket($s, $family, SOCK_STREAM, 0)) { $error = "socket: $!"; next }
      setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
      setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 0) if $family == AF_INET6 && $host eq '';
      my $sa = $family == AF_INET6 ? pack_sockaddr_in6($port, inet_pton(AF_INET6, $ip)) : pack_sockaddr_in($port, inet_pton(AF_INET, $ip));
      if (bind($s, $sa)) { $error = undef; last }
      $error = "$!"; close $s;
      last if $!{EADDRINUSE} || $!{EACCES};
    }
    fail($error) if defined $error;
  }
  listen($s, $backlog) or fail("listen: $!");
  push @held, $s;
}
# prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY): its number by architecture (none known: Yama's scope 1 refuses the fetcher).
my %prctl = (x86_64 => 157, aarch64 => 167, riscv64 => 167, loongarch64 => 167, i686 => 172, i386 => 172, arm => 172);
my ($arch) = $Config{archname} =~ /^([a-z0-9_]+?)(?:-|$)/;
syscall($prctl{$arch}, 0x59616d61, -1, 0, 0, 0) if defined $arch && $prctl{$arch};
print "ok ", join(' ', map { fileno($_) } @held), "\n";
open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
$SIG{TERM} = sub { unlink @paths; exit 0 };
sub mine { open(my $f, '<', "$dir/listen") or return 0; local $/; my $r = <$f> // ''; return $r =~ /"pid":$$[,}]/ }
while (1) { sleep 5; if (!-d $dir || !mine()) { unlink @paths; exit 0 } }
`;

/**
 * A run's way to its start script: argv HOLDER_PID HOLDER_START NAMES UID GID, the holder's
 * descriptors, "--", then the script and its arguments; the service's PERL* variables come renamed
 * UPKEEPER_KEPT_PERL* (in the environment, which only the user reads: never in the command line). It takes the
 * sockets from the holder (still that process: its start time), puts them at 3, 4…, sets LISTEN_*,
 * switches to UID and GID ("-": none; it runs as the buddy's user, who may take from the holder) and
 * execs the script: its pid is the service's, so LISTEN_PID is its own.
 */
const FETCH = String.raw`
use strict; use warnings; use POSIX (); use Fcntl qw(F_SETFD);
sub fail { print STDERR "upkeeper: cannot take the Listen sockets: $_[0]\n"; exit 126 }
my ($pid, $start, $names, $uid, $gid) = splice(@ARGV, 0, 5);
my @fds; push @fds, shift @ARGV while @ARGV && $ARGV[0] ne '--'; shift @ARGV;
# pidfd_open and pidfd_getfd have the same numbers on every architecture; the pidfd first, then the
# start time: a pidfd names the process it was opened on, never a later one with its pid.
my $pidfd = syscall(434, $pid + 0, 0); fail("their holder (pid $pid) is gone: $!") if $pidfd < 0;
open(my $st, '<', "/proc/$pid/stat") or fail("their holder (pid $pid) is gone");
my $stat = <$st>; close $st; $stat =~ s/^.*\) //;
fail("pid $pid is no longer their holder") unless (split ' ', $stat)[19] eq $start;
my @high;
for my $fd (@fds) {
  my $got = syscall(438, $pidfd, $fd + 0, 0); fail("pidfd_getfd: $!") if $got < 0;
  # Out of the way of 3, 4, ... (F_DUPFD_CLOEXEC, from 100); closing the handle closes what was taken.
  open(my $h, '+<&=', $got) or fail("fdopen: $!");
  my $hi = fcntl($h, 1030, 100); fail("fcntl: $!") unless defined $hi;
  close $h; push @high, $hi + 0;
}
POSIX::close($pidfd);
for my $i (0 .. $#high) { defined POSIX::dup2($high[$i], 3 + $i) or fail("dup2: $!") }
for my $k (grep { /^UPKEEPER_KEPT_PERL/ } keys %ENV) { my $v = delete $ENV{$k}; $k =~ s/^UPKEEPER_KEPT_//; $ENV{$k} = $v }
$ENV{LISTEN_FDS} = scalar @high; $ENV{LISTEN_PID} = $$; $ENV{LISTEN_FDNAMES} = $names;
my @argv = @ARGV;
if ($uid ne '-' || $gid ne '-') {
  open(my $script, '<', $argv[0]) or fail("$argv[0]: $!");
  fcntl($script, F_SETFD, 0) or fail("fcntl: $!");
  $argv[0] = '/proc/self/fd/' . fileno($script);
  if ($gid ne '-') { $) = "$gid $gid"; POSIX::setgid($gid) or fail("setgid $gid: $!") }
  if ($uid ne '-') { POSIX::setuid($uid) or fail("setuid $uid: $!") }
  exec { $argv[0] } $ARGV[0], @argv[1 .. $#argv] or fail("$ARGV[0]: $!");
}
exec { $argv[0] } @argv or fail("$argv[0]: $!");
`;

/** The holder a buddy found or started, as the run directory's `listen` file records it. */
export interface HolderRecord {
  pid: number;
  /** Its start time (field 22 of /proc/PID/stat): a reused pid is not it. */
  startTime: number;
  /** Its descriptor of each socket, in the order of `sockets`. */
  fds: number[];
  sockets: ListenSocket[];
}

type Prepared = (error: string | null) => void;

export class ListenSockets {
  private holder: HolderRecord | null = null;
  private starting: Prepared[] | null = null;
  /** A holder let go and not yet gone: a new one binding the same address must wait for it. */
  private leaving: { pid: number; startTime: number; since: number } | null = null;
  private closed = false;

  constructor(
    private readonly at: (...parts: string[]) => string,
    private settings: BuddySettings,
    private readonly log: (message: string) => void,
  ) {}

  /** At the buddy's start: the holder a lost buddy left is taken over (let go after the first input if the service is stopped: idle()). */
  open(): void {
    const found = readRecord(this.at(RUN_DIR.listen));
    if (found !== null && this.alive(found)) {
      this.holder = found;
      this.log(`Listen: the sockets are held by pid ${found.pid}`);
    }
  }

  reconfigure(settings: BuddySettings): void {
    this.settings = settings;
  }

  /**
   * Before a start: a holder of the configured sockets. One of other sockets (Listen changed) is let go
   * and, once it is gone, a new one started; 'now' when it is there, 'wait' while it starts (`then` is
   * called).
   */
  prepare(then: Prepared): 'now' | 'wait' | { error: string } {
    const wanted = this.settings.listen;
    if (this.holder !== null && (!this.alive(this.holder) || !sameSockets(this.holder.sockets, wanted))) this.release();
    if (wanted.length === 0 || this.holder !== null) return 'now';
    if (this.starting !== null) {
      this.starting.push(then);
      return 'wait';
    }
    const perl = findPerl();
    if (perl === null) return { error: PERL_MISSING };
    this.starting = [then];
    this.afterLeaving(() => this.startHolder(perl, wanted));
    return 'wait';
  }

  /** The service is stopped (or given up): nobody will accept, so connections are refused rather than left waiting. */
  idle(): void {
    if (this.holder !== null && this.starting === null) this.release();
  }

  /**
   * How a run starts with its sockets: the program and arguments that take them from the holder and
   * exec `script`, and the environment to give that program; null without Listen. Throws when the
   * sockets are not held or perl is gone (the start fails).
   */
  wrap(
    script: string,
    env: Record<string, string>,
    user: { uid?: number | undefined; gid?: number | undefined },
  ): { program: string; args: string[]; env: Record<string, string> } | null {
    if (this.settings.listen.length === 0) return null;
    // (A start without its sockets would bind nothing, or bind them itself: it fails instead.)
    const holder = this.holder;
    if (holder === null) throw new Error('Listen: the sockets are not held');
    const perl = findPerl();
    if (perl === null) throw new Error(PERL_MISSING);
    // PERL5OPT, PERL5LIB… of the service's environment would change how the fetcher runs: kept aside, restored for the service.
    const clean = Object.fromEntries(Object.entries(env).map(([k, v]) => [/^PERL/.test(k) ? `UPKEEPER_KEPT_${k}` : k, v]));
    const names = holder.sockets.map((s) => s.name).join(':');
    const id = (n: number | undefined): string => (n === undefined ? '-' : String(n));
    const args = ['-e', FETCH, String(holder.pid), String(holder.startTime), names, id(user.uid), id(user.gid)];
    args.push(...holder.fds.map(String), '--', script);
    return { program: perl, args, env: clean };
  }

  /** What the status shows: the holder and its addresses, or null. */
  get status(): { holder: number; addresses: string[] } | null {
    return this.holder === null ? null : { holder: this.holder.pid, addresses: this.holder.sockets.map((s) => s.address) };
  }

  /** The buddy exits for good (a shutdown, the service removed): the sockets are closed, and no holder starts any more. */
  close(): void {
    this.closed = true;
    this.release();
  }

  private alive(h: HolderRecord): boolean {
    return processAlive(h.pid, h.startTime);
  }

  private release(): void {
    const h = this.holder;
    this.holder = null;
    rmSync(this.at(RUN_DIR.listen), { force: true });
    if (h === null || !this.alive(h)) return;
    try {
      process.kill(h.pid, 'SIGTERM');
      this.leaving = { pid: h.pid, startTime: h.startTime, since: Date.now() };
      this.log(`Listen: the holder ${h.pid} let go of ${h.sockets.map((s) => s.address).join(', ')}`);
      // A holder stopped (SIGSTOP) would keep the sockets: SIGTERM waits until it runs again.
      process.kill(h.pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }

  /** Run `next` once the holder let go is gone (SIGKILL after HOLDER_LEAVE_MS): its addresses are free then. */
  private afterLeaving(next: () => void): void {
    if (this.closed) return;
    const l = this.leaving;
    if (l === null || !processAlive(l.pid, l.startTime)) {
      this.leaving = null;
      next();
      return;
    }
    if (Date.now() - l.since > HOLDER_LEAVE_MS) {
      try {
        process.kill(l.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    setTimeout(() => this.afterLeaving(next), HOLDER_LEAVE_POLL_MS);
  }

  private startHolder(perl: string, sockets: ListenSocket[]): void {
    const words = sockets.flatMap((s) => [s.kind, s.host, String(s.port), s.path, String(s.backlog), String(s.mode)]);
    const child = spawn(perl, ['-e', HOLDER, this.at(), ...words], {
      detached: true, // a session of its own: the loss of the buddy leaves it holding
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { PATH: '/usr/bin:/bin' },
    });
    let said = '';
    let done = false;
    const finish = (error: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.unref();
      if (error !== null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      const waiting = this.starting ?? [];
      this.starting = null;
      if (error !== null) this.log(`Listen: ${error}`);
      for (const then of waiting) then(error);
    };
    const timer = setTimeout(() => finish(`the sockets' holder did not answer within ${HOLDER_START_MS / 1000} s`), HOLDER_START_MS);
    child.once('error', (err) => finish(`cannot start perl for Listen: ${err.message}`));
    child.stdout?.on('data', (chunk: Buffer) => {
      said += chunk.toString('utf8');
      const nl = said.indexOf('\n');
      if (nl < 0) {
        if (said.length > 4096) finish('the holder said too much');
        return;
      }
      const line = said.slice(0, nl);
      const error = /^error (\d+) (.*)$/.exec(line);
      if (error) return finish(`Listen ${sockets[Number(error[1])]?.address ?? '?'}: ${error[2]}`);
      const ok = /^ok((?: \d+)*)$/.exec(line);
      const fds = ok ? ok[1]!.trim().split(' ').filter(Boolean).map(Number) : [];
      const startTime = child.pid === undefined ? null : processStartTime(child.pid);
      if (!ok || fds.length !== sockets.length || startTime === null)
        return finish(`the sockets' holder said ${JSON.stringify(line.slice(0, 200))}`);
      this.holder = { pid: child.pid!, startTime, fds, sockets };
      try {
        writeWhole(this.at(RUN_DIR.listen), JSON.stringify(this.holder) + '\n', 0o600);
      } catch (err) {
        // Without its record the holder leaves within 5 s (it checks that the record names it): a failed start.
        this.holder = null;
        return finish(`Listen: cannot write ${RUN_DIR.listen}: ${(err as Error).message}`);
      }
      this.log(`Listen: pid ${child.pid} holds ${sockets.map((s) => s.address).join(', ')}`);
      return finish(null);
    });
    child.once('exit', (code, signal) => finish(`the sockets' holder ended (${signal ?? `exit ${code}`}) before it held them`));
  }
}

function sameSockets(a: ListenSocket[], b: ListenSocket[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function readRecord(file: string): HolderRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as HolderRecord;
    const ok = Number.isInteger(r.pid) && typeof r.startTime === 'number' && Array.isArray(r.fds) && Array.isArray(r.sockets);
    return ok && r.fds.length === r.sockets.length ? r : null;
  } catch {
    return null;
  }
}
