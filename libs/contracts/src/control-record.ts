/**
 * The value of a control record that resets `key`'s state for `model` (wire contract:
 * `control: "reset"` on `sensor.readings` / `text.events`). Produce it to the key's input topic
 * with the message key = `key`, through a partitioner that places it where the key's events go
 * (kafkajs' default partitioner is the Java client's): the worker then applies it in order with
 * the key's events, at its offset, exactly once.
 *
 * @param task which input topic: `forecast` (field `sensorId`) or `classify` (`streamId`)
 * @param ts when the reset was asked for, epoch ms (informational: a control record is never late)
 */
export function encodeResetControl(task: 'forecast' | 'classify', key: string, model: string, ts: number): string {
  const idField = task === 'forecast' ? 'sensorId' : 'streamId';
  return JSON.stringify({ [idField]: key, ts, model, control: 'reset' });
}
