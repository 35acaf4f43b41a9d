// /v1/chat/completions through the official `openai` SDK (v6): plain and streamed replies,
// reasoning on / off, a tool-call round trip, logprobs, n > 1, the usage fields (DeepSeek's cache
// counters, reasoning tokens), seeds, model names and the route aliases.
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

const user = (content) => [{ role: 'user', content }];

function checkUsage(u, { n = 1 } = {}) {
  assert.ok(u, 'usage is present');
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens', 'prompt_cache_hit_tokens', 'prompt_cache_miss_tokens'])
    assert.ok(Number.isInteger(u[k]) && u[k] >= 0, `usage.${k} is a non-negative integer: ${JSON.stringify(u)}`);
  assert.ok(u.prompt_tokens > 0);
  assert.ok(u.completion_tokens >= n);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
  assert.equal(u.prompt_tokens_details?.cached_tokens, u.prompt_cache_hit_tokens);
  const r = u.completion_tokens_details?.reasoning_tokens;
  assert.ok(Number.isInteger(r) && r >= 0 && r <= u.completion_tokens, `reasoning_tokens in [0, completion_tokens]: ${JSON.stringify(u)}`);
}

test('chat: plain reply', async () => {
  const r = await client.chat.completions.create({ model: MODEL_ID, messages: user('Hello there'), max_tokens: 8 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, MODEL_ID);
  assert.ok(Number.isInteger(r.created) && r.created > 1.6e9);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
  assert.equal(typeof c.message.content, 'string');
  checkUsage(r.usage);
  assert.ok(r.usage.completion_tokens <= 8);
  if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 8);
});

test('chat: max_completion_tokens, system + multi-turn history, content parts', async () => {
  const r = await client.chat.completions.create({
    model: MODEL_ID,
    max_completion_tokens: 5,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: [{ type: 'text', text: 'first' }, { type: 'text', text: 'question' }] },
      { role: 'assistant', content: 'an answer' },
      { role: 'user', content: 'second question' },
    ],
  });
  assert.ok(r.usage.completion_tokens <= 5);
  assert.ok(r.usage.prompt_tokens > 10);
});

test('chat: the same seed gives the same reply; stream and non-stream agree', async () => {
  const req = { model: MODEL_ID, messages: user('Tell me a story'), max_tokens: 12, seed: 1234, temperature: 1 };
  const a = await client.chat.completions.create(req);
  const b = await client.chat.completions.create(req);
  assert.deepEqual(a.choices[0].message, b.choices[0].message);
  const s = await client.chat.completions.create({ ...req, stream: true });
  let reasoning = '', content = '';
  for await (const ch of s) {
    for (const c of ch.choices) {
      reasoning += c.delta.reasoning_content ?? '';
      content += c.delta.content ?? '';
    }
  }
  assert.equal(reasoning, a.choices[0].message.reasoning_content ?? '');
  assert.equal(content, a.choices[0].message.content ?? '');
});

test('chat stream: deltas, finish_reason, usage with stream_options.include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL_ID,
    messages: user('Count to ten'),
    max_tokens: 10,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const ch of stream) chunks.push(ch);
  assert.ok(chunks.length >= 3, `got ${chunks.length} chunks`);
  const id = chunks[0].id;
  for (const ch of chunks) {
    assert.equal(ch.object, 'chat.completion.chunk');
    assert.equal(ch.id, id, 'every chunk has the same id');
    assert.equal(ch.model, MODEL_ID);
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const withChoices = chunks.filter((c) => c.choices.length > 0);
  const finishes = withChoices.filter((c) => c.choices[0].finish_reason !== null);
  assert.equal(finishes.length, 1, 'exactly one chunk carries the finish_reason');
  assert.ok(['stop', 'length'].includes(finishes[0].choices[0].finish_reason));
  assert.equal(withChoices.at(-1), finishes[0], 'the finish_reason chunk is the last choice chunk');
  // include_usage: every chunk has usage null except the final one, which has no choices.
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  checkUsage(last.usage);
  for (const ch of chunks.slice(0, -1)) assert.equal(ch.usage, null);
  const text = withChoices.map((c) => (c.choices[0].delta.reasoning_content ?? '') + (c.choices[0].delta.content ?? '')).join('');
  assert.ok(text.length > 0, 'some text was streamed');
});

test('chat stream without include_usage: no usage chunk', async () => {
  const stream = await client.chat.completions.create({ model: MODEL_ID, messages: user('hi'), max_tokens: 4, stream: true });
  const chunks = [];
  for await (const ch of stream) chunks.push(ch);
  for (const ch of chunks) {
    assert.ok(ch.choices.length > 0, 'every chunk has a choice');
    assert.ok(ch.usage === undefined || ch.usage === null);
  }
});

test('chat stream: the SDK stream helper assembles the final completion', async () => {
  const runner = client.chat.completions.stream({ model: 'deepseek-chat', messages: user('Say something'), max_tokens: 8, seed: 7 });
  const deltas = [];
  runner.on('content', (d) => deltas.push(d));
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.role, 'assistant');
  assert.equal(final.choices[0].message.content ?? '', deltas.join(''));
  assert.ok(['stop', 'length'].includes(final.choices[0].finish_reason));
});

