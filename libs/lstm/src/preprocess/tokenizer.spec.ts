import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { KERAS_DEFAULT_FILTERS, textToWordSequence, Tokenizer, type TokenizerOptions } from './tokenizer';

const CORPUS = ['The cat sat on the mat.', 'The dog ate my homework!', 'Cat and dog?'];

describe('textToWordSequence (Keras text_to_word_sequence)', () => {
  it('lower-cases, replaces filter characters by the split and drops empty tokens', () => {
    expect(textToWordSequence("Hello, World!! It's 100%\tdone\n")).toEqual([
      'hello',
      'world',
      "it's",
      '100',
      'done',
    ]);
  });
  it('keeps characters outside the filters (apostrophe, non-ASCII) and honours lower=false', () => {
    expect(textToWordSequence('Über-noisy CAFÉ', KERAS_DEFAULT_FILTERS, false)).toEqual([
      'Über',
      'noisy',
      'CAFÉ',
    ]);
  });
  it('splits on a custom separator, treating filters as that separator', () => {
    expect(textToWordSequence('a,b,,c d', '', true, ',')).toEqual(['a', 'b', 'c d']);
    expect(textToWordSequence('a.b', '.', true, ',')).toEqual(['a', 'b']);
  });
});

describe('Tokenizer.fitOnTexts', () => {
  it('indexes by count descending, ties in first-seen order, index 0 reserved', () => {
    const t = new Tokenizer().fitOnTexts(CORPUS);
    expect([...t.wordIndex.entries()]).toEqual([
      ['the', 1],
      ['cat', 2],
      ['dog', 3],
      ['sat', 4],
      ['on', 5],
      ['mat', 6],
      ['ate', 7],
      ['my', 8],
      ['homework', 9],
      ['and', 10],
    ]);
    expect(t.documentCount).toBe(3);
    expect(t.wordCounts.get('the')).toBe(3);
    expect(t.wordDocs.get('the')).toBe(2);
    expect(t.indexDocs.get(1)).toBe(2);
    expect(t.indexWord.get(3)).toBe('dog');
  });

  it('puts the OOV token at index 1 and shifts the vocabulary', () => {
    const t = new Tokenizer({ oovToken: '<OOV>' }).fitOnTexts(CORPUS);
    expect(t.wordIndex.get('<OOV>')).toBe(1);
    expect(t.wordIndex.get('the')).toBe(2);
    expect(t.wordIndex.get('and')).toBe(11);
  });
});

describe('Tokenizer.textsToSequences', () => {
  it('drops unknown words without an OOV token', () => {
    const t = new Tokenizer().fitOnTexts(CORPUS);
    expect(t.textsToSequences(['the cat and the bird'])).toEqual([[1, 2, 10, 1]]);
  });
  it('drops indices >= num_words without an OOV token', () => {
    const t = new Tokenizer({ numWords: 4 }).fitOnTexts(CORPUS);
    expect(t.textToSequence('the cat and the bird')).toEqual([1, 2, 1]);
  });
  it('maps unknown words and indices >= num_words to the OOV index', () => {
    const t = new Tokenizer({ numWords: 5, oovToken: '<OOV>' }).fitOnTexts(CORPUS);
    expect(t.textToSequence('The cat and the bird')).toEqual([2, 3, 1, 2, 1]);
  });
  it('treats num_words 0 as no limit, as Keras does', () => {
    const t = new Tokenizer({ numWords: 0 }).fitOnTexts(CORPUS);
    expect(t.textToSequence('and')).toEqual([10]);
  });
  it('tokenizes characters with char_level', () => {
    const t = new Tokenizer({ charLevel: true }).fitOnTexts(['abba', 'c']);
    expect([...t.wordIndex.keys()]).toEqual(['a', 'b', 'c']);
    expect(t.textToSequence('Cab!')).toEqual([3, 1, 2]);
  });
});

describe('Tokenizer JSON (Keras to_json / tokenizer_from_json)', () => {
  it('writes the maps as Python json.dumps strings, keeping insertion order for numeric words', () => {
    const t = new Tokenizer().fitOnTexts(['x 10 10 café']);
    const j = JSON.parse(t.toJsonString());
    expect(j.class_name).toBe('Tokenizer');
    expect(j.config.word_counts).toBe('{"x": 1, "10": 2, "caf\\u00e9": 1}');
    expect(j.config.word_index).toBe('{"10": 1, "x": 2, "caf\\u00e9": 3}');
    expect(j.config.index_word).toBe('{"1": "10", "2": "x", "3": "caf\\u00e9"}');
    expect(j.config.num_words).toBeNull();
    expect(j.config.filters).toBe(KERAS_DEFAULT_FILTERS);
    expect(t.toJsonString()).toContain(
      '{"class_name": "Tokenizer", "config": {"num_words": null, "filters": "!\\"#$%',
    );
  });

  it('round-trips through fromKerasJson with the same sequences and the same JSON', () => {
    const t = new Tokenizer({ numWords: 6, oovToken: '<OOV>' }).fitOnTexts(CORPUS);
    const back = Tokenizer.fromKerasJson(t.toJsonString());
    expect(back.textsToSequences(CORPUS)).toEqual(t.textsToSequences(CORPUS));
    expect(back.toJsonString()).toBe(t.toJsonString());
    expect(Tokenizer.fromKerasJson(t.toKerasJson()).toJsonString()).toBe(t.toJsonString());
  });

  it('refuses JSON that is not a Keras tokenizer, naming the field', () => {
    expect(() => Tokenizer.fromKerasJson('{"class_name": "Foo", "config": {}}')).toThrow(/class_name/);
    expect(() =>
      Tokenizer.fromKerasJson({ class_name: 'Tokenizer', config: { word_index: '{"a": "x"}' } } as never),
    ).toThrow(/word_index/);
  });
});

interface KerasCases {
  texts: string[];
  fit_texts: string[];
  cases: { config: Record<string, unknown>; json: string; sequences: number[][] }[];
}

describe('Tokenizer against Keras (fixtures written by tf_keras)', () => {
  const cases = JSON.parse(
    readFileSync(path.join(__dirname, '../../fixtures/keras-tokenizer-cases.json'), 'utf8'),
  ) as KerasCases;

  it.each(cases.cases.map((c) => [JSON.stringify(c.config), c] as const))('config %s', (_name, c) => {
    const cfg = c.config;
    const options: TokenizerOptions = {
      numWords: cfg.num_words as number | undefined,
      oovToken: cfg.oov_token as string | undefined,
      lower: cfg.lower as boolean | undefined,
      filters: cfg.filters as string | undefined,
      split: cfg.split as string | undefined,
      charLevel: cfg.char_level as boolean | undefined,
    };
    const t = new Tokenizer(options).fitOnTexts(cases.fit_texts);
    expect(t.textsToSequences(cases.texts)).toEqual(c.sequences);
    const ours = JSON.parse(t.toJsonString());
    const keras = JSON.parse(c.json);
    // word_docs follows Python set iteration order: compare those two maps as maps.
    for (const k of Object.keys(keras.config)) {
      if (k === 'word_docs' || k === 'index_docs') {
        expect(JSON.parse(ours.config[k])).toEqual(JSON.parse(keras.config[k]));
      } else {
        expect([k, ours.config[k]]).toEqual([k, keras.config[k]]);
      }
    }
    // Loading Keras' JSON reproduces Keras' sequences and re-serializes byte for byte.
    const loaded = Tokenizer.fromKerasJson(c.json);
    expect(loaded.textsToSequences(cases.texts)).toEqual(c.sequences);
    expect(loaded.toJsonString()).toBe(c.json);
  });
});
