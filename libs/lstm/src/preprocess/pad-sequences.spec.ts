import { padSequences } from './pad-sequences';

const rows = (a: Int32Array[]) => a.map((r) => Array.from(r));

describe('padSequences (Keras pad_sequences)', () => {
  const seqs = [[1, 2, 3, 4, 5], [6, 7], []];

  it('defaults: pre padding, pre truncation, maxlen = longest, value 0', () => {
    expect(rows(padSequences(seqs))).toEqual([
      [1, 2, 3, 4, 5],
      [0, 0, 0, 6, 7],
      [0, 0, 0, 0, 0],
    ]);
  });
  it('pre truncation keeps the tail, post truncation keeps the head', () => {
    expect(rows(padSequences(seqs, { maxlen: 3 }))).toEqual([
      [3, 4, 5],
      [0, 6, 7],
      [0, 0, 0],
    ]);
    expect(rows(padSequences(seqs, { maxlen: 3, truncating: 'post' }))[0]).toEqual([1, 2, 3]);
  });
  it('post padding with a custom value', () => {
    expect(rows(padSequences(seqs, { maxlen: 4, padding: 'post', truncating: 'post', value: -1 }))).toEqual([
      [1, 2, 3, 4],
      [6, 7, -1, -1],
      [-1, -1, -1, -1],
    ]);
  });
  it('returns Int32Array rows and refuses bad options', () => {
    expect(padSequences([[1]], { maxlen: 2 })[0]).toBeInstanceOf(Int32Array);
    expect(() => padSequences([[1]], { padding: 'middle' as 'pre' })).toThrow(/padding/);
    expect(() => padSequences([[1]], { maxlen: -1 })).toThrow(/maxlen/);
  });
});
