// /v1/completions (legacy text completions) through the `openai` SDK: text and token-id prompts,
// FIM with `suffix`, echo, integer logprobs, n, streaming with usage, the /beta alias.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, MODEL_ID } from './lib/server.mjs';

let srv, client;
before(async () => {
  srv = await startServer();
  client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
});
after(() => srv?.stop());

function checkUsage(u) {
  assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
}

test('completions: a text prompt', async () => {
  const r = await client.completions.create({ model: MODEL_ID, prompt: 'def fibonacci(n):', max_tokens: 8 });
  assert.equal(r.object, 'text_completion');
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.model, MODEL_ID);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].index, 0);
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.equal(r.choices[0].logprobs, null);
  checkUsage(r.usage);
  assert.ok(r.usage.completion_tokens <= 8);
  // deepseek-chat works here too (the model name only picks the chat mode).
  const r2 = await client.completions.create({ model: 'deepseek-chat', prompt: ['one prompt in a list'], max_tokens: 2 });
  assert.equal(r2.choices.length, 1);
});

test('completions: token-id prompt; a seed repeats', async () => {
  const a = await client.completions.create({ model: MODEL_ID, prompt: [0, 100, 200, 300], max_tokens: 6, seed: 5 });
  assert.equal(a.usage.prompt_tokens, 4);
  const b = await client.completions.create({ model: MODEL_ID, prompt: [0, 100, 200, 300], max_tokens: 6, seed: 5 });
  assert.equal(a.choices[0].text, b.choices[0].text);
});

test('completions: echo puts the prompt in front of the text', async () => {
  const prompt = 'The quick brown fox';
  const r = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 5, echo: true, seed: 3 });
  assert.ok(r.choices[0].text.startsWith(prompt), JSON.stringify(r.choices[0].text));
  const plain = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 5, seed: 3 });
  assert.equal(r.choices[0].text, prompt + plain.choices[0].text);
  // Streamed: the echo comes first.
  const s = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 5, echo: true, seed: 3, stream: true });
  let text = '';
  for await (const ch of s) text += ch.choices[0]?.text ?? '';
  assert.equal(text, r.choices[0].text);
});

test('completions: FIM with suffix', async () => {
  const r = await client.completions.create({
    model: MODEL_ID, prompt: 'def add(a, b):\n    ', suffix: '\n    return c\n', max_tokens: 8, seed: 9,
  });
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  // The FIM prompt holds the prefix, the suffix and three FIM markers: longer than the prefix alone.
  const noSuffix = await client.completions.create({ model: MODEL_ID, prompt: 'def add(a, b):\n    ', max_tokens: 1 });
  assert.ok(r.usage.prompt_tokens > noSuffix.usage.prompt_tokens + 3, `${r.usage.prompt_tokens} vs ${noSuffix.usage.prompt_tokens}`);
  // FIM + echo: the prompt (prefix) is echoed.
  const e = await client.completions.create({ model: MODEL_ID, prompt: 'x = ', suffix: '\nprint(x)', max_tokens: 3, echo: true });
  assert.ok(e.choices[0].text.startsWith('x = '));
});

test('completions: integer logprobs', async () => {
  const r = await client.completions.create({ model: MODEL_ID, prompt: 'Hello', max_tokens: 6, logprobs: 3, temperature: 0 });
  const lp = r.choices[0].logprobs;
  assert.ok(lp, 'logprobs present');
  const n = r.usage.completion_tokens;
  assert.equal(lp.tokens.length, n);
  assert.equal(lp.token_logprobs.length, n);
  assert.equal(lp.top_logprobs.length, n);
  assert.equal(lp.text_offset.length, n);
  for (let i = 0; i < n; ++i) {
    assert.ok(lp.token_logprobs[i] <= 0);
    const alts = Object.entries(lp.top_logprobs[i]);
    assert.ok(alts.length >= 1 && alts.length <= 3, `top_logprobs[${i}] has ${alts.length} entries`);
    // Greedy: the chosen token has the best logprob.
    const best = Math.max(...alts.map(([, v]) => v));
    assert.ok(Math.abs(best - lp.token_logprobs[i]) < 1e-6);
    if (i > 0) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1]);
  }
  // The tokens spell the text (when it is ASCII: a character split over tokens shows as U+FFFD in each).
  if (/^[\x00-\x7f]*$/.test(r.choices[0].text)) assert.equal(lp.tokens.join(''), r.choices[0].text);
});

test('completions: n > 1 and streaming with usage', async () => {
  const r = await client.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 4, n: 2, temperature: 1.5 });
  assert.deepEqual(r.choices.map((c) => c.index).sort(), [0, 1]);
  const s = await client.completions.create({
    model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 6, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const ch of s) chunks.push(ch);
  for (const ch of chunks) assert.equal(ch.object, 'text_completion');
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  checkUsage(last.usage);
  const fin = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(fin.length, 1);
});

test('completions: the /beta/completions alias', async () => {
  const c = new OpenAI({ baseURL: `${srv.url}/beta`, apiKey: 'unused', maxRetries: 0 });
  const r = await c.completions.create({ model: MODEL_ID, prompt: 'x', suffix: 'y', max_tokens: 2 });
  assert.equal(r.object, 'text_completion');
});
