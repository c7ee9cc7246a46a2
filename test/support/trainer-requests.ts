/**
 * Training requests the e2e suites send to the trainer's admin API.
 */

/** A retrain request for a tiny classifier from an uploaded CSV of 40 labelled texts (trains in seconds). */
export function tinyClassifierRetrain(): Record<string, unknown> {
  const texts = ['text,label'];
  for (let i = 0; i < 40; i++) texts.push(i % 2 ? `good great item ${i},pos` : `bad awful item ${i},neg`);
  return {
    task: 'classify',
    source: { kind: 'upload', content: texts.join('\n'), format: 'csv' },
    vocabSize: 100,
    maxlen: 6,
    embeddingDim: 4,
    hiddenUnits: 4,
    epochs: 1,
  };
}
