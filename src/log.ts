// One pino logger for the process. Modules take a child with their own `component` so a line says
// where it came from; auth headers never reach a log line (see redact paths).
import { pino, type Logger } from 'pino';

export type { Logger };

export const logger: Logger = pino({
  level: process.env['LOG_LEVEL'] ?? 'info',
  base: { service: 'ledgerproxy' },
  redact: {
    paths: ['headers.authorization', 'headers["x-api-key"]', 'headers.cookie', '*.authorization', 'config.upstreams.*.headers'],
    censor: '[redacted]',
  },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export function componentLogger(component: string): Logger {
  return logger.child({ component });
}
