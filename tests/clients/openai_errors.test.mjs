// The error table through the `openai` SDK: every status maps to the SDK's error class with the
// OpenAI error object's fields (message, type, param, code), and the server keeps serving after
// each. 401 (api key), 404 (model, route), 400 (malformed JSON, messages, role, tool_call_id,
// context overflow, max_tokens, out-of-range values), 422 (wrong JSON type), 413 (--max-body),
// 429 (--parallel 1 --queue 0), 503 (draining after SIGTERM), and the drain itself.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, eventually, sleep, withTimeout, MODEL_ID } from './lib/server.mjs';

const user = (content) => [{ role: 'user', content }];
const ok = { model: MODEL_ID, messages: user('hi'), max_tokens: 2 };
const noEos = { logit_bias: { 1: -100 } };  // the default model's EOS (id 1) banned: a request runs its full length

// `call`: a function making the request (or a promise of it).
async function expectError(call, Class, status, { code, param, type } = {}) {
  let err;
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a ${status} error, the request succeeded`);
  assert.ok(err instanceof Class, `expected ${Class.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status, err.message);
  // err.error: the OpenAI SDK gives the body's "error" object, Anthropic's SDK the whole body.
  const obj = err.error?.type === 'error' ? err.error.error : err.error;
  assert.equal(typeof obj?.message, 'string', `the body has error.message: ${JSON.stringify(err.error)}`);
  assert.ok(obj.message.length > 0);
  if (type !== undefined) assert.equal(err.type, type);
  if (code !== undefined) assert.equal(err.code, code);
  if (param !== undefined) assert.equal(err.param, param);
  return err;
}

async function assertServes(client) {
  const r = await client.chat.completions.create(ok);
  assert.equal(r.choices[0].message.role, 'assistant', 'the server still serves');
}

