// A strict reader of Prometheus' text exposition format (0.0.4), for the tests of /metrics: HELP and
// TYPE before each family, counters named _total, no series twice, values Go's ParseFloat takes, a
// histogram's buckets ascending and cumulative up to +Inf, which is its count. Any other line fails.
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the text format strictly; any line it does not expect fails the test. */
export function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  let family: string | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      assert.ok(!helped.has(m[1]!), `HELP of ${m[1]} twice`);
      helped.add(m[1]!);
      family = m[1]!;
      continue;
    }
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram|summary|untyped)$/.exec(line))) {
      assert.equal(m[1], family, `TYPE right after its HELP: ${line}`);
      assert.ok(!types.has(m[1]), `TYPE of ${m[1]} twice`);
      types.set(m[1], m[2]!);
      if (m[2] === 'counter') assert.match(m[1], /_total$/, `a counter's name ends in _total: ${m[1]}`);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    if (types.get(family ?? '') === 'histogram')
      assert.ok(
        ['_bucket', '_sum', '_count'].some((x) => m[1] === `${family}${x}`),
        `a histogram's bucket, sum or count: ${line}`,
      );
    else assert.equal(m[1], family, `a sample of the family announced last: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    assert.ok(m[3] === 'NaN' || !Number.isNaN(value), `a value: ${line}`);
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `series twice: ${line}`);
    seen.add(key);
    samples.push({ name: m[1]!, labels, value });
  }
  for (const [name, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = samples.filter((x) => x.name === `${name}_bucket`);
    const count = samples.find((x) => x.name === `${name}_count`);
    assert.ok(samples.some((x) => x.name === `${name}_sum`) && count, `${name}: a sum and a count`);
    const bounds = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    assert.ok(
      bounds.every((b, i) => !Number.isNaN(b) && (i === 0 || b > bounds[i - 1]!)),
      `${name}: le ascending`,
    );
    assert.equal(bounds.at(-1), Infinity, `${name}: a +Inf bucket last`);
    assert.ok(
      buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value),
      `${name}: buckets cumulative`,
    );
    assert.equal(buckets.at(-1)!.value, count.value, `${name}: +Inf is the count`);
  }
  return { samples, types };
}
