/** DI token of the TrainerInfra (Redis client, Kafka producer). */
export const TRAINER_INFRA = Symbol('TRAINER_INFRA');