test('reasoning: thinking mode returns reasoning_content, and it goes back in the next turn', async () => {
  for (const model of [MODEL_ID, 'deepseek-reasoner']) {
    const r = await client.chat.completions.create({ model, messages: user('Why is the sky blue?'), max_tokens: 8 });
    const m = r.choices[0].message;
    assert.equal(typeof m.reasoning_content, 'string', `${model}: reasoning_content present`);
    assert.ok(m.reasoning_content.length > 0 || m.content.length > 0);
    assert.ok(r.usage.completion_tokens_details.reasoning_tokens > 0, `${model}: reasoning tokens counted`);
    assert.equal(r.model, model);
    // The DeepSeek multi-turn pattern: the assistant turn goes back with its reasoning.
    const r2 = await client.chat.completions.create({
      model,
      max_tokens: 4,
      messages: [...user('Why is the sky blue?'), { role: 'assistant', content: m.content ?? '', reasoning_content: m.reasoning_content }, ...user('And at sunset?')],
    });
    assert.equal(r2.choices[0].message.role, 'assistant');
  }
});

test('reasoning: thinking disabled (extra body field, deepseek-chat) gives no reasoning_content', async () => {
  const cases = [
    { model: MODEL_ID, thinking: { type: 'disabled' } },
    { model: 'deepseek-chat' },
    { model: 'deepseek-reasoner', thinking: { type: 'disabled' } },  // the field wins over the alias
  ];
  for (const extra of cases) {
    const r = await client.chat.completions.create({ messages: user('Why is the sky blue?'), max_tokens: 8, ...extra });
    const m = r.choices[0].message;
    assert.ok(m.reasoning_content === undefined || m.reasoning_content === null || m.reasoning_content === '',
      `${JSON.stringify(extra)}: reasoning_content ${JSON.stringify(m.reasoning_content)}`);
    assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 0);
    const s = await client.chat.completions.create({ messages: user('Why is the sky blue?'), max_tokens: 8, stream: true, ...extra });
    for await (const ch of s)
      for (const c of ch.choices) assert.ok(!c.delta.reasoning_content, `stream ${JSON.stringify(extra)}: no reasoning delta`);
  }
  // And enabled explicitly on deepseek-chat.
  const r = await client.chat.completions.create({ model: 'deepseek-chat', thinking: { type: 'enabled' }, messages: user('Why?'), max_tokens: 6 });
  assert.equal(typeof r.choices[0].message.reasoning_content, 'string');
  assert.ok(r.usage.completion_tokens_details.reasoning_tokens > 0);
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('tools: assistant tool_calls + tool result round trip, then a reply', async () => {
  const messages = [
    { role: 'user', content: 'What is the weather in Paris?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_abc123', content: '{"temperature_c": 21, "sky": "clear"}' },
  ];
  for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
    const r = await client.chat.completions.create({ model, messages, tools: [weatherTool], max_tokens: 8 });
    const c = r.choices[0];
    assert.equal(c.message.role, 'assistant');
    assert.ok(['stop', 'length', 'tool_calls'].includes(c.finish_reason));
    // The tools block and the tool result are in the prompt.
    assert.ok(r.usage.prompt_tokens > 40, `prompt_tokens ${r.usage.prompt_tokens}`);
    for (const tc of c.message.tool_calls ?? []) {
      assert.match(tc.id, /^call_/);
      assert.equal(tc.type, 'function');
      assert.equal(typeof tc.function.arguments, 'string');
    }
  }
  // Two parallel calls answered in order, and tool_choice none.
  const two = [
    { role: 'user', content: 'Weather in Paris and Rome?' },
    {
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'rainy' }] },
  ];
  const r = await client.chat.completions.create({ model: 'deepseek-chat', messages: two, tools: [weatherTool], tool_choice: 'none', max_tokens: 6 });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(!r.choices[0].message.tool_calls?.length, 'tool_choice none: no tool calls');
});

