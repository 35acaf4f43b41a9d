// /v1/messages and /v1/messages/count_tokens through the official `@anthropic-ai/sdk`: a plain
// message, thinking on / off, streaming (the SDK's MessageStream helpers and the raw event order),
// tool use (a forced tool_use block, and a tool_result round trip), count_tokens, stop sequences
// and Anthropic-shaped errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, MODEL_ID } from './lib/server.mjs';

let srv, client;
before(async () => {
  srv = await startServer({ args: ['--max-body', '65536'] });
  client = new Anthropic({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});
after(() => srv?.stop());

const user = (content) => [{ role: 'user', content }];

function checkMessage(m, { model = MODEL_ID } = {}) {
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.equal(m.model, model);
  assert.ok(Array.isArray(m.content));
  assert.ok(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use'].includes(m.stop_reason), m.stop_reason);
  for (const b of m.content) assert.ok(['text', 'thinking', 'tool_use'].includes(b.type), b.type);
  // input_tokens is the part not read from the prefix cache (Anthropic's accounting): a repeated
  // prompt can be all cache_read_input_tokens.
  assert.ok(Number.isInteger(m.usage.input_tokens) && Number.isInteger(m.usage.cache_read_input_tokens));
  assert.ok(m.usage.input_tokens + m.usage.cache_read_input_tokens > 0);
  assert.ok(Number.isInteger(m.usage.output_tokens) && m.usage.output_tokens > 0);
}

test('messages: a plain reply (system prompt, thinking disabled)', async () => {
  const m = await client.messages.create({
    model: MODEL_ID, max_tokens: 8, system: 'You are terse.', messages: user('Hello'), thinking: { type: 'disabled' },
  });
  checkMessage(m);
  assert.ok(m.usage.output_tokens <= 8);
  assert.ok(!m.content.some((b) => b.type === 'thinking'), 'no thinking block');
  if (m.stop_reason === 'max_tokens') assert.equal(m.usage.output_tokens, 8);
  for (const b of m.content.filter((b) => b.type === 'text')) assert.equal(typeof b.text, 'string');
  // System as text blocks, multi-turn history, the alias name.
  const m2 = await client.messages.create({
    model: 'deepseek-chat', max_tokens: 4, system: [{ type: 'text', text: 'Be brief.' }],
    messages: [...user('one'), { role: 'assistant', content: 'two' }, { role: 'user', content: [{ type: 'text', text: 'three' }] }],
  });
  checkMessage(m2, { model: 'deepseek-chat' });
});

test('messages: thinking enabled gives a thinking block first', async () => {
  const m = await client.messages.create({
    model: MODEL_ID, max_tokens: 8, messages: user('Why is the sky blue?'), thinking: { type: 'enabled', budget_tokens: 1024 },
  });
  checkMessage(m);
  assert.equal(m.content[0]?.type, 'thinking', JSON.stringify(m.content));
  assert.equal(typeof m.content[0].thinking, 'string');
  assert.equal(typeof m.content[0].signature, 'string');
  // The thinking block goes back in the history.
  const m2 = await client.messages.create({
    model: MODEL_ID, max_tokens: 4, thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [...user('Why is the sky blue?'), { role: 'assistant', content: m.content.filter((b) => b.type !== 'tool_use') }, ...user('And?')],
  });
  checkMessage(m2);
});

test('messages: stop_sequences end the reply with stop_reason stop_sequence', async (t) => {
  const req = { model: 'deepseek-chat', max_tokens: 24, messages: user('Write a line'), temperature: 1, top_k: 50 };
  // No seed in the Anthropic API: look for a stop string in one reply and accept either outcome
  // the next time, but check the fields agree.
  const m = await client.messages.create({ ...req, stop_sequences: ['e'] });
  checkMessage(m, { model: 'deepseek-chat' });
  if (m.stop_reason === 'stop_sequence') {
    assert.equal(m.stop_sequence, 'e');
    assert.ok(!m.content.some((b) => b.type === 'text' && b.text.includes('e')), 'the stop sequence is not emitted');
  } else {
    assert.equal(m.stop_sequence, null);
  }
  // Several stop sequences: the reply names the one that matched (the earliest in the text).
  const stops = ['e', 'a', 'o', 'i', 't', 'n', 's'];
  let matched = 0;
  for (let i = 0; i < 4; ++i) {
    const r = await client.messages.create({ ...req, stop_sequences: stops });
    checkMessage(r, { model: 'deepseek-chat' });
    const text = r.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    if (r.stop_reason === 'stop_sequence') {
      ++matched;
      assert.ok(stops.includes(r.stop_sequence), JSON.stringify(r.stop_sequence));
      for (const s of stops) assert.ok(!text.includes(s), `${JSON.stringify(s)} not in the text before the stop: ${JSON.stringify(text)}`);
    } else {
      assert.equal(r.stop_sequence, null);
    }
  }
  t.diagnostic(`${matched} of 4 replies ended by one of ${stops.length} stop sequences`);
});

test('messages stream: SDK helpers (text events, finalMessage) and the raw event order', async () => {
  const stream = client.messages.stream({ model: MODEL_ID, max_tokens: 12, messages: user('Tell me something') });
  const raw = [];
  let text = '', thinking = '';
  stream.on('streamEvent', (e) => raw.push(structuredClone(e)));  // (the helper grows message_start's message in place)
  stream.on('text', (d) => (text += d));
  stream.on('thinking', (d) => (thinking += d));
  const final = await stream.finalMessage();
  checkMessage(final);
  assert.ok(final.usage.output_tokens <= 12);
  const finalText = final.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  const finalThinking = final.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
  assert.equal(text, finalText);
  assert.equal(thinking, finalThinking);
  assert.ok(text.length + thinking.length > 0, 'something was streamed');
  checkEventOrder(raw);
});

// message_start, then per block: content_block_start, content_block_delta*, content_block_stop
// with increasing indexes, then message_delta (stop_reason, usage), then message_stop.
function checkEventOrder(events) {
  const types = events.map((e) => e.type).filter((t) => t !== 'ping');
  assert.equal(types[0], 'message_start', types.join(' '));
  assert.equal(types.at(-1), 'message_stop', types.join(' '));
  assert.equal(types.at(-2), 'message_delta', types.join(' '));
  const start = events.find((e) => e.type === 'message_start');
  assert.deepEqual(start.message.content, []);
  assert.equal(start.message.stop_reason, null);
  let open = -1, next = 0;
  for (const e of events.slice(1, -2)) {
    if (e.type === 'ping') continue;
    if (e.type === 'content_block_start') {
      assert.equal(open, -1, 'no block is open when one starts');
      assert.equal(e.index, next, 'block indexes count up from 0');
      open = e.index;
    } else if (e.type === 'content_block_delta') {
      assert.equal(e.index, open, 'deltas belong to the open block');
    } else if (e.type === 'content_block_stop') {
      assert.equal(e.index, open);
      open = -1;
      ++next;
    } else {
      assert.fail(`unexpected event ${e.type} between message_start and message_delta`);
    }
  }
  assert.equal(open, -1, 'every block is closed before message_delta');
  const md = events.at(-2);
  assert.ok(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use'].includes(md.delta.stop_reason));
  assert.ok(md.usage.output_tokens > 0);
  return next;
}

test('messages stream: raw events with stream: true, thinking off and on', async () => {
  for (const thinking of [{ type: 'disabled' }, { type: 'enabled', budget_tokens: 2048 }]) {
    const s = await client.messages.create({ model: MODEL_ID, max_tokens: 10, messages: user('Hi'), stream: true, thinking });
    const events = [];
    for await (const e of s) events.push(e);
    const blocks = checkEventOrder(events);
    // No block only when the (random-weight) model ended the turn at once.
    const md = events.at(-2);
    if (blocks === 0) assert.ok(md.delta.stop_reason === 'end_turn' && md.usage.output_tokens === 1, JSON.stringify(md));
    if (blocks === 0) continue;
    const starts = events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block.type);
    if (thinking.type === 'disabled') assert.ok(!starts.includes('thinking'), starts.join(','));
    else assert.equal(starts[0], 'thinking', starts.join(','));
    // Delta kinds match their block.
    const kind = { text: 'text_delta', thinking: 'thinking_delta', tool_use: 'input_json_delta' };
    const blockType = [];
    for (const e of events) {
      if (e.type === 'content_block_start') blockType[e.index] = e.content_block.type;
      if (e.type === 'content_block_delta' && e.delta.type !== 'signature_delta') assert.equal(e.delta.type, kind[blockType[e.index]]);
    }
  }
});

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city', 'unit'],
  },
};

test('tools: tool_use in the history + tool_result round trip, then a reply', async () => {
  const messages = [
    ...user('Weather in Paris?'),
    { role: 'assistant', content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris', unit: 'c' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '21 C and clear' }] },
  ];
  const m = await client.messages.create({ model: MODEL_ID, max_tokens: 8, tools: [weatherTool], messages });
  checkMessage(m);
  // An error result and a result with text blocks, followed by more user text.
  const m2 = await client.messages.create({
    model: 'deepseek-chat', max_tokens: 4, tools: [weatherTool],
    messages: [
      ...messages.slice(0, 2),
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'toolu_01', content: [{ type: 'text', text: 'service down' }], is_error: true },
        { type: 'text', text: 'Try again?' },
      ] },
    ],
  });
  checkMessage(m2, { model: 'deepseek-chat' });
  // A tool_result for an unknown tool_use id is refused.
  await assert.rejects(
    client.messages.create({ model: MODEL_ID, max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'x' }] }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.error?.error?.type === 'invalid_request_error',
  );
});

