/**
 * `json.dumps` as CPython writes it with default arguments (`ensure_ascii=True`, separators
 * `', '` and `': '`), so that tokenizer JSON we write is byte-identical to what Keras writes.
 */
export type PythonJsonValue =
  | null
  | boolean
  | number
  | string
  | readonly PythonJsonValue[]
  | ReadonlyMap<string, PythonJsonValue>
  | { readonly [key: string]: PythonJsonValue };

/** Serializes like Python's `json.dumps(value)`. Key order is the object's insertion order. */
export function pythonJsonDumps(value: PythonJsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return pythonNumber(value);
  if (typeof value === 'string') return pythonString(value);
  if (Array.isArray(value)) {
    return '[' + (value as readonly PythonJsonValue[]).map(pythonJsonDumps).join(', ') + ']';
  }
  // A Map keeps insertion order even for integer-like keys, which plain objects reorder.
  const entries =
    value instanceof Map
      ? [...(value as ReadonlyMap<string, PythonJsonValue>).entries()]
      : Object.entries(value as { readonly [key: string]: PythonJsonValue });
  return '{' + entries.map(([k, v]) => pythonString(k) + ': ' + pythonJsonDumps(v)).join(', ') + '}';
}

function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Number.isInteger(n)) return String(n);
  // Non-integers are written as JS does; Python's repr differs for very small/large magnitudes
  // (1e-05 vs 0.00001). Tokenizer JSON holds only integers and strings.
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function pythonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const ch = s[i];
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    // UTF-16 code units map one to one onto Python's surrogate-pair escapes.
    else if (code < 0x20 || code > 0x7e) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/**
 * Parses a flat JSON object (string keys, string or number values) keeping key order, which
 * `JSON.parse` does not do for integer-like keys ("10" before "the").
 */
export function parseOrderedFlatObject(text: string): Map<string, string | number> {
  const out = new Map<string, string | number>();
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`invalid JSON object: ${what} at position ${i}`);
  };
  const str = (): string => {
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  ws();
  if (text[i] !== '{') fail('expected {');
  i++;
  ws();
  if (text[i] === '}') {
    i++;
  } else {
    for (;;) {
      ws();
      const key = str();
      ws();
      if (text[i] !== ':') fail('expected :');
      i++;
      ws();
      let value: string | number;
      if (text[i] === '"') {
        value = str();
      } else {
        const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
        if (!m) fail('expected a string or number value');
        value = Number(m![0]);
        i += m![0].length;
      }
      out.set(key, value);
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        break;
      }
      fail('expected , or }');
    }
  }
  ws();
  if (i !== text.length) fail('trailing characters');
  return out;
}
