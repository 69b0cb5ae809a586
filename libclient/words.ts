// Events and failures in plain words, for people: what upk why prints, and what any client may show.
import type { ConfigChangeBefore, FailureStory } from '../schema/client-protocol.js';
import { describeCorrelation } from './correlation-words.js';
import { formatDuration } from '../schema/durations.js';
import { detailOf } from '../schema/event-details.js';
import type { ServiceEvent } from '../schema/records.js';

/** "2026-11-21 03:12:07 UTC" */
export function utcTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** "exited with code 1", "was killed by SIGSEGV", with what an unusual code or signal usually means. */
export function describeExit(code: number | null, signal: string | null, unknown = false): string {
  if (signal) return `was killed by ${signal}${SIGNAL_HINTS[signal] ? ` (${SIGNAL_HINTS[signal]})` : ''}`;
  if (code === null)
    return unknown ? 'ended; how is not known (it was adopted, not started by its buddy, so its exit status could not be read)' : 'ended';
  const hint =
    code === 126
      ? 'the command could not be executed'
      : code === 127
        ? 'command not found'
        : code > 128 && code < 160
          ? `a shell reports signal ${code - 128} so`
          : '';
  return `exited with code ${code}${hint ? ` (${hint})` : ''}`;
}

const SIGNAL_HINTS: Record<string, string> = {
  SIGSEGV: 'a crash: invalid memory access',
  SIGABRT: 'it aborted itself, often a failed assertion',
  SIGBUS: 'a crash: bad memory access',
  SIGFPE: 'a crash: arithmetic error',
  SIGILL: 'a crash: illegal instruction',
};

/**
 * Text as text, never as terminal controls: each C0 and C1 control character (ESC, BEL, CSI, a
 * newline…) as `\xNN`; cut to `max` characters with `…`. A service's output, a check's, a command
 * line or a requester may hold anything; what is already escaped stays as it is.
 */
export function plain(text: string, max = Infinity): string {
  const shown = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}

/** One event in a few words: "restarted (pid 4188)", "waiting 1 s before the next start (ratelimit)"; as plain text. */
export function describeEvent(e: ServiceEvent): string {
  return plain(eventWords(e));
}