test('tools: a forced tool_use block (tool_choice tool / any) with id, name and input; then the round trip', async () => {
  for (const tool_choice of [{ type: 'tool', name: 'get_weather' }, { type: 'any' }]) {
    const m = await client.messages.create({
      model: 'deepseek-chat', max_tokens: 300, temperature: 2, tools: [weatherTool], tool_choice, messages: user('Weather in Oslo?'),
    });
    checkMessage(m, { model: 'deepseek-chat' });
    assert.equal(m.stop_reason, 'tool_use', JSON.stringify(m.content));
    const uses = m.content.filter((b) => b.type === 'tool_use');
    assert.ok(uses.length >= 1);
    for (const u of uses) {
      assert.match(u.id, /^toolu_/);
      assert.equal(u.name, 'get_weather');
      assert.equal(typeof u.input, 'object');
      assert.equal(typeof u.input.city, 'string', JSON.stringify(u.input));
      assert.ok(['c', 'f'].includes(u.input.unit), JSON.stringify(u.input));
    }
    const m2 = await client.messages.create({
      model: 'deepseek-chat', max_tokens: 6, tools: [weatherTool],
      messages: [
        ...user('Weather in Oslo?'),
        { role: 'assistant', content: m.content },
        { role: 'user', content: uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: '3 C, snow' })) },
      ],
    });
    checkMessage(m2, { model: 'deepseek-chat' });
  }
  // Streamed: the tool_use block's input arrives as input_json_delta and the helper parses it.
  const stream = client.messages.stream({
    model: 'deepseek-chat', max_tokens: 300, temperature: 2, tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_weather' },
    messages: user('Weather in Lima?'),
  });
  const raw = [];
  stream.on('streamEvent', (e) => raw.push(structuredClone(e)));
  const final = await stream.finalMessage();
  checkEventOrder(raw);
  const use = final.content.find((b) => b.type === 'tool_use');
  assert.ok(use, JSON.stringify(final.content));
  assert.equal(typeof use.input.city, 'string');
});

