/** `stepwise info`: the data folder, schema version, ONNX Runtime and the execution providers this build offers. */
import type { AppInfo } from '../../contract/entities.ts';
import { openLab } from '../../services/lab.ts';
import { resolveDataDir } from '../../services/paths.ts';
import { defineCommand } from '../command.ts';

export const info = defineCommand({
  name: 'info',
  summary: 'Show the data folder, schema version, ONNX Runtime version and the execution providers this build offers.',
  options: {
    json: { type: 'boolean', description: 'Print the same facts as JSON (the app.info procedure\'s output)' },
  },
  async run(values) {
    const lab = openLab(resolveDataDir(values['data-dir']));
    try {
      const answer = await lab.dispatch('app.info', undefined);
      if (!answer.ok) throw new Error(answer.error.message);
      const facts = answer.result as AppInfo;
      process.stdout.write(values.json ? `${JSON.stringify(facts, null, 2)}\n` : describe(facts));
      return 0;
    } finally {
      lab.close();
    }
  },
});

function describe(facts: AppInfo): string {
  const providers = facts.executionProviders.map(({ name, bundled, usable, reason }) => {
    let state = 'available';
    if (!bundled) state = name === 'cuda' ? 'not installed (see README, "GPU: CUDA")' : 'not installed';
    else if (!usable) state = `not usable: ${reason}`;
    else if (name === 'webgpu') state = `available: ${facts.gpu.summary}`;
    return `  ${name.padEnd(10)}${state}\n`;
  });
  return (
    `Stepwise ${facts.appVersion}\n` +
    `Data folder      ${facts.dataDir}\n` +
    `Schema version   ${facts.schemaVersion}\n` +
    `ONNX Runtime     ${facts.onnxRuntimeVersion}\n` +
    `GPU adapter      ${facts.gpu.summary}\n` +
    'Execution providers in this build:\n' +
    providers.join('')
  );
}
