// The controller's log never throws and never loops: a line that cannot be written is counted, the
// trouble is reported once, and its end once, with the count of lines lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../controller/log.js';

test('a failing log is reported once, its lines counted, and its recovery told', { timeout: 5000 }, () => {
  let full = true;
  const written: string[] = [];
  const troubles: (string | null)[] = [];
  const log = createLogger({
    write: (line) => {
      if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      written.push(line);
    },
    onTrouble: (error) => troubles.push(error),
  });
  for (let i = 0; i < 1000; i++) log.error(`line ${i}`); // never throws
  assert.deepEqual(troubles, ['ENOSPC: no space left on device, write'], 'reported once');
  full = false;
  log.info('back');
  assert.deepEqual(troubles, ['ENOSPC: no space left on device, write', null]);
  assert.equal(written.length, 2);
  assert.match(written[0]!, /warn: the log could be written again; 1000 line\(s\) were lost/);
  assert.match(written[1]!, /info: back/);
});
