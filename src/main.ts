#!/usr/bin/env node
// CLI entry: `ledgerproxy [--config FILE]` runs the proxy; `ledgerproxy check-config FILE` validates
// a file and exits 0/1; `ledgerproxy schema` prints the JSON Schema of the config file.
import { resolve } from 'node:path';
import { ConfigError, loadConfigFile } from './config/load.js';
import { jsonSchema } from './config/schema.js';
import { logger } from './log.js';
import { installSignals, startProxy } from './server/lifecycle.js';
import { ProxyState } from './server/state.js';

const usage = `usage:
  ledgerproxy [--config FILE]        run the proxy (default ./proxy.config.yaml, or $LEDGERPROXY_CONFIG)
  ledgerproxy check-config [FILE]    validate a config file; exit 0 when valid, 1 otherwise
  ledgerproxy schema                 print the JSON Schema of the config file`;

function configPath(args: string[]): string {
  const i = args.indexOf('--config');
  const fromArg = i >= 0 ? args[i + 1] : undefined;
  return resolve(fromArg ?? process.env['LEDGERPROXY_CONFIG'] ?? 'proxy.config.yaml');
}

async function main(args: string[]): Promise<number> {
  const [command] = args;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (command === 'schema') {
    process.stdout.write(`${JSON.stringify(jsonSchema(), null, 2)}\n`);
    return 0;
  }
  if (command === 'check-config') {
    const file = resolve(args[1] ?? configPath([]));
    loadConfigFile(file);
    process.stdout.write(`${file}: valid\n`);
    return 0;
  }
  const file = configPath(args);
  const config = loadConfigFile(file);
  logger.level = config.log.level;
  const state = new ProxyState(config, logger);
  const proxy = await startProxy(state, file, logger);
  installSignals(proxy, logger);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`ledgerproxy: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
