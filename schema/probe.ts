// What a HealthCheck or ReadyCheck value asks for: an HTTP GET, a TCP connect or a command; shared by
// the config check (a bad URL is a configuration error) and the buddy (which runs it).

export type Probe =
  | { kind: 'http'; url: string }
  | { kind: 'tcp'; host: string; port: number }
  /** A shell command line: as the user wrote it, or a list of words each quoted (schema/config/scripts.ts). */
  | { kind: 'command'; line: string };

const TCP = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^:/\s[\]]+):(\d{1,5})\/?$/;

/** The probe a value stands for, or a message saying what is wrong with its URL. */
export function parseProbe(text: string): Probe | { message: string } {
  if (/^https?:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      if (url.hostname === '') return { message: `${JSON.stringify(text)} has no host` };
      return { kind: 'http', url: url.href };
    } catch {
      return { message: `${JSON.stringify(text)} is not a valid URL` };
    }
  }
  if (/^tcp:/i.test(text)) {
    const m = TCP.exec(text);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) return { message: `${JSON.stringify(text)}: expected tcp://HOST:PORT (a port from 1 to 65535)` };
    return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
  }
  return { kind: 'command', line: text };
}

/** The probe in words, as events and `upk why` tell it: `GET http://…`, `tcp 127.0.0.1:5432`, or the command. */
export function describeProbe(probe: Probe): string {
  switch (probe.kind) {
    case 'http':
      return `GET ${probe.url}`;
    case 'tcp':
      return `tcp ${probe.host.includes(':') ? `[${probe.host}]` : probe.host}:${probe.port}`;
    case 'command':
      return probe.line;
  }
}
