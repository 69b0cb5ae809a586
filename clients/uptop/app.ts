// uptop's screen: a blessed table of every service kept current by a libclient subscription (no
// polling), the keys, the detail pane, the actions menu, the filter, and reconnection by itself.
import blessed from 'blessed';
import {
  connect,
  ErrorCode,
  ExitCode,
  exitCodeFor,
  UpkError,
  type Client,
  type ConnectOptions,
  type ServiceStatus,
  type OutcomeItem,
  type Subscription,
} from '../../libclient/index.js';
import { detailLines, loadDetail, type DetailData } from './detail.js';
import { escapeTags, footerLine, headerLine, HELP_LINES, layoutFor, rowLine, titleLine } from './layout.js';
import { Model } from './model.js';
import { LIVE_KEY, PAST_STEPS, REFUSED_KEYS, pastMark, refusal, steppedTo } from './past.js';
import { beforeHistory } from '../shared/format.js';

type Mode = 'table' | 'filter' | 'help' | 'menu' | 'detail';

/** Redraws are coalesced: at most one per this many ms, however fast events come. */
const RENDER_EVERY_MS = 50;
/** The clock (uptimes, "gone for") moves this often. */
const TICK_MS = 1000;
/** Waits between tries to reach a controller that is not there at start. */
const RETRY_MS = 1000;
/** The detail pane re-reads its service at most this often while events come. */
const DETAIL_REFRESH_MS = 2000;

export interface AppOptions {
  connect: ConnectOptions;
  /** No colours (NO_COLOR set, or --no-color). */
  noColor: boolean;
  /** The terminal's streams; default the process's own (the benchmark draws into a stream nobody reads). */
  terminal?: Pick<blessed.Widgets.IScreenOptions, 'input' | 'output'>;
  /** Start on this past moment (ms), read-only (`--at`), instead of live. */
  at?: number;
  /** The host whose controller `connect` reaches through ssh, named in the header; null or absent: this machine's. */
  host?: string | null;
}

export class App {
  /** The services as last heard of. */
  readonly model = new Model();
  private readonly screen: blessed.Widgets.Screen;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly titles: blessed.Widgets.BoxElement;
  private readonly table: blessed.Widgets.ListElement;
  private readonly statusBox: blessed.Widgets.BoxElement;
  private readonly footer: blessed.Widgets.BoxElement;
  private readonly help: blessed.Widgets.BoxElement;
  private readonly menu: blessed.Widgets.ListElement;
  private readonly detail: blessed.Widgets.BoxElement;
  private mode: Mode = 'table';
  private subscription: Subscription | null = null;
  private renderTimer: NodeJS.Timeout | null = null;
  private detailFor: string | null = null;
  private detailData: DetailData | null = null;
  private detailLoadedAt = 0;
  private detailTimer: NodeJS.Timeout | null = null;
  /** Services heard of since the controller went away: the others were removed meanwhile. */
  private seenSinceLost: Set<string> | null = null;
  private closed = false;
  /** The past moment shown (ms), read-only; null: live. `pastSeq` tells a late answer from the newest. */
  private pastAt: number | null = null;
  private pastSeq = 0;
  /** The rows as last drawn: what keys act on. */
  private rows: ServiceStatus[] = [];
  private readonly colour: boolean;

