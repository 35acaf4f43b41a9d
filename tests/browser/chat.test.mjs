// The chat page of `dsv4 serve` (GET /) in headless chromium against a server on the default
// model: a streamed reasoning block and reply, multi-turn with the thinking switch and settings,
// Stop (the server counts the disconnect and frees the sequence), reload (the conversation comes
// back from local storage), hostile replies shown as text, server errors, the API key prompt and
// a phone-sized screen. Screenshots of each state go to DSV4_ARTIFACT_DIR.
//
// The tests share one browser context and run in order: the reload test reopens the conversations
// the first two wrote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, eventually, sleep, MODEL_ID } from '../clients/lib/server.mjs';
import { launchBrowser, screenshot, sseBody } from './lib/browser.mjs';

// Generous: the suite also runs against an ASan build of the server (about 3x slower).
const T = 45000;

let srv, browser, context, page;
const problems = [];  // console errors, CSP violations, uncaught exceptions on the main page

function watch(p, into) {
  p.on('console', (m) => { if (m.type() === 'error') into.push(`console: ${m.text()}`); });
  p.on('pageerror', (e) => into.push(`pageerror: ${e.message}`));
}

before(async () => {
  srv = await startServer({ args: ['--parallel', '2'] });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  watch(page, problems);
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

const lastAssistant = (p) => p.locator('.msg.assistant').last();

async function send(p, text) {
  await p.fill('#input', text);
  await p.press('#input', 'Enter');
}

// Waits for the last reply to finish streaming; resolves to its parts.
async function settledReply(p) {
  await p.waitForSelector('.msg.assistant:last-child:not(.streaming) .usage', { state: 'attached', timeout: T });
  return lastAssistant(p).evaluate((a) => ({
    reasoning: a.querySelector('.reasoning-text').textContent,
    reasoningShown: !a.querySelector('.reasoning').hidden,
    content: a.querySelector('.content').textContent,
    usage: a.querySelector('.usage').textContent,
    error: a.querySelector('.error-box').hidden ? '' : a.querySelector('.error-box').textContent,
  }));
}

async function setSettings(p, values) {
  await p.click('#open-settings');
  for (const [id, v] of Object.entries(values)) await p.fill(`#${id}`, String(v));
  await p.click('#settings-save');
  await p.waitForSelector('#settings', { state: 'hidden' });
}

// Records, in the page, every distinct length the last reply's reasoning and content reach while
// it is marked streaming: more than one proves the page renders the stream as it arrives.
function recordGrowth(p) {
  return p.evaluate(() => {
    window.__growth = [];
    const obs = new MutationObserver(() => {
      const a = document.querySelector('.msg.assistant.streaming');
      if (!a) return;
      const n = a.querySelector('.reasoning-text').textContent.length + a.querySelector('.content').textContent.length;
      if (n && window.__growth[window.__growth.length - 1] !== n) window.__growth.push(n);
    });
    obs.observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
}

async function metrics() {
  const m = await srv.metrics();
  return {
    disconnects: m.get('dsv4_client_disconnects_total'),
    running: m.get('dsv4_running_sequences'),
    inFlight: m.get('dsv4_requests_in_flight'),
  };
}

test('the page loads from the binary with its security headers, no auth and no errors', async () => {
  const r = await fetch(`${srv.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  const csp = r.headers.get('content-security-policy');
  for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "style-src 'self'"]) assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), csp);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  const html = await r.text();
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), 'no inline script in index.html');
  const etag = r.headers.get('etag');
  assert.equal((await fetch(`${srv.url}/`, { headers: { 'if-none-match': etag } })).status, 304);
  for (const [path, type] of [['/web/app.js', /^text\/javascript/], ['/web/style.css', /^text\/css/], ['/web/markdown.js', /^text\/javascript/]]) {
    const a = await fetch(srv.url + path);
    assert.equal(a.status, 200, path);
    assert.match(a.headers.get('content-type'), type, path);
    assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
  }
  assert.equal((await fetch(`${srv.url}/web/nope.js`)).status, 404);

  await page.goto(`${srv.url}/`);
  await page.waitForFunction((id) => document.getElementById('model-name').textContent === id, MODEL_ID, { timeout: T });
  assert.ok(await page.isVisible('#empty'));
  await screenshot(page, '01-empty');
  assert.deepEqual(problems, []);
});

test('a message gets its reasoning and usage, then a multi-turn reply with thinking off', async () => {
  const bodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(r.postData())); });
  // A seed makes the noise of the default model the same on every run.
  await setSettings(page, { 'set-max-tokens': 160, 'set-temperature': 1, 'set-custom': '{"seed": 11}', 'set-system': 'You are a test.' });
  assert.ok(await page.isChecked('#thinking'), 'thinking is on by default');
  // Shift+Enter is a new line, not a send.
  await page.fill('#input', 'line one');
  await page.press('#input', 'Shift+Enter');
  await page.type('#input', 'line two');
  assert.equal(await page.inputValue('#input'), 'line one\nline two');
  assert.equal(await page.locator('.msg').count(), 0);
  await send(page, 'Hello there');
  const first = await settledReply(page);
  assert.equal(first.error, '');
  assert.ok(first.reasoning.length > 0 && first.reasoningShown, 'the reasoning block is shown');
  assert.match(first.usage, /prompt \d+ · cached \d+ · completion \d+ \(reasoning \d+\) · [\d.]+ tok\/s/);
  await page.click('.msg.assistant .reasoning summary');  // unfold it for the picture
  await screenshot(page, '02-thinking-reply');

  await page.uncheck('#thinking');
  assert.ok(await page.isDisabled('#effort'), 'effort only applies to thinking');
  await send(page, 'And now without thinking');
  const second = await settledReply(page);
  assert.equal(second.error, '');
  assert.ok(second.content.length > 0, 'the reply is in the answer');
  assert.ok(!second.reasoningShown, 'no reasoning block without thinking');
  assert.equal(await page.locator('.msg').count(), 4);
  assert.equal(await page.textContent('#conv-title'), 'Hello there');
  await screenshot(page, '03-multi-turn');

  assert.equal(bodies.length, 2);
  const [a, b] = bodies;
  assert.deepEqual(a.thinking, { type: 'enabled' });
  assert.equal(a.reasoning_effort, 'high');
  assert.equal(a.model, MODEL_ID);
  assert.equal(a.max_tokens, 160);
  assert.equal(a.seed, 11);
  assert.equal(a.stream, true);
  assert.deepEqual(a.stream_options, { include_usage: true });
  assert.deepEqual(a.messages, [{ role: 'system', content: 'You are a test.' }, { role: 'user', content: 'Hello there' }]);
  assert.deepEqual(b.thinking, { type: 'disabled' });
  assert.equal(b.reasoning_effort, undefined);
  assert.deepEqual(b.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
  assert.equal(b.messages[2].reasoning_content, first.reasoning);
  assert.deepEqual(problems, []);
});

test('the reasoning streams live; Stop cancels the generation on the server', async () => {
  await page.click('#new-chat');
  await page.check('#thinking');
  // No end-of-sequence token (id 1): the reply would run to max_tokens.
  await setSettings(page, { 'set-max-tokens': 100000, 'set-custom': '{"seed": 5, "logit_bias": {"1": -100}}' });
  const before = await metrics();
  await recordGrowth(page);
  await send(page, 'Go on forever');
  assert.ok(await page.isVisible('#stop'));
  const text = () => page.textContent('.msg.assistant:last-child .reasoning-text');
  await eventually(async () => (await text()).length > 300, { ms: T, what: 'the reasoning streams' });
  assert.ok(await page.isVisible('.msg.assistant.streaming .reasoning[open] .reasoning-text'), 'the reasoning block is open while it thinks');
  assert.equal(await page.textContent('.msg.assistant.streaming .reasoning-title'), 'Thinking\u2026');
  const growth = await page.evaluate(() => window.__growth);
  assert.ok(growth.length >= 3, `the page shows the reasoning as it arrives: ${JSON.stringify(growth)}`);
  const mid = await metrics();
  assert.equal(mid.running, 1, 'the generation runs on the server');
  await screenshot(page, '04-streaming');

  await page.click('#stop');
  await eventually(async () => {
    const m = await metrics();
    return m.disconnects === before.disconnects + 1 && m.running === 0 && m.inFlight === 0;
  }, { ms: 10000, what: `the server counts the disconnect and frees the sequence (${JSON.stringify(await metrics())})` });
  const reply = await settledReply(page);
  assert.match(reply.usage, /stopped/);
  assert.ok(await page.isVisible('#send'));
  assert.ok(await page.isHidden('#stop'));
  const len = reply.reasoning.length;
  await sleep(400);
  assert.equal((await text()).length, len, 'nothing arrives after Stop');
  await screenshot(page, '05-stopped');
  assert.deepEqual(problems, []);
});

test('after a reload the conversations come back from local storage', async () => {
  const before = await page.locator('.msg').allTextContents();
  await page.reload();
  await page.waitForSelector('.conv', { timeout: T });
  const titles = await page.locator('.conv-title').allTextContents();
  assert.deepEqual(titles, ['Go on forever', 'Hello there'], 'newest first');
  assert.equal(await page.textContent('#conv-title'), 'Go on forever', 'the open conversation stays open');
  assert.deepEqual(await page.locator('.msg').allTextContents(), before);
  await page.click('.conv-open >> text=Hello there');
  assert.equal(await page.locator('.msg').count(), 4);
  assert.match(await page.textContent('.msg.assistant:last-child .usage'), /completion \d+/);
  // Settings survive the reload too.
  assert.ok(await page.isChecked('#thinking'));
  await page.click('#open-settings');
  assert.equal(await page.inputValue('#set-max-tokens'), '100000');
  assert.equal(await page.inputValue('#set-system'), 'You are a test.');
  await page.click('#settings-cancel');
  await screenshot(page, '06-reloaded');

  // Delete asks a second click, then the conversation is gone (also after another reload).
  const del = page.locator('.conv.active .conv-delete');
  await del.click();
  await del.click();
  assert.deepEqual(await page.locator('.conv-title').allTextContents(), ['Go on forever']);
  await page.reload();
  await page.waitForSelector('.conv', { timeout: T });
  assert.deepEqual(await page.locator('.conv-title').allTextContents(), ['Go on forever']);
  assert.deepEqual(problems, []);
});

test('the view follows a streaming reply until the reader scrolls up', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 420 } });
  const p = await ctx.newPage();
  await p.goto(`${srv.url}/`);
  await p.uncheck('#thinking');
  await setSettings(p, { 'set-max-tokens': 100000, 'set-custom': '{"seed": 3, "logit_bias": {"1": -100}}' });
  await send(p, 'Write a lot');
  const geo = () => p.locator('#messages').evaluate((e) => ({ top: e.scrollTop, gap: e.scrollHeight - e.scrollTop - e.clientHeight, h: e.scrollHeight }));
  await eventually(async () => (await geo()).h > 650, { ms: T, what: 'the reply fills two screens' });
  assert.ok((await geo()).gap < 40, `at the bottom while it streams: ${JSON.stringify(await geo())}`);
  await p.mouse.move(500, 200);
  await p.mouse.wheel(0, -400);
  await eventually(async () => (await geo()).gap > 200, { ms: 5000, what: 'scrolled up' });
  const held = await geo();
  await eventually(async () => (await geo()).h > held.h + 100, { ms: T, what: 'the reply keeps growing' });
  assert.ok(Math.abs((await geo()).top - held.top) < 2, 'the view stays where the reader put it');
  assert.ok(await p.isVisible('#jump'), 'a button jumps back to the latest');
  await screenshot(p, '07-scrolled-up');
  await p.click('#jump');
  await eventually(async () => (await geo()).gap < 40, { ms: 5000, what: 'back at the bottom' });
  assert.ok(await p.isHidden('#jump'));
  await p.click('#stop');
  assert.match((await settledReply(p)).usage, /stopped/);
  await ctx.close();
});

test('a hostile reply is shown as text: no script runs, even with the CSP bypassed', async () => {
  // bypassCSP: the test checks the rendering itself; the CSP is a second layer.
  const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
  const p = await ctx.newPage();
  const dialogs = [];
  p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const hostile = [
    'Here is <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2">.',
    '',
    '<svg onload="window.__pwned = 3"></svg> <iframe src="javascript:window.__pwned = 4"></iframe>',
    '',
    '[click me](javascript:window.__pwned=5) [data](data:text/html,<script>alert(1)</script>) [docs](https://example.com/a?b=1)',
    '',
    '**bold <b onmouseover="window.__pwned=6">x</b>** and `<script>alert(1)</script>`',
    '',
    '```html',
    '<script>window.__pwned = 7</script>',
    '```',
    '',
    '- one',
    '- <a href="javascript:alert(1)">two</a>',
    '',
    '| a | b |',
    '|---|---|',
    '| <img src=x onerror=alert(1)> | ok |',
  ].join('\n');
  await p.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
    body: sseBody([
      { reasoning_content: 'thinking <img src=x onerror="window.__pwned = 8">' },
      ...hostile.match(/[\s\S]{1,40}/g).map((content) => ({ content })),
      { tool_calls: [{ index: 0, id: 'call_x', type: 'function', function: { name: '<img src=x onerror=alert(1)>', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"html": "<script>window.__pwned = 9</script>"}' } }] },
    ], { finish: 'tool_calls' }),
  }));
  await p.goto(`${srv.url}/`);
  await send(p, 'be hostile');
  const reply = await settledReply(p);
  await sleep(300);
  assert.equal(await p.evaluate(() => window.__pwned), undefined, 'no injected script ran');
  assert.deepEqual(dialogs, []);
  const counts = await p.evaluate(() => {
    const m = document.getElementById('messages');
    return { bad: m.querySelectorAll('script, img, svg, iframe, b, [onerror], [onload], [onmouseover]').length,
      hrefs: [...m.querySelectorAll('a')].map((a) => a.getAttribute('href')) };
  });
  assert.equal(counts.bad, 0, 'no element comes from the reply');
  assert.deepEqual(counts.hrefs, ['https://example.com/a?b=1'], 'only the http(s) link is a link');
  assert.equal(await p.getAttribute('.content a', 'rel'), 'noopener noreferrer nofollow');
  for (const s of ['<script>window.__pwned = 1</script>', '<img src=x onerror="window.__pwned = 2">', '[click me](javascript:window.__pwned=5)', '<a href="javascript:alert(1)">two</a>'])
    assert.ok(reply.content.includes(s), `shown literally: ${s}`);
  assert.ok(reply.reasoning.includes('<img src=x onerror="window.__pwned = 8">'));
  // Markdown structure.
  assert.equal(await p.textContent('.content strong'), 'bold <b onmouseover="window.__pwned=6">x</b>');
  assert.equal(await p.textContent('.code-block pre'), '<script>window.__pwned = 7</script>');
  assert.equal(await p.textContent('.code-lang'), 'html');
  assert.equal(await p.locator('.content li').count(), 2);
  assert.equal(await p.locator('.content td').first().textContent(), '<img src=x onerror=alert(1)>');
  // The tool call, with its arguments pretty-printed, as text.
  assert.match(await p.textContent('.tool-name'), /Tool call: <img src=x onerror=alert\(1\)>/);
  assert.deepEqual(JSON.parse(await p.textContent('.tool-args')), { html: '<script>window.__pwned = 9</script>' });
  assert.match(reply.usage, /finish: tool_calls/);
  // The code block's copy button.
  await p.click('.copy-code');
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), '<script>window.__pwned = 7</script>');
  await screenshot(p, '08-hostile-reply');
  await ctx.close();
});

test('server errors are shown readably (a real 400, a 429)', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const p = await ctx.newPage();
  await p.goto(`${srv.url}/`);
  await setSettings(p, { 'set-max-tokens': 5000000 });  // more than the context: the server answers 400
  await send(p, 'too long a reply');
  const r400 = await settledReply(p);
  assert.match(r400.error, /^HTTP 400 \S+: .*max_tokens/i);

  await p.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 429,
    contentType: 'application/json',
    body: JSON.stringify({ error: { message: 'too many requests are waiting; retry shortly', type: 'rate_limit_error', param: null, code: 'queue_full' } }),
  }));
  await send(p, 'again');
  const r429 = await settledReply(p);
  assert.equal(r429.error, 'HTTP 429 queue_full: too many requests are waiting; retry shortly');
  await screenshot(p, '09-errors');
  // The server keeps serving: a good request after the errors works (Regenerate).
  await p.unroute('**/v1/chat/completions');
  await setSettings(p, { 'set-max-tokens': 8 });
  await p.click('.msg.assistant:last-child .regenerate');
  const ok = await settledReply(p);
  assert.equal(ok.error, '');
  await ctx.close();
});

