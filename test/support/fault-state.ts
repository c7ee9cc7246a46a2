/** Old import path of state-reader.ts, kept only for bench/e2e until it imports the new modules. */
export { StateReader as FaultStateReader } from './state-reader';
