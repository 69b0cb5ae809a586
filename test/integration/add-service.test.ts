// upk add: a command run as a service in one line, its arguments unchanged; refusals that leave no
// file; upk remove --delete-file; and ExecStart as a list in a hand-written file.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, alive } from '../helpers/sandbox.js';
import { NASTY } from '../helpers/nasty-args.js';

/** Writes its arguments as JSON to $OUT, then stays up. */
const ARGV_PROGRAM = "require('fs').writeFileSync(process.env.OUT, JSON.stringify(process.argv.slice(1))); setInterval(() => {}, 1e9)";

describe('upk add', { timeout: 120_000 }, () => {
  let box: Sandbox;
  /** The arguments ARGV_PROGRAM wrote, once the whole file is there (it may be seen created and still empty). */
  const argvOf = (out: string): Promise<unknown> =>
    box.waitFor('the arguments', () => {
      try {
        return JSON.parse(readFileSync(out, 'utf8')) as unknown;
      } catch {
        return undefined;
      }
    });
  before(async () => {
    box = new Sandbox('add');
    box.writeServices({ hand: { ExecStart: 'sleep 1000', InitialState: 'running', MinUptime: 0.1 } }, 'hand.conf');
    await box.startController();
    await box.waitForState('hand', 'running');
  });
  after(() => box.cleanup());

  it('runs a command with spaces, quotes, $, backticks, ; and newlines in its arguments exactly as given', async () => {
    const out = box.file('argv.json');
    const r = await box.upk([
      'add',
      'argv',
      '--env',
      `OUT=${out}`,
      '--rate-limit',
      '0.5',
      '--kill-timeout',
      '5',
      '--',
      process.execPath,
      '-e',
      ARGV_PROGRAM,
      ...NASTY,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const file = join(box.servicesDir, 'argv.conf');
    assert.equal(r.stdout.split('\n')[0], `argv: added: ${file}`);
    assert.match(r.stdout, /^argv: ok: running \(pid \d+\)$/m);
    const text = readFileSync(file, 'utf8');
    assert.match(text.split('\n')[0]!, /^\/\/ Written by upk add on \d{4}-\d\d-\d\dT/);
    // Exactly the options given, and the command as a list.
    assert.match(text, /"UserRateLimit": 0\.5,/);
    assert.match(text, /"KillTimeout": 5,/);
    assert.match(text, /"InitialState": "running",/);
    assert.doesNotMatch(text, /WorkingDirectory|Instances|ShortDescription/);
    assert.deepEqual(await argvOf(out), NASTY);
    // Private to its user: --env values are often secrets.
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const [s] = await (await box.client()).status('argv');
    assert.equal(s?.state, 'running');
    const check = await box.upk(['check-config']);
    assert.equal(check.code, 0, check.stdout);
  });

  it('--stopped adds it without starting it; --cwd and --description are written', async () => {
    const r = await box.upk(['add', 'later', '--stopped', '--cwd', box.dir, '--description', 'started by hand', '--', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^later: stopped; start it with: upk start later$/m);
    const [s] = await (await box.client()).status('later');
    assert.deepEqual([s?.state, s?.desired, s?.pid, s?.description], ['stopped', 'stopped', null, 'started by hand']);
    const text = readFileSync(join(box.servicesDir, 'later.conf'), 'utf8');
    assert.match(text, /"InitialState": "stopped"/);
    assert.ok(text.includes(`"WorkingDirectory": ${JSON.stringify(box.dir)}`));
  });

  it('--output, --error and --log-timestamps: the lines go to those files, each after its time', async () => {
    const [out, err] = [box.file('talk.out'), box.file('talk.err')];
    const r = await box.upk([
      'add',
      'talk',
      '--output',
      out,
      '--error',
      err,
      '--log-timestamps',
      '--',
      'sh',
      '-c',
      'echo to out; echo to err >&2; exec sleep 1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(join(box.servicesDir, 'talk.conf'), 'utf8');
    assert.ok(text.includes(`"RedirectStdout": ${JSON.stringify(out)}`) && text.includes(`"RedirectStderr": ${JSON.stringify(err)}`));
    assert.match(text, /"LogTimestamps": true/);
    const stamped = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
    await box.waitFor('both lines', () => existsSync(out) && existsSync(err) && readFileSync(err, 'utf8').includes('\n'));
    assert.match(readFileSync(out, 'utf8'), new RegExp(`${stamped.source}to out\\n$`));
    assert.match(readFileSync(err, 'utf8'), new RegExp(`${stamped.source}to err\\n$`));
    assert.equal((await box.upk(['remove', 'talk', '--delete-file'])).code, 0);
  });

  it('refuses a name that exists, naming the file that defines it', async () => {
    const hand = await box.upk(['add', 'hand', '--', 'sleep', '1']);
    assert.equal(hand.code, 2);
    assert.equal(
      hand.stderr,
      `upk: a service named hand exists: service hand, defined in ${join(box.servicesDir, 'hand.conf')} at line 2\n`,
    );
    const again = await box.upk(['add', 'ARGV', '--', 'sleep', '1']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /a service named ARGV exists: service argv, defined in .*argv\.conf at line 4/);
    assert.ok(!existsSync(join(box.servicesDir, 'ARGV.conf')));
    const bad = await box.upk(['add', 'a/b', '--', 'sleep', '1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid service name "a\/b"/);
  });

  it('a refused add leaves no file: a problem in it, or in another file (the reload is all or nothing)', async () => {
    const file = join(box.servicesDir, 'nope.conf');
    const own = await box.upk(['add', 'nope', '--env', '1X=2', '--', 'sleep', '1000']);
    assert.equal(own.code, 7);
    assert.match(own.stdout, /nope\.conf:\d+: nope\.Environment\.1X: invalid variable name "1X"/);
    assert.match(own.stdout, /1 problem: nope not added \(.*nope\.conf removed\); nothing changed/);
    assert.ok(!existsSync(file));

    writeFileSync(join(box.servicesDir, 'broken.conf'), '{ "broken": { "KilTimeout": 1 } }');
    const other = await box.upk(['add', 'nope', '--', 'sleep', '1000']);
    assert.equal(other.code, 7);
    assert.match(other.stdout, /broken\.conf:1: broken\.KilTimeout: unknown key/);
    assert.ok(!existsSync(file));
    rmSync(join(box.servicesDir, 'broken.conf'));
    const c = await box.client();
    assert.ok(!(await c.list()).some((s) => s.name === 'nope' || s.name === 'broken'));
  });

  it('remove --delete-file: deletes a file upk add wrote and removes the service; refuses a hand-written file', async () => {
    const c = await box.client();
    const [argv] = await c.status('argv');
    const r = await box.upk(['remove', 'argv', '--delete-file']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `deleted ${join(box.servicesDir, 'argv.conf')}\nargv: stopped and removed; its history stays\n`);
    assert.ok(!existsSync(join(box.servicesDir, 'argv.conf')));
    assert.ok(!(await c.list()).some((s) => s.name === 'argv'));
    await box.waitFor('the removed service to end', () => !alive(argv!.pid!));

    const [hand] = await c.status('hand');
    const refused = await box.upk(['remove', 'hand', '--delete-file']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /hand is defined in .*hand\.conf, which upk add did not write: upkeeper deletes no such file/);
    assert.ok(existsSync(join(box.servicesDir, 'hand.conf')));
    const [still] = await c.status('hand');
    assert.equal(still?.pid, hand?.pid);
  });

  it('ExecStart as a list in a hand-written file: the arguments reach the program unchanged', async () => {
    const out = box.file('hand-argv.json');
    box.writeServices(
      {
        listed: {
          ExecStart: [process.execPath, '-e', ARGV_PROGRAM, ...NASTY],
          Environment: { OUT: out },
          InitialState: 'running',
          MinUptime: 0.1,
        },
      },
      'listed.conf',
    );
    const r = await box.upk(['reload-config']);
    assert.equal(r.code, 0, r.stdout);
    await box.waitForState('listed', 'running');
    assert.deepEqual(await argvOf(out), NASTY);
  });
  it('--environment-file (not --env-file, which node itself reads): a missing file fails the start, said by upk', async () => {
    const missing = box.file('nonexist.env');
    const r = await box.upk(['add', 'envf', '--environment-file', missing, '--', 'sleep', '1000']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /^envf: added: /m);
    assert.ok(
      r.stderr.includes(`envf: FAILED: could not start: environment file ${missing}: cannot read the file: the file does not exist`),
      r.stderr,
    );
    assert.ok(readFileSync(join(box.servicesDir, 'envf.conf'), 'utf8').includes(`"EnvironmentFile": ${JSON.stringify(missing)}`));
    writeFileSync(missing, 'A=1\n');
    assert.equal((await box.upk(['start', 'envf'])).code, 0);
    assert.equal((await box.upk(['remove', 'envf', '--delete-file'])).code, 0);
    // A leading "-": optional, as in the key; relative to the working directory like any path.
    const optional = await box.upk(['add', 'envo', '--environment-file=-./nonexist-optional.env', '--', 'sleep', '1000']);
    assert.equal(optional.code, 0, optional.stdout + optional.stderr);
    assert.ok(
      readFileSync(join(box.servicesDir, 'envo.conf'), 'utf8').includes(
        `"EnvironmentFile": ${JSON.stringify(`-${join(process.cwd(), 'nonexist-optional.env')}`)}`,
      ),
    );
    assert.equal((await box.upk(['remove', 'envo', '--delete-file'])).code, 0);
  });

  it("add and scale check the files as reload-config does: another service's bad environment file does not refuse them", async () => {
    // A missing file, and a file with a bad line: read at each start (by the buddy), not at a reload.
    writeFileSync(box.file('bad.env'), 'this is not KEY=VALUE\n');
    box.writeServices(
      { envless: { ExecStart: 'sleep 1000', EnvironmentFile: [box.file('gone.env'), box.file('bad.env')], InitialState: 'stopped' } },
      'envless.conf',
    );
    const reload = await box.upk(['reload-config']);
    assert.equal(reload.code, 0, reload.stdout);
    const added = await box.upk(['add', 'plain', '--', 'sleep', '1000']);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    const scaled = await box.upk(['scale', 'plain', '2']);
    assert.equal(scaled.code, 0, scaled.stdout + scaled.stderr);
    assert.match(scaled.stdout, /^plain: from one service \(no Instances\) to Instances 2/m);
    // check-config still names them.
    const check = await box.upk(['check-config']);
    assert.equal(check.code, 7);
    assert.match(check.stdout, /gone\.env: envless\.EnvironmentFile: cannot read the file: the file does not exist/);
    assert.equal((await box.upk(['remove', 'plain', '--delete-file'])).code, 0);
    rmSync(join(box.servicesDir, 'envless.conf'));
    assert.equal((await box.upk(['reload-config'])).code, 0);
    assert.equal((await box.upk(['remove', 'envless'])).code, 0);
  });

  it('file errors are said with the file and the cause, no stack: a dangling link at NAME.conf (exit 2), a folder it cannot write (exit 1)', async () => {
    symlinkSync(box.file('nowhere.conf'), join(box.servicesDir, 'dangling.conf'));
    const link = await box.upk(['add', 'dangling', '--', 'sleep', '1000']);
    assert.equal(link.code, 2, link.stderr);
    assert.equal(
      link.stderr,
      `upk: ${join(box.servicesDir, 'dangling.conf')} exists already: a symbolic link to ${box.file('nowhere.conf')}, which does not exist (it defines no service dangling)\n`,
    );
    rmSync(join(box.servicesDir, 'dangling.conf'));
    // The same controller, through a controller file whose SvcConfigPath no one may write in, root included.
    const sys = box.file('sys.conf');
    writeFileSync(sys, JSON.stringify({ StateDir: box.stateDir, SvcConfigPath: '/sys' }));
    const denied = await box.upk(['--config', sys, 'add', 'denied', '--', 'sleep', '1000']);
    assert.equal(denied.code, 1, denied.stderr);
    assert.equal(denied.stderr, 'upk: cannot write /sys/denied.conf: permission denied (EACCES)\n');
    assert.doesNotMatch(denied.stderr, /unexpected|    at /);
  });

  it('remove --delete-file refused: the files come back as they were (a link stays a link; mode and inode kept)', async () => {
    for (const name of ['linked', 'modal']) assert.equal((await box.upk(['add', name, '--stopped', '--', 'sleep', '1000'])).code, 0);
    const real = box.file('linked-real.conf');
    renameSync(join(box.servicesDir, 'linked.conf'), real);
    symlinkSync(real, join(box.servicesDir, 'linked.conf'));
    const modal = join(box.servicesDir, 'modal.conf');
    chmodSync(modal, 0o640);
    const before = statSync(modal);
    writeFileSync(join(box.servicesDir, 'broken.conf'), '{ "broken": { "KilTimeout": 1 } }');
    const r = await box.upk(['remove', 'linked', 'modal', '--delete-file']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stdout, /linked\.conf, .*modal\.conf put back; nothing changed\n$/);
    assert.ok(lstatSync(join(box.servicesDir, 'linked.conf')).isSymbolicLink());
    assert.equal(readlinkSync(join(box.servicesDir, 'linked.conf')), real);
    assert.ok(lstatSync(real).isFile());
    const after = statSync(modal);
    assert.deepEqual([after.mode, after.ino, after.uid, after.gid], [before.mode, before.ino, before.uid, before.gid]);
    assert.deepEqual(
      readdirSync(box.servicesDir).filter((f) => f.startsWith('.')),
      [],
      'nothing left aside',
    );

    // A file upk add wrote that no longer parses: nothing to put back, and the message says so.
    writeFileSync(modal, '// Written by upk add\n{ "modal": ');
    const unparsed = await box.upk(['remove', 'modal', '--delete-file']);
    assert.equal(unparsed.code, 7);
    assert.match(unparsed.stdout, /problems: no file deleted \(no file that parses defines modal\); nothing changed\n$/);
    rmSync(join(box.servicesDir, 'broken.conf'));
    rmSync(modal);
    const gone = await box.upk(['remove', 'linked', 'modal', '--delete-file']);
    assert.equal(gone.code, 0, gone.stdout + gone.stderr);
    assert.ok(!existsSync(join(box.servicesDir, 'linked.conf')) && existsSync(real));
  });
});
