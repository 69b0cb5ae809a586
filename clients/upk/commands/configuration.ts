// upk reload-config, upk remove NAME… [--delete-file]
import type { Command } from 'commander';
import { ErrorCode, ExitCode, UpkError, findServiceDefinitions, formatConfigIssue, type Client } from '../../../libclient/index.js';
import { MovedAside, applyFileChange, discoveryOptions, editingServiceFiles, printRefusal } from '../file-change.js';
import type { Context } from '../context.js';
import { counted, printJson } from '../output.js';

export function registerConfiguration(program: Command, ctx: Context): void {
  program
    .command('reload-config')
    .description(
      `make the controller read its configuration again: all of it, or nothing (exit ${ExitCode.CONFIG_INVALID} and the problems)`,
    )
    .option('--restart', 'then restart the running services whose changes take effect only at their next start')
    .action((opts: { restart?: boolean }) =>
      ctx.withClient(async (client) => {
        const r = await client.reloadConfig(opts.restart ? { restart: true } : {});
        if (!r.ok) ctx.fail(ExitCode.CONFIG_INVALID);
        if (ctx.json) return printJson(r);
        for (const issue of r.issues) process.stdout.write(formatConfigIssue(issue) + '\n');
        if (!r.ok) {
          process.stdout.write(
            `${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}: nothing changed; the configuration in force stays\n`,
          );
          return;
        }
        for (const c of r.changes) process.stdout.write(`${c.service}: ${c.change}: ${c.message}\n`);
        process.stdout.write(
          r.changes.length === 0
            ? 'configuration reloaded: no change\n'
            : `configuration reloaded: ${counted(r.changes.length, 'change')}\n`,
        );
        for (const item of r.restarted ?? []) {
          process.stdout.write(`${item.service}: restarted: ${item.ok ? 'ok' : 'FAILED'}: ${item.message}\n`);
          if (!item.ok) ctx.fail(ExitCode.ACTION_FAILED);
        }
      }),
    );

  program
    .command('remove')
    .argument('<name...>', 'services no longer in the configuration files')
    .option('--delete-file', 'first delete the file upk add wrote for each (no other file), and reload')
    .description('stop and forget services the configuration no longer defines (their history stays)')
    .action((names: string[], o: { deleteFile?: boolean }) =>
      ctx.withClient(async (client) => {
        if (o.deleteFile === true) {
          ctx.refuseHost('remove --delete-file');
          return removeWithFiles(ctx, client, names);
        }
        const changes = await client.remove(names);
        if (ctx.json) return printJson(changes);
        for (const c of changes) process.stdout.write(`${c.service}: ${c.message}\n`);
      }),
    );
}

/**
 * upk remove --delete-file: each name's file, written by upk add and defining that service alone, is
 * deleted; a reload then finds the services gone (all or nothing: on a refusal the files come back),
 * and the ones it kept are removed as upk remove removes them.
 */
async function removeWithFiles(ctx: Context, client: Client, names: string[]): Promise<void> {
  const options = discoveryOptions(ctx.options().config);
  const { files, ids, applied } = await editingServiceFiles(options, async () => {
    const files: MovedAside[] = [];
    for (const name of names) {
      const found = findServiceDefinitions(name, options);
      if (found.length > 1)
        throw refuse(`${name} is defined more than once (${found.map((d) => `${d.file} at line ${d.line}`).join('; ')})`);
      const def = found[0];
      if (def === undefined) continue; // no file defines it any more: only the removal is left
      if (def.instance !== null)
        throw refuse(
          `${name} is an instance of ${def.id}: upk scale ${def.id} N changes how many run, upk remove ${def.id} --delete-file removes them all`,
        );
      if (!def.addedByUpk) {
        throw refuse(
          `${def.id} is defined in ${def.file}, which upk add did not write: upkeeper deletes no such file. Delete the entry there, run upk reload-config, then upk remove ${def.id}`,
        );
      }
      const others = def.fileServices.filter((id) => id !== def.id);
      if (others.length > 0) throw refuse(`${def.file} also defines ${others.join(', ')}: delete the entry of ${def.id} there by hand`);
      if (!files.some((f) => f.file === def.file)) files.push(new MovedAside(def.file));
    }
    // What the names mean now (every instance of a service with Instances), to remove after the reload.
    const ids: string[] = [];
    for (const name of names) {
      const statuses = await client.status([name]).catch((err: UpkError) => {
        if (err.code === ErrorCode.NO_SUCH_SERVICE && files.length > 0) return [];
        throw err;
      });
      ids.push(...statuses.map((s) => s.name));
    }
    // Moved aside, not deleted, until the reload takes it: put back as it was on a refusal.
    const applied = await applyFileChange(client, {
      apply: () => moveAll(files),
      undo: () => {
        for (const f of files) f.putBack();
      },
    });
    if (applied.ok) for (const f of files) f.delete();
    return { files: files.map((f) => f.file), ids, applied };
  });
  if (!applied.ok) {
    ctx.fail(ExitCode.CONFIG_INVALID);
    if (ctx.json) return printJson({ ok: false, deleted: [], issues: applied.issues });
    const undone = files.length > 0 ? `${files.join(', ')} put back` : `no file deleted (no file that parses defines ${names.join(', ')})`;
    return printRefusal(applied.issues, undone);
  }
  const mine = new Set(ids);
  const byReload = applied.reload.changes.filter((c) => mine.has(c.service) && c.change === 'removed');
  const present = new Set((await client.list()).map((s) => s.name));
  const kept = ids.filter((id) => present.has(id));
  const removed = kept.length > 0 ? await client.remove(kept) : [];
  const changes = [...byReload, ...removed];
  if (ctx.json) return printJson({ ok: true, deleted: files, changes });
  for (const file of files) process.stdout.write(`deleted ${file}\n`);
  for (const c of changes) process.stdout.write(`${c.service}: ${c.message}\n`);
}

/** Move every file aside; when one cannot be, put back those already moved. */
function moveAll(files: MovedAside[]): void {
  const moved: MovedAside[] = [];
  try {
    for (const f of files) {
      f.move();
      moved.push(f);
    }
  } catch (err) {
    for (const f of moved) f.putBack();
    throw err;
  }
}

const refuse = (message: string): UpkError => new UpkError(ErrorCode.BAD_REQUEST, message);
