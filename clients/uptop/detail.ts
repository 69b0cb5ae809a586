// The detail pane of one service: its status in words, its restarts over a day as a small chart, its
// recent events and the tail of its log, fetched through libclient when the pane opens.
import {
  describeEvent,
  utcTime,
  type Client,
  type LogTail,
  type ServiceEvent,
  type ServiceStatus,
  type TrendSeries,
} from '../../libclient/index.js';
import { renderChart } from '../shared/chart.js';
import { bytes, duration, healthLine, nextRunCell, previousLine, stateCell, unsupervisedLine } from '../shared/format.js';
import { escapeTags, lastExitCell, stateColour } from './layout.js';

export const DETAIL_EVENTS = 12;
export const DETAIL_LOG_LINES = 8;
const DAY_MS = 86_400_000;

export interface DetailData {
  events: ServiceEvent[];
  logs: LogTail | null;
  restarts: TrendSeries | null;
  /** What could not be fetched, in words. */
  problems: string[];
}

/** Everything the pane shows, fetched at once; a part that fails is named, the rest still shown. */
export async function loadDetail(client: Client, name: string): Promise<DetailData> {
  const problems: string[] = [];
  const settle = async <T>(what: string, p: Promise<T>): Promise<T | null> => {
    try {
      return await p;
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
      return null;
    }
  };
  const [events, logs, trend] = await Promise.all([
    settle('events', client.events({ service: name, limit: DETAIL_EVENTS })),
    settle('log', client.logs(name, { lines: DETAIL_LOG_LINES })),
    settle('restarts', client.trend({ services: [name], metric: 'restarts', bucket: '1h', since: new Date(Date.now() - DAY_MS) })),
  ]);
  return { events: events ?? [], logs, restarts: trend?.series[0] ?? null, problems };
}

/** The pane's lines (blessed tags; no colour under NO_COLOR). */
export function detailLines(s: ServiceStatus, d: DetailData | null, width: number, colour: boolean, now = Date.now()): string[] {
  const paint = (text: string, fg: string): string => (colour ? `{${fg}-fg}${text}{/${fg}-fg}` : text);
  const bold = (text: string): string => (colour ? `{bold}${text}{/bold}` : text);
  const lines: string[] = [];
  const since = s.since ? ` since ${utcTime(s.since)}` : '';
  lines.push(`${bold(escapeTags(s.name))}  ${paint(stateCell(s), stateColour(s))}${since}, wanted ${s.desired}`);
  if (s.description) lines.push(escapeTags(s.description));
  const facts = [
    s.pid === null ? 'no process' : `pid ${s.pid}${s.started ? `, up ${duration(now - Date.parse(s.started))}` : ''}`,
    `${s.restarts} restart${s.restarts === 1 ? '' : 's'}`,
    `last exit ${lastExitCell(s, now)}`,
  ];
  if (s.usage)
    facts.push(
      `CPU ${s.usage.cpu.toFixed(1)} %, memory ${bytes(s.usage.rss)} in ${s.usage.processes} process${s.usage.processes === 1 ? '' : 'es'}`,
    );
  if (s.statusText) facts.push(`says ${JSON.stringify(s.statusText)}`);
  if (s.listen) facts.push(`listening on ${s.listen.addresses.join(', ')}`);
  const previous = previousLine(s);
  if (previous) facts.push(previous);
  if (s.nextRun) facts.push(`next run ${nextRunCell(s.nextRun, now)}`);
  const health = healthLine(s);
  if (health) facts.push(health);
  if (s.hold) facts.push(`held (${s.hold.reason}) until ${utcTime(s.hold.until)}`);
  if (s.waitingFor) facts.push(`waiting for ${s.waitingFor.join(', ')}`);
  if (s.actions.length > 0) facts.push(`actions: ${s.actions.join(', ')}`);
  lines.push(escapeTags(facts.join('; ')));
  const unsupervised = unsupervisedLine(s);
  if (unsupervised) lines.push(paint(escapeTags(unsupervised), 'red'));
  if (!d) return [...lines, '', 'loading…'];
  for (const p of d.problems) lines.push(paint(escapeTags(`could not fetch ${p}`), 'red'));
  if (d.restarts) {
    lines.push(
      '',
      bold(`Automatic restarts, last 24 h by hour: ${d.restarts.total ?? 0}`) + (d.restarts.flapping ? paint('  FLAPPING', 'red') : ''),
    );
    const values = d.restarts.points.map((p) => p.value);
    const chart = renderChart(values, {
      width: Math.max(10, width - 8),
      height: 3,
      merge: 'sum',
      format: (v) => String(Math.round(v)),
      from: '-24h',
      to: 'now',
    });
    lines.push(...chart.map((l) => `  ${escapeTags(l)}`));
  }
  lines.push('', bold('Recent events'));
  if (d.events.length === 0) lines.push('  none');
  for (const e of d.events) lines.push(escapeTags(`  ${e.time.slice(11, 19)}  ${e.type.padEnd(15)} ${describeEvent(e)}`));
  for (const stream of ['stderr', 'stdout'] as const) {
    const tail = d.logs?.[stream];
    if (!tail) continue;
    lines.push('', bold(escapeTags(`${stream} (${tail.file})`)));
    if (tail.lines.length === 0) lines.push('  (empty)');
    for (const l of tail.lines) lines.push(`  ${escapeTags(l)}`);
  }
  return lines;
}
