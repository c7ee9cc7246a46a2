import { parseOrderedFlatObject, pythonJsonDumps } from './python-json';

/** Largest token id a tokenizer may map a word to (token ids are int32 on the hot path). */
export const MAX_TOKEN_ID = 2 ** 31 - 1;

/** Keras' default `filters`: punctuation, tab and newline. */
export const KERAS_DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

/** Options of Keras' `Tokenizer` constructor (snake_case names as in Python). */
export interface TokenizerOptions {
  /** Keep only indices below this (Keras `num_words`); null keeps every word. */
  readonly numWords?: number | null;
  readonly filters?: string;
  readonly lower?: boolean;
  readonly split?: string;
  readonly charLevel?: boolean;
  /** Out-of-vocabulary token; when set it takes index 1. */
  readonly oovToken?: string | null;
}

/** `config` of Keras' `Tokenizer.to_json()`; the five maps are JSON strings, as Keras writes them. */
export interface KerasTokenizerConfig {
  num_words: number | null;
  filters: string;
  lower: boolean;
  split: string;
  char_level: boolean;
  oov_token: string | null;
  document_count: number;
  word_counts: string;
  word_docs: string;
  index_docs: string;
  index_word: string;
  word_index: string;
}

/** The object behind Keras' `Tokenizer.to_json()` (and read by `tokenizer_from_json`). */
export interface KerasTokenizerJson {
  class_name: 'Tokenizer';
  config: KerasTokenizerConfig;
}

/**
 * Keras `text_to_word_sequence`: lower-case, replace every filter character by `split`, split on
 * `split`, drop empty strings.
 */
export function textToWordSequence(
  text: string,
  filters: string = KERAS_DEFAULT_FILTERS,
  lower = true,
  split = ' ',
): string[] {
  if (split.length === 0) throw new Error('textToWordSequence: split must not be empty');
  let s = lower ? text.toLowerCase() : text;
  if (filters.length > 0) {
    const filterSet = new Set(filters);
    let translated = '';
    for (const ch of s) translated += filterSet.has(ch) ? split : ch;
    s = translated;
  }
  return s.split(split).filter((w) => w.length > 0);
}

/**
 * Keras-compatible `Tokenizer` (keras.preprocessing.text): same word index ordering, same
 * `texts_to_sequences` (num_words cut, OOV), and the same JSON as `to_json()` /
 * `tokenizer_from_json`.
 */
export class Tokenizer {
  readonly numWords: number | null;
  readonly filters: string;
  readonly lower: boolean;
  readonly split: string;
  readonly charLevel: boolean;
  readonly oovToken: string | null;
  documentCount = 0;
  /** Insertion ordered, as Keras' OrderedDict. */
  readonly wordCounts = new Map<string, number>();
  readonly wordDocs = new Map<string, number>();
  readonly indexDocs = new Map<number, number>();
  wordIndex = new Map<string, number>();
  indexWord = new Map<number, string>();

  constructor(options: TokenizerOptions = {}) {
    this.numWords = options.numWords ?? null;
    this.filters = options.filters ?? KERAS_DEFAULT_FILTERS;
    this.lower = options.lower ?? true;
    this.split = options.split ?? ' ';
    this.charLevel = options.charLevel ?? false;
    this.oovToken = options.oovToken ?? null;
    if (this.numWords !== null && (!Number.isInteger(this.numWords) || this.numWords < 0)) {
      throw new Error(`Tokenizer: num_words must be a non-negative integer, got ${this.numWords}`);
    }
    if (this.numWords !== null && this.numWords > MAX_TOKEN_ID) {
      throw new Error(`Tokenizer: num_words must be at most ${MAX_TOKEN_ID}, got ${this.numWords}`);
    }
  }

  /** Tokens of one text, before indexing (Keras `text_to_word_sequence`, or characters). */
  tokenize(text: string): string[] {
    if (this.charLevel) return Array.from(this.lower ? text.toLowerCase() : text);
    return textToWordSequence(text, this.filters, this.lower, this.split);
  }

  /** Keras `fit_on_texts`: counts words, then indexes by count descending, ties first-seen first. */
  fitOnTexts(texts: Iterable<string>): this {
    for (const text of texts) {
      this.documentCount += 1;
      const seq = this.tokenize(text);
      for (const w of seq) this.wordCounts.set(w, (this.wordCounts.get(w) ?? 0) + 1);
      for (const w of new Set(seq)) this.wordDocs.set(w, (this.wordDocs.get(w) ?? 0) + 1);
    }
    // Array.prototype.sort is stable, as Python's sort with reverse=True.
    const sorted = [...this.wordCounts.entries()].sort((a, b) => b[1] - a[1]);
    const vocabulary = this.oovToken === null ? [] : [this.oovToken];
    for (const [w] of sorted) vocabulary.push(w);
    // dict(zip(...)): a repeated word (the OOV token also seen in text) keeps its last index.
    this.wordIndex = new Map();
    vocabulary.forEach((w, i) => this.wordIndex.set(w, i + 1));
    this.indexWord = new Map();
    for (const [w, i] of this.wordIndex) this.indexWord.set(i, w);
    this.indexDocs.clear();
    for (const [w, c] of this.wordDocs) {
      const index = this.wordIndex.get(w);
      if (index !== undefined) this.indexDocs.set(index, c);
    }
    return this;
  }

