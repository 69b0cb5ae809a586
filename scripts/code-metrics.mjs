#!/usr/bin/env node
// The size of the code, as issue 12's "before and after" counts it: the longest functions, the files over
// 300 lines, non-null assertions and type casts (`as const` not counted), for the product's code (what
// ships: schema, system, buddy, controller, libclient, clients) and for the tests and benchmarks.
// Usage: node scripts/code-metrics.mjs [--json]
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = new URL('..', import.meta.url).pathname;
const PRODUCT = ['schema', 'system', 'buddy', 'controller', 'libclient', 'clients'];
const CHECKS = ['test', 'bench'];
const LONG_FILE = 300;

function files(dir) {
  const out = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function measure(dirs) {
  const result = { files: 0, lines: 0, longFiles: [], functions: [], nonNull: 0, casts: 0 };
  for (const file of dirs.flatMap(files)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const src = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    result.files += 1;
    result.lines += lines;
    if (lines > LONG_FILE) result.longFiles.push({ file, lines });
    const line = (pos) => src.getLineAndCharacterOfPosition(pos).line;
    const visit = (node) => {
      if (ts.isNonNullExpression(node)) result.nonNull += 1;
      if (
        (ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) &&
        !(ts.isTypeReferenceNode(node.type) && node.type.typeName.getText(src) === 'const')
      )
        result.casts += 1;
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const name =
          node.name?.getText(src) ??
          (ts.isVariableDeclaration(node.parent)
            ? node.parent.name.getText(src)
            : ts.isPropertyAssignment(node.parent)
              ? node.parent.name.getText(src)
              : '(anonymous)');
        result.functions.push({
          name,
          file: `${file}:${line(node.getStart(src)) + 1}`,
          lines: line(node.end) - line(node.getStart(src)) + 1,
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  result.functions.sort((a, b) => b.lines - a.lines);
  result.longFiles.sort((a, b) => b.lines - a.lines);
  return result;
}

const product = measure(PRODUCT);
const checks = measure(CHECKS);
if (process.argv.includes('--json')) {
  console.log(
    JSON.stringify(
      {
        product: { ...product, functions: product.functions.slice(0, 10) },
        checks: { ...checks, functions: checks.functions.slice(0, 10) },
      },
      null,
      2,
    ),
  );
} else {
  for (const [title, m] of [
    ['product (schema system buddy controller libclient clients)', product],
    ['tests and benchmarks', checks],
  ]) {
    console.log(`${title}: ${m.files} files, ${m.lines} lines`);
    console.log(`  non-null assertions: ${m.nonNull}; casts (not "as const"): ${m.casts}`);
    console.log(
      `  files over ${LONG_FILE} lines: ${m.longFiles.length}${
        m.longFiles.length
          ? ` (${m.longFiles
              .slice(0, 8)
              .map((f) => `${relative('.', f.file)} ${f.lines}`)
              .join(', ')}${m.longFiles.length > 8 ? ', …' : ''})`
          : ''
      }`,
    );
    console.log(
      `  longest functions: ${m.functions
        .slice(0, 5)
        .map((f) => `${f.name} ${f.lines} (${f.file})`)
        .join('; ')}`,
    );
  }
}
