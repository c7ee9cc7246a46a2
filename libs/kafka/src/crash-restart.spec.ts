import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { restartOnCrash } from './crash-restart';

/** The part of a kafkajs consumer restartOnCrash uses: instrumentation events and connect. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const connect = jest.fn(async () => undefined);
  const consumer = {
    events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
    on: (event: string, fn: (e: unknown) => void) => {
      emitter.on(event, fn);
      return () => emitter.off(event, fn);
    },
    connect,
  } as unknown as Consumer;
  const crash = (restart: boolean) =>
    emitter.emit('consumer.crash', { payload: { error: new Error('Failed to find group coordinator'), restart } });
  const join = () => emitter.emit('consumer.group_join', { payload: {} });
  return { consumer, connect, crash, join };
}

describe('restartOnCrash', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('re-runs a consumer kafkajs gave up on, backing off while it keeps failing', async () => {
    const { consumer, connect, crash, join } = fakeConsumer();
    const run = jest.fn(async () => undefined);
    const delays: number[] = [];
    restartOnCrash(consumer, run, () => true, { initialDelayMs: 100, maxDelayMs: 350, onRestart: (_, d) => delays.push(d) });

    crash(false);
    await jest.advanceTimersByTimeAsync(99);
    expect(run).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(connect).toHaveBeenCalledTimes(1);
    expect(run).toHaveBeenCalledTimes(1);

    // Still failing: each crash waits longer, up to the cap.
    for (let i = 0; i < 3; i++) {
      crash(false);
      await jest.advanceTimersByTimeAsync(400);
    }
    expect(delays).toEqual([100, 200, 350, 350]);
    expect(run).toHaveBeenCalledTimes(4);

    // Joined again: the next outage starts from the first delay.
    join();
    crash(false);
    expect(delays[delays.length - 1]).toBe(100);
  });

  it('retries when connect itself fails, and leaves crashes kafkajs restarts itself alone', async () => {
    const { consumer, connect, crash } = fakeConsumer();
    connect.mockRejectedValueOnce(new Error('ECONNREFUSED'));
    const run = jest.fn(async () => undefined);
    restartOnCrash(consumer, run, () => true, { initialDelayMs: 10 });

    crash(true);
    await jest.advanceTimersByTimeAsync(1000);
    expect(connect).not.toHaveBeenCalled();

    crash(false);
    await jest.advanceTimersByTimeAsync(10);
    expect(connect).toHaveBeenCalledTimes(1);
    expect(run).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(20);
    expect(connect).toHaveBeenCalledTimes(2);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('does nothing once unwanted or detached', async () => {
    const { consumer, connect, crash } = fakeConsumer();
    let wanted = true;
    const detach = restartOnCrash(consumer, async () => undefined, () => wanted, { initialDelayMs: 10 });
    crash(false);
    wanted = false;
    await jest.advanceTimersByTimeAsync(100);
    expect(connect).not.toHaveBeenCalled();

    wanted = true;
    crash(false);
    detach();
    await jest.advanceTimersByTimeAsync(100);
    crash(false);
    await jest.advanceTimersByTimeAsync(100);
    expect(connect).not.toHaveBeenCalled();
  });
});