test('count_tokens: matches the input_tokens of the same request', async () => {
  const req = { model: MODEL_ID, system: 'You are terse.', messages: user('How many tokens is this?'), tools: [weatherTool] };
  const c = await client.messages.countTokens(req);
  assert.ok(Number.isInteger(c.input_tokens) && c.input_tokens > 10, JSON.stringify(c));
  const m = await client.messages.create({ ...req, max_tokens: 2 });
  assert.equal(m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0), c.input_tokens);
  const shorter = await client.messages.countTokens({ model: MODEL_ID, messages: user('Hi') });
  assert.ok(shorter.input_tokens < c.input_tokens);
  // No max_tokens needed; an empty message list is still an error.
  await assert.rejects(client.messages.countTokens({ model: MODEL_ID, messages: [] }), (e) => e instanceof Anthropic.BadRequestError);
});

test('errors: Anthropic-shaped bodies mapped to the SDK classes; the server keeps serving', async () => {
  const shape = (Class, status, type) => (e) => {
    assert.ok(e instanceof Class, `${Class.name} expected, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, status);
    assert.equal(e.error?.type, 'error', JSON.stringify(e.error));
    assert.equal(e.error.error.type, type);
    assert.equal(typeof e.error.error.message, 'string');
    assert.equal(e.type, type);
    return true;
  };
  await assert.rejects(client.messages.create({ model: MODEL_ID, max_tokens: 4, messages: [] }), shape(Anthropic.BadRequestError, 400, 'invalid_request_error'));
  await assert.rejects(client.messages.create({ model: MODEL_ID, messages: user('x') }), shape(Anthropic.BadRequestError, 400, 'invalid_request_error'));  // no max_tokens
  await assert.rejects(client.messages.create({ model: MODEL_ID, max_tokens: 0, messages: user('x') }), shape(Anthropic.BadRequestError, 400, 'invalid_request_error'));
  await assert.rejects(client.messages.create({ model: MODEL_ID, max_tokens: 4, messages: [{ role: 'system', content: 'x' }] }),
    shape(Anthropic.BadRequestError, 400, 'invalid_request_error'));
  await assert.rejects(client.messages.create({ model: 'claude-opus-4', max_tokens: 4, messages: user('x') }), shape(Anthropic.NotFoundError, 404, 'not_found_error'));
  await assert.rejects(client.messages.create({ model: MODEL_ID, max_tokens: 4, messages: user('x'), temperature: 'hot' }),
    shape(Anthropic.UnprocessableEntityError, 422, 'invalid_request_error'));
  await assert.rejects(client.messages.create({ model: MODEL_ID, max_tokens: 4, messages: user('x'.repeat(70000)) }),
    shape(Anthropic.ContentTooLargeError, 413, 'request_too_large'));
  await assert.rejects(client.messages.create({ model: 'nope', max_tokens: 4, messages: user('x'), stream: true }), shape(Anthropic.NotFoundError, 404, 'not_found_error'));
  const r = await fetch(`${srv.url}/v1/messages`, { method: 'POST', body: '{oops', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, 'invalid_request_error');
  checkMessage(await client.messages.create({ model: MODEL_ID, max_tokens: 2, messages: user('still there?') }));
});
