// One pino logger for the process. Modules take a child with their own `component` so a line says
// where it came from; auth headers never reach a log line (see redact paths).
// Lines go to stdout through an asynchronous destination: one request line per request at the
// shipped default (`log.requests: info`) was one synchronous write(2) each; now lines written while
// a write is in flight leave together in the next one, and pino flushes what is left on exit.
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
}, pino.destination({ dest: 1, sync: false }));

export function componentLogger(component: string): Logger {
  return logger.child({ component });
}