describe('400 / 404 / 413 / 422 on one server', () => {
  let srv, client;
  before(async () => {
    srv = await startServer({ args: ['--ctx', '512', '--max-body', '16384'] });
    client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
  });
  after(() => srv?.stop());

  test('400 malformed JSON (raw body through the SDK, and fetch)', async () => {
    const e = await expectError(
      client.post('/chat/completions', { body: '{"messages": [', headers: { 'content-type': 'application/json' } }),
      OpenAI.BadRequestError, 400, { code: 'invalid_json', type: 'invalid_request_error' });
    assert.match(e.error.message, /JSON/);
    const r = await fetch(`${srv.baseURL}/chat/completions`, { method: 'POST', body: 'not json', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.match(r.headers.get('content-type'), /application\/json/);
    const body = await r.json();
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    await expectError(client.post('/chat/completions', { body: '', headers: { 'content-type': 'application/json' } }), OpenAI.BadRequestError, 400);
    await expectError(client.post('/chat/completions', { body: '[1,2]', headers: { 'content-type': 'application/json' } }), OpenAI.BadRequestError, 400);
    await assertServes(client);
  });

  test('400 missing / empty messages, bad role, orphan tool message', async () => {
    await expectError(client.chat.completions.create({ model: MODEL_ID, max_tokens: 2 }), OpenAI.BadRequestError, 400,
      { code: 'missing_messages', param: 'messages' });
    await expectError(client.chat.completions.create({ model: MODEL_ID, messages: [], max_tokens: 2 }), OpenAI.BadRequestError, 400,
      { code: 'empty_messages', param: 'messages' });
    await expectError(client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'wizard', content: 'x' }], max_tokens: 2 }),
      OpenAI.BadRequestError, 400, { code: 'invalid_role', param: 'messages[0].role' });
    await expectError(client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user' }], max_tokens: 2 }),
      OpenAI.BadRequestError, 400);
    // A tool result for a call no assistant message made.
    await expectError(client.chat.completions.create({
      model: MODEL_ID, max_tokens: 2,
      messages: [...user('x'), { role: 'tool', tool_call_id: 'call_nobody', content: '42' }],
    }), OpenAI.BadRequestError, 400, { code: 'unknown_tool_call', param: 'messages[1].tool_call_id' });
    // ... and one whose id was made by a *later* assistant message.
    await expectError(client.chat.completions.create({
      model: MODEL_ID, max_tokens: 2,
      messages: [
        ...user('x'),
        { role: 'tool', tool_call_id: 'call_later', content: '42' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_later', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      ],
    }), OpenAI.BadRequestError, 400, { code: 'unknown_tool_call' });
    await assertServes(client);
  });

  test('400 context overflow, max_tokens < 1 or beyond the context', async () => {
    // --ctx 512: a 600-word prompt does not fit.
    await expectError(client.chat.completions.create({ model: MODEL_ID, messages: user('word '.repeat(600)), max_tokens: 2 }),
      OpenAI.BadRequestError, 400, { code: 'context_length_exceeded' });
    // Prompt + max_tokens over the context.
    await expectError(client.chat.completions.create({ model: MODEL_ID, messages: user('word '.repeat(100)), max_tokens: 480 }),
      OpenAI.BadRequestError, 400, { code: 'context_length_exceeded', param: 'max_tokens' });
    for (const max_tokens of [0, -5]) {
      await expectError(client.chat.completions.create({ ...ok, max_tokens }), OpenAI.BadRequestError, 400, { param: 'max_tokens' });
      await expectError(client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens }), OpenAI.BadRequestError, 400);
    }
    await expectError(client.chat.completions.create({ ...ok, max_tokens: 513 }), OpenAI.BadRequestError, 400, { param: 'max_tokens' });
    await expectError(client.chat.completions.create({ ...ok, max_completion_tokens: 0 }), OpenAI.BadRequestError, 400);
    // Completions too.
    await expectError(client.completions.create({ model: MODEL_ID, prompt: 'word '.repeat(600), max_tokens: 2 }),
      OpenAI.BadRequestError, 400, { code: 'context_length_exceeded' });
    await assertServes(client);
  });

  test('400 out-of-range values', async () => {
    const cases = [
      { temperature: 2.5, param: 'temperature' },
      { temperature: -1, param: 'temperature' },
      { top_p: 1.5, param: 'top_p' },
      { top_p: 0, param: 'top_p' },
      { presence_penalty: 3, param: 'presence_penalty' },
      { frequency_penalty: -2.5, param: 'frequency_penalty' },
      { n: 0, param: 'n' },
      { n: 1000, param: 'n' },
      { top_logprobs: 21, logprobs: true, param: 'top_logprobs' },
      { top_logprobs: 3, param: 'top_logprobs' },  // without logprobs
      { logit_bias: { 5: 500 }, param: 'logit_bias' },
      { logit_bias: { abc: 1 }, param: 'logit_bias' },
      { reasoning_effort: 'extreme', param: 'reasoning_effort' },
      { thinking: { type: 'sometimes' }, param: 'thinking.type' },
      { tool_choice: 'always', tools: [{ type: 'function', function: { name: 'f' } }], param: 'tool_choice' },
      { tool_choice: 'required', param: 'tool_choice' },  // and no tools
      { tool_choice: { type: 'function', function: { name: 'g' } }, tools: [{ type: 'function', function: { name: 'f' } }], param: 'tool_choice' },
      { response_format: { type: 'xml' }, param: 'response_format.type' },
      { stop: Array.from({ length: 17 }, (_, i) => `s${i}`), param: 'stop' },
    ];
    for (const { param, ...extra } of cases) {
      await expectError(client.chat.completions.create({ ...ok, ...extra }), OpenAI.BadRequestError, 400, { param });
    }
    await expectError(client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 2, logprobs: 50 }), OpenAI.BadRequestError, 400);
    await expectError(client.completions.create({ model: MODEL_ID, prompt: [1, 2, 99999999], max_tokens: 2 }), OpenAI.BadRequestError, 400);
    await expectError(client.completions.create({ model: MODEL_ID, max_tokens: 2 }), OpenAI.BadRequestError, 400, { param: 'prompt' });
    await assertServes(client);
  });

  test('422 a known field with the wrong JSON type', async () => {
    const cases = [
      { temperature: 'hot', param: 'temperature' },
      { max_tokens: 'many', param: 'max_tokens' },
      { max_tokens: 2.5, param: 'max_tokens' },
      { stream: 'yes', param: 'stream' },
      { n: '2', param: 'n' },
      { seed: 'abc', param: 'seed' },
      { stop: 5, param: 'stop' },
      { tools: 'get_weather', param: 'tools' },
      { messages: 'hello', param: 'messages' },
      { model: 7, param: 'model' },
      { logprobs: 'true', param: 'logprobs' },
      { stream_options: 1, stream: true, param: 'stream_options' },
    ];
    for (const { param, ...extra } of cases) {
      await expectError(client.chat.completions.create({ ...ok, ...extra }), OpenAI.UnprocessableEntityError, 422,
        { param, code: 'invalid_type', type: 'invalid_request_error' });
    }
    await expectError(client.completions.create({ model: MODEL_ID, prompt: 5, max_tokens: 2 }), OpenAI.UnprocessableEntityError, 422);
    await expectError(client.completions.create({ model: MODEL_ID, prompt: 'x', suffix: 3, max_tokens: 2 }), OpenAI.UnprocessableEntityError, 422);
    await assertServes(client);
  });

  test('404 unknown model (chat, completions, models/{id}) and unknown route', async () => {
    for (const p of [
      () => client.chat.completions.create({ ...ok, model: 'gpt-4o' }),
      () => client.completions.create({ model: 'gpt-4o', prompt: 'x', max_tokens: 2 }),
      () => client.models.retrieve('gpt-4o'),
    ]) {
      await expectError(p, OpenAI.NotFoundError, 404, { code: 'model_not_found', param: 'model', type: 'not_found_error' });
    }
    // A streamed request is refused before the stream starts.
    await expectError(client.chat.completions.create({ ...ok, model: 'gpt-4o', stream: true }), OpenAI.NotFoundError, 404);
    const r = await fetch(`${srv.url}/v1/no/such/route`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 404);
    const body = await r.json();
    assert.equal(body.error.type, 'not_found_error');
    assert.match(body.error.message, /no\/such\/route/);
    await expectError(client.get('/embeddings'), OpenAI.NotFoundError, 404);
    await expectError(client.embeddings.create({ model: MODEL_ID, input: 'x' }), OpenAI.NotFoundError, 404);
    await assertServes(client);
  });

  test('413 a body over --max-body', async () => {
    const e = await expectError(client.chat.completions.create({ ...ok, messages: user('x'.repeat(40000)) }), OpenAI.APIError, 413);
    assert.match(e.error.message, /16384/);
    // Over the limit while under the context: it is the body size that counts.
    await expectError(client.completions.create({ model: MODEL_ID, prompt: 'y'.repeat(20000), max_tokens: 1 }), OpenAI.APIError, 413);
    await assertServes(client);
  });
});

