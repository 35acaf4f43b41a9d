// /metrics after real traffic: `promtool check metrics` accepts it (promtool is required: the test
// fails without it unless DSV4_ALLOW_MISSING_TOOLS=1, which turns that check into a loud skip),
// the counters moved by exactly what the replies reported (requests by endpoint and status, prompt /
// completion / reasoning tokens, TTFT and duration histogram counts), the histograms are
// well-formed, and unknown request paths neither break the format nor grow the label set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, eventually, parseMetrics, MODEL_ID } from './lib/server.mjs';

let srv, client, ant;
before(async () => {
  srv = await startServer();
  client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
  ant = new Anthropic({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
});
after(() => srv?.stop());

const user = (content) => [{ role: 'user', content }];

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') return null;
  return r;
}

function checkPromtool(t, text) {
  const r = promtool(text);
  if (r === null) {
    const msg = 'promtool is not installed (Debian package "prometheus"; scripts/install_deps.sh adds it with DSV4_WITH_TEST_TOOLS=1)';
    if (process.env.DSV4_ALLOW_MISSING_TOOLS === '1') {
      console.error(`\n*** WARNING: ${msg}: SKIPPING the promtool check (DSV4_ALLOW_MISSING_TOOLS=1) ***\n`);
      t.diagnostic(`SKIPPED promtool check: ${msg}`);
      return false;
    }
    assert.fail(`${msg}; set DSV4_ALLOW_MISSING_TOOLS=1 to skip this check`);
  }
  assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}${r.stderr}\n--- metrics (first 40 lines) ---\n${text.split('\n').slice(0, 40).join('\n')}`);
  return true;
}

function histogram(m, name) {
  const buckets = [];
  for (const [k, v] of m.samples) {
    const x = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(k);
    if (x) buckets.push([x[1] === '+Inf' ? Infinity : Number(x[1]), v]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  return { buckets, count: m.get(`${name}_count`), sum: m.get(`${name}_sum`) };
}

function checkHistogram(h, name) {
  assert.ok(h.buckets.length >= 2, `${name} has buckets`);
  assert.equal(h.buckets.at(-1)[0], Infinity, `${name} has a +Inf bucket`);
  for (let i = 1; i < h.buckets.length; ++i) assert.ok(h.buckets[i][1] >= h.buckets[i - 1][1], `${name} buckets are cumulative`);
  assert.equal(h.buckets.at(-1)[1], h.count, `${name}: +Inf bucket = count`);
  assert.ok(h.sum >= 0);
}

test('metrics: promtool accepts them before any traffic', async (t) => {
  const text = await srv.metricsText();
  checkPromtool(t, text);
  const m = parseMetrics(text);
  assert.equal(m.get('dsv4_ready'), 1);
  assert.equal(m.get('dsv4_requests_in_flight'), 0);
  assert.equal(m.get('dsv4_time_to_first_token_seconds_count'), 0);
  const r = await fetch(`${srv.url}/metrics`);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
});

test('metrics: counters move by what the replies report; promtool accepts them after traffic', async (t) => {
  const before = await srv.metrics();
  const tok = { prompt: 0, completion: 0, reasoning: 0 };
  let generations = 0;
  const add = (u) => {
    tok.prompt += u.prompt_tokens;
    tok.completion += u.completion_tokens;
    tok.reasoning += u.completion_tokens_details?.reasoning_tokens ?? 0;
    ++generations;
  };
  // Chat: plain (thinking), plain (chat mode), n = 2, streamed with usage.
  add((await client.chat.completions.create({ model: MODEL_ID, messages: user('one'), max_tokens: 6 })).usage);
  add((await client.chat.completions.create({ model: 'deepseek-chat', messages: user('two'), max_tokens: 5 })).usage);
  add((await client.chat.completions.create({ model: MODEL_ID, messages: user('three'), max_tokens: 4, n: 2 })).usage);
  const s = await client.chat.completions.create({ model: MODEL_ID, messages: user('four'), max_tokens: 7, stream: true, stream_options: { include_usage: true } });
  for await (const ch of s) if (ch.usage) add(ch.usage);
  // Completions.
  add((await client.completions.create({ model: MODEL_ID, prompt: 'five', max_tokens: 3 })).usage);
  add((await client.completions.create({ model: MODEL_ID, prompt: 'six', suffix: 'seven', max_tokens: 3 })).usage);
  // Anthropic messages (+ count_tokens, which generates nothing).
  const am = await ant.messages.create({ model: MODEL_ID, max_tokens: 4, messages: user('eight'), thinking: { type: 'disabled' } });
  tok.prompt += am.usage.input_tokens + (am.usage.cache_read_input_tokens ?? 0);
  tok.completion += am.usage.output_tokens;
  ++generations;
  await ant.messages.countTokens({ model: MODEL_ID, messages: user('nine') });
  // Errors: 400, 404 (model), 422.
  await assert.rejects(client.chat.completions.create({ model: MODEL_ID, messages: [], max_tokens: 2 }));
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: user('x'), max_tokens: 2 }));
  await assert.rejects(client.chat.completions.create({ model: MODEL_ID, messages: user('x'), max_tokens: 'x' }));

  const text = await srv.metricsText();
  checkPromtool(t, text);
  const m = parseMetrics(text);
  const d = (name, labels) => m.get(name, labels) - before.get(name, labels);
  const req = (endpoint, status) => d('dsv4_requests_total', { endpoint, status });
  assert.equal(req('/v1/chat/completions', 200), 4);
  assert.equal(req('/v1/completions', 200), 2);
  assert.equal(req('/v1/messages', 200), 1);
  assert.equal(req('/v1/messages/count_tokens', 200), 1);
  assert.equal(req('/v1/chat/completions', 400), 1);
  assert.equal(req('/v1/chat/completions', 404), 1);
  assert.equal(req('/v1/chat/completions', 422), 1);
  assert.equal(d('dsv4_prompt_tokens_total'), tok.prompt, 'prompt tokens = the sum of usage.prompt_tokens');
  assert.equal(d('dsv4_completion_tokens_total'), tok.completion, 'completion tokens = the sum of usage.completion_tokens');
  assert.equal(d('dsv4_reasoning_tokens_total'), tok.reasoning, 'reasoning tokens = the sum of reasoning_tokens');
  assert.ok(tok.reasoning > 0);
  assert.equal(d('dsv4_time_to_first_token_seconds_count'), generations, 'one TTFT observation per generation');
  assert.equal(d('dsv4_request_duration_seconds_count'), generations);
  assert.ok(d('dsv4_inter_token_latency_seconds_count') > 0);
  assert.ok(d('dsv4_prefill_tokens_total') > 0 && d('dsv4_decode_tokens_total') > 0);
  assert.ok(d('dsv4_prefill_seconds_total') > 0 && d('dsv4_decode_seconds_total') > 0);
  assert.ok(m.get('dsv4_decode_tokens_per_second') > 0);
  assert.ok(d('dsv4_speculative_accepted_tokens_total') <= d('dsv4_speculative_drafted_tokens_total'));
  for (const h of ['dsv4_time_to_first_token_seconds', 'dsv4_inter_token_latency_seconds', 'dsv4_request_duration_seconds'])
    checkHistogram(histogram(m, h), h);
  assert.equal(m.get('dsv4_requests_in_flight'), 0);
  assert.equal(m.get('dsv4_running_sequences'), 0);
  assert.equal(m.get('dsv4_queue_depth'), 0);
  assert.equal(m.get('dsv4_client_disconnects_total'), before.get('dsv4_client_disconnects_total'));
});

test('metrics: a disconnect is counted; gauges show the running request meanwhile', async () => {
  const before = await srv.metrics();
  const ac = new AbortController();
  const s = await client.chat.completions.create(
    { model: MODEL_ID, messages: user('long'), max_tokens: 100000, logit_bias: { 1: -100 }, stream: true }, { signal: ac.signal });
  const it = s[Symbol.asyncIterator]();
  await it.next();
  await it.next();
  const mid = await srv.metrics();
  assert.equal(mid.get('dsv4_requests_in_flight'), 1);
  assert.equal(mid.get('dsv4_running_sequences'), 1);
  ac.abort();
  await eventually(async () => {
    const m = await srv.metrics();
    return m.get('dsv4_client_disconnects_total') === before.get('dsv4_client_disconnects_total') + 1 && m.get('dsv4_requests_in_flight') === 0;
  }, { ms: 6000, what: 'disconnect counted' });
});

test('metrics: unknown paths (with quotes, backslashes, newlines) keep /metrics valid and the label set bounded', async (t) => {
  for (let i = 0; i < 40; ++i) await fetch(`${srv.url}/v1/probe-${i}`);
  for (const p of ['/v1/a%22b', '/v1/back%5Cslash', '/v1/new%0Aline', '/x%7D%20y']) await fetch(`${srv.url}${p}`, { method: 'POST', body: '{}' });
  const text = await srv.metricsText();
  checkPromtool(t, text);
  const endpoints = new Set();
  for (const line of text.split('\n')) {
    const m = /^dsv4_requests_total\{endpoint="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) endpoints.add(m[1]);
  }
  assert.ok(endpoints.size <= 12, `requests_total must not get one series per unknown path (${endpoints.size}: ${[...endpoints].slice(0, 8).join(' ')} ...)`);
});
