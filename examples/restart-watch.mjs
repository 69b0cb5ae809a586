#!/usr/bin/env node
// Watches a service and runs one of its custom actions when it restarts more than N times within a
// minute: a small program on the client library (docs/library.md).
//
//   node examples/restart-watch.mjs SERVICE ACTION [N]
//
// With `npm start` running:  UPKEEPER_CONFIG=examples/upkeeper.conf node examples/restart-watch.mjs flaky diagnose 2
import { connect } from 'upkeeper';

const [service, action, limitText = '3'] = process.argv.slice(2);
const limit = Number(limitText);
if (!service || !action || !Number.isInteger(limit) || limit < 1) {
  console.error('usage: node examples/restart-watch.mjs SERVICE ACTION [N]   (N: restarts per minute allowed, default 3)');
  process.exit(2);
}
const WINDOW_MS = 60_000;

const client = await connect({ client: 'restart-watch' });
const subscription = await client.subscribe({ services: [service], types: ['spawned'] });
process.once('SIGINT', () => subscription.close());
console.log(`watching ${service}: more than ${limit} restarts in a minute runs its action ${action}`);

let restarts = [];
for await (const notice of subscription) {
  if (notice.kind === 'controller') {
    console.log(`the controller ${notice.state === 'lost' ? 'went away; waiting for it' : 'is back'}`);
    continue;
  }
  if (notice.kind !== 'event' || notice.event.detail?.restart !== true) continue; // automatic restarts only
  const now = Date.parse(notice.event.time);
  restarts = [...restarts.filter((t) => t > now - WINDOW_MS), now];
  if (restarts.length <= limit) continue;
  console.log(`${notice.event.time} ${service} restarted ${restarts.length} times within a minute: running ${action}`);
  try {
    const result = await client.action(service, action);
    process.stdout.write(result.output);
    console.log(`${action} ${result.code === 0 ? 'done' : `exited with code ${result.code ?? result.signal}`}`);
  } catch (err) {
    console.log(`${action} could not run: ${err.message} (${err.code})`);
  }
  restarts = []; // count afresh
}
client.close();
