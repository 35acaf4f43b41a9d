// Load: N concurrent clients for T seconds against one `dsv4 serve`, mixed streamed / non-stream
// chat with small max_tokens, ~10% of them disconnecting early. Asserts no 5xx (indeed nothing but
// 200 for the requests that were not aborted), every finished reply well-formed (JSON body or SSE
// framing, usage, one finish_reason per choice), the server back at rest afterwards (nothing in
// flight or running), and its RSS after the load and a settle within max(+25%, +64 MiB) of the
// value after a warm-up (in sanitizer builds, DSV4_SANITIZED set, ASan's quarantine holds freed
// memory by design: there the server must instead exit cleanly on SIGTERM, which runs
// LeakSanitizer). Afterwards the server is stopped with SIGTERM and must exit 0. Prints one line:
// LOAD_SUMMARY {json} (requests/s, p50/p99 latency, mean TTFT of the streams, RSS before / after /
// settled).
//
// Environment: DSV4_LOAD_CLIENTS (32), DSV4_LOAD_SECONDS (20), DSV4_LOAD_WARMUP_SECONDS (4),
// DSV4_LOAD_ABORT (0.1, the fraction that disconnects), DSV4_LOAD_MAX_TOKENS (24),
// DSV4_LOAD_SERVER_ARGS (extra `dsv4 serve` options, space separated).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep, eventually, MODEL_ID } from './lib/server.mjs';

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? Number(process.env[k]) : d);
const CLIENTS = env('DSV4_LOAD_CLIENTS', 32);
const SECONDS = env('DSV4_LOAD_SECONDS', 20);
const WARMUP = env('DSV4_LOAD_WARMUP_SECONDS', 4);
const ABORT = env('DSV4_LOAD_ABORT', 0.1);
const MAX_TOKENS = env('DSV4_LOAD_MAX_TOKENS', 24);
const SERVER_ARGS = (process.env.DSV4_LOAD_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean);

let srv;
before(async () => {
  srv = await startServer({ args: SERVER_ARGS });
});
after(() => srv?.stop());
const SANITIZED = (process.env.DSV4_SANITIZED ?? '') !== '';

// A deterministic PRNG so a failing run can be repeated (DSV4_LOAD_SEED).
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const prompts = ['Hello', 'Tell me a story about a fox', 'What is 2 + 2?', 'Write a haiku', 'Explain TCP in one line', 'List three colours'];

function validUsage(u, n) {
  return u && Number.isInteger(u.prompt_tokens) && u.prompt_tokens > 0 && Number.isInteger(u.completion_tokens) && u.completion_tokens >= n &&
    u.total_tokens === u.prompt_tokens + u.completion_tokens && u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens === u.prompt_tokens;
}

// One request; resolves to a record, never rejects.
async function one(r) {
  const stream = r() < 0.5;
  const abort = r() < ABORT;
  const n = r() < 0.1 ? 2 : 1;
  const max_tokens = 4 + Math.floor(r() * (MAX_TOKENS - 3));
  const body = {
    model: r() < 0.5 ? MODEL_ID : 'deepseek-chat', messages: [{ role: 'user', content: prompts[Math.floor(r() * prompts.length)] }],
    max_tokens, n, stream, ...(stream ? { stream_options: { include_usage: true } } : {}),
  };
  const rec = { stream, abort, status: 0, ok: false, aborted: false, latencyMs: 0, ttftMs: null, problem: null };
  const ac = new AbortController();
  const t0 = performance.now();
  let timer;
  if (abort && !stream) timer = setTimeout(() => ac.abort(), 5 + r() * 60);
  try {
    const res = await fetch(`${srv.baseURL}/chat/completions`, {
      method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    rec.status = res.status;
    if (res.status !== 200) {
      rec.problem = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
      return rec;
    }
    if (!stream) {
      const text = await res.text();
      const j = JSON.parse(text);
      rec.latencyMs = performance.now() - t0;
      if (j.object !== 'chat.completion' || j.choices.length !== n) rec.problem = `bad body: ${text.slice(0, 200)}`;
      else if (!j.choices.every((c, i) => c.index === i && c.message.role === 'assistant' && ['stop', 'length'].includes(c.finish_reason))) rec.problem = `bad choices: ${text.slice(0, 300)}`;
      else if (!validUsage(j.usage, n) || j.usage.completion_tokens > n * max_tokens) rec.problem = `bad usage: ${JSON.stringify(j.usage)}`;
      else rec.ok = true;
      return rec;
    }
    // SSE: parse frames as they arrive.
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '', done = false, usage = null, id = null, chunks = 0;
    const finish = new Map();
    const abortAfter = abort ? 1 + Math.floor(r() * 4) : -1;
    while (!done) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (frame.startsWith(':')) continue;
        if (!frame.startsWith('data: ')) throw new Error(`not a data frame: ${JSON.stringify(frame)}`);
        const data = frame.slice(6);
        if (data === '[DONE]') {
          done = true;
          break;
        }
        const c = JSON.parse(data);
        id ??= c.id;
        if (c.id !== id || c.object !== 'chat.completion.chunk') throw new Error(`bad chunk: ${data.slice(0, 200)}`);
        if (c.usage) usage = c.usage;
        for (const ch of c.choices) {
          if (rec.ttftMs === null && (ch.delta.content || ch.delta.reasoning_content)) rec.ttftMs = performance.now() - t0;
          if (ch.finish_reason) {
            if (finish.has(ch.index)) throw new Error(`two finish_reasons for choice ${ch.index}`);
            finish.set(ch.index, ch.finish_reason);
          }
        }
        if (++chunks === abortAfter) {
          ac.abort();
          rec.aborted = true;
          return rec;
        }
      }
    }
    rec.latencyMs = performance.now() - t0;
    if (!done) rec.problem = 'the stream ended without data: [DONE]';
    else if (buf !== '') rec.problem = `bytes after [DONE]: ${JSON.stringify(buf)}`;
    else if (finish.size !== n || ![...finish.values()].every((f) => ['stop', 'length'].includes(f))) rec.problem = `finish reasons ${JSON.stringify([...finish])}`;
    else if (!validUsage(usage, n)) rec.problem = `bad usage ${JSON.stringify(usage)}`;
    else rec.ok = true;
    return rec;
  } catch (e) {
    if (e.name === 'AbortError' || ac.signal.aborted) rec.aborted = true;
    else rec.problem = `${e.name}: ${e.message}`;
    return rec;
  } finally {
    clearTimeout(timer);
  }
}

