// Constrained decoding through the `openai` SDK: response_format json_object / json_schema and
// forced tool calls (tool_choice "required" and a named function). The default model's weights are
// random, so every reply here is only well-formed because the server constrains the sampling: at
// temperature 2 it must still be parseable JSON that satisfies the schema / the tool's parameters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, MODEL_ID } from './lib/server.mjs';

let srv, client;
before(async () => {
  srv = await startServer();
  client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});
after(() => srv?.stop());

const user = (content) => [{ role: 'user', content }];

// A small JSON-schema checker for the keywords used below.
function validate(schema, v, path = '$') {
  const errs = [];
  const type = schema.type;
  const is = {
    object: (x) => x !== null && typeof x === 'object' && !Array.isArray(x),
    array: Array.isArray,
    string: (x) => typeof x === 'string',
    integer: Number.isInteger,
    number: (x) => typeof x === 'number' && Number.isFinite(x),
    boolean: (x) => typeof x === 'boolean',
    null: (x) => x === null,
  };
  if (type && !(Array.isArray(type) ? type : [type]).some((t) => is[t](v))) return [`${path}: ${JSON.stringify(v)} is not ${type}`];
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) errs.push(`${path}: ${JSON.stringify(v)} not in enum`);
  if (is.string(v)) {
    if (schema.minLength !== undefined && [...v].length < schema.minLength) errs.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && [...v].length > schema.maxLength) errs.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) errs.push(`${path}: ${v} < ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) errs.push(`${path}: ${v} > ${schema.maximum}`);
  }
  if (is.object(v)) {
    for (const k of schema.required ?? []) if (!(k in v)) errs.push(`${path}: missing required '${k}'`);
    for (const [k, x] of Object.entries(v)) {
      if (schema.properties?.[k]) errs.push(...validate(schema.properties[k], x, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}: unexpected property '${k}'`);
    }
  }
  if (is.array(v)) {
    if (schema.minItems !== undefined && v.length < schema.minItems) errs.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && v.length > schema.maxItems) errs.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items) v.forEach((x, i) => errs.push(...validate(schema.items, x, `${path}[${i}]`)));
  }
  return errs;
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    assert.fail(`${what} is not valid JSON (${e.message}): ${JSON.stringify(text)}`);
  }
}

const personSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer' },  // (minimum / maximum are not enforced: src/constrain/schema.h)
    pet: { type: 'string', enum: ['cat', 'dog', 'none'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
  },
  required: ['name', 'age', 'pet'],
  additionalProperties: false,
};

test('response_format json_object: the content parses as a JSON object (temperature 2)', async () => {
  for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({
        model, seed, temperature: 2, max_tokens: 256,
        messages: [{ role: 'system', content: 'Answer in JSON.' }, ...user('Describe a cat as JSON')],
        response_format: { type: 'json_object' },
      });
      const c = r.choices[0];
      assert.equal(c.finish_reason, 'stop', `${model} seed ${seed}: the JSON must be finished within max_tokens: ${JSON.stringify(c.message)}`);
      const v = parseJson(c.message.content, `${model} seed ${seed} content`);
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `a JSON object: ${c.message.content}`);
    }
  }
});

test('response_format json_schema: the content satisfies the schema (temperature 2, stream and not)', async () => {
  const response_format = { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: personSchema } };
  for (const seed of [11, 12, 13, 14]) {
    const r = await client.chat.completions.create({
      model: 'deepseek-chat', seed, temperature: 2, max_tokens: 256, messages: user('A person, please'), response_format,
    });
    assert.equal(r.choices[0].finish_reason, 'stop', JSON.stringify(r.choices[0]));
    const v = parseJson(r.choices[0].message.content, `seed ${seed} content`);
    assert.deepEqual(validate(personSchema, v), [], `seed ${seed}: ${r.choices[0].message.content}`);
  }
  // Streamed, in thinking mode: the reasoning is free, the content after it follows the schema.
  const s = await client.chat.completions.create({
    model: 'deepseek-reasoner', seed: 5, temperature: 2, max_tokens: 400, messages: user('A person, please'), response_format, stream: true,
  });
  let content = '', finish = null;
  for await (const ch of s)
    for (const c of ch.choices) {
      content += c.delta.content ?? '';
      finish = c.finish_reason ?? finish;
    }
  assert.equal(finish, 'stop');
  assert.deepEqual(validate(personSchema, parseJson(content, 'streamed content')), [], content);
  // n > 1: every choice is constrained.
  const many = await client.chat.completions.create({
    model: 'deepseek-chat', n: 3, temperature: 2, max_tokens: 256, messages: user('A person, please'), response_format,
  });
  for (const c of many.choices) assert.deepEqual(validate(personSchema, parseJson(c.message.content, `choice ${c.index}`)), []);
});

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: {
        type: 'object',
        // (String parameters are raw DSML text: their maxLength is not enforced.)
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
        required: ['city', 'unit'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'add',
      description: 'Adds two integers',
      parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'] },
    },
  },
];
const paramsOf = (name) => tools.find((t) => t.function.name === name).function.parameters;

function checkCall(tc, names, what) {
  assert.match(tc.id, /^call_/, `${what}: id`);
  assert.equal(tc.type, 'function');
  assert.ok(names.includes(tc.function.name), `${what}: name ${tc.function.name} in ${names}`);
  const args = parseJson(tc.function.arguments, `${what}: arguments`);
  assert.deepEqual(validate(paramsOf(tc.function.name), args), [], `${what}: ${tc.function.arguments}`);
  return args;
}

