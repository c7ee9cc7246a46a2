/**
 * A request the trainer refuses (HTTP 400, CLI usage error): the message names the field and
 * says what is wrong. Thrown by the services, so the HTTP API and the CLI refuse the same things
 * with the same words.
 */
export class InvalidRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestError';
  }
}
