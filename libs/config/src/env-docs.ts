import type { EnvSpec } from './env-schema';

/** One row of a markdown table documenting environment variables. */
export interface EnvDocRow {
  /** The variables the row documents (a row may name several: `` `A`, `B` `` or `` `A` / `B` ``). */
  readonly variables: readonly string[];
  /** The `app` column (`worker`, `trainer`, `both`), when the table has one. */
  readonly app?: string;
  /** The `default` column as written. */
  readonly defaultText: string;
  /** The line number in the document (1-based). */
  readonly line: number;
}

/** Markdown table cells of one line (`| a | b |` → `['a', 'b']`). */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());
}

const backticked = (text: string): string[] => [...text.matchAll(/`([^`]*)`/g)].map((m) => m[1]);

/**
 * Every row of every table in `markdown` whose header has a `variable` and a `default` column.
 * A variable cell may hold several backticked names.
 */
export function parseEnvTables(markdown: string): EnvDocRow[] {
  const rows: EnvDocRow[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].trim().startsWith('|') || !/^\s*\|[\s|:-]+\|\s*$/.test(lines[i + 1])) continue;
    const header = cells(lines[i]).map((h) => h.toLowerCase());
    const varCol = header.indexOf('variable');
    const defCol = header.indexOf('default');
    const appCol = header.indexOf('app');
    if (varCol < 0 || defCol < 0) continue;
    for (let j = i + 2; j < lines.length && lines[j].trim().startsWith('|'); j++) {
      const c = cells(lines[j]);
      rows.push({
        variables: backticked(c[varCol] ?? ''),
        ...(appCol >= 0 ? { app: c[appCol] } : {}),
        defaultText: c[defCol] ?? '',
        line: j + 1,
      });
      i = j;
    }
  }
  return rows;
}

/**
 * What differs between a documentation table and the spec an app validates its environment
 * with, both ways: a variable the spec reads and the table omits, a variable the table lists and
 * the spec does not read (unless listed in `readElsewhere`, e.g. a library's own switch), and
 * defaults that disagree. The default cell is checked where it is checkable: `required` (the
 * spec has no default), `unset` (optional, no default), or backticked values (one per variable
 * of the row in order, or, for a row of one variable, a list the default is one of). Prose
 * defaults such as `7 days` are not compared. Empty when table and spec agree.
 */
export function envDocProblems(
  spec: EnvSpec,
  rows: readonly EnvDocRow[],
  readElsewhere: readonly string[] = [],
): string[] {
  const problems: string[] = [];
  const documented = new Set<string>();
  for (const row of rows) {
    const values = backticked(row.defaultText);
    row.variables.forEach((name, k) => {
      documented.add(name);
      const v = spec[name];
      if (v === undefined) {
        if (!readElsewhere.includes(name)) problems.push(`line ${row.line}: ${name} is documented but not read by the app`);
        return;
      }
      const text = row.defaultText.trim().toLowerCase();
      if (text === 'required') {
        if (v.default !== undefined) problems.push(`line ${row.line}: ${name} is documented as required but defaults to "${v.default}"`);
      } else if (text === 'unset') {
        if (v.default !== undefined || !v.optional) problems.push(`line ${row.line}: ${name} is documented as unset by default but is not optional`);
      } else if (values.length > 0) {
        const allowed = values.length === row.variables.length ? [values[k]] : row.variables.length === 1 ? values : [];
        if (allowed.length > 0 && !allowed.includes(v.default ?? '')) {
          problems.push(`line ${row.line}: ${name} is documented with default ${allowed.map((a) => `"${a}"`).join(' or ')}, the app's is "${v.default ?? '(none)'}"`);
        }
      }
    });
  }
  for (const name of Object.keys(spec)) {
    if (!documented.has(name)) problems.push(`${name} is read by the app but not documented`);
  }
  return problems;
}
