/**
 * Property tests (fast-check) of the sidecar and tokenizer parsers: random and mutated sidecars
 * are accepted or refused with a SidecarError naming the field, and no accepted tokenizer throws
 * or yields an id that is not a non-negative integer on any text.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Tokenizer } from '../preprocess/tokenizer';
import { parseSidecar, SidecarError } from './sidecar';

const TEXT = path.join(__dirname, '../../fixtures/keras-text-classifier');
const FIXTURE = readFileSync(path.join(TEXT, 'streamcell.json'), 'utf8');

/** Replaces the value at a random path of a JSON object with a random JSON value. */
function replaceAt(root: unknown, pick: number, value: unknown): unknown {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(root, []);
  const target = paths[pick % paths.length];
  if (target.length === 0) return value;
  const copy = JSON.parse(JSON.stringify(root));
  let at = copy;
  for (const k of target.slice(0, -1)) at = at[k];
  at[target[target.length - 1]] = value;
  return copy;
}

function refusedWithField(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    expect(e).toBeInstanceOf(SidecarError);
    expect((e as Error).message).toMatch(/^streamcell\.json: \S+.* \S/);
    return false;
  }
}

const tokenizerConfig = fc.record({
  num_words: fc.option(fc.oneof(fc.nat(50), fc.double(), fc.integer()), { nil: null }),
  filters: fc.string({ maxLength: 6 }),
  lower: fc.boolean(),
  split: fc.oneof(fc.constant(' '), fc.constant(''), fc.string({ maxLength: 3 })),
  char_level: fc.boolean(),
  oov_token: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
  word_index: fc
    .dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(fc.nat(30), fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true })), { maxKeys: 8 })
    .map((d) => JSON.stringify(d)),
});

describe('sidecar parser (property)', () => {
  it('random replacements of any field are accepted or refused naming the field, never another error', () => {
    fc.assert(
      fc.property(fc.nat(), fc.jsonValue({ maxDepth: 2 }), (pick, value) => {
        const mutated = replaceAt(JSON.parse(FIXTURE), pick, value);
        refusedWithField(() => parseSidecar(mutated));
      }),
      { numRuns: 400 },
    );
  });

  it('byte-level mutations of the sidecar file are accepted or refused naming the field', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (at, bits, cut) => {
        const b = Buffer.from(FIXTURE);
        b[at % b.length] ^= bits;
        refusedWithField(() => parseSidecar(b));
        refusedWithField(() => parseSidecar(Buffer.from(FIXTURE).subarray(0, cut % FIXTURE.length)));
      }),
      { numRuns: 400 },
    );
  });
});

describe('tokenizer parser (property)', () => {
  it('an accepted tokenizer never throws on any text and yields non-negative integer ids', () => {
    fc.assert(
      fc.property(tokenizerConfig, fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 5 }), (config, texts) => {
        let t: Tokenizer;
        try {
          t = Tokenizer.fromKerasJson({ class_name: 'Tokenizer', config } as never);
        } catch (e) {
          expect((e as Error).message).toMatch(/^Tokenizer( JSON)?: \S/);
          return;
        }
        for (const text of texts) {
          for (const id of t.textToSequence(text)) expect(Number.isInteger(id) && id >= 0).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
