/**
 * Default Kafka topic names of wire contract v1. Every app lets configuration override them;
 * these are the names the README, docker-compose and the tests use.
 */
export const DEFAULT_TOPICS = {
  /** Sensor readings in (key = sensorId). */
  sensorReadings: 'sensor.readings',
  /** Text events in (key = streamId). */
  textEvents: 'text.events',
  /** Forecasts out (key = sensorId). */
  forecasts: 'predictions.forecasts',
  /** Classifications out (key = streamId). */
  classifications: 'predictions.classifications',
  /** Dead letters: rejected input with a reason code and the original bytes. */
  dlq: 'streamcell.dlq',
  /** Model activation events (compacted, key = model name). */
  models: 'streamcell.models',
  /** Live accuracy per model version (compacted, key = `<model>@<version>`). */
  accuracy: 'streamcell.accuracy',
} as const;

/** Logical topic roles; the values of {@link DEFAULT_TOPICS} are the default names. */
export type TopicRole = keyof typeof DEFAULT_TOPICS;

/** Topic names by role, as configured. */
export type TopicNames = { readonly [R in TopicRole]: string };
