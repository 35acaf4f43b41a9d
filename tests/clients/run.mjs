#!/usr/bin/env node
// Runs one client test file with a hard time limit:  node run.mjs FILE.test.mjs [SECONDS]
//
// Fails at once, with the fix in the message, when the npm clients are not installed (tests must
// not vanish silently) or the dsv4 binary / default model is missing. The test runs in its own
// process group; past the limit the whole group (the test and every server it started) is killed
// and the run fails.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [file, secs = '120'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node run.mjs FILE.test.mjs [SECONDS]');
  process.exit(2);
}
for (const pkg of ['openai', '@anthropic-ai/sdk']) {
  if (!existsSync(join(here, 'node_modules', pkg, 'package.json'))) {
    console.error(`FAIL: tests/clients/node_modules/${pkg} is missing: run \`npm ci\` in tests/clients ` +
      `(cd ${here} && npm ci --no-audit --no-fund), or run scripts/test.sh, which does it`);
    process.exit(1);
  }
}
const { checkPrerequisites } = await import('./lib/server.mjs');
try {
  checkPrerequisites();
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  process.exit(1);
}

const limitMs = Number(secs) * 1000;
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', resolve(here, file)], {
  cwd: here,
  stdio: 'inherit',
  detached: true,  // its own process group, so a timeout takes its servers down too
});
const killGroup = (sig) => {
  try {
    process.kill(-child.pid, sig);
  } catch {}
};
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  console.error(`FAIL: ${file} ran past its ${secs} s limit; killing it and its servers`);
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), 3000).unref();
}, limitMs);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => {
  killGroup('SIGKILL');
  process.exit(1);
});
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  killGroup('SIGKILL');  // anything it left behind
  if (timedOut) process.exit(1);
  process.exit(code ?? 1);
});
