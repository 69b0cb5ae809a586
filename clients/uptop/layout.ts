// uptop's lines as text: the columns that fit the terminal, one row per service, the header, the
// footer. Colours are blessed tags, left out under NO_COLOR. Pure: tested without a terminal.
import type { ServiceStatus } from '../../libclient/index.js';
import { bytes, duration, inDesiredState, stateCell } from '../shared/format.js';
import type { Model, SortKey } from './model.js';
import { PAST_HINTS, pastMark } from './past.js';

export interface Column {
  key: SortKey;
  title: string;
  width: number;
  /** Dropped first when the terminal is narrow: the lowest priority goes first. */
  priority: number;
  align: 'left' | 'right';
  text: (s: ServiceStatus, now: number) => string;
}

/** How long ago, in one unit: "<1s", "40s", "5m", "23h", "3d". */
export function ago(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return '<1s';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** "SIGKILL 5m", "code 1 2h", "-": how the last run ended, and how long ago. */
export function lastExitCell(s: ServiceStatus, now: number): string {
  const e = s.lastExit;
  if (!e) return '-';
  return `${e.signal ?? (e.code === null ? '?' : `code ${e.code}`)} ${ago(now - Date.parse(e.at))}`;
}

export const COLUMNS: readonly Column[] = [
  { key: 'name', title: 'NAME', width: 10, priority: 9, align: 'left', text: (s) => s.name },
  {
    key: 'state',
    title: 'STATE',
    width: 9,
    priority: 8,
    align: 'left',
    // (The column is narrow: an unhealthy service shows that word alone.)
    text: (s) => (s.health?.status === 'unhealthy' && !s.unsupervised ? 'unhealthy' : stateCell(s)),
  },
  { key: 'pid', title: 'PID', width: 7, priority: 2, align: 'right', text: (s) => (s.pid === null ? '-' : String(s.pid)) },
  {
    key: 'uptime',
    title: 'UPTIME',
    width: 7,
    priority: 4,
    align: 'right',
    text: (s, now) => (s.started ? duration(now - Date.parse(s.started)) : '-'),
  },
  { key: 'restarts', title: 'RESTARTS', width: 9, priority: 3, align: 'right', text: (s) => String(s.restarts) },
  { key: 'exit', title: 'LAST EXIT', width: 12, priority: 1, align: 'left', text: lastExitCell },
  { key: 'cpu', title: 'CPU%', width: 6, priority: 6, align: 'right', text: (s) => (s.usage ? s.usage.cpu.toFixed(1) : '-') },
  { key: 'mem', title: 'MEM', width: 6, priority: 5, align: 'right', text: (s) => (s.usage ? bytes(s.usage.rss) : '-') },
];

export interface Layout {
  columns: Column[];
  /** The name column's width: what the others leave. */
  nameWidth: number;
  width: number;
}

/** The columns that fit `width` (the name keeps at least 10), the least important dropped first. */
export function layoutFor(width: number): Layout {
  let columns = [...COLUMNS];
  const fixed = (cs: Column[]): number => cs.filter((c) => c.key !== 'name').reduce((a, c) => a + c.width + 1, 0);
  while (fixed(columns) + 10 > width && columns.length > 2) {
    const lowest = columns.filter((c) => c.key !== 'name' && c.key !== 'state').sort((a, b) => a.priority - b.priority)[0];
    if (!lowest) break;
    columns = columns.filter((c) => c !== lowest);
  }
  return { columns, nameWidth: Math.max(4, width - fixed(columns)), width };
}

const fit = (text: string, width: number, align: Column['align']): string => {
  const t = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}~` : text;
  return align === 'right' ? t.padStart(width) : t.padEnd(width);
};

const widthOf = (c: Column, l: Layout): number => (c.key === 'name' ? l.nameWidth : c.width);

/** Blessed tags escaped: `{` and `}` shown as they are. */
export const escapeTags = (text: string): string => text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));

/** The colour of a state (blessed colour names). */
export function stateColour(s: ServiceStatus): string {
  if (s.health?.status === 'unhealthy') return 'yellow';
  switch (s.state) {
    case 'running':
      return 'green';
    case 'failed':
      return 'red';
    case 'stopped':
      return inDesiredState(s) ? 'white' : 'red';
    case 'unknown':
      return 'magenta';
    case 'waiting':
    case 'scheduled':
      return 'cyan';
    default:
      return 'yellow';
  }
}

/** One service's row. With colour, the state is coloured and a service not in its wanted state is bold. */
export function rowLine(s: ServiceStatus, l: Layout, now: number, colour: boolean): string {
  const cells = l.columns.map((c) => {
    const text = escapeTags(fit(c.text(s, now), widthOf(c, l), c.align));
    if (!colour || c.key !== 'state') return text;
    const bold = inDesiredState(s) ? '' : '{bold}';
    return `${bold}{${stateColour(s)}-fg}${text}{/${stateColour(s)}-fg}${bold ? '{/bold}' : ''}`;
  });
  return cells.join(' ');
}

/** The column titles, the sorted one marked ^ (ascending) or v (descending). */
export function titleLine(l: Layout, sort: Model['sort']): string {
  return l.columns
    .map((c) => {
      const title = c.key === sort.key ? `${c.title}${sort.descending ? 'v' : '^'}` : c.title;
      return fit(title, widthOf(c, l), c.align);
    })
    .join(' ');
}

/** A piece of a line, in one or more forms, the longest first. An optional piece may be left out. */
interface Piece {
  forms: { text: string; plain: string }[];
  optional?: boolean;
  /** Which pieces get their longer forms first: the lowest rank (default: their order). */
  rank?: number;
}

/**
 * Pieces joined by two spaces within `width`: every required piece in its shortest form first, then
 * each made as long as still fits (in order), then the optional ones that fit.
 */
function fitPieces(pieces: Piece[], width: number): string {
  const chosen = pieces.map((p) => (p.optional ? -1 : p.forms.length - 1));
  const length = (): number => {
    const used = chosen.flatMap((f, i) => (f < 0 ? [] : [pieces[i]!.forms[f]!.plain.length]));
    return used.reduce((a, b) => a + b, 0) + 2 * Math.max(0, used.length - 1);
  };
  const byRank = [...pieces.entries()].sort(([i, a], [j, b]) => (a.rank ?? i) - (b.rank ?? j));
  for (const [i, p] of byRank) {
    if (p.optional) continue;
    const shortest = chosen[i]!;
    for (let f = 0; f < shortest; f++) {
      chosen[i] = f;
      if (length() <= width) break;
      chosen[i] = shortest;
    }
  }
  for (const [i, p] of pieces.entries()) {
    if (!p.optional) continue;
    chosen[i] = 0;
    if (length() > width) chosen[i] = -1;
  }
  return chosen.flatMap((f, i) => (f < 0 ? [] : [pieces[i]!.forms[f]!.text])).join('  ');
}

/** The first line: the controller and the totals (shortened, then left out, to fit `width`). */
/** `at`: the past moment shown (read-only), in the controller's place; `host`: the host reached through ssh, after `uptop`. */
export function headerLine(
  m: Model,
  now: number,
  colour: boolean,
  width = 80,
  at: number | null = null,
  host: string | null = null,
): string {
  const t = m.totals();
  const c = m.controller;
  const paint = (plain: string, fg?: string): string => (colour && fg ? `{${fg}-fg}${escapeTags(plain)}{/${fg}-fg}` : escapeTags(plain));
  const form = (plain: string, fg?: string): { text: string; plain: string } => ({ plain, text: paint(plain, fg) });
  const controller: Piece =
    c.state === 'up'
      ? { forms: [form(`controller ${c.info.pid} up ${duration(now - Date.parse(c.info.startedAt))}`), form(`pid ${c.info.pid}`)] }
      : c.state === 'gone'
        ? {
            forms: [
              form(`controller gone ${duration(now - c.since)}: reconnecting`, 'red'),
              form(`no controller (${duration(now - c.since)})`, 'red'),
            ],
          }
        : { forms: [form('connecting to the controller', 'yellow'), form('connecting', 'yellow')] };
  /** The counts in words of a given length: "2 running" or "2 run". */
  const counts = (words: [string, string, string, string], prefix: string): { text: string; plain: string } => {
    const parts: [number, string, string | undefined][] = [
      [t.running, words[0], 'green'],
      [t.stopped, words[1], undefined],
      [t.failed, words[2], t.failed > 0 ? 'red' : undefined],
    ];
    if (t.other > 0) parts.push([t.other, words[3], 'yellow']);
    const plain = prefix + parts.map(([n, w]) => `${n} ${w}`).join(', ');
    return { plain, text: prefix + parts.map(([n, w, fg]) => paint(`${n} ${w}`, fg)).join(', ') };
  };
  const pieces: Piece[] = [
    { forms: [form(host === null ? 'uptop' : `uptop ${host}`)] },
    at === null ? { ...controller, rank: 2 } : { forms: [form(pastMark(at), 'yellow')] },
    {
      forms: [
        counts(['running', 'stopped', 'failed', 'other'], `${t.total} services: `),
        counts(['run', 'stop', 'fail', 'other'], `${t.total}: `),
      ],
      rank: 1,
    },
  ];
  if (m.problems.length > 0 && c.state === 'up') {
    const words = {
      database: 'audit database not writable',
      log: 'log not writable',
      unsupervised: 'services unsupervised',
      fleet: 'fleet database not reachable',
    };
    const long = `! ${m.problems.map((p) => words[p.kind]).join(', ')}`;
    pieces.push({
      forms: [form(long, 'red'), form(`! ${m.problems.length} problem${m.problems.length === 1 ? '' : 's'}`, 'red'), form('!', 'red')],
      rank: 0,
    });
  }
  if (m.filter) pieces.push({ forms: [form(`filter: ${m.filter}`), form(`/${m.filter}`)], rank: 3 });
  if (c.state === 'up') pieces.push({ forms: [form(`v${c.info.version}`)], optional: true });
  return fitPieces(pieces, width);
}

const HINTS = [
  'q quit',
  '? help',
  's start',
  'x stop',
  'r restart',
  'Enter details',
  '/ filter',
  'a actions',
  'R reload',
  '<> sort',
  'j/k move',
];

/** The key hints that fit `width`, most needed first. */
export function footerLine(width = 80, past = false): string {
  return fitPieces(
    (past ? PAST_HINTS : HINTS).map((h, i) => ({ forms: [{ text: h, plain: h }], optional: i > 1 })),
    width,
  );
}

export const HELP_LINES = [
  'uptop: services of upkeeper, live',
  '',
  '  Up, Down, j, k     move the selection (PgUp, PgDn, Home, End, g, G)',
  '  s                  start the selected service',
  '  x                  stop it',
  '  r                  restart it',
  '  R                  run its reload script',
  '  a                  choose one of its custom actions',
  '  Enter              details: recent events, its log, restarts over a day',
  '  /                  filter by name (Enter keeps it, Esc clears it)',
  '  < >                sort by the previous / next column',
  '  1 to 8             sort by that column (again: the other way round)',
  '  i                  invert the order',
  '  [ ]                the past, read-only: a minute earlier / later (from now)',
  '  { }                an hour earlier / later',
  '  L                  back to live (so does a step past now)',
  '  ?                  this help',
  '  q, Ctrl-C          quit (services go on running)',
  '',
  'A state marked ! is not the one wanted. Any key closes this help.',
];
