/** `--name value` from the command line as a number, `def` when absent (the state benches' knobs). */
export function arg(name: string, def: string): number {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? process.argv[i + 1] : def);
}
