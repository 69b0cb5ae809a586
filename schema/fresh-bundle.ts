// The one-file builds of `npm run build` (scripts/bundle.mjs: the buddy, the upk command line), and
// when one may run in place of the compiled modules it was made of.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * `bundle` while none of the compiled files it was made of is newer (its inputs.json, written last by
 * the bundle step, and `compiled`, the entry), else `compiled`: a `tsc` alone, or a `tsc --watch` that
 * rewrites only what changed, leaves an older bundle behind: never run it.
 */
export function freshBundle(bundle: string, compiled: string): string {
  try {
    const built = statSync(bundle).mtimeMs;
    const dir = dirname(bundle);
    const inputs = (JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8')) as string[]).map((f) => resolve(dir, f));
    if ([compiled, ...inputs].every((f) => statSync(f).mtimeMs <= built)) return bundle;
  } catch {
    /* no bundle, no list of its inputs, or one of them gone: the compiled modules */
  }
  return compiled;
}