function eventWords(e: ServiceEvent): string {
  const ms = (v: number | undefined): string => (v !== undefined ? formatDuration(v) : '?');
  switch (e.type) {
    case 'spawned': {
      const d = detailOf(e, 'spawned');
      const how = d.restart === true ? 'restarted automatically' : d.scheduled === true ? 'started by its schedule' : 'started';
      return `${how} (pid ${e.pid})${d.replaces !== undefined ? `, beside the run it replaces once ready (pid ${d.replaces})` : ''}`;
    }
    case 'adopted': {
      const how = detailOf(e, 'adopted').how;
      if (how === 'forked') return `its start script exited, leaving pid ${e.pid} (PidFile)`;
      if (how === 'pidfile') return `found running by its PidFile and taken over (pid ${e.pid})`;
      if (how === 'match') return `found running by ProcessMatch and taken over (pid ${e.pid})`;
      return `taken over by a new buddy, still running (pid ${e.pid})`;
    }
    case 'spawn_failed':
      return `could not be started: ${detailOf(e, 'spawn_failed').error ?? 'unknown error'}`;
    case 'exited': {
      const d = detailOf(e, 'exited');
      const run = d.outcome === 'success' ? ': the run succeeded' : d.outcome === 'failure' ? ': the run failed' : '';
      const error = d.error !== undefined ? `: ${d.error}` : '';
      const replaced = d.replaced === true ? ' (the run an overlap restart replaced)' : '';
      return `${describeExit(e.code, e.signal, d.unknown === true)} after ${ms(d.uptimeMs)}${d.requested === true ? ', as asked' : ''}${error}${run}${replaced}`;
    }
    case 'stopping':
      return detailOf(e, 'stopping').restart === true ? 'stopping, to restart' : 'stopping';
    case 'stopped':
      return 'stopped: nothing of it runs';
    case 'signal_sent': {
      const d = detailOf(e, 'signal_sent');
      return `${e.signal} sent to ${d.group === true ? 'its process group' : `pid ${e.pid}`} (${d.reason ?? 'user'})`;
    }
    case 'backoff': {
      const d = detailOf(e, 'backoff');
      return `waiting ${ms(d.delayMs)} before the next start (${d.reason ?? 'ratelimit'})`;
    }
    case 'runaway': {
      const d = detailOf(e, 'runaway');
      return `too many starts (${d.starts ?? '?'} within ${ms(d.windowMs)}): starts held until ${d.until !== undefined ? utcTime(d.until) : '?'}`;
    }
    case 'failed':
      return `given up after ${detailOf(e, 'failed').failures ?? '?'} failures in a row: no more automatic restarts until someone starts it`;
    case 'desired': {
      const d = detailOf(e, 'desired');
      return `wanted ${String(d.desired)} (${d.cause ?? ''})`;
    }
    case 'buddy_started':
      return `a buddy started (pid ${e.pid})`;
    case 'buddy_exiting':
      return `its buddy exits (${detailOf(e, 'buddy_exiting').reason ?? ''})`;
    case 'action_started':
      return `action ${String(detailOf(e, 'action_started').action)} started`;
    case 'action_finished': {
      const d = detailOf(e, 'action_finished');
      return `action ${String(d.action)} ${e.signal ? `killed by ${e.signal}` : `exited with code ${e.code ?? '?'}`} after ${ms(d.durationMs)}`;
    }
    case 'reconfigured':
      return 'its buddy took in a configuration change';
    case 'events_dropped':
      return `${detailOf(e, 'events_dropped').count ?? '?'} events were lost (the buddy's ring and journal were full)`;
    case 'output_failed': {
      const d = detailOf(e, 'output_failed');
      return `its ${String(d.stream)} cannot be written to ${String(d.file)}, and is lost until it can: ${d.error ?? ''}`;
    }
    case 'output_resumed': {
      const d = detailOf(e, 'output_resumed');
      return `its ${String(d.stream)} is written to ${String(d.file)} again (${d.lostBytes ?? '?'} bytes were lost)`;
    }
    case 'ready': {
      const d = detailOf(e, 'ready');
      return `ready (${d.how ?? '?'}, ${ms(d.afterMs)} after its start)`;
    }
    case 'start_timeout':
      return `not ready within StartTimeout (${ms(detailOf(e, 'start_timeout').timeoutMs)}): a failure`;
    case 'timed_out':
      return `ran longer than MaxRunTime (${ms(detailOf(e, 'timed_out').maxRunTimeMs)}): stopped`;
    case 'run_skipped': {
      const d = detailOf(e, 'run_skipped');
      const why = d.overlap === 'queue' ? 'a run already waited for the last one (ScheduleOverlap queue)' : 'the last run still ran';
      return `the run due at ${d.due !== undefined ? utcTime(d.due) : '?'} was skipped: ${why}`;
    }
    case 'overlap_abandoned':
      return `the new run of an overlap restart failed before it was ready: the old run (pid ${e.pid}) goes on serving`;
    case 'cron_restart':
      return `restarted by CronRestart (due at ${(detailOf(e, 'cron_restart').due ?? '?').replace(/^(.{10})T(.{8}).*$/, '$1 $2 UTC')})`;
    case 'unhealthy': {
      const d = detailOf(e, 'unhealthy');
      const act = d.action === 'restart' ? ': restarted' : d.action === 'stop' ? ': stopped' : '';
      return `unhealthy: ${d.check ?? 'a check'} failed ${d.failures ?? '?'} times in a row${d.output ? `: ${d.output}` : ''}${act}`;
    }
    case 'healthy':
      return `healthy again (${detailOf(e, 'healthy').check ?? 'its check'} passes)`;
    case 'limit_exceeded': {
      const d = detailOf(e, 'limit_exceeded');
      const act = d.action === 'restart' ? ': restarted' : d.action === 'stop' ? ': stopped' : '';
      return `${d.limit ?? 'a limit'} exceeded (${d.value ?? '?'} against ${d.max ?? '?'})${act}`;
    }
  }
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0)} MiB`;

/** The story of a service's last failure, in lines of plain words (what `upk why` prints), each as plain text. */
export function describeFailure(story: FailureStory, now = Date.now()): string[] {
  return storyLines(story, now).map((line) => plain(line));
}

function storyLines(story: FailureStory, now: number): string[] {
  const f = story.failure;
  if (!f) {
    const since = story.historyFrom ? ` since ${utcTime(story.historyFrom)}, where its history kept begins` : '';
    return [`${story.service} has not failed${since}.`, ...nowLine(story)];
  }
  const endedAt = f.run.ended!;
  const unwell = f.unwell ? describeUnwell(f.unwell) : null;
  const lines = [
    unwell
      ? `${story.service} was ${unwell.action === 'stop' ? 'stopped' : 'restarted'} ${formatDuration(now - Date.parse(endedAt))} ago, at ${utcTime(endedAt)}: ${unwell.why}.`
      : `${story.service} failed ${formatDuration(now - Date.parse(endedAt))} ago, at ${utcTime(endedAt)}.`,
  ];
  const command = story.command ? ` (${story.command})` : '';
  const how =
    f.run.cause === 'restart'
      ? 'by an automatic restart'
      : f.run.cause === 'adopted'
        ? 'and was taken over running (from a lost buddy, or found by PidFile or ProcessMatch)'
        : 'by a start command (upk start, or the controller)';
  if (f.run.outcome === 'spawn_failed') {
    lines.push(`What failed: its start${command}, at ${utcTime(f.run.started)} ${how}.`);
    lines.push(`How: it could not be started: ${f.error ?? 'unknown error'}.`);
  } else {
    lines.push(`What ended: process ${f.run.pid}${command}, started ${utcTime(f.run.started)} ${how}.`);
    const exited = detailOf(f.event, 'exited');
    const uptime = exited.uptimeMs ?? Date.parse(endedAt) - Date.parse(f.run.started);
    let exit = `How: it ${describeExit(f.run.code, f.run.signal, exited.unknown === true)} after ${formatDuration(uptime)}; nobody had asked it to stop.`;
    if (unwell) {
      exit = `How: its buddy stopped it (${unwell.key} ${unwell.action}) after ${formatDuration(uptime)}; it ${describeExit(f.run.code, f.run.signal)}.`;
    } else if (exited.requested === true && exited.outcome === 'failure') {
      // A oneshot job's run that MaxRunTime ended: the stop was its buddy's, and the run failed.
      exit = `How: the job's run took longer than MaxRunTime, and its buddy stopped it after ${formatDuration(uptime)}; it ${describeExit(f.run.code, f.run.signal)}.`;
    } else if (f.run.signal) {
      const sent = f.signals.find((s) => s.signal === f.run.signal);
      exit += sent
        ? ` upkeeper sent that signal (${detailOf(sent, 'signal_sent').reason ?? 'user'}) at ${utcTime(sent.time)}.`
        : ` upkeeper did not send it${f.run.signal === 'SIGKILL' ? ": a SIGKILL nobody sent is often the kernel's out-of-memory killer (see dmesg or journalctl -k)" : ''}.`;
    }
    lines.push(exit);
  }
  const inRow = f.failuresInRow === 1 ? 'the first run in a while to fail' : `${f.failuresInRow} runs in a row failed, this one included`;
  const before = [inRow, `${f.restartsHourBefore} automatic restart${f.restartsHourBefore === 1 ? '' : 's'} in the hour up to it`];
  if (f.usageBefore) {
    before.push(
      `last measured ${formatDuration(Date.parse(endedAt) - Date.parse(f.usageBefore.at))} before: CPU ${f.usageBefore.cpu} %, memory ${mib(f.usageBefore.rss)} (highest ${mib(f.usageBefore.rssMax)})`,
    );
  }
  lines.push(`Before it: ${before.join('; ')}.`);
  if (f.configChanged) lines.push(describeConfigChanged(f.configChanged, endedAt));
  if (f.correlated) lines.push(`Together: ${describeCorrelation(f.correlated, { chance: true })}.`);
  const out = f.lastOutput;
  if (out && (out.stdout || out.stderr)) {
    lines.push('Its last output:');
    for (const [stream, text] of [
      ['stderr', out.stderr],
      ['stdout', out.stdout],
    ] as const) {
      if (text) for (const line of text.split('\n')) lines.push(`  ${stream} | ${line}`);
    }
  } else if (f.run.outcome !== 'spawn_failed' && !unwell) {
    lines.push('Its last output: none kept (it wrote nothing, or its output goes to a pipe program).');
  }
  if (story.after.length > 0) {
    lines.push('Then:');
    for (const e of story.after) lines.push(`  ${e.time.slice(11, 19)}  ${describeEvent(e)}`);
  }
  return [...lines, ...nowLine(story)];
}

