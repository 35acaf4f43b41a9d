// The prefix cache through `dsv4 serve` and the openai SDK: a repeated long prompt is a cache hit
// (DeepSeek's prompt_cache_hit_tokens / miss, OpenAI's cached_tokens) with the same reply for the
// same seed and a shorter time to first token; with --cache-dir the hit survives a restart; a
// damaged cache file is reported, removed and costs only a miss; a second server on the same
// directory only reads it; /metrics counts the hits by tier. Prints one line:
// PREFIX_CACHE_SUMMARY {json} (prompt tokens, TTFT of the miss and of the RAM and disk hits).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, openSync, writeSync, fstatSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startServer } from './lib/server.mjs';

const dir = mkdtempSync(join(tmpdir(), 'dsv4-prefix-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const servers = [];
after(() => Promise.all(servers.map((s) => s.stop())));

async function serve(extra = []) {
  const srv = await startServer({ args: ['--cache-dir', dir, '--no-mtp', ...extra] });
  servers.push(srv);
  return { srv, client: new OpenAI({ baseURL: srv.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120000 }) };
}

// A long system prompt (a few thousand tokens) so that prefill dominates the time to first token.
const system = Array.from({ length: 90 }, (_, i) => `Rule ${i}: answer precisely, cite rule ${(i * 7) % 90}.`).join(' ');
const messages = (user) => [{ role: 'system', content: system }, { role: 'user', content: user }];

async function ask(client, user, extra = {}) {
  const t0 = performance.now();
  const stream = await client.chat.completions.create({
    model: 'deepseek-chat', messages: messages(user), max_tokens: 4, seed: 9, stream: true, stream_options: { include_usage: true },
    logit_bias: { 1: -100 }, ...extra,
  });
  let ttft = null, content = '', usage = null;
  for await (const ch of stream) {
    // The first chunk (the role) goes out before the prefill; time to the first generated text.
    const c = ch.choices?.[0];
    if (ttft === null && c && (c.delta?.content || c.delta?.reasoning_content || c.finish_reason)) ttft = performance.now() - t0;
    content += ch.choices?.[0]?.delta?.content ?? '';
    if (ch.usage) usage = ch.usage;
  }
  return { ttft, content, usage };
}

const snapFiles = () => readdirSync(dir).filter((f) => f.endsWith('.dsv4snap'));

test('hits in RAM, then from disk after a restart; damaged files are removed; a second server only reads', async (t) => {
  let { srv, client } = await serve();
  const miss = await ask(client, 'First question?');
  const P = miss.usage.prompt_tokens;
  assert.ok(P > 2000, `a long prompt (${P} tokens)`);
  assert.equal(miss.usage.prompt_cache_hit_tokens, 0);
  assert.equal(miss.usage.prompt_cache_miss_tokens, P);
  const ram = await ask(client, 'First question?');
  assert.equal(ram.usage.prompt_cache_hit_tokens, P, 'the whole repeated prompt is a hit');
  assert.equal(ram.usage.prompt_tokens_details.cached_tokens, P);
  assert.equal(ram.content, miss.content, 'same seed, same reply from the cached state');
  // A different question after the same system prompt resumes from the last interval snapshot
  // (every 4096 tokens) or at least shares nothing wrongly: the hit is a prefix of the prompt.
  const other = await ask(client, 'Another question entirely?');
  assert.ok(other.usage.prompt_cache_hit_tokens < other.usage.prompt_tokens);
  let m = await srv.metrics();
  assert.equal(m.get('dsv4_prefix_cache_hits_total', { tier: 'ram' }), 1 + (other.usage.prompt_cache_hit_tokens > 0 ? 1 : 0));
  assert.ok(m.get('dsv4_prefix_cache_disk_writes_total') >= 1);
  assert.ok(m.get('dsv4_prefix_cache_disk_written_bytes_total') > 0);
  assert.equal(m.get('dsv4_prefix_cache_misses_total') + m.get('dsv4_prefix_cache_hits_total', { tier: 'ram' }),
               m.get('dsv4_prefix_cache_lookups_total'));
  assert.equal(m.get('dsv4_prefix_cache_hit_tokens_total') + m.get('dsv4_prefix_cache_miss_tokens_total'),
               miss.usage.prompt_tokens + ram.usage.prompt_tokens + other.usage.prompt_tokens);
  assert.ok(m.get('dsv4_prefix_cache_ram_unshared_bytes') >= m.get('dsv4_prefix_cache_bytes', { tier: 'ram' }));
  // Graceful stop: the queued writes finish before exit.
  assert.deepEqual(await srv.stop({ signal: 'SIGTERM', ms: 30000 }), { code: 0, signal: null });
  const files = snapFiles();
  assert.ok(files.length >= 2, `snapshots on disk: ${files}`);

  // Restart: the same prompt is a hit from disk.
  ({ srv, client } = await serve());
  assert.match(srv.log, /prefix cache: .* on disk in .* \(\d+ snapshots there\)/);
  const disk = await ask(client, 'First question?');
  assert.equal(disk.usage.prompt_cache_hit_tokens, P);
  assert.equal(disk.content, miss.content);
  m = await srv.metrics();
  assert.equal(m.get('dsv4_prefix_cache_hits_total', { tier: 'disk' }), 1);

  // A second server on the same directory: reads (hits), never writes.
  const second = await serve();
  assert.match(second.srv.log, /another process writes to .*; this one only reads it/);
  const before = snapFiles().length;
  const r2 = await ask(second.client, 'First question?');
  assert.equal(r2.usage.prompt_cache_hit_tokens, P);
  await ask(second.client, 'A question only the second server sees?');
  const m2 = await second.srv.metrics();
  assert.equal(m2.get('dsv4_prefix_cache_disk_writes_total'), 0);
  assert.equal(m2.get('dsv4_prefix_cache_disk_written_bytes_total'), 0);
  assert.equal(snapFiles().length, before, 'the reader wrote nothing');
  await second.srv.stop({ signal: 'SIGTERM', ms: 30000 });
  await srv.stop({ signal: 'SIGTERM', ms: 30000 });

  // Damage every file (flip a byte in the payload): the next server reports and removes them as
  // it reads them, answers correctly with a miss, and writes fresh snapshots.
  for (const f of snapFiles()) {
    const fd = openSync(join(dir, f), 'r+');
    const size = fstatSync(fd).size;
    writeSync(fd, Buffer.from([0x5a]), 0, 1, size - 17);
    closeSync(fd);
  }
  ({ srv, client } = await serve());
  const fresh = await ask(client, 'First question?');
  assert.equal(fresh.usage.prompt_cache_hit_tokens, 0, 'a damaged snapshot is never used');
  assert.equal(fresh.content, miss.content);
  assert.match(srv.log, /is bad \(snapshot payload checksum mismatch\); removed/);
  m = await srv.metrics();
  assert.ok(m.get('dsv4_prefix_cache_disk_removed_files_total') >= 1);
  const again = await ask(client, 'First question?');
  assert.equal(again.usage.prompt_cache_hit_tokens, P);
  await srv.stop({ signal: 'SIGTERM', ms: 30000 });

  const summary = { prompt_tokens: P, ttft_ms: { miss: Math.round(miss.ttft), ram_hit: Math.round(ram.ttft), disk_hit: Math.round(disk.ttft) } };
  console.log(`PREFIX_CACHE_SUMMARY ${JSON.stringify(summary)}`);
  t.diagnostic(JSON.stringify(summary));
  assert.ok(ram.ttft < miss.ttft, `a RAM hit starts sooner (${summary.ttft_ms.ram_hit} ms vs ${summary.ttft_ms.miss} ms)`);
});

test('an agent conversation with tools: every turn after the first resumes from the previous turn', async (t) => {
  const { srv, client } = await serve(['--cache-ram', '256M']);
  const tools = [{
    type: 'function',
    function: {
      name: 'read_file', description: 'Read a file of the project',
      parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
    },
  }];
  const history = [{ role: 'system', content: `You are a coding agent. ${system.slice(0, 1500)}` }, { role: 'user', content: 'Open the README.' }];
  const turns = [];
  let prev = null;
  for (let turn = 0; turn < 5; ++turn) {
    // Turns alternate between a forced tool call (its result goes back as a tool message) and a
    // plain reply, as an agent loop does.
    const forced = turn % 2 === 0;
    const r = await client.chat.completions.create({
      model: 'deepseek-chat', messages: history, tools, tool_choice: forced ? 'required' : 'auto', max_tokens: forced ? 200 : 6,
      seed: 20 + turn, temperature: 1, logit_bias: forced ? undefined : { 1: -100 },
    });
    const u = r.usage;
    turns.push({ prompt: u.prompt_tokens, hit: u.prompt_cache_hit_tokens, miss: u.prompt_cache_miss_tokens });
    assert.equal(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens, u.prompt_tokens);
    if (prev) {
      // All of the previous turn's prompt is a hit: only its reply and the new messages are new.
      assert.ok(u.prompt_cache_hit_tokens >= prev.prompt_tokens, `turn ${turn}: hit ${u.prompt_cache_hit_tokens} >= previous prompt ${prev.prompt_tokens}`);
    }
    prev = u;
    const msg = r.choices[0].message;
    if (forced) {
      assert.equal(r.choices[0].finish_reason, 'tool_calls');
      history.push({ role: 'assistant', content: msg.content ?? '', tool_calls: msg.tool_calls });
      for (const tc of msg.tool_calls) history.push({ role: 'tool', tool_call_id: tc.id, content: `contents of ${JSON.parse(tc.function.arguments).path}` });
    } else {
      history.push({ role: 'assistant', content: msg.content ?? '' });
      history.push({ role: 'user', content: `Now look at file number ${turn}.` });
    }
  }
  t.diagnostic(`turns (prompt / hit / miss): ${turns.map((x) => `${x.prompt}/${x.hit}/${x.miss}`).join(', ')}`);
  console.log(`PREFIX_CACHE_AGENT ${JSON.stringify(turns)}`);
  await srv.stop({ signal: 'SIGTERM', ms: 30000 });
});
