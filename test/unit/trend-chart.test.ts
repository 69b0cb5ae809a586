// upk trend's ASCII chart: columns, merging of buckets that do not fit, and the axes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitColumns, renderChart } from '../../clients/shared/chart.js';

const T = { timeout: 5000 };

test('buckets that do not fit are merged: counts add up, levels average; a column of no values stays empty', T, () => {
  assert.deepEqual(fitColumns([1, 2, 3, 4, 5], 10, 'sum'), { columns: [1, 2, 3, 4, 5], per: 1 });
  assert.deepEqual(fitColumns([1, 2, 3, 4, 5], 2, 'sum'), { columns: [6, 9], per: 3 });
  assert.deepEqual(fitColumns([10, null, 20, 40], 2, 'mean'), { columns: [10, 30], per: 2 });
  assert.deepEqual(fitColumns([null, null, 1], 2, 'sum'), { columns: [null, 1], per: 2 });
});

test('the chart: bars scaled to the top, at least one mark above zero, dots where there is no value', T, () => {
  const lines = renderChart([0, 1, 4, null, 2], { width: 80, height: 4, merge: 'sum', format: String, from: 'a', to: 'b' });
  assert.deepEqual(lines, ['4 |  #', '  |  #', '  |  # #', '  | ## #', '0 +---.-', '   a   b']);
});

test('a fixed top (percentages) and a label wider than the axis', T, () => {
  const lines = renderChart([50, 100], { width: 80, height: 2, merge: 'mean', top: 100, format: (v) => `${v}%`, from: 'x', to: 'y' });
  assert.deepEqual(lines, ['100% | #', '     |##', '   0 +--', '      x'], 'the last label does not fit: only the first');
});
