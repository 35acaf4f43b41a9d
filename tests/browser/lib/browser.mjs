// Helpers for the browser tests: the system chromium through playwright-core, screenshots, and
// hand-written SSE replies for page.route.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

// Launches the given chromium headless. playwright-core never downloads a browser when
// executablePath is given. chromiumSandbox stays false (playwright then passes --no-sandbox):
// the sandbox refuses to run as root, which CI and the set-up here are, and needs unprivileged
// user namespaces that containers often lack; it guards against hostile web sites, and the only
// page loaded here is our own, from 127.0.0.1.
export function launchBrowser(executablePath = process.env.DSV4_CHROMIUM || '/usr/bin/chromium', timeout = 30000) {
  return chromium.launch({ executablePath, headless: true, chromiumSandbox: false, timeout, args: ['--disable-dev-shm-usage'] });
}

// Screenshots go to DSV4_ARTIFACT_DIR (the ctest wiring sets BUILD/test-artifacts/browser).
export const ARTIFACT_DIR = process.env.DSV4_ARTIFACT_DIR || join(here, '..', 'artifacts');
mkdirSync(ARTIFACT_DIR, { recursive: true });

export async function screenshot(page, name) {
  const path = join(ARTIFACT_DIR, `${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);
  return path;
}

// An OpenAI chat.completion.chunk stream: `deltas` are delta objects, one event each, then a
// finish reason, a usage chunk and [DONE].
export function sseBody(deltas, { finish = 'stop', usage = { prompt_tokens: 12, completion_tokens: 34 } } = {}) {
  const base = { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1700000000, model: 'dsv4-default' };
  const events = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }] }];
  for (const d of deltas) events.push({ ...base, choices: [{ index: 0, delta: d, finish_reason: null }] });
  events.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
  events.push({
    ...base,
    choices: [],
    usage: {
      ...usage,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  });
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
}