/** What applied a configuration change, in words. */
const TRIGGER_WORDS: Record<string, string> = {
  reload: 'upk reload-config',
  SIGHUP: 'a SIGHUP',
  start: "the controller's start",
  remove: 'upk remove',
};

/**
 * A configuration change before a run of failures, in words: `Configuration: its configuration
 * changed 4 min before it, at … UTC (upk reload-config): Environment, ExecStart.`
 */
export function describeConfigChanged(c: ConfigChangeBefore, endedAt: string): string {
  const whose = c.prerequisite ? `${c.service}'s configuration` : 'its configuration';
  const failure = c.failureAt === endedAt ? 'it' : 'the first of these failures';
  const by = [TRIGGER_WORDS[c.trigger] ?? c.trigger, ...(c.prerequisite ? [`${c.service} is a prerequisite`] : [])].join('; ');
  const what = c.keys !== null && c.keys.length > 0 ? c.keys.join(', ') : (c.detail ?? 'changed');
  const ago = formatDuration(Math.max(0, Date.parse(c.failureAt) - Date.parse(c.time)));
  return `Configuration: ${whose} changed ${ago} before ${failure}, at ${utcTime(c.time)} (${by}): ${what}.`;
}

/** Why a buddy ended a run itself, in words: `GET http://… failed 3 times in a row: HTTP 500`; the key whose action it was. */
export function describeUnwell(e: ServiceEvent): { why: string; action: string; key: string } {
  if (e.type === 'limit_exceeded') {
    const d = detailOf(e, 'limit_exceeded');
    const value = d.limit === 'MaxMemory' ? mib(d.value ?? 0) : d.limit === 'MaxCPU' ? `${d.value} %` : `${d.value} s`;
    const max = d.limit === 'MaxMemory' ? mib(d.max ?? 0) : d.limit === 'MaxCPU' ? `${d.max} %` : `${d.max} s`;
    const what =
      d.limit === 'ActivityTimeout'
        ? `ActivityFile unchanged for ${value}, ActivityTimeout ${max}`
        : `${d.limit} exceeded: ${value} against ${max}`;
    return { why: what, action: d.action ?? 'restart', key: d.limit === 'ActivityTimeout' ? 'ActivityAction' : `${d.limit}Action` };
  }
  const d = detailOf(e, 'unhealthy');
  const why = `${d.check ?? 'its health check'} failed ${d.failures ?? '?'} time${d.failures === 1 ? '' : 's'} in a row${d.output ? `: ${d.output}` : ''}`;
  return { why, action: d.action ?? 'restart', key: 'HealthAction' };
}

function nowLine(story: FailureStory): string[] {
  const s = story.status;
  if (!s) return ['Now: it is no longer configured.'];
  const since = s.since ? ` since ${utcTime(s.since)}` : '';
  const pid = s.pid ? `, pid ${s.pid}` : '';
  return [
    `Now: ${s.state}${since}${pid}, wanted ${s.desired}; ${s.restarts} automatic restart${s.restarts === 1 ? '' : 's'} since its last start by a user.`,
  ];
}
