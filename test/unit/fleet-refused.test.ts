// Which failures of a batch hold back one table only (PostgreSQL refused the statement) and which the
// whole export (the connection): a network error whose Node code looks like an SQLSTATE (EPIPE) is the connection's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refusedStatement } from '../../controller/fleet-export.js';

describe('fleet export: a refused statement or a failed connection', { timeout: 5000 }, () => {
  it('a server error with its SQLSTATE is refused; the connection classes, network errors and others are not', () => {
    const server = (code: string): unknown => Object.assign(new Error('x'), { code, severity: 'ERROR' });
    assert.equal(refusedStatement(server('42P01')), true, 'undefined table');
    assert.equal(refusedStatement(server('42501')), true, 'insufficient privilege');
    assert.equal(refusedStatement(server('22P05')), true, 'untranslatable character');
    for (const code of ['08006', '57P01', '57014', '53300']) assert.equal(refusedStatement(server(code)), false, code);
    for (const code of ['EPIPE', 'ECONNRESET', 'ENOENT', 'ETIMEDOUT'])
      assert.equal(refusedStatement(Object.assign(new Error(code), { code })), false, code);
    assert.equal(refusedStatement(new Error('Connection terminated unexpectedly')), false);
    assert.equal(refusedStatement(null), false);
  });
});