test('a server with an API key: the page asks for it and sends it', async () => {
  const key = 'sekret-test-key';
  const keyed = await startServer({ apiKey: key });
  try {
    assert.equal((await fetch(`${keyed.url}/`)).status, 200, 'the page needs no key');
    assert.equal((await fetch(`${keyed.url}/web/app.js`)).status, 200);
    assert.equal((await fetch(`${keyed.url}/v1/models`)).status, 401, 'the API does');
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const p = await ctx.newPage();
    const auth = [];
    p.on('request', (r) => { if (r.url().includes('/v1/')) auth.push(r.headers().authorization ?? ''); });
    await p.goto(`${keyed.url}/`);
    await p.waitForSelector('#key-dialog[open]', { timeout: T });
    await screenshot(p, '10-api-key');
    await p.fill('#key-input', key);
    await p.click('#key-save');
    await p.waitForFunction((id) => document.getElementById('model-name').textContent === id, MODEL_ID, { timeout: T });
    await p.uncheck('#thinking');
    await setSettings(p, { 'set-max-tokens': 8 });
    await send(p, 'hello with a key');
    const r = await settledReply(p);
    assert.equal(r.error, '');
    assert.ok(auth.length >= 3 && auth.slice(1).every((h) => h === `Bearer ${key}`), JSON.stringify(auth));
    assert.equal(await p.evaluate(() => JSON.parse(localStorage.getItem('dsv4.apiKey'))), key, 'remembered');

    // A 401 on a chat request asks for the key again, then sends the request again.
    let refuse = true;
    await p.route('**/v1/chat/completions', (route) => {
      if (!refuse) return route.continue();
      refuse = false;
      return route.fulfill({ status: 401, contentType: 'application/json',
        body: JSON.stringify({ error: { message: 'Invalid or missing API key', type: 'authentication_error', code: 'invalid_api_key' } }) });
    });
    await send(p, 'refused once');
    await p.waitForSelector('#key-dialog[open]', { timeout: T });
    await p.fill('#key-input', key);
    await p.click('#key-save');
    const again = await settledReply(p);
    assert.equal(again.error, '');
    assert.equal(await p.locator('.msg').count(), 4, 'the refused reply is replaced, not kept');

    // A wrong remembered key: the next request's 401 asks again and the reply follows the new key.
    await p.evaluate(() => localStorage.setItem('dsv4.apiKey', JSON.stringify('wrong')));
    await p.reload();
    await p.waitForSelector('#key-dialog[open]', { timeout: T });
    await p.fill('#key-input', key);
    await p.click('#key-save');
    await p.waitForFunction((id) => document.getElementById('model-name').textContent === id, MODEL_ID, { timeout: T });
    await ctx.close();
  } finally {
    await keyed.stop();
  }
});

