#!/usr/bin/env node
// The `stepwise` command. Stepwise's sources are TypeScript that Node runs
// directly (type stripping, Node >= 22.18), so there is no build step here.
const [major, minor] = process.versions.node.split('.').map(Number);
// Type stripping is on by default from 22.18 on the 22 line and from 23.6.
if (major < 22 || (major === 22 && minor < 18) || (major === 23 && minor < 6)) {
  process.stderr.write(
    `stepwise: this is Node.js ${process.versions.node}, but Stepwise needs Node.js 22.18 or newer.\n` +
      'The project brings its own Node with `npm install`: run `npm run serve`, or `npx stepwise <command>`, which use it.\n',
  );
  process.exit(1);
}
const { main } = await import('../src-main/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
