import { BadRequestException, Module, ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { ValidationError } from 'class-validator';
import { LoggerModule } from 'nestjs-pino';
import { createLogger, nestLogger, type Logger } from '@app/config';
import type { TrainerConfig } from './config/trainer-config';
import { HttpErrorsFilter } from './http/http-errors.filter';
import { requestBodyMiddleware, requestIdOf } from './http/request-body';
import { connectInfra, type TrainerInfra } from './infra';
import { TrainerModule } from './trainer.module';

function flatten(errors: ValidationError[], parent = ''): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    for (const msg of Object.values(e.constraints ?? {})) out.push({ field, message: msg.startsWith(e.property) ? `${field}${msg.slice(e.property.length)}` : `${field}: ${msg}` });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/** The HTTP app's root: the trainer module plus request logs in the apps' log format. */
@Module({})
class TrainerHttpModule {}

/** Health checks and metric scrapes are not worth a log line each. */
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * Builds the trainer HTTP app (not listening): body limits and request ids, validation pipe with
 * field-named 400s, one exception filter (no unexplained 5xx), OpenAPI at /docs, graceful
 * shutdown, JSON-line logs on `logger` (a root logger of `@app/config` `createLogger`; by default
 * one at `config.logLevel`), one line per `/v1` request.
 * Connects (and probes) Redis and Kafka unless `infra` is given.
 */
export async function createTrainerApp(
  config: TrainerConfig,
  infra?: TrainerInfra,
  logger: Logger = createLogger(config.logLevel),
): Promise<{ app: INestApplication; infra: TrainerInfra }> {
  const connected = infra ?? (await connectInfra(config));
  const root = {
    module: TrainerHttpModule,
    imports: [
      TrainerModule.forRoot(config, connected, { closeInfra: !infra }),
      LoggerModule.forRoot({
        pinoHttp: {
          logger,
          quietReqLogger: true,
          // The request log's id is the one the client gets back (X-Request-Id, error bodies).
          genReqId: (req) => requestIdOf(req),
          autoLogging: { ignore: (req) => QUIET_PATHS.test(req.url ?? '') },
        },
      }),
    ],
  };
  const app = await NestFactory.create<NestExpressApplication>(root, { logger: nestLogger(logger), bodyParser: false });
  // Bodies are read by one middleware for every content type (limits, depth, multipart parts),
  // after the request id and, for /v1 routes with a body, the bearer token are checked.
  app.use(requestBodyMiddleware({ maxUploadBytes: config.maxUploadBytes, adminToken: config.adminToken }));
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => {
        const fields = flatten(errors);
        return new BadRequestException({ statusCode: 400, error: 'Bad Request', message: fields.map((f) => f.message), fields });
      },
    }),
  );
  app.useGlobalFilters(new HttpErrorsFilter());
  app.enableShutdownHooks();
  // Outlive typical client/load-balancer idle timeouts so a reused keep-alive socket is not reset.
  const server = app.getHttpServer() as { keepAliveTimeout: number; headersTimeout: number };
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('streamcell trainer')
      .setDescription('Admin API: models, versions, activation, retraining jobs')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs-json' });
  return { app, infra: connected };
}
