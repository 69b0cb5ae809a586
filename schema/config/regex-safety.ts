// A regular expression matched against a service's output must not be able to hang its buddy: a
// repeated group that itself holds a repetition ("(a+)+", "(\w*\s?)*") backtracks exponentially
// on a line that almost matches. Such an expression is refused when the configuration is read.

/** A bounded or unbounded repetition at `i`: `*`, `+` or `{n,}` / `{n,m}` (not `?`, not `{n}`). */
function repeatsAt(source: string, i: number): boolean {
  const c = source[i];
  return c === '*' || c === '+' || (c === '{' && /^\{\d+,\d*\}/.test(source.slice(i)));
}

/** True when `source` has a repeated group that itself holds a repetition (star height above 1). */
export function nestedRepetition(source: string): boolean {
  const outer: boolean[] = [];
  let holds = false; // the group being read holds a repetition
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      // A character class: its contents repeat nothing.
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
    } else if (c === '(') {
      outer.push(holds);
      holds = false;
    } else if (c === ')') {
      const inner: boolean = holds;
      const repeated = repeatsAt(source, i + 1);
      if (inner && repeated) return true;
      holds = (outer.pop() ?? false) || inner || repeated;
    } else if (repeatsAt(source, i)) {
      holds = true;
    }
  }
  return false;
}