async function drive(seconds, seed) {
  const end = performance.now() + seconds * 1000;
  const recs = [];
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    const r = rng(seed * 1000 + c);
    while (performance.now() < end) recs.push(await one(r));
  }));
  return recs;
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const MiB = 1024 * 1024;

async function atRest() {
  return eventually(async () => {
    const m = await srv.metrics();
    return m.get('dsv4_requests_in_flight') === 0 && m.get('dsv4_running_sequences') === 0 && m.get('dsv4_queue_depth') === 0 ? m : null;
  }, { ms: 15000, what: 'the server back at rest (nothing in flight, running or queued)' });
}

test(`load: ${CLIENTS} clients for ${SECONDS} s, mixed stream / non-stream, ~${Math.round(ABORT * 100)}% disconnecting`, { timeout: (SECONDS + WARMUP + 90) * 1000 }, async () => {
  const seed = env('DSV4_LOAD_SEED', 1);
  const rssStart = srv.rssBytes();
  const warm = await drive(WARMUP, seed + 17);
  assert.ok(warm.length > 0);
  await atRest();
  await sleep(1000);
  const rssWarm = srv.rssBytes();
  const m0 = await srv.metrics();

  const t0 = performance.now();
  const recs = await drive(SECONDS, seed);
  const wall = (performance.now() - t0) / 1000;
  const rssAfter = srv.rssBytes();
  const m1 = await atRest();
  await sleep(2000);
  const rssSettled = srv.rssBytes();

  const finished = recs.filter((x) => !x.aborted);
  const aborted = recs.filter((x) => x.aborted);
  const bad = finished.filter((x) => !x.ok);
  const s5xx = recs.filter((x) => x.status >= 500);
  const lat = finished.filter((x) => x.ok).map((x) => x.latencyMs);
  const ttft = finished.filter((x) => x.ok && x.stream && x.ttftMs !== null).map((x) => x.ttftMs);
  const d = (name) => m1.get(name) - m0.get(name);
  let server5xx = 0;
  for (const [k, v] of m1.samples) if (/^dsv4_requests_total\{.*status="5\d\d"/.test(k)) server5xx += v - (m0.samples.get(k) ?? 0);
  const summary = {
    clients: CLIENTS,
    seconds: Math.round(wall * 10) / 10,
    requests: recs.length,
    completed: lat.length,
    aborted: aborted.length,
    failed: bad.length,
    http_5xx: s5xx.length,
    req_per_s: Math.round((lat.length / wall) * 10) / 10,
    p50_ms: Math.round(pct(lat, 50)),
    p99_ms: Math.round(pct(lat, 99)),
    mean_ttft_ms: ttft.length ? Math.round(ttft.reduce((a, b) => a + b, 0) / ttft.length) : null,
    completion_tok_per_s: Math.round(d('dsv4_completion_tokens_total') / wall),
    disconnects: d('dsv4_client_disconnects_total'),
    rss_mib: { start: +(rssStart / MiB).toFixed(1), warm: +(rssWarm / MiB).toFixed(1), after: +(rssAfter / MiB).toFixed(1), settled: +(rssSettled / MiB).toFixed(1) },
  };
  console.log(`LOAD_SUMMARY ${JSON.stringify(summary)}`);

  assert.equal(s5xx.length, 0, `5xx replies: ${JSON.stringify(s5xx.slice(0, 5))}`);
  assert.equal(server5xx, 0, 'the server counted no 5xx');
  assert.deepEqual(bad.slice(0, 5).map((x) => x.problem), [], `${bad.length} malformed / refused replies`);
  assert.ok(lat.length >= CLIENTS, `at least one completed request per client (${lat.length})`);
  assert.ok(aborted.length > 0 || ABORT === 0 || recs.length < 50, 'some requests disconnected');
  // A disconnect is only counted when the server noticed it before finishing.
  assert.ok(summary.disconnects <= aborted.length, `disconnects ${summary.disconnects} <= aborted ${aborted.length}`);
  const bound = Math.max(rssWarm * 1.25, rssWarm + 64 * MiB);
  if (SANITIZED) console.log(`RSS bound not checked: sanitizer build (${process.env.DSV4_SANITIZED}); LeakSanitizer runs at exit`);
  else assert.ok(rssSettled <= bound,
    `RSS after the load and a settle ${(rssSettled / MiB).toFixed(1)} MiB exceeds max(+25%, +64 MiB) over the warm value ${(rssWarm / MiB).toFixed(1)} MiB`);
  // A graceful stop after the load: drains, frees everything and exits 0 (under ASan a leak
  // report makes the exit code non-zero).
  const exit = await srv.stop({ signal: 'SIGTERM', ms: 30000 });
  assert.deepEqual(exit, { code: 0, signal: null }, `server exit after SIGTERM:\n${srv.log.slice(-4000)}`);
});
