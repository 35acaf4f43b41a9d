#!/usr/bin/env node
// Runs one browser test file with a hard time limit:  node run.mjs FILE.test.mjs [SECONDS]
//
// Fails at once, with the fix in the message, when playwright-core is not installed (`npm ci`
// here; tests/clients needs its `npm ci` too) or the dsv4 binary / default model is missing. Skips (exit 77, ctest's SKIP_RETURN_CODE)
// with a clear message only when no chromium is installed or it cannot start. Nothing is
// downloaded: playwright-core drives the system's chromium (DSV4_CHROMIUM, else Debian's
// /usr/bin/chromium). Then tests/clients/run.mjs runs the file in its own process group; past the
// limit the whole group (the test, its browser and its servers) is killed and the run fails.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = 77;
const here = dirname(fileURLToPath(import.meta.url));
const [file, secs = '120'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node run.mjs FILE.test.mjs [SECONDS]');
  process.exit(2);
}
if (!existsSync(join(here, 'node_modules', 'playwright-core', 'package.json'))) {
  console.error('FAIL: tests/browser/node_modules/playwright-core is missing: run `npm ci` in tests/browser ' +
    `(cd ${here} && npm ci --no-audit --no-fund), or run scripts/test.sh, which does it`);
  process.exit(1);
}
const { checkPrerequisites } = await import('../clients/lib/server.mjs');
try { checkPrerequisites(); } catch (e) { console.error(`FAIL: ${e.message}`); process.exit(1); }

const candidates = [process.env.DSV4_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'].filter(Boolean);
const chromiumPath = candidates.find((p) => existsSync(p));
if (!chromiumPath) {
  console.log(`SKIP: no chromium found (looked at ${candidates.join(', ')}): install Debian's chromium ` +
    '(scripts/install_deps.sh with DSV4_WITH_TEST_TOOLS=1) or set DSV4_CHROMIUM');
  process.exit(SKIP);
}
// Can it start here? (A container without the libraries or shared memory it needs, say.)
{
  const { launchBrowser } = await import('./lib/browser.mjs');
  let browser;
  try {
    browser = await launchBrowser(chromiumPath, 30000);
  } catch (e) {
    // The message, then chromium's own output (playwright's call log and the command line omitted).
    const lines = String(e.message).replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim());
    const cut = lines.findIndex((l) => l.startsWith('Call log'));
    const why = lines.slice(0, cut < 0 ? lines.length : cut).filter((l) => l && !/^<(launching|launched)>/.test(l));
    console.log(`SKIP: chromium (${chromiumPath}) cannot start here: ${why.slice(0, 6).join(' | ')}`);
    process.exit(SKIP);
  }
  console.log(`chromium ${browser.version()} at ${chromiumPath}`);
  await browser.close();
}

// The rest (the time limit, the process group, the prerequisites) is tests/clients/run.mjs's job.
process.env.DSV4_CHROMIUM = chromiumPath;
const child = spawn(process.execPath, [join(here, '..', 'clients', 'run.mjs'), resolve(here, file), secs], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 1));