describe('401 with --api-key', () => {
  const KEY = 'sk-test-secret';
  let srv;
  before(async () => {
    srv = await startServer({ apiKey: KEY });
  });
  after(() => srv?.stop());

  test('missing and wrong keys are 401; Bearer and x-api-key pass; /health needs none', async () => {
    const bad = new OpenAI({ baseURL: srv.baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
    await expectError(bad.chat.completions.create(ok), OpenAI.AuthenticationError, 401, { type: 'authentication_error', code: 'invalid_api_key' });
    await expectError(bad.models.list(), OpenAI.AuthenticationError, 401);
    await expectError(bad.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 1 }), OpenAI.AuthenticationError, 401);
    const none = await fetch(`${srv.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify(ok) });
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.type, 'authentication_error');
    assert.equal((await fetch(`${srv.url}/metrics`)).status, 401, '/metrics is behind the key too');
    // An unknown route without a key: 401, not 404 (nothing is revealed).
    assert.equal((await fetch(`${srv.url}/v1/secret`)).status, 401);
    // The right key, both ways.
    const good = new OpenAI({ baseURL: srv.baseURL, apiKey: KEY, maxRetries: 0 });
    await assertServes(good);
    const viaHeader = await fetch(`${srv.baseURL}/chat/completions`, { method: 'POST', body: JSON.stringify(ok), headers: { 'x-api-key': KEY } });
    assert.equal(viaHeader.status, 200);
    const health = await fetch(`${srv.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    // Anthropic clients send x-api-key; a wrong one gets Anthropic's error shape.
    const ant = new Anthropic({ baseURL: srv.url, apiKey: 'wrong', maxRetries: 0 });
    const e = await expectError(ant.messages.create({ model: MODEL_ID, max_tokens: 2, messages: user('hi') }), Anthropic.AuthenticationError, 401);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, 'authentication_error');
    const antOk = new Anthropic({ baseURL: srv.url, apiKey: KEY, maxRetries: 0 });
    const m = await antOk.messages.create({ model: MODEL_ID, max_tokens: 2, messages: user('hi') });
    assert.equal(m.type, 'message');
  });
});

describe('429 with --parallel 1 --queue 0', () => {
  let srv, client;
  before(async () => {
    srv = await startServer({ args: ['--parallel', '1', '--queue', '0'] });
    client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
  });
  after(() => srv?.stop());

  test('a second request while one runs is refused with 429; the first is unaffected', async () => {
    const ac = new AbortController();
    // The slow one: streamed so that its first chunk proves it was admitted.
    const slow = await client.chat.completions.create({ ...ok, ...noEos, max_tokens: 100000, stream: true }, { signal: ac.signal });
    const it = slow[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const e = await expectError(client.chat.completions.create(ok), OpenAI.RateLimitError, 429, { type: 'rate_limit_error', code: 'queue_full' });
    assert.match(e.error.message, /too many requests/i);
    await expectError(client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 1 }), OpenAI.RateLimitError, 429);
    await expectError(client.chat.completions.create({ ...ok, stream: true }), OpenAI.RateLimitError, 429);
    const ant = new Anthropic({ baseURL: srv.url, apiKey: 'x', maxRetries: 0 });
    const ae = await expectError(ant.messages.create({ model: MODEL_ID, max_tokens: 2, messages: user('hi') }), Anthropic.RateLimitError, 429);
    assert.equal(ae.error.error.type, 'rate_limit_error');
    // Requests that run no generation are not queued.
    assert.equal((await fetch(`${srv.baseURL}/models`)).status, 200);
    // The slow stream is still going.
    const more = await it.next();
    assert.equal(more.done, false);
    ac.abort();
    await eventually(async () => (await srv.metrics()).get('dsv4_requests_in_flight') === 0, { ms: 10000, what: 'in_flight back to 0' });
    await assertServes(client);
    // Two concurrent slow non-stream requests: one runs, the other is refused.
    const two = await Promise.allSettled([
      client.chat.completions.create({ ...ok, ...noEos, max_tokens: 400 }),
      sleep(30).then(() => client.chat.completions.create({ ...ok, ...noEos, max_tokens: 400 })),
    ]);
    const statuses = two.map((s) => (s.status === 'fulfilled' ? 200 : s.reason.status)).sort();
    assert.deepEqual(statuses, [200, 429], JSON.stringify(two.map((s) => s.reason?.message ?? 'ok')));
    const m = await srv.metrics();
    assert.ok(m.get('dsv4_requests_total', { endpoint: '/v1/chat/completions', status: '429' }) >= 3);
  });
});

