// EnvironmentFile: read by the buddy at every start (a change applies at `upk restart`, no reload), over
// Environment; quotes, comments, `-` optional; a bad line fails the start naming file and line (never a
// value); `upk check-config` names file and line.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../helpers/sandbox.js';

// printf, not echo: dash's echo would turn the \n of a value into a newline.
const PRINT = `sh -c 'printf "%s\\n" "[$DB_URL][$QUOTED][$GREETING][$PLAIN][$FROM_FILE][$FROM_CONFIG][$UPKEEPER_SERVICE]"; exec sleep 1000'`;

/** The service: its environment files relative to its file's folder; the second may be missing. */
const WEB = {
  ExecStart: PRINT,
  EnvironmentFile: ['web.env', '-missing.env'],
  Environment: { FROM_FILE: 'config', FROM_CONFIG: 'config' },
  InitialState: 'running',
  MinUptime: 0.2,
  UserRateLimit: 0,
};

describe('EnvironmentFile', { timeout: 90_000 }, () => {
  const box = new Sandbox('envfile');
  const envFile = join(box.servicesDir, 'web.env');
  const out = (): string => readFileSync(join(box.runDir('web'), 'log', 'stdout'), 'utf8');
  /** The last line the service printed at its start. */
  const lastStart = (): string => out().trim().split('\n').at(-1)!;

  before(async () => {
    writeFileSync(
      envFile,
      [
        '# the database',
        'export DB_URL="postgres://db:5432/app?x=1&y=2"',
        '',
        "QUOTED='single $HOME \\n'",
        'GREETING="say \\"hi\\""',
        '  PLAIN = two words   ',
        'FROM_FILE=file',
      ].join('\n') + '\n',
    );
    box.writeServices({ web: WEB });
    await box.startController();
    await box.waitForState('web', 'running');
  });
  after(() => box.cleanup());

  it('its variables reach the service, over Environment; quotes and comments as systemd reads them', async () => {
    await box.waitFor('the first line', () => out().includes('\n'));
    assert.equal(lastStart(), '[postgres://db:5432/app?x=1&y=2][single $HOME \\n][say "hi"][two words][file][config][web]');
  });

  it('a change applies at the next restart, without a configuration reload', async () => {
    const changes = (): number => {
      const db = box.db();
      try {
        return (db.prepare('SELECT count(*) AS n FROM config_changes').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const before = changes();
    writeFileSync(envFile, 'DB_URL=changed\n');
    const r = await box.upk(['restart', 'web']);
    assert.equal(r.code, 0, r.stderr);
    await box.waitFor('the second start', () => out().trim().split('\n').length === 2);
    assert.equal(lastStart(), '[changed][][][][config][config][web]');
    assert.equal(changes(), before, 'no configuration change was applied');
  });

  it('a bad line fails the start: spawn_failed names the file and line, never the value; check-config too', async () => {
    writeFileSync(envFile, 'OK=1\n# fine\nPASSWORD hunter2\n');
    const r = await box.upk(['restart', 'web']);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    const failed = box
      .events('web')
      .filter((e) => e.type === 'spawn_failed')
      .at(-1);
    assert.ok(failed, 'a spawn_failed event');
    assert.equal(JSON.parse(failed.detail!).error, `environment file ${envFile}:3: expected KEY=VALUE (or a # comment)`);
    assert.ok(
      !`${r.stdout}${r.stderr}${failed.detail}${readFileSync(join(box.runDir('web'), 'log', 'buddy'), 'utf8')}`.includes('hunter2'),
    );

    const check = await box.upk(['check-config']);
    assert.equal(check.code, 7, check.stdout);
    assert.ok(check.stdout.includes(`${envFile}:3: web.EnvironmentFile: expected KEY=VALUE (or a # comment)\n`), check.stdout);
    assert.ok(!check.stdout.includes('hunter2') && !check.stdout.includes('missing.env'), 'an optional file may be missing');

    // A file that is not optional must exist, at a start and at check time.
    writeFileSync(envFile, 'A="never closed\n');
    box.writeServices({ web: { ExecStart: 'sleep 1000', EnvironmentFile: ['web.env', 'absent.env'] } });
    const both = await box.upk(['check-config', '--json']);
    assert.equal(both.code, 7);
    const issues = (JSON.parse(both.stdout) as { issues: { file: string; line: number; key: string; message: string }[] }).issues;
    assert.deepEqual(
      issues.map((i) => [i.file, i.line, i.key, i.message]),
      [
        [envFile, 1, 'web.EnvironmentFile', 'the double quote opened on this line is never closed'],
        [join(box.servicesDir, 'absent.env'), 0, 'web.EnvironmentFile', 'cannot read the file: the file does not exist'],
      ],
    );

    // Fixed: the next start works, still without a reload.
    writeFileSync(envFile, 'DB_URL=fixed\n');
    box.writeServices({ web: WEB });
    const again = await box.upk(['start', 'web']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    await box.waitFor('the third start', () => lastStart().startsWith('[fixed]'));
    assert.equal(lastStart(), '[fixed][][][][config][config][web]');
    assert.equal((await box.upk(['check-config'])).code, 0);
  });
});