  constructor(private readonly options: AppOptions) {
    this.colour = !options.noColor;
    this.screen = blessed.screen({
      smartCSR: true,
      title: options.host ? `uptop ${options.host}` : 'uptop',
      warnings: false,
      autoPadding: false,
      fullUnicode: false,
      ...options.terminal,
    });
    const line = (top: number | string, extra: blessed.Widgets.BoxOptions = {}): blessed.Widgets.BoxElement =>
      blessed.box({ parent: this.screen, top, left: 0, width: '100%', height: 1, tags: true, wrap: false, ...extra });
    this.header = line(0);
    this.titles = line(1, { style: { bold: true } });
    this.table = blessed.list({
      parent: this.screen,
      top: 2,
      bottom: 2,
      left: 0,
      width: '100%',
      tags: true,
      keys: false,
      mouse: false,
      style: { selected: { inverse: true } },
    });
    this.statusBox = blessed.box({ parent: this.screen, bottom: 1, left: 0, width: '100%', height: 1, tags: true, wrap: false });
    this.footer = blessed.box({
      parent: this.screen,
      bottom: 0,
      left: 0,
      width: '100%',
      height: 1,
      tags: true,
      wrap: false,
      style: { inverse: true },
    });
    this.help = blessed.box({
      parent: this.screen,
      top: 'center',
      left: 'center',
      width: Math.min(80, Math.max(...HELP_LINES.map((l) => l.length)) + 4),
      height: HELP_LINES.length + 2,
      border: { type: 'line' },
      tags: false,
      content: HELP_LINES.join('\n'),
      hidden: true,
    });
    this.menu = blessed.list({
      parent: this.screen,
      top: 'center',
      left: 'center',
      width: 40,
      height: 10,
      border: { type: 'line' },
      label: ' actions ',
      tags: true,
      keys: false,
      hidden: true,
      style: { selected: { inverse: true } },
    });
    this.detail = blessed.box({
      parent: this.screen,
      top: 2,
      bottom: 2,
      left: 0,
      width: '100%',
      border: { type: 'line' },
      label: ' details (Esc closes, Up/Down scroll) ',
      tags: true,
      scrollable: true,
      alwaysScroll: true,
      hidden: true,
    });
    this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg) => this.key(ch, key));
    this.screen.on('resize', () => this.render());
    setInterval(() => this.renderSoon(), TICK_MS).unref();
  }

  /** Run until the user quits. */
  async run(): Promise<void> {
    this.render();
    if (this.options.at !== undefined) await this.showPast(this.options.at);
    else await this.subscribe();
  }

  // ---- data ----------------------------------------------------------------------------------

  private async subscribe(): Promise<void> {
    const view = this.pastSeq; // a past moment chosen meanwhile (or live again) ends this loop
    while (!this.closed && !this.subscription && view === this.pastSeq) {
      try {
        const client = await connect(this.options.connect);
        try {
          const subscription = await client.subscribe({});
          if (view !== this.pastSeq) {
            subscription.close();
            return;
          }
          this.subscription = subscription;
          this.model.controller = { state: 'up', info: client.controller };
        } finally {
          client.close();
        }
      } catch (err) {
        // A controller that is not there yet is waited for; a configuration that cannot be read is not.
        if (err instanceof UpkError && err.code !== ErrorCode.CONTROLLER_NOT_RUNNING && err.code !== ErrorCode.TIMEOUT) {
          this.fail(`uptop: ${err.message}`, exitCodeFor(err.code));
        }
        this.model.controller = this.model.controller.state === 'gone' ? this.model.controller : { state: 'gone', since: Date.now() };
        this.model.say(`waiting for the controller: ${(err as Error).message}`, 'error');
        this.renderSoon();
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    const subscription = this.subscription;
    if (!subscription || view !== this.pastSeq) return; // a past moment was chosen meanwhile
    this.model.say('connected', 'ok');
    this.renderSoon();
    for await (const n of subscription) {
      if (subscription !== this.subscription) break; // closed for a past moment
      switch (n.kind) {
        case 'status':
          this.model.update(n.status);
          this.seenSinceLost?.add(n.status.uuid);
          break;
        case 'removed':
          this.model.remove(n.uuid);
          if (this.detailFor === n.uuid) {
            this.closeDetail();
            this.model.say(`${n.service} was removed from the configuration`, 'info');
          }
          break;
        case 'event':
          if (this.detailFor === n.event.uuid) this.refreshDetailSoon();
          break;
        case 'problems': {
          const known = new Set(this.model.problems.map((p) => p.message));
          const fresh = n.problems.filter((p) => !known.has(p.message));
          this.model.problems = n.problems;
          if (fresh.length > 0) this.model.say(fresh.map((p) => p.message).join('; '), 'error');
          else if (n.problems.length === 0 && known.size > 0) this.model.say('the controller reports no problem any more', 'ok');
          break;
        }
        case 'controller':
          if (n.state === 'lost') {
            this.model.controller = { state: 'gone', since: Date.now() };
            this.model.problems = []; // told again when it is back
            this.seenSinceLost = new Set();
            this.model.say(
              n.reason === 'shutdown'
                ? 'the controller shut down: every service and buddy was stopped; waiting for a controller…'
                : `the controller ${n.reason === 'stop' ? 'stopped' : 'went away'}: services run on; reconnecting…`,
              'error',
            );
          } else {
            this.model.controller = { state: 'up', info: n.controller };
            // The statuses of every service came again before this notice: the rest were removed.
            for (const uuid of [...this.model.services.keys()]) if (!this.seenSinceLost?.has(uuid)) this.model.remove(uuid);
            this.seenSinceLost = null;
            this.model.say(`the controller is back (pid ${n.controller.pid})`, 'ok');
          }
          break;
      }
      this.renderSoon();
    }
  }

  /** A client for one request, closed after it. */
  private async withClient<T>(run: (c: Client) => Promise<T>): Promise<T> {
    const client = await connect(this.options.connect);
    try {
      return await run(client);
    } finally {
      client.close();
    }
  }

  // ---- keys ----------------------------------------------------------------------------------

  private key(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg): void {
    const name = key.full ?? key.name;
    if (name === 'C-c') return this.quit();
    switch (this.mode) {
      case 'filter':
        return this.filterKey(ch, name);
      case 'help':
        this.setMode('table'); // any key closes the help
        return;
      case 'menu':
        return this.menuKey(name);
      case 'detail':
        if (name === 'escape' || ch === 'q' || name === 'enter') this.closeDetail();
        else if (name === 'up' || ch === 'k') this.detail.scroll(-1);
        else if (name === 'down' || ch === 'j') this.detail.scroll(1);
        else if (name === 'pageup') this.detail.scroll(-Number(this.detail.height) + 2);
        else if (name === 'pagedown') this.detail.scroll(Number(this.detail.height) - 2);
        this.screen.render();
        return;
      case 'table':
        return this.tableKey(ch, name);
    }
  }

  private tableKey(ch: string | undefined, name: string): void {
    const rows = this.rows; // as the user sees them
    const page = Math.max(1, Number(this.table.height) - 1);
    const moves: Record<string, number> = {
      up: -1,
      k: -1,
      down: 1,
      j: 1,
      pageup: -page,
      pagedown: page,
      home: -Infinity,
      g: -Infinity,
      end: Infinity,
      'S-g': Infinity,
    };
    const move = moves[name] ?? (ch === 'G' ? Infinity : undefined);
    if (move !== undefined) {
      this.model.move(rows, move);
      return this.render();
    }
    if (this.pastKey(ch, name)) return;
    const selected = this.model.selectedService(rows);
    switch (ch) {
      case 'q':
        return this.quit();
      case '?':
        return this.setMode('help');
      case '/':
        this.model.filter = '';
        return this.setMode('filter');
      case '<':
        this.model.shiftSort(-1);
        return this.render();
      case '>':
        this.model.shiftSort(1);
        return this.render();
      case 'i':
        this.model.sort = { ...this.model.sort, descending: !this.model.sort.descending };
        return this.render();
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8': {
        const column = layoutFor(Number(this.screen.width)).columns[Number(ch) - 1];
        if (column) this.model.sortBy(column.key);
        return this.render();
      }
      case 's':
      case 'x':
      case 'r':
      case 'R':
        if (selected)
          void this.command(
            { s: 'start', x: 'stop', r: 'restart', R: 'reload' }[ch] as 'start' | 'stop' | 'restart' | 'reload',
            selected.name,
          );
        return;
      case 'a':
        if (selected) this.openMenu(selected.name, selected.actions);
        return;
      default:
        break; // not a letter key: enter and escape below
    }
    if (name === 'enter' && selected) this.openDetail(selected.uuid);
    if (name === 'escape' && this.model.filter) {
      this.model.filter = '';
      this.render();
    }
  }

  /** The keys of time (`[` `]` `{` `}` `L`), and those refused on a past moment; true when it took the key. */
  private pastKey(ch: string | undefined, name: string): boolean {
    const step = ch === undefined ? undefined : PAST_STEPS[ch];
    if (step !== undefined) {
      const at = steppedTo(this.pastAt, step);
      if (at === null) this.goLive();
      else void this.showPast(at);
      return true;
    }
    if (this.pastAt === null) return false;
    if (ch === LIVE_KEY) this.goLive();
    else if (REFUSED_KEYS.has(ch ?? '') || REFUSED_KEYS.has(name)) {
      this.model.say(refusal(this.pastAt), 'error');
      this.render();
    } else return false;
    return true;
  }

  // ---- a past moment -------------------------------------------------------------------------

  /** Show the services as they were at `at` (ms), read-only: no subscription meanwhile. */
  private async showPast(at: number): Promise<void> {
    const seq = ++this.pastSeq;
    this.pastAt = at;
    const live = this.subscription;
    this.subscription = null;
    live?.close();
    // No row of another moment stays under this one's header, while it is read or when it cannot be.
    for (const uuid of [...this.model.services.keys()]) this.model.remove(uuid);
    this.model.say(`reading the services ${pastMark(at)}…`);
    this.render();
    try {
      const past = await this.withClient(async (c) => {
        const answer = await c.statusAt(at);
        this.model.controller = { state: 'up', info: c.controller };
        return answer;
      });
      if (seq !== this.pastSeq) return; // a newer moment was asked for
      for (const s of past.services) this.model.update(s);
      const guessed = beforeHistory(past);
      if (guessed !== null) this.model.say(`warning: ${guessed}`, 'error');
      else this.model.say(`the services ${pastMark(at)}: [ ] a minute, { } an hour, L live`, 'ok');
    } catch (err) {
      if (seq !== this.pastSeq) return;
      this.model.say(`the services ${pastMark(at)}: ${describeError(err)}`, 'error');
    }
    this.renderSoon();
  }

  /** Back to the live view: subscribed again, every status anew. */
  private goLive(): void {
    this.pastSeq++;
    this.pastAt = null;
    for (const uuid of [...this.model.services.keys()]) this.model.remove(uuid);
    this.model.say('live again: connecting…');
    this.render();
    void this.subscribe();
  }

  private filterKey(ch: string | undefined, name: string): void {
    if (name === 'enter') this.setMode('table');
    else if (name === 'escape') {
      this.model.filter = '';
      this.setMode('table');
    } else if (name === 'backspace') this.model.filter = this.model.filter.slice(0, -1);
    else if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f') this.model.filter += ch;
    this.render();
  }

  private menuKey(name: string): void {
    const items = (this.menu as unknown as { items: unknown[] }).items.length;
    const index = (this.menu as unknown as { selected: number }).selected;
    if (name === 'escape' || name === 'q') return this.setMode('table');
    if (name === 'up' || name === 'k') this.menu.select(Math.max(0, index - 1));
    else if (name === 'down' || name === 'j') this.menu.select(Math.min(items - 1, index + 1));
    else if (name === 'enter') {
      const service = this.menuFor;
      const action = this.menuActions[index];
      this.setMode('table');
      if (service && action !== undefined) void this.runAction(service, action);
      return;
    }
    this.screen.render();
  }

  private menuFor: string | null = null;
  private menuActions: string[] = [];

  private openMenu(service: string, actions: string[]): void {
    if (actions.length === 0) {
      this.model.say(`${service} has no custom actions`, 'info');
      return this.render();
    }
    this.menuFor = service;
    this.menuActions = actions;
    this.menu.setLabel(` ${service}: actions `);
    this.model.say(`${service}: choose an action (Up/Down), Enter runs it, Esc closes`);
    this.menu.setItems(actions.map((a, i) => `${String(i).padStart(2, '0')} ${escapeTags(a)}`));
    this.menu.height = Math.min(actions.length + 2, Math.max(3, Number(this.screen.height) - 4));
    this.menu.width = Math.min(Number(this.screen.width) - 2, Math.max(30, ...actions.map((a) => a.length + 8), service.length + 36));
    this.menu.select(0);
    this.setMode('menu');
  }

  private setMode(mode: Mode): void {
    this.mode = mode;
    this.help.hidden = mode !== 'help';
    this.menu.hidden = mode !== 'menu';
    this.render();
  }

  private quit(): never {
    return this.exit(ExitCode.OK);
  }

  /** Give the terminal back, say why, and exit with `code`. */
  private fail(message: string, code: number): never {
    return this.exit(code, message);
  }

  /** Something went wrong that uptop cannot go on from: give the terminal back, say what, exit 1. */
  abort(err: Error): never {
    return this.exit(ExitCode.ERROR, `uptop: unexpected error: ${err.stack ?? err.message}`);
  }

  /** Stop listening and give the terminal back. */
  close(): void {
    this.closed = true;
    this.subscription?.close();
    this.screen.destroy();
  }

  private exit(code: number, message?: string): never {
    this.close();
    if (message !== undefined) process.stderr.write(`${message}\n`);
    process.exit(code);
  }

  // ---- actions -------------------------------------------------------------------------------

  private async command(kind: 'start' | 'stop' | 'restart' | 'reload', service: string): Promise<void> {
    const verb = { start: 'starting', stop: 'stopping', restart: 'restarting', reload: 'reloading' }[kind];
    this.model.say(`${service}: ${verb}…`);
    this.renderSoon();
    try {
      const [outcome] = await this.withClient<OutcomeItem[]>((c) => c[kind](service));
      if (outcome) this.model.say(`${service}: ${kind}: ${outcome.ok ? 'ok' : 'FAILED'}: ${outcome.message}`, outcome.ok ? 'ok' : 'error');
    } catch (err) {
      this.model.say(`${service}: ${kind}: ${describeError(err)}`, 'error');
    }
    this.renderSoon();
  }

  private async runAction(service: string, action: string): Promise<void> {
    this.model.say(`${service}: running ${action}…`);
    this.renderSoon();
    try {
      const r = await this.withClient((c) => c.action(service, action));
      const how = r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}`;
      const last = r.output.trimEnd().split('\n').at(-1) ?? '';
      this.model.say(`${service}: ${action} ${how}${last ? `: ${last}` : ''}`, r.code === 0 ? 'ok' : 'error');
    } catch (err) {
      this.model.say(`${service}: ${action}: ${describeError(err)}`, 'error');
    }
    this.renderSoon();
  }

  // ---- the detail pane -----------------------------------------------------------------------

  private openDetail(uuid: string): void {
    this.detailFor = uuid;
    this.detailData = null;
    this.detail.setScroll(0);
    this.mode = 'detail';
    this.detail.hidden = false;
    this.render();
    void this.loadDetail();
  }

  private closeDetail(): void {
    this.detailFor = null;
    this.detail.hidden = true;
    if (this.detailTimer) clearTimeout(this.detailTimer);
    this.detailTimer = null;
    this.setMode('table');
  }

  private async loadDetail(): Promise<void> {
    const uuid = this.detailFor;
    const s = uuid ? this.model.services.get(uuid) : undefined;
    if (!s) return;
    this.detailLoadedAt = Date.now();
    try {
      const data = await this.withClient((c) => loadDetail(c, s.name));
      if (this.detailFor === uuid) this.detailData = data;
    } catch (err) {
      if (this.detailFor === uuid)
        this.detailData = { events: [], logs: null, restarts: null, problems: [`the details: ${describeError(err)}`] };
    }
    this.renderSoon();
  }

  private refreshDetailSoon(): void {
    if (this.detailTimer) return;
    const wait = Math.max(0, this.detailLoadedAt + DETAIL_REFRESH_MS - Date.now());
    this.detailTimer = setTimeout(() => {
      this.detailTimer = null;
      void this.loadDetail();
    }, wait);
  }

  // ---- drawing -------------------------------------------------------------------------------

  private renderSoon(): void {
    if (this.renderTimer || this.closed) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null;
      this.render();
    }, RENDER_EVERY_MS);
  }

  /** Draw everything now (keys, a resize and the coalescing timer call it). */
  render(): void {
    if (this.closed) return;
    if (this.renderTimer) {
      clearTimeout(this.renderTimer);
      this.renderTimer = null;
    }
    const now = this.pastAt ?? Date.now(); // uptimes as they were then
    const width = Number(this.screen.width);
    const layout = layoutFor(width);
    const rows = (this.rows = this.model.visible(now));
    this.header.setContent(headerLine(this.model, now, this.colour, width, this.pastAt, this.options.host ?? null));
    this.footer.setContent(footerLine(width, this.pastAt !== null));
    this.titles.setContent(titleLine(layout, this.model.sort));
    this.table.setItems(
      rows.length > 0
        ? rows.map((s) => rowLine(s, layout, now, this.colour))
        : [this.model.services.size > 0 ? '(no service matches the filter)' : '(no services)'],
    );
    if (rows.length > 0) {
      const i = this.model.selectedIndex(rows);
      this.model.selected = rows[i]!.uuid;
      this.table.select(i);
    }
    this.statusBox.setContent(this.statusText(Date.now()));
    if (this.mode === 'detail' && this.detailFor) {
      const s = this.model.services.get(this.detailFor);
      if (s) this.detail.setContent(detailLines(s, this.detailData, width - 2, this.colour, now).join('\n'));
    }
    this.screen.render();
  }

  private statusText(now: number): string {
    if (this.mode === 'filter') return `/${escapeTags(this.model.filter)}_   (Enter keeps the filter, Esc clears it)`;
    const s = this.model.status;
    if (!s) return '';
    const when = new Date(s.at).toISOString().slice(11, 19);
    const text = `${when} ${escapeTags(s.text)}`;
    if (!this.colour || now - s.at > 60_000) return text;
    return s.level === 'error' ? `{red-fg}${text}{/red-fg}` : s.level === 'ok' ? `{green-fg}${text}{/green-fg}` : text;
  }
}

function describeError(err: unknown): string {
  return err instanceof UpkError ? `${err.message} (${err.code})` : (err as Error).message;
}