describe('503 while draining after SIGTERM', () => {
  test('new requests get 503 while a running stream finishes; then the server exits 0', async () => {
    const srv = await startServer({ args: ['--shutdown-grace', '60'] });
    try {
      const client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
      const stream = await client.chat.completions.create({
        model: 'deepseek-chat', messages: user('x'), max_tokens: 400, stream: true, stream_options: { include_usage: true },
        ...noEos,
      });
      const it = stream[Symbol.asyncIterator]();
      await it.next();
      srv.proc.kill('SIGTERM');
      await srv.waitForLog(/SIGTERM received/);
      // (The log line comes just before the drain starts.)
      await eventually(async () => (await fetch(`${srv.url}/health`)).status === 503, { ms: 5000, every: 20, what: '/health draining' });
      for (const p of [
        () => client.chat.completions.create(ok),
        () => client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 1 }),
        () => client.chat.completions.create({ ...ok, stream: true }),
      ]) {
        const e = await expectError(p, OpenAI.InternalServerError, 503, { code: 'shutting_down' });
        assert.match(e.error.message, /shutting down/);
      }
      const ant = new Anthropic({ baseURL: srv.url, apiKey: 'x', maxRetries: 0 });
      const ae = await expectError(ant.messages.create({ model: MODEL_ID, max_tokens: 2, messages: user('hi') }), Anthropic.APIError, 503);
      assert.equal(ae.error.error.type, 'overloaded_error');
      const h = await fetch(`${srv.url}/health`);
      assert.equal(h.status, 503);
      assert.deepEqual(await h.json(), { status: 'draining' });
      // The running stream is finished, not cut.
      let usage, finish;
      for (let r = await it.next(); !r.done; r = await it.next()) {
        if (r.value.usage) usage = r.value.usage;
        for (const c of r.value.choices) finish = c.finish_reason ?? finish;
      }
      assert.equal(finish, 'length');
      assert.equal(usage.completion_tokens, 400);
      const exit = await withTimeout(srv.exited, 15000, 'the server exits once drained');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.match(srv.log, /dsv4 serve: stopped/);
    } finally {
      await srv.stop();
    }
  });

  test('past --shutdown-grace the running requests are cancelled and answered; the server exits 0', async () => {
    const srv = await startServer({ args: ['--shutdown-grace', '1'] });
    try {
      const client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
      const long = { model: 'deepseek-chat', messages: user('x'), max_tokens: 100000, ...noEos };
      const nonStream = client.chat.completions.create(long);
      const stream = await client.chat.completions.create({ ...long, stream: true });
      const it = stream[Symbol.asyncIterator]();
      await it.next();
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      // The stream ends (the SDK sees a finished stream or a cut connection, never a hang).
      let finish = null;
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) for (const c of r.value.choices) finish = c.finish_reason ?? finish;
      } catch (e) {
        assert.ok(e instanceof OpenAI.APIError || e instanceof Error);
      }
      const r = await nonStream.then((x) => x, (e) => e);
      if (!(r instanceof Error)) {
        assert.ok(['length', 'stop', 'cancelled'].includes(r.choices[0].finish_reason), r.choices[0].finish_reason);
        assert.ok(r.usage.completion_tokens > 0);
      }
      const exit = await withTimeout(srv.exited, 20000, 'the server exits after the grace');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 15000);
    } finally {
      await srv.stop();
    }
  });
});

