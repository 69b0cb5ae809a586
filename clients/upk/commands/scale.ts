// upk scale NAME N: set a service's Instances in the file that defines it (in place), then reload:
// the instances beyond N stop and go, new ones start when the service is wanted running.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ErrorCode, ExitCode, UpkError, findServiceDefinitions, setServiceNumber, type OutcomeItem } from '../../../libclient/index.js';
import type { Context } from '../context.js';
import { applyFileChange, discoveryOptions, editingServiceFiles, printRefusal } from '../file-change.js';
import { onFile } from '../file-error.js';
import { printJson, printOutcomes } from '../output.js';
import { wholeNumberArgument } from '../time.js';

export function registerScale(program: Command, ctx: Context): void {
  program
    .command('scale')
    .argument('<name>', 'a service, as its file names it')
    .argument('<n>', 'how many instances: NAME@1 … NAME@N')
    .description('set the Instances of a service in its file, then reload: instances beyond N stop and go, new ones start')
    .action((name: string, n: string) => scale(ctx, name, n));
}

async function scale(ctx: Context, name: string, n: string): Promise<void> {
  const count = wholeNumberArgument('', n, 1);
  const options = discoveryOptions(ctx.options().config);
  await ctx.withClient(async (client) => {
    const done = await editingServiceFiles(options, async () => {
      const found = findServiceDefinitions(name, options);
      if (found.length === 0)
        throw new UpkError(ErrorCode.NO_SUCH_SERVICE, `no service file defines a service named ${JSON.stringify(name)}`);
      if (found.length > 1) {
        const where = found.map((d) => `${d.id} in ${d.file} at line ${d.line}`).join('; ');
        throw new UpkError(ErrorCode.BAD_REQUEST, `${name} means more than one service entry (${where}): name one by its id`);
      }
      const def = found[0]!;
      if (def.instance !== null) throw new UpkError(ErrorCode.BAD_REQUEST, `${name} is an instance of ${def.id}: scale ${def.id}`);
      const edited = setServiceNumber(def.text, def.id, 'Instances', count);
      if ('message' in edited) {
        throw new UpkError(
          ErrorCode.BAD_REQUEST,
          `cannot set Instances in ${def.file}: ${edited.message}; edit it there, then run upk reload-config`,
        );
      }
      if (def.instances === count) return { def, applied: null, wanted: false };
      // New instances start when the service is wanted running now (any of its instances).
      const before = await client.status([def.id]).catch((err: UpkError) => {
        if (err.code === ErrorCode.NO_SUCH_SERVICE) return [];
        throw err;
      });
      const wanted = before.some((s) => s.desired === 'running');
      // Written in place (the file keeps its kind, mode and owner); back to the text read under the lock on a refusal.
      const write = (text: string) => (): void => onFile('cannot write', def.file, () => writeFileSync(def.file, text));
      const applied = await applyFileChange(client, { apply: write(edited.text), undo: write(def.text) });
      return { def, applied, wanted };
    });
    const { def, applied, wanted } = done;
    const from = def.instances === null ? 'one service (no Instances)' : `Instances ${def.instances}`;
    if (applied === null) {
      if (ctx.json) return printJson({ ok: true, file: def.file, from: def.instances, to: count, changes: [], outcomes: [] });
      return void process.stdout.write(`${def.id}: Instances is ${count} already (${def.file})\n`);
    }
    if (!applied.ok) {
      ctx.fail(ExitCode.CONFIG_INVALID);
      if (ctx.json) return printJson({ ok: false, file: def.file, issues: applied.issues });
      return printRefusal(applied.issues, `${def.file} left as it was`);
    }
    const { changes } = applied.reload;
    const added = changes.filter((c) => c.change === 'added').map((c) => c.service);
    const outcomes: OutcomeItem[] = wanted && added.length > 0 ? await client.start(added) : [];
    if (outcomes.some((x) => !x.ok)) ctx.fail(ExitCode.ACTION_FAILED);
    if (ctx.json) return printJson({ ok: true, file: def.file, from: def.instances, to: count, changes, outcomes });
    process.stdout.write(`${def.id}: from ${from} to Instances ${count} (${def.file})\n`);
    for (const c of changes) process.stdout.write(`${c.service}: ${c.change}: ${c.message}\n`);
    printOutcomes(outcomes);
  });
}