  /** Keras `texts_to_sequences` for one text. */
  textToSequence(text: string): number[] {
    const numWords = this.numWords;
    const oovIndex = this.oovToken === null ? undefined : this.wordIndex.get(this.oovToken);
    const out: number[] = [];
    for (const w of this.tokenize(text)) {
      const i = this.wordIndex.get(w);
      if (i !== undefined) {
        // Keras tests `if num_words and i >= num_words`: num_words 0 means no limit.
        if (numWords && i >= numWords) {
          if (oovIndex !== undefined) out.push(oovIndex);
        } else {
          out.push(i);
        }
      } else if (oovIndex !== undefined) {
        out.push(oovIndex);
      }
    }
    return out;
  }

  /** Keras `texts_to_sequences`. */
  textsToSequences(texts: Iterable<string>): number[][] {
    const out: number[][] = [];
    for (const t of texts) out.push(this.textToSequence(t));
    return out;
  }

  /** Number of embedding rows a model needs for these sequences (num_words, else vocabulary + 1). */
  get vocabularySize(): number {
    return this.numWords ? this.numWords : this.wordIndex.size + 1;
  }

  /** The object Keras' `to_json()` serializes, maps encoded as Keras does (Python json.dumps). */
  toKerasJson(): KerasTokenizerJson {
    const obj = <K extends string | number>(m: Map<K, string | number>) => {
      const o = new Map<string, string | number>();
      for (const [k, v] of m) o.set(String(k), v);
      return pythonJsonDumps(o);
    };
    return {
      class_name: 'Tokenizer',
      config: {
        num_words: this.numWords,
        filters: this.filters,
        lower: this.lower,
        split: this.split,
        char_level: this.charLevel,
        oov_token: this.oovToken,
        document_count: this.documentCount,
        word_counts: obj(this.wordCounts),
        word_docs: obj(this.wordDocs),
        index_docs: obj(this.indexDocs),
        index_word: obj(this.indexWord),
        word_index: obj(this.wordIndex),
      },
    };
  }

  /** Exactly the string Keras' `tokenizer.to_json()` returns for the same state. */
  toJsonString(): string {
    const j = this.toKerasJson();
    return pythonJsonDumps({ class_name: j.class_name, config: { ...j.config } });
  }

  /** Keras `tokenizer_from_json`; accepts the JSON string or the parsed object. */
  static fromKerasJson(json: string | KerasTokenizerJson): Tokenizer {
    const parsed: unknown = typeof json === 'string' ? JSON.parse(json) : json;
    if (!isRecord(parsed) || parsed.class_name !== 'Tokenizer' || !isRecord(parsed.config)) {
      throw new Error('Tokenizer JSON: expected {"class_name": "Tokenizer", "config": {...}}');
    }
    const c = parsed.config;
    const opt = <T>(field: string, check: (v: unknown) => v is T): T | undefined => {
      const v = c[field];
      if (v === undefined) return undefined;
      if (!check(v)) throw new Error(`Tokenizer JSON: config.${field} has the wrong type`);
      return v;
    };
    const isStr = (v: unknown): v is string => typeof v === 'string';
    const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
    const isNumOrNull = (v: unknown): v is number | null => v === null || typeof v === 'number';
    const isStrOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
    const t = new Tokenizer({
      numWords: opt('num_words', isNumOrNull),
      filters: opt('filters', isStr),
      lower: opt('lower', isBool),
      split: opt('split', isStr),
      charLevel: opt('char_level', isBool),
      oovToken: opt('oov_token', isStrOrNull),
    });
    // What would make textToSequence throw or yield ids no Embedding row has is refused here, at
    // import, rather than found by the first event that reaches a worker.
    if (!t.charLevel && t.split.length === 0) throw new Error('Tokenizer JSON: config.split must not be empty (unless char_level)');
    t.documentCount = opt('document_count', (v): v is number => typeof v === 'number') ?? 0;
    const map = (field: string): [string, unknown][] => {
      const raw = c[field];
      if (raw === undefined) return [];
      // Keras writes the maps as JSON strings; tolerate objects from hand-written sidecars.
      if (typeof raw === 'string') {
        try {
          return [...parseOrderedFlatObject(raw).entries()];
        } catch (e) {
          throw new Error(`Tokenizer JSON: config.${field}: ${(e as Error).message}`);
        }
      }
      if (!isRecord(raw)) throw new Error(`Tokenizer JSON: config.${field} is not a JSON object`);
      return Object.entries(raw);
    };
    const num = (field: string, k: string, v: unknown): number => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`Tokenizer JSON: config.${field}[${JSON.stringify(k)}] is not a number`);
      }
      return v;
    };
    for (const [k, v] of map('word_counts')) t.wordCounts.set(k, num('word_counts', k, v));
    for (const [k, v] of map('word_docs')) t.wordDocs.set(k, num('word_docs', k, v));
    for (const [k, v] of map('index_docs')) t.indexDocs.set(Number(k), num('index_docs', k, v));
    for (const [k, v] of map('word_index')) {
      const id = num('word_index', k, v);
      if (!Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID) {
        throw new Error(`Tokenizer JSON: config.word_index[${JSON.stringify(k)}] is ${id}, not a token id (an integer 0-${MAX_TOKEN_ID})`);
      }
      t.wordIndex.set(k, id);
    }
    const indexWord = map('index_word');
    if (indexWord.length > 0) {
      for (const [k, v] of indexWord) {
        if (typeof v !== 'string') throw new Error(`Tokenizer JSON: config.index_word[${k}] is not a string`);
        t.indexWord.set(Number(k), v);
      }
    } else {
      for (const [w, i] of t.wordIndex) t.indexWord.set(i, w);
    }
    return t;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
