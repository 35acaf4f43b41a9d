// The wire format as curl sees it, byte for byte: OpenAI SSE framing (every event one
// `data: <json>\n\n`, the stream ending with `data: [DONE]\n\n`), keep-alive comments while a
// stream waits (--keepalive), whitespace probes ahead of a slow non-stream body, and Anthropic's
// `event: <type>\ndata: <json>\n\n` frames.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { startServer, sleep, MODEL_ID } from './lib/server.mjs';

try {
  execFileSync('curl', ['--version'], { stdio: 'ignore' });
} catch {
  throw new Error('curl is missing (scripts/install_deps.sh installs it with DSV4_WITH_TEST_TOOLS=1)');
}

// POSTs `body` with curl; resolves to { status, headers, body } (body as a string, unbuffered).
function curl(url, body, { extra = [], maxTime = 60 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', '-N', '-i', '--max-time', String(maxTime), '-H', 'content-type: application/json', '--data-binary', '@-', ...extra, url]);
    let out = '', err = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${err}`));
      const cut = out.indexOf('\r\n\r\n');
      const head = out.slice(0, cut).split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      let b = out.slice(cut + 4);
      resolve({ status, headers, body: b });
    });
    p.stdin.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

// Splits an SSE body into frames (the text between blank lines); asserts nothing is left over.
function frames(body) {
  assert.ok(body.endsWith('\n\n'), `the stream ends with a blank line: ${JSON.stringify(body.slice(-80))}`);
  assert.ok(!body.includes('\r'), 'LF line ends only');
  return body.slice(0, -2).split('\n\n');
}

const user = (content) => [{ role: 'user', content }];
const noEos = { logit_bias: { 1: -100 } };

describe('framing', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.stop());

  test('chat stream: data: <json> frames, one JSON object each, then data: [DONE]', async () => {
    const r = await curl(`${srv.baseURL}/chat/completions`, {
      model: MODEL_ID, messages: user('Hello'), max_tokens: 12, stream: true, stream_options: { include_usage: true },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    const fs = frames(r.body);
    assert.equal(fs.at(-1), 'data: [DONE]');
    assert.equal(fs.filter((f) => f === 'data: [DONE]').length, 1);
    for (const f of fs.slice(0, -1)) {
      assert.ok(f.startsWith('data: '), `a data frame: ${JSON.stringify(f)}`);
      assert.ok(!f.includes('\n'), `one line per frame: ${JSON.stringify(f)}`);
      const j = JSON.parse(f.slice(6));
      assert.equal(j.object, 'chat.completion.chunk');
    }
    assert.ok(fs.length >= 4);
    const last = JSON.parse(fs.at(-2).slice(6));
    assert.ok(last.usage && last.usage.completion_tokens > 0);
    assert.ok(!/^event:/m.test(r.body), 'no event: lines in OpenAI streams');
  });

  test('completions stream: the same framing', async () => {
    const r = await curl(`${srv.baseURL}/completions`, { model: MODEL_ID, prompt: 'abc', max_tokens: 6, stream: true });
    assert.equal(r.status, 200);
    const fs = frames(r.body);
    assert.equal(fs.at(-1), 'data: [DONE]');
    for (const f of fs.slice(0, -1)) assert.equal(JSON.parse(f.replace(/^data: /, '')).object, 'text_completion');
  });

  test('a refused stream is a plain JSON error, not SSE', async () => {
    const r = await curl(`${srv.baseURL}/chat/completions`, { model: 'nope', messages: user('x'), stream: true });
    assert.equal(r.status, 404);
    assert.match(r.headers['content-type'], /application\/json/);
    assert.equal(JSON.parse(r.body).error.code, 'model_not_found');
  });

  test('Anthropic stream: event: <type> + data: <json of that type> frames, message_start ... message_stop', async () => {
    const r = await curl(`${srv.url}/v1/messages`, { model: MODEL_ID, messages: user('Hello'), max_tokens: 10, stream: true },
      { extra: ['-H', 'anthropic-version: 2023-06-01'] });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    const fs = frames(r.body);
    const types = [];
    for (const f of fs) {
      const lines = f.split('\n');
      assert.equal(lines.length, 2, `event + data lines: ${JSON.stringify(f)}`);
      const m = /^event: (\w+)$/.exec(lines[0]);
      assert.ok(m, `an event line: ${lines[0]}`);
      assert.ok(lines[1].startsWith('data: '));
      const j = JSON.parse(lines[1].slice(6));
      assert.equal(j.type, m[1], 'the data names the same event');
      types.push(m[1]);
    }
    assert.equal(types[0], 'message_start');
    assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
    assert.ok(types.includes('content_block_start') && types.includes('content_block_delta') && types.includes('content_block_stop'));
    assert.ok(!r.body.includes('[DONE]'));
  });
});

describe('keep-alives and probes while a request waits (--parallel 1 --keepalive 0.25)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--parallel', '1', '--keepalive', '0.25'] });
  });
  after(() => srv?.stop());

  // Holds the only slot with a long stream until the returned function is called.
  async function occupy() {
    const ac = new AbortController();
    const r = await fetch(`${srv.baseURL}/chat/completions`, {
      method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, messages: user('long'), max_tokens: 100000, stream: true, ...noEos }),
    });
    const reader = r.body.getReader();
    await reader.read();
    return () => ac.abort();
  }

  test('a queued stream gets ": keep-alive" comments, then its data, then [DONE]', async () => {
    const release = await occupy();
    const waiting = curl(`${srv.baseURL}/chat/completions`, { model: MODEL_ID, messages: user('hi'), max_tokens: 4, stream: true });
    await sleep(1500);
    release();
    const r = await waiting;
    assert.equal(r.status, 200);
    const fs = frames(r.body);
    const kept = fs.filter((f) => f === ': keep-alive').length;
    assert.ok(kept >= 3, `>= 3 keep-alive comments in 1.5 s at 0.25 s (got ${kept}):\n${r.body.slice(0, 800)}`);
    for (const f of fs) assert.ok(f === ': keep-alive' || f.startsWith('data: '), `comment or data: ${JSON.stringify(f)}`);
    assert.equal(fs.at(-1), 'data: [DONE]');
    // The first data frame (the role) comes before the comments: the client sees the stream open.
    assert.ok(fs[0].startsWith('data: '));
    const texts = fs.filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)));
    assert.ok(texts.some((c) => c.choices[0]?.finish_reason));
  });

  test('an Anthropic stream that waits gets SSE comments too', async () => {
    const release = await occupy();
    const waiting = curl(`${srv.url}/v1/messages`, { model: MODEL_ID, messages: user('hi'), max_tokens: 4, stream: true });
    await sleep(1000);
    release();
    const r = await waiting;
    const fs = frames(r.body);
    assert.ok(fs.filter((f) => f.startsWith(':')).length >= 2);
    assert.ok(fs[0].startsWith('event: message_start'));
    assert.ok(fs.at(-1).startsWith('event: message_stop'));
  });

  test('a slow non-stream reply: whitespace probes (after 2 s), then one JSON body', async () => {
    const release = await occupy();
    const waiting = curl(`${srv.baseURL}/chat/completions`, { model: MODEL_ID, messages: user('hi'), max_tokens: 4 });
    await sleep(4500);
    release();
    const r = await waiting;
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /application\/json/);
    const lead = /^\s*/.exec(r.body)[0];
    assert.ok(lead.length >= 1, 'leading whitespace probed the connection');
    assert.match(lead, /^ +$/);
    assert.equal(JSON.parse(r.body).object, 'chat.completion');
  });
});
