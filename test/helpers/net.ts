// Small network helpers of the integration tests: a free port, and GET / answered by a server's pid.
import { request } from 'node:http';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (bound, then let go). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** GET / on the port of a server that answers its pid: the pid, or the error. */
export function getPid(port: number): Promise<{ pid: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', path: '/', agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? { pid: Number(body.trim()) } : { error: `HTTP ${res.statusCode}` }));
    });
    req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}
