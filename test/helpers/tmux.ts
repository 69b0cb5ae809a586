// A real terminal for a test: a program run in its own tmux server (a private socket), read with
// capture-pane and driven with send-keys.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class Tmux {
  private readonly socket: string;
  private readonly statusFile: string;

  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {
    this.socket = join(dir, `tmux-${name}.sock`);
    this.statusFile = join(dir, `tmux-${name}.status`);
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  }

  /** Run `command` (argv) in a new window of `width` × `height`, with these environment variables added. */
  start(command: string[], env: Record<string, string>, width = 80, height = 24): void {
    // `remain-on-exit` comes from a configuration file, set before the program starts: a program that
    // ends at once still leaves its last screen to be read. tmux 3.3 does not always know the exit
    // status of a pane whose program ended quickly, so a shell around it (arguments as "$@", never
    // pasted into its command line) writes the status into a file.
    const conf = join(this.dir, `tmux-${this.name}.conf`);
    writeFileSync(conf, 'set-option -g remain-on-exit on\n');
    rmSync(this.statusFile, { force: true });
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const script = 'out=$1; shift; "$@"; echo $? > "$out"';
    const size = ['-x', String(width), '-y', String(height)];
    this.tmux(
      '-f',
      conf,
      'new-session',
      '-d',
      '-s',
      this.name,
      ...size,
      'sh',
      '-c',
      script,
      'sh',
      this.statusFile,
      'env',
      ...vars,
      ...command,
    );
  }

  /** The screen as text (with the terminal's escape sequences when `escapes`). */
  screen(escapes = false): string {
    return this.tmux('capture-pane', '-t', this.name, '-p', ...(escapes ? ['-e'] : []));
  }

  /** Keys as tmux names them: 'j', 'Enter', 'Escape', 'PageDown', 'C-c'; each sent on its own. */
  send(...keys: string[]): void {
    for (const k of keys) this.tmux('send-keys', '-t', this.name, k);
  }

  /** Type text literally. */
  type(text: string): void {
    this.tmux('send-keys', '-t', this.name, '-l', text);
  }

  resize(width: number, height: number): void {
    this.tmux('resize-window', '-t', this.name, '-x', String(width), '-y', String(height));
  }

  /** True while the program in the pane runs. */
  running(): boolean {
    return this.tmux('display-message', '-p', '-t', this.name, '#{pane_dead}').trim() === '0';
  }

  /** The exit status of the program once it has ended, or null while it runs. */
  exitStatus(): number | null {
    let text = '';
    try {
      text = readFileSync(this.statusFile, 'utf8');
    } catch {
      return null;
    }
    return /^\d+\n$/.test(text) ? Number(text) : null;
  }

  /** Wait until the program has ended (its last screen stays); returns that screen. */
  async waitForEnd(what: string, check: (screen: string) => boolean = () => true, timeoutMs = 10_000): Promise<string> {
    return this.waitFor(what, (s) => this.exitStatus() !== null && check(s), timeoutMs);
  }

  /** Wait until the screen satisfies `check`; fails with the last screen. */
  async waitFor(what: string, check: (screen: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      last = this.screen();
      if (check(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      /* already gone */
    }
  }
}