describe('--timeout 1 --default-max-tokens 5', () => {
  let srv, client;
  before(async () => {
    srv = await startServer({ args: ['--timeout', '1', '--default-max-tokens', '5'] });
    client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
  });
  after(() => srv?.stop());

  test('a generation past --timeout ends as finish_reason length (stream and non-stream)', async () => {
    const long = { model: MODEL_ID, messages: user('x'), max_tokens: 100000, ...noEos };
    let t0 = Date.now();
    const r = await client.chat.completions.create(long);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens < 100000);
    assert.ok(Date.now() - t0 < 5000, `ended near the 1 s timeout (${Date.now() - t0} ms)`);
    t0 = Date.now();
    const s = await client.chat.completions.create({ ...long, stream: true, stream_options: { include_usage: true } });
    let finish, usage;
    for await (const ch of s) {
      if (ch.usage) usage = ch.usage;
      for (const c of ch.choices) finish = c.finish_reason ?? finish;
    }
    assert.equal(finish, 'length');
    assert.ok(usage.completion_tokens > 0);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal((await srv.metrics()).get('dsv4_requests_in_flight'), 0);
  });

  test('without max_tokens the server default applies', async () => {
    const r = await client.chat.completions.create({ model: MODEL_ID, messages: user('x'), ...noEos });
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.choices[0].finish_reason, 'length');
    const c = await client.completions.create({ model: MODEL_ID, prompt: 'x', ...noEos });
    assert.equal(c.usage.completion_tokens, 5);
  });
});
