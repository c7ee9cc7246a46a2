import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MAX_TOKEN_ID, Tokenizer } from '../preprocess/tokenizer';
import { MAX_SEQUENCE_TOKENS, parseSidecar, SidecarError } from './sidecar';

const TEXT = path.join(__dirname, '../../fixtures/keras-text-classifier');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests mutate arbitrary fields
const valid = (): Record<string, any> => JSON.parse(readFileSync(path.join(TEXT, 'streamcell.json'), 'utf8'));

describe('sidecar limits on per-activation work', () => {
  it.each([
    ['input.maxTokens', (s: ReturnType<typeof valid>) => (s.input.maxTokens = MAX_SEQUENCE_TOKENS + 1)],
    ['input.paddingPrefix', (s: ReturnType<typeof valid>) => (s.input.paddingPrefix = 1e9)],
    ['input.paddingPrefix', (s: ReturnType<typeof valid>) => (s.input.paddingPrefix = MAX_SEQUENCE_TOKENS + 1)],
  ])('refuses %s above the bound, naming it', (field, mutate) => {
    const s = valid();
    mutate(s);
    expect(() => parseSidecar(s)).toThrow(SidecarError);
    expect(() => parseSidecar(s)).toThrow(new RegExp(`${field.replace('.', '\\.')} must be .* up to ${MAX_SEQUENCE_TOKENS}`));
  });

  it('accepts the bound itself', () => {
    const s = valid();
    s.input.maxTokens = MAX_SEQUENCE_TOKENS;
    s.input.paddingPrefix = MAX_SEQUENCE_TOKENS;
    expect(parseSidecar(s).input).toMatchObject({ paddingPrefix: MAX_SEQUENCE_TOKENS });
  });

  it('refuses forecast windows above the bound', () => {
    const s = valid();
    s.task = 'forecast';
    s.input = { features: ['v'], includeTimeDelta: false, window: 1e7 };
    expect(() => parseSidecar(s)).toThrow(/input\.window must be a positive integer up to/);
  });
});

describe('tokenizer settings that could throw while serving are refused at import', () => {
  const tokenizerJson = () => valid().tokenizer;

  it.each<[string, (c: Record<string, unknown>) => void, RegExp]>([
    ['empty split', (c) => (c.split = ''), /config\.split must not be empty/],
    ['negative id', (c) => (c.word_index = '{"pump": -3}'), /word_index\["pump"\] is -3, not a token id/],
    ['fractional id', (c) => (c.word_index = '{"pump": 1.5}'), /word_index\["pump"\] is 1.5, not a token id/],
    ['id beyond int32', (c) => (c.word_index = `{"pump": ${MAX_TOKEN_ID + 1}}`), /not a token id/],
    ['num_words beyond int32', (c) => (c.num_words = 2 ** 40), /num_words must be at most/],
  ])('%s', (_name, mutate, message) => {
    const t = tokenizerJson();
    mutate(t.config);
    expect(() => Tokenizer.fromKerasJson(t)).toThrow(message);
    const s = valid();
    s.tokenizer = t;
    expect(() => parseSidecar(s)).toThrow(/streamcell\.json: tokenizer is invalid/);
  });

  it('keeps an empty split for a character-level tokenizer (split is unused there)', () => {
    const t = tokenizerJson();
    t.config.split = '';
    t.config.char_level = true;
    expect(Tokenizer.fromKerasJson(t).textToSequence('ab')).toEqual(expect.any(Array));
  });
});