test('tool_choice required: a parseable call of one of the tools (temperature 2)', async () => {
  for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
    for (const seed of [21, 22, 23]) {
      const r = await client.chat.completions.create({
        model, seed, temperature: 2, max_tokens: 300, messages: user('Weather in Oslo?'), tools, tool_choice: 'required',
      });
      const c = r.choices[0];
      assert.equal(c.finish_reason, 'tool_calls', `${model} seed ${seed}: ${JSON.stringify(c.message)}`);
      assert.ok(c.message.tool_calls?.length >= 1, 'at least one tool call');
      for (const tc of c.message.tool_calls) checkCall(tc, ['get_weather', 'add'], `${model} seed ${seed}`);
    }
  }
});

test('tool_choice naming a function: that function, with its required keys; then the round trip', async () => {
  const named = { type: 'function', function: { name: 'add' } };
  const r = await client.chat.completions.create({
    model: 'deepseek-chat', seed: 31, temperature: 2, max_tokens: 300, messages: user('What is 2 + 3?'), tools, tool_choice: named,
  });
  const m = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.ok(m.tool_calls.length >= 1);
  for (const tc of m.tool_calls) {
    assert.equal(tc.function.name, 'add');
    const args = checkCall(tc, ['add'], 'named');
    assert.ok(Number.isInteger(args.a) && Number.isInteger(args.b));
  }
  // The call goes back with its result; the model replies (tool_choice auto now).
  const history = [
    ...user('What is 2 + 3?'),
    { role: 'assistant', content: m.content, tool_calls: m.tool_calls },
    ...m.tool_calls.map((tc) => ({ role: 'tool', tool_call_id: tc.id, content: '5' })),
  ];
  const r2 = await client.chat.completions.create({ model: 'deepseek-chat', messages: history, tools, max_tokens: 8 });
  assert.equal(r2.choices[0].message.role, 'assistant');
  // ... or is forced to call again.
  const r3 = await client.chat.completions.create({
    model: 'deepseek-chat', messages: history, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 300,
  });
  for (const tc of r3.choices[0].message.tool_calls) checkCall(tc, ['get_weather'], 'second call');
});

test('forced tool call, streamed: tool_calls deltas assemble into a parseable call', async () => {
  const s = await client.chat.completions.create({
    model: 'deepseek-reasoner', seed: 41, temperature: 2, max_tokens: 400, messages: user('Weather in Lima?'), tools, tool_choice: 'required',
    stream: true,
  });
  const calls = [];
  let finish = null;
  for await (const ch of s)
    for (const c of ch.choices) {
      finish = c.finish_reason ?? finish;
      for (const d of c.delta.tool_calls ?? []) {
        assert.ok(Number.isInteger(d.index));
        if (d.id) {
          assert.equal(calls[d.index], undefined, 'a call id is sent once');
          calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: d.function.arguments ?? '' } };
        } else {
          assert.ok(calls[d.index], 'arguments follow the call head');
          calls[d.index].function.arguments += d.function?.arguments ?? '';
        }
      }
    }
  assert.equal(finish, 'tool_calls');
  assert.ok(calls.length >= 1);
  calls.forEach((tc, i) => checkCall(tc, ['get_weather', 'add'], `streamed call ${i}`));
  // The SDK's stream helper assembles the same thing.
  const runner = client.chat.completions.stream({
    model: 'deepseek-chat', seed: 42, temperature: 2, max_tokens: 300, messages: user('Weather in Lima?'), tools, tool_choice: 'required',
  });
  const final = await runner.finalChatCompletion();
  for (const tc of final.choices[0].message.tool_calls) checkCall(tc, ['get_weather', 'add'], 'stream helper');
});

test('parallel_tool_calls false: exactly one call', async () => {
  const r = await client.chat.completions.create({
    model: 'deepseek-chat', seed: 51, temperature: 2, max_tokens: 300, messages: user('Weather in Oslo and Rome?'), tools,
    tool_choice: 'required', parallel_tool_calls: false,
  });
  assert.equal(r.choices[0].message.tool_calls.length, 1);
});

test('max_tokens below the shortest forced call or JSON value: 400 naming the minimum', async () => {
  const expectTooSmall = async (body, what) => {
    const err = await client.chat.completions.create(body).then(() => null, (e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, `${what}: ${err}`);
    assert.equal(err.param, 'max_tokens', what);
    const m = /raise max_tokens to at least (\d+)/.exec(err.message);
    assert.ok(m, `${what}: ${err.message}`);
    return Number(m[1]);
  };
  const need = await expectTooSmall({ model: 'deepseek-chat', max_tokens: 10, messages: user('Weather?'), tools, tool_choice: 'required' }, 'tool call');
  assert.ok(need > 10);
  // Exactly the minimum is accepted and finishes as a parseable call (the mask plans within it).
  const r = await client.chat.completions.create({ model: 'deepseek-chat', seed: 3, temperature: 2, max_tokens: need, messages: user('Weather?'), tools, tool_choice: 'required' });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  r.choices[0].message.tool_calls.forEach((tc, i) => checkCall(tc, ['get_weather', 'add'], `minimal call ${i}`));
  // Thinking mode must also close the reasoning first: a larger minimum.
  const needThinking = await expectTooSmall({ model: 'deepseek-reasoner', max_tokens: 10, messages: user('Weather?'), tools, tool_choice: 'required' }, 'thinking tool call');
  assert.ok(needThinking > need, `${needThinking} > ${need}`);
  await expectTooSmall({ model: 'deepseek-chat', max_tokens: 1, messages: user('A person'), response_format: { type: 'json_object' } }, 'json_object');
});
