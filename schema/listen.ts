// What a Listen entry asks for: a TCP or Unix stream socket the service is given, as systemd's socket
// activation gives them; shared by the config check and the buddy (which has them opened and held).

/** One listening socket, as checked. */
export interface ListenSocket {
  /** As the user wrote the address, normalised: `tcp:127.0.0.1:8080`, `tcp:[::1]:8080`, `tcp:8080`, `unix:/run/x.sock`. */
  address: string;
  kind: 'tcp' | 'unix';
  /** tcp: the host (an IP address; "" for every address, IPv6 and IPv4), and the port. */
  host: string;
  port: number;
  /** unix: the absolute path. */
  path: string;
  /** listen(2)'s backlog: connections that wait while no run accepts. */
  backlog: number;
  /** unix: the socket file's mode (an integer, like 0o600). */
  mode: number;
  /** Its name in LISTEN_FDNAMES. */
  name: string;
}

/** The kernel's limit for a Unix socket path (sun_path, less its final NUL). */
export const UNIX_PATH_MAX = 107;
export const LISTEN_BACKLOG_DEFAULT = 128;
export const LISTEN_MODE_DEFAULT = 0o600;
/** At most this many sockets per service. */
export const LISTEN_MAX = 32;
/** The first descriptor of the sockets a service gets (systemd's SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/** The socket an address names (without backlog, mode and name), or what is wrong with it. */
export function parseListenAddress(text: string): Pick<ListenSocket, 'address' | 'kind' | 'host' | 'port' | 'path'> | { message: string } {
  const expected = `${JSON.stringify(text)}: expected "tcp:HOST:PORT", "tcp:[IPV6]:PORT", "tcp:PORT" or "unix:/PATH"`;
  const unix = /^unix:(.*)$/i.exec(text);
  if (unix) {
    const path = unix[1]!;
    if (!path.startsWith('/'))
      return { message: `${JSON.stringify(text)}: a Unix socket needs an absolute path ("unix:/run/user/1000/web.sock")` };
    if (Buffer.byteLength(path) > UNIX_PATH_MAX)
      return { message: `${JSON.stringify(text)}: a Unix socket path has at most ${UNIX_PATH_MAX} bytes` };
    if (path.includes('\0')) return { message: `${JSON.stringify(text)}: a path cannot contain a NUL character` };
    return { address: `unix:${path}`, kind: 'unix', host: '', port: 0, path };
  }
  const tcp = /^tcp:(?:(\[[^\]]*\]|[^:[\]]+):)?(\d{1,5})$/i.exec(text);
  if (!tcp) return { message: expected };
  const port = Number(tcp[2]);
  if (port < 1 || port > 65535) return { message: `${JSON.stringify(text)}: the port must be from 1 to 65535` };
  const written = tcp[1];
  if (written === undefined) return { address: `tcp:${port}`, kind: 'tcp', host: '', port, path: '' };
  const v6 = written.startsWith('[');
  const host = v6 ? written.slice(1, -1) : written;
  if (v6 ? !(IPV6.test(host) && host.includes(':')) : !IPV4.test(host))
    return { message: `${JSON.stringify(text)}: the host must be an IP address (${v6 ? 'IPv6 in brackets' : 'IPv4'}), not a name` };
  return { address: `tcp:${v6 ? `[${host}]` : host}:${port}`, kind: 'tcp', host, port, path: '' };
}
