import { join } from 'node:path';
import type { Command } from 'commander';
import { mlpipeHome } from '../../home.ts';
import { startDevServer } from '../../temporal/dev-server.ts';
import { positiveInt } from '../temporal-options.ts';

export function register(program: Command): void {
  program
    .command('server')
    .description("run the embedded Temporal dev server (SQLite under mlpipe's data dir, so runs survive a restart)")
    .option('--port <n>', 'gRPC port', positiveInt('--port'), 7233)
    .option('--ui-port <n>', 'Temporal Web UI port', positiveInt('--ui-port'), 8233)
    .option('--ip <ip>', 'address to bind (127.0.0.1 unless you mean it)', '127.0.0.1')
    .option('--db <file>', 'SQLite file (default <data dir>/temporal.db)')
    .option('--headless', 'no Web UI')
    .action(async (o: { port: number; uiPort: number; ip: string; db?: string; headless?: boolean }) => {
      const server = await startDevServer({
        dbFile: o.db ?? join(mlpipeHome(), 'temporal.db'),
        port: o.port,
        uiPort: o.headless ? null : o.uiPort,
        ip: o.ip,
      });
      process.stdout.write(
        `Temporal dev server at ${server.address}` +
          (server.uiUrl ? `; UI: ${server.uiUrl}` : '') +
          `\nlog: ${server.logFile}\nCtrl-C to stop.\n`,
      );
      const stop = () => void server.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const code = await server.exited;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (code !== 0 && code !== null) {
        throw new Error(`temporal server exited with code ${code}; see ${server.logFile}`);
      }
    });
}
