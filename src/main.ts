/**
 * `npm start`: read the configuration, start Ringside, stop cleanly on SIGINT/SIGTERM.
 * A bad configuration value stops here with one line naming the key, the value and what is expected.
 */
import { ConfigError, helpText, loadConfig } from './config/index.ts';
import { Ringside } from './server.ts';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${helpText()}\n`);
  process.exit(0);
}

let config;
try {
  config = loadConfig({ argv });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

let ringside: Ringside;
try {
  ringside = await Ringside.start(config);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') process.stderr.write(`Cannot listen on ${config.HOST}:${config.PORT}: the port is in use (set PORT)\n`);
  else if (e.code === 'EACCES') process.stderr.write(`Cannot listen on ${config.HOST}:${config.PORT}: permission denied (choose a PORT above 1024)\n`);
  else if (e.code === 'ECONNREFUSED') process.stderr.write(`Cannot reach the database at DATABASE_URL: ${e.message}\n`);
  else process.stderr.write(`Ringside could not start: ${e.stack ?? e.message}\n`);
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    ringside.logger.info({ signal }, 'stopping');
    ringside.close().then(
      () => process.exit(0),
      (err: unknown) => {
        ringside.logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  });
}