test('a phone-sized screen (dark): composer and send button visible, no horizontal scroll', async () => {
  // In the dark scheme, so that the screenshots show both.
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'dark' });
  const p = await ctx.newPage();
  await p.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    body: sseBody([
      { reasoning_content: 'The user wants a wide table and a long line of code.' },
      { content: 'A long line:\n\n```js\nconst aVeryLongIdentifierName = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];\n```\n\n' },
      { content: '| column one | column two | column three | column four | column five |\n|---|---|---|---|---|\n| 1 | 2 | 3 | 4 | 5 |\n\n' },
      { content: 'Averyveryveryveryveryveryveryveryveryveryveryverylongwordwithoutanyspaces and **done**.' },
    ]),
  }));
  await p.goto(`${srv.url}/`);
  await send(p, 'Show me something wide');
  await settledReply(p);
  const layout = await p.evaluate(() => {
    const box = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
    return { scrollWidth: document.documentElement.scrollWidth, bodyScroll: document.body.scrollWidth, w: innerWidth, h: innerHeight,
      input: box('input'), send: box('send'), sidebar: box('sidebar') };
  });
  assert.equal(layout.w, 390);
  assert.ok(layout.scrollWidth <= 390 && layout.bodyScroll <= 390, `no horizontal scroll: ${JSON.stringify(layout)}`);
  for (const k of ['input', 'send']) {
    const b = layout[k];
    assert.ok(b.width > 0 && b.left >= 0 && b.right <= 390 && b.top >= 0 && b.bottom <= 844, `${k} on screen: ${JSON.stringify(b)}`);
  }
  assert.ok(layout.sidebar.right <= 0, 'the conversation list is a closed drawer');
  assert.ok(await p.isVisible('#send'));
  await screenshot(p, '11-phone');
  await p.click('#open-sidebar');
  await p.waitForFunction(() => document.getElementById('sidebar').getBoundingClientRect().left >= 0);
  assert.ok(await p.isVisible('.conv-title >> text=Show me something wide'));
  await screenshot(p, '12-phone-drawer');
  await ctx.close();
});
