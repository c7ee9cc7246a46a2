import { decodeModelActivated } from '@app/contracts';
import { KafkaModelEventPublisher, type ModelActivatedEvent, type ProducerLike } from './model-event-publisher';

describe('KafkaModelEventPublisher', () => {
  it('sends one JSON message keyed by model name with acks=all on the configured topic', async () => {
    const sent: Parameters<ProducerLike['send']>[0][] = [];
    const producer: ProducerLike = { send: async (r) => void sent.push(r) };
    const event: ModelActivatedEvent = {
      type: 'model.activated',
      model: 'm',
      version: 2,
      previousVersion: 1,
      task: 'forecast',
      policy: 'reset',
      epoch: 5,
      activatedAt: '2026-11-27T10:00:00.000Z',
      files: { 'model.json': 'ab'.repeat(32) },
    };
    await new KafkaModelEventPublisher(producer, 'models.t').publishActivated(event);
    expect(sent).toHaveLength(1);
    expect(sent[0].topic).toBe('models.t');
    expect(sent[0].acks).toBe(-1);
    expect(sent[0].messages[0].key).toBe('m');
    expect(JSON.parse(sent[0].messages[0].value)).toEqual(event);
    // What the stream-worker decodes.
    expect(decodeModelActivated(sent[0].messages[0].value)).toEqual({ ok: true, event });
  });
});
