/**
 * Per-suite setup of the e2e run: drops tfjs' "install our node backend" banner, which the cpu
 * backend prints on its first tensor in every suite that builds a reference model. It is the same
 * twenty lines each time and pushed the lines that matter (failures, figures) out of short logs.
 * Every other warning passes through unchanged.
 */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && args[0].includes('Hi, looks like you are running TensorFlow.js in Node.js')) return;
  warn(...args);
};