test('logprobs + top_logprobs (non-stream and stream)', async () => {
  const r = await client.chat.completions.create({
    model: 'deepseek-chat', messages: user('Pick a word'), max_tokens: 6, logprobs: true, top_logprobs: 3, temperature: 0,
  });
  const lp = r.choices[0].logprobs;
  assert.ok(lp && Array.isArray(lp.content), 'logprobs.content is an array');
  assert.equal(lp.content.length, r.usage.completion_tokens);
  for (const e of lp.content) {
    assert.equal(typeof e.token, 'string');
    assert.ok(Number.isFinite(e.logprob) && e.logprob <= 0, `logprob ${e.logprob}`);
    assert.ok(Array.isArray(e.bytes) && e.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
    assert.equal(e.top_logprobs.length, 3);
    for (let i = 1; i < e.top_logprobs.length; ++i) assert.ok(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob, 'top_logprobs sorted');
    // Greedy: the chosen token is the most likely one.
    assert.equal(e.token, e.top_logprobs[0].token);
    assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-6);
  }
  // Without logprobs: null.
  const plain = await client.chat.completions.create({ model: 'deepseek-chat', messages: user('Pick a word'), max_tokens: 3 });
  assert.equal(plain.choices[0].logprobs, null);
  // Stream: one logprobs entry per token over the chunks.
  const s = await client.chat.completions.create({
    model: 'deepseek-chat', messages: user('Pick a word'), max_tokens: 6, logprobs: true, top_logprobs: 2, stream: true,
    stream_options: { include_usage: true },
  });
  let n = 0, usage;
  for await (const ch of s) {
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) {
      for (const e of c.logprobs?.content ?? []) {
        ++n;
        assert.ok(e.top_logprobs.length <= 2 && e.top_logprobs.length >= 1);
      }
    }
  }
  assert.equal(n, usage.completion_tokens);
});

test('n > 1: distinct indexes, usage sums the choices (non-stream and stream)', async () => {
  const r = await client.chat.completions.create({ model: MODEL_ID, messages: user('Name a colour'), max_tokens: 6, n: 3, temperature: 1.5 });
  assert.equal(r.choices.length, 3);
  assert.deepEqual(r.choices.map((c) => c.index).sort(), [0, 1, 2]);
  for (const c of r.choices) assert.ok(['stop', 'length'].includes(c.finish_reason));
  checkUsage(r.usage, { n: 3 });
  assert.ok(r.usage.completion_tokens <= 18);
  const s = await client.chat.completions.create({ model: MODEL_ID, messages: user('Name a colour'), max_tokens: 5, n: 2, stream: true });
  const finish = new Map();
  const seen = new Set();
  for await (const ch of s)
    for (const c of ch.choices) {
      seen.add(c.index);
      if (c.finish_reason) {
        assert.ok(!finish.has(c.index), `choice ${c.index} finished once`);
        finish.set(c.index, c.finish_reason);
      }
    }
  assert.deepEqual([...seen].sort(), [0, 1]);
  assert.deepEqual([...finish.keys()].sort(), [0, 1]);
});

test('stop strings end the reply and are not emitted', async (t) => {
  // Find a piece of a seeded reply, then ask again with it as a stop string.
  const req = { model: 'deepseek-chat', messages: user('Write a line'), max_tokens: 24, seed: 99, temperature: 1 };
  const full = (await client.chat.completions.create(req)).choices[0].message.content;
  // Three printable ASCII characters after the start (the random model's text also holds
  // U+FFFD for bytes that are not UTF-8, which a stop string cannot match).
  const at = full.slice(2).search(/[ -~]{3}/);
  if (at < 0) return t.skip(`no ASCII run to cut at in ${JSON.stringify(full)}`);
  const stop = full.slice(2 + at, 2 + at + 3);
  const cut = await client.chat.completions.create({ ...req, stop: [stop] });
  assert.equal(cut.choices[0].finish_reason, 'stop');
  assert.equal(cut.choices[0].message.content, full.slice(0, full.indexOf(stop)));
});

test('models: list and retrieve', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ['deepseek-chat', 'deepseek-reasoner', MODEL_ID].sort());
  const m = await client.models.retrieve('deepseek-chat');
  assert.equal(m.id, 'deepseek-chat');
  assert.equal(m.object, 'model');
  await assert.rejects(client.models.retrieve('gpt-4o'), (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
});

test('route aliases: /chat/completions and /beta/chat/completions', async () => {
  for (const base of [srv.url, `${srv.url}/beta`]) {
    const c = new OpenAI({ baseURL: base, apiKey: 'unused', maxRetries: 0 });
    const r = await c.chat.completions.create({ model: 'deepseek-chat', messages: user('hi'), max_tokens: 3 });
    assert.equal(r.object, 'chat.completion', base);
  }
});

test('prefix completion (DeepSeek beta): the reply continues the assistant prefix', async () => {
  const c = new OpenAI({ baseURL: `${srv.url}/beta`, apiKey: 'unused', maxRetries: 0 });
  const r = await c.chat.completions.create({
    model: 'deepseek-chat',
    messages: [...user('Write code'), { role: 'assistant', content: '```python\n', prefix: true }],
    max_tokens: 6,
  });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.usage.completion_tokens >= 1);
});

test('compatibility: fields newer clients send are accepted (developer role, name, metadata, store, user, ...)', async () => {
  const r = await client.chat.completions.create({
    model: MODEL_ID,
    max_tokens: 3,
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: 'hi', name: 'alice' },
    ],
    user: 'user-1234',
    metadata: { purpose: 'test' },
    store: false,
    service_tier: 'auto',
    modalities: ['text'],
    response_format: { type: 'text' },
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [weatherTool],
    stream_options: null,
    seed: 1,
  });
  assert.equal(r.choices[0].message.role, 'assistant');
});
