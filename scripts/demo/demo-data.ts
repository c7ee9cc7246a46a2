/** Vocabulary of the demo's ticket streams, by sentiment (the seeded classifier's embedding). */
export const POSITIVE_WORDS = [
  'great',
  'thanks',
  'works',
  'fixed',
  'good',
  'fine',
  'resolved',
  'love',
  'fast',
  'perfect',
];
export const NEGATIVE_WORDS = [
  'broken',
  'fail',
  'failed',
  'slow',
  'bad',
  'error',
  'leak',
  'crash',
  'angry',
  'down',
];
export const NEUTRAL_WORDS = [
  'the',
  'pump',
  'is',
  'again',
  'ticket',
  'please',
  'help',
  'my',
  'it',
  'not',
  'now',
  'still',
  'valve',
  'sensor',
  'today',
];

/** Short ticket messages, from clearly unhappy to clearly happy. */
export const TICKET_TEXTS = [
  'The pump is broken again',
  'still broken, please help',
  'error on the valve sensor today',
  'it is slow and failed again',
  'angry: the pump is down',
  'leak again!',
  'ok it is fixed now',
  'thanks, works fine',
  'great, resolved fast',
  'perfect, love it',
  'the sensor is not down now, thanks',
  'good',
];
