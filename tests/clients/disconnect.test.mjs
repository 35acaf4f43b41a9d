// Client disconnects cancel the generation: a long stream aborted after a few chunks, a slow
// non-stream request aborted after ~3 s (the server probes it with whitespace after 2 s), an
// Anthropic stream, a raw socket closed mid-stream, several at once. Each time /metrics must count
// the disconnect and show requests_in_flight and running_sequences back at 0 within a few
// seconds, and with --parallel 1 the next request must run at once (the sequence was freed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, eventually, sleep, MODEL_ID } from './lib/server.mjs';

let srv, client;
before(async () => {
  // --parallel 1: a leaked sequence would block every later request.
  srv = await startServer({ args: ['--parallel', '1'] });
  client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});
after(() => srv?.stop());

const user = (content) => [{ role: 'user', content }];
const long = { model: MODEL_ID, messages: user('Go on forever'), max_tokens: 100000, logit_bias: { 1: -100 } };

async function snapshot() {
  const m = await srv.metrics();
  return {
    disconnects: m.get('dsv4_client_disconnects_total'),
    inFlight: m.get('dsv4_requests_in_flight'),
    running: m.get('dsv4_running_sequences'),
    queued: m.get('dsv4_queue_depth'),
    s499: m.get('dsv4_requests_total', { endpoint: '/v1/chat/completions', status: '499' }),
  };
}

// After `n` disconnects since `before`: counted, nothing in flight or running (within 6 s).
async function settled(before, n, what) {
  const t0 = Date.now();
  const s = await eventually(async () => {
    const s = await snapshot();
    return s.disconnects >= before.disconnects + n && s.inFlight === 0 && s.running === 0 && s.queued === 0 ? s : null;
  }, { ms: 6000, every: 100, what: `${what}: disconnect counted and the sequence freed (${JSON.stringify(await snapshot())})` });
  assert.equal(s.disconnects, before.disconnects + n, `${what}: exactly ${n} disconnect(s) counted`);
  return Date.now() - t0;
}

async function quickRequestRuns() {
  const t0 = Date.now();
  const r = await client.chat.completions.create({ model: MODEL_ID, messages: user('hi'), max_tokens: 2 });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(Date.now() - t0 < 5000, `the next request ran at once (${Date.now() - t0} ms)`);
}

test('a long stream aborted after a few chunks is cancelled and freed', async () => {
  const before = await snapshot();
  const ac = new AbortController();
  const stream = await client.chat.completions.create({ ...long, stream: true }, { signal: ac.signal });
  let n = 0;
  // (The SDK's stream iterator ends quietly on abort.)
  for await (const ch of stream) {
    if (++n === 5) {
      ac.abort();
      break;
    }
  }
  assert.equal(n, 5);
  const s0 = await snapshot();
  assert.ok(s0.running <= 1);
  await settled(before, 1, 'stream abort');
  const after = await snapshot();
  assert.equal(after.s499, before.s499 + 1, 'the request is counted with status 499');
  await quickRequestRuns();
});

test('a slow non-stream request aborted after ~3 s is cancelled and freed', async () => {
  const before = await snapshot();
  const ac = new AbortController();
  const p = client.chat.completions.create(long, { signal: ac.signal });
  await sleep(3000);
  const mid = await snapshot();
  assert.equal(mid.inFlight, 1, 'it was running');
  ac.abort();
  await assert.rejects(p, (e) => e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError');
  const ms = await settled(before, 1, 'non-stream abort');
  assert.ok(ms < 5000, `noticed within the probe interval (${ms} ms)`);
  await quickRequestRuns();
});

test('a completions stream and an Anthropic stream aborted mid-way', async () => {
  let before = await snapshot();
  const ac = new AbortController();
  const s = await client.completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 100000, logit_bias: { 1: -100 }, stream: true }, { signal: ac.signal });
  let n = 0;
  for await (const _ of s) {
    if (++n === 3) {
      ac.abort();
      break;
    }
  }
  assert.equal(n, 3);
  await settled(before, 1, 'completions stream abort');
  before = await snapshot();
  const ant = new Anthropic({ baseURL: srv.url, apiKey: 'x', maxRetries: 0 });
  const ms = ant.messages.stream({ model: MODEL_ID, max_tokens: 100000, messages: user('Go on'), thinking: { type: 'disabled' } });
  let deltas = 0;
  ms.on('streamEvent', (e) => {
    if (e.type === 'content_block_delta' && ++deltas === 5) ms.abort();
  });
  await assert.rejects(ms.finalMessage());
  if (deltas >= 5) await settled(before, 1, 'Anthropic stream abort');  // (it may have ended by itself: EOS)
  await quickRequestRuns();
});

test('a raw socket destroyed mid-stream', async () => {
  const before = await snapshot();
  const body = JSON.stringify({ ...long, stream: true });
  await new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => {
      sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    let got = 0;
    sock.on('data', (d) => {
      got += d.length;
      if (got > 2000) {
        sock.destroy();
        resolve();
      }
    });
    sock.on('error', reject);
    setTimeout(() => reject(new Error('no stream data')), 10000).unref();
  });
  await settled(before, 1, 'socket destroyed');
  await quickRequestRuns();
});

test('several streams aborted at once (--parallel 1: one running, the rest queued)', async () => {
  const before = await snapshot();
  const acs = [];
  const runs = [];
  for (let i = 0; i < 4; ++i) {
    const ac = new AbortController();
    acs.push(ac);
    const s = await client.chat.completions.create({ ...long, stream: true }, { signal: ac.signal });
    const it = s[Symbol.asyncIterator]();
    await it.next();  // the role chunk comes at once, queued or not
    runs.push(it);
  }
  const mid = await snapshot();
  assert.equal(mid.inFlight, 4);
  assert.equal(mid.running, 1);
  assert.equal(mid.queued, 3);
  for (const ac of acs) ac.abort();
  await settled(before, 4, 'four aborts');
  await quickRequestRuns();
});
