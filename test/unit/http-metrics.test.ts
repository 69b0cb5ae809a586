// The Prometheus text format as metrics.ts writes it: escaping, HELP and TYPE, families left out when empty.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exposition } from '../../clients/http/metrics.js';

describe('metrics exposition', { timeout: 5000 }, () => {
  it('escapes label values and help texts, writes special values, and leaves out a family without samples', () => {
    const text = exposition([
      { name: 'a_total', type: 'counter', help: 'back\\slash and\nnewline', samples: [{ labels: { l: 'q"uote\\back\nline' }, value: 3 }] },
      { name: 'empty', type: 'gauge', help: 'none', samples: [] },
      {
        name: 'b',
        type: 'gauge',
        help: 'values',
        samples: [
          { labels: {}, value: NaN },
          { labels: { x: '1' }, value: Infinity },
          { labels: { x: '2' }, value: -Infinity },
          { labels: { x: '3' }, value: 1.5e-7 },
        ],
      },
    ]);
    assert.equal(
      text,
      [
        '# HELP a_total back\\\\slash and\\nnewline',
        '# TYPE a_total counter',
        'a_total{l="q\\"uote\\\\back\\nline"} 3',
        '# HELP b values',
        '# TYPE b gauge',
        'b NaN',
        'b{x="1"} +Inf',
        'b{x="2"} -Inf',
        'b{x="3"} 1.5e-7',
        '',
      ].join('\n'),
    );
  });
});
