import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { createLogger, nestLogger, type Logger } from '@app/config';
import type { ConsoleConfig } from './config/console-config';
import { ConsoleModule, type ConsoleParts } from './console.module';
import { FleetMonitor } from './fleet/fleet-monitor';
import { LiveHub } from './live/live-hub';
import { TopicTail } from './live/topic-tail';

/** The built page (npm run build writes it next to the compiled server). */
export const PUBLIC_DIR = join(__dirname, '..', 'public');

/** Same-origin only: scripts and styles come from the console itself (uPlot sets inline styles). */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * Builds the console (not listening): starts the Kafka tail (resolves once its group has joined)
 * and the fleet scrapes, serves the page and the /api routes.
 */
export async function createConsoleApp(
  config: ConsoleConfig,
  logger: Logger = createLogger(config.logLevel),
): Promise<{ app: INestApplication; parts: ConsoleParts }> {
  if (!existsSync(join(PUBLIC_DIR, 'index.html'))) throw new Error(`${PUBLIC_DIR}/index.html is missing: run npm run build`);
  const hub = new LiveHub(config);
  const tail = new TopicTail(config, hub);
  const fleet = new FleetMonitor(config, tail.client);
  const parts: ConsoleParts = { hub, tail, fleet };
  const app = await NestFactory.create<NestExpressApplication>(ConsoleModule.forRoot(config, parts), { logger: nestLogger(logger) });
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    next();
  });
  app.useStaticAssets(PUBLIC_DIR, { index: 'index.html', maxAge: 0 });
  app.enableShutdownHooks();
  hub.start();
  await tail.start();
  fleet.start();
  return { app, parts };
}
