// upk config-history's lines: a value from a configuration file is shown as text, never as a
// terminal control, and cut when long.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { VALUE_MAX, changeLines, shownValue } from '../../clients/upk/commands/config-history.js';

it('a value is JSON on one line; C0 and C1 controls (which JSON leaves as they are from U+0080) are escaped; a long one is cut', () => {
  assert.equal(shownValue({ PORT: '8080' }), '{"PORT":"8080"}');
  // U+009B is the one-byte CSI of some terminals: JSON.stringify keeps it as is.
  assert.equal(JSON.stringify('\u009b2J').includes('\u009b'), true);
  assert.equal(shownValue('\u009b2J\u001b[31m'), '"\\x9b2J\\u001b[31m"');
  const long = shownValue('x'.repeat(500));
  assert.equal(long.length, VALUE_MAX);
  assert.ok(long.endsWith('…'));
});

it("a change's words are shown without controls", () => {
  const lines = changeLines(
    {
      time: '2026-12-05T00:00:00.000Z',
      service: 'web',
      change: 'changed',
      trigger: 'reload',
      detail: 'ExecStart \u009b2J',
      keys: null,
    } as never,
    false,
  );
  assert.doesNotMatch(lines.join('\n'), /[\u0080-\u009f]/);
  assert.match(lines[0]!, /ExecStart \\x9b2J/);
});
