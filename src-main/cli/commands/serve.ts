/** `stepwise serve`: the lab in a browser, from a token-protected server on this machine. */
import { fileURLToPath } from 'node:url';
import { LOOPBACK_HOSTS, notLoopback } from '../../server/auth.ts';
import { openAiEndpoints } from '../../server/openai.ts';
import { startServer } from '../../server/server.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { UsageError, defineCommand } from '../command.ts';

/** Where `npm run build:renderer` writes the renderer. */
const RENDERER_DIR = fileURLToPath(new URL('../../../out/renderer', import.meta.url));

export const serve = defineCommand({
  name: 'serve',
  summary: 'Serve the lab to a browser on this machine (http://127.0.0.1, with a per-launch token).',
  options: {
    port: { type: 'string', short: 'p', value: 'PORT', description: 'Port to listen on; 0 picks a free one (default 0)' },
    host: { type: 'string', value: 'HOST', description: `Loopback address to listen on: ${LOOPBACK_HOSTS.join(', ')} (default 127.0.0.1)` },
    provider: { type: 'string', value: 'PROVIDER', description: 'Where the OpenAI-compatible /v1/ endpoints run their models: cpu or webgpu (default cpu)' },
  },
  async run(values) {
    const port = Number(values.port ?? '0');
    if (!/^\d+$/.test(values.port ?? '0') || port > 65535) {
      throw new UsageError(`--port must be a whole number from 0 to 65535 (got "${values.port}")`);
    }
    const host = values.host ?? '127.0.0.1';
    const refusal = notLoopback(host);
    if (refusal) throw new UsageError(refusal);
    const provider = values.provider ?? 'cpu';
    if (provider !== 'cpu' && provider !== 'webgpu') throw new UsageError(`--provider must be cpu or webgpu (got "${provider}")`);

    const lab = openLab(resolveDataDir(values['data-dir']));
    let server;
    try {
      server = await startServer({ dispatch: lab.dispatch, events: lab.events, staticDir: RENDERER_DIR, host, port, openai: openAiEndpoints({ ...lab, provider }) });
    } catch (error) {
      lab.close();
      throw error;
    }
    process.stdout.write(
      `Stepwise is serving the lab. Open this URL in a browser on this machine:\n\n  ${server.url}\n\n` +
        `Data folder: ${lab.dataDir}\nPress Ctrl+C to stop.\n`,
    );

    const running = server;
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await running.close();
    lab.close();
    return 0;
  },
});
