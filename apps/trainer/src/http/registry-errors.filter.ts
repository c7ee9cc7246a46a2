import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { RegistryError } from '@app/registry';

/** Maps registry errors to HTTP: invalid name/artifact/checksum → 400, not found → 404. */
@Catch(RegistryError)
export class RegistryErrorFilter implements ExceptionFilter {
  catch(err: RegistryError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    const status = err.code === 'not_found' ? 404 : 400;
    res.status(status).json({ statusCode: status, error: err.code, message: err.message });
  }
}
