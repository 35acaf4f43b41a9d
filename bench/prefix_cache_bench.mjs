#!/usr/bin/env node
// Prefix-cache benchmark: an agent-like trace (a system prompt, then TURNS turns, each resending
// the whole history grown by a "file" of GROW tokens plus the previous reply) against `dsv4 serve`
// on the default model, in four runs:
//   off        --cache-ram 0, no directory: every prompt is prefilled in full
//   cold       RAM + an empty --cache-dir: the first pass of the trace
//   warm-ram   the same server, the same trace again
//   warm-disk  a restarted server on the same directory, the trace again
// For each: prompt tokens prefilled (prompt_cache_miss_tokens summed), prompt tokens resumed from
// the cache, bytes written to the cache directory, wall time, and the RAM tier's bytes at the end
// (held, and what the snapshots would take without sharing the rows of common prefixes). Prints a
// Markdown table, then one machine-readable line: PREFIX_CACHE_BENCH {json}. SKIP_OFF=1 leaves
// out the (long) run without a cache.
//
//   node bench/prefix_cache_bench.mjs            # TURNS=10 START=2000 GROW=600 (tokens, roughly)
//   TURNS=20 START=4000 GROW=630 node bench/prefix_cache_bench.mjs   # the 4K -> 16K trace
// Environment: DSV4_EXE (default build/tools/dsv4), DSV4_MODEL (default: the built-in default model).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EXE = process.env.DSV4_EXE || join(repo, 'build', 'tools', 'dsv4');
const num = (k, d) => (process.env[k] ? Number(process.env[k]) : d);
const TURNS = num('TURNS', 10), START = num('START', 2000), GROW = num('GROW', 600);

// About 4 characters per token for this text.
const text = (tokens, seed) =>
  Array.from({ length: Math.ceil(tokens / 12) }, (_, i) => `line ${seed}.${i}: value = compute(${(seed * 31 + i * 7) % 997});`).join('\n');

async function serve(args) {
  const p = spawn(EXE, ['serve', '--port', '0', '--no-mtp', ...(process.env.DSV4_MODEL ? ['-m', process.env.DSV4_MODEL] : []), ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr.setEncoding('utf8');
  const port = await new Promise((res, rej) => {
    p.stderr.on('data', (d) => {
      log += d;
      const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(log);
      if (m && /dsv4 serve: ready/.test(log)) res(Number(m[1]));
    });
    p.on('exit', (c) => rej(new Error(`dsv4 serve exited (${c}):\n${log}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      const done = new Promise((r) => p.on('exit', r));
      p.kill('SIGTERM');
      await done;
    },
  };
}

async function trace(srv) {
  const messages = [{ role: 'system', content: `You are a coding agent.\n${text(START, 0)}` }];
  let miss = 0, hit = 0;
  for (let t = 0; t < TURNS; ++t) {
    messages.push({ role: 'user', content: `File ${t}:\n${text(GROW, t + 1)}\nWhat does it do?` });
    const r = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'deepseek-chat', messages, max_tokens: 8, seed: t, logit_bias: { 1: -100 } }),
    });
    const j = await r.json();
    if (r.status !== 200) throw new Error(`turn ${t}: ${r.status} ${JSON.stringify(j)}`);
    miss += j.usage.prompt_cache_miss_tokens;
    hit += j.usage.prompt_cache_hit_tokens;
    messages.push({ role: 'assistant', content: j.choices[0].message.content ?? '' });
  }
  return { miss, hit };
}

async function ramBytes(srv) {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const num = (re) => Number((re.exec(text) ?? [])[1] ?? 0);
  return { held: num(/^dsv4_prefix_cache_bytes\{tier="ram"\} (\S+)$/m), unshared: num(/^dsv4_prefix_cache_ram_unshared_bytes (\S+)$/m) };
}

const dirBytes = (d) => readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);

const dir = mkdtempSync(join(tmpdir(), 'dsv4-pc-bench-'));
const rows = [];
async function run(name, args, keep) {
  const srv = keep ?? (await serve(args));
  const before = dirBytes(dir);
  const t0 = performance.now();
  const r = await trace(srv);
  const wall = (performance.now() - t0) / 1000;
  const ram = await ramBytes(srv);
  rows.push({ run: name, prefilled_tokens: r.miss, cached_tokens: r.hit, disk_bytes_written: 0, wall_s: +wall.toFixed(2),
              ram_bytes: ram.held, ram_unshared_bytes: ram.unshared, srv, before });
  return srv;
}
try {
  if (!process.env.SKIP_OFF) {
    const off = await run('off', ['--cache-ram', '0']);
    await off.stop();
  }
  const cold = await run('cold', ['--cache-dir', dir]);
  const coldRow = rows.at(-1);
  await run('warm-ram', [], cold);
  await cold.stop();  // the queued snapshot writes finish before exit
  coldRow.disk_bytes_written = dirBytes(dir) - coldRow.before;  // cold and warm-ram share one server
  const disk = await run('warm-disk', ['--cache-dir', dir]);
  await disk.stop();
  rows.at(-1).disk_bytes_written = dirBytes(dir) - rows.at(-1).before;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const out = rows.map(({ srv, before, ...r }) => r);
console.log(`trace: ${TURNS} turns, system ~${START} tokens, +~${GROW} tokens per turn (default model, deepseek-chat, max_tokens 8)\n`);
console.log('| run | prompt tokens prefilled | prompt tokens from cache | disk bytes written | wall s | RAM held | RAM without sharing |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of out)
  console.log(`| ${r.run} | ${r.prefilled_tokens} | ${r.cached_tokens} | ${r.disk_bytes_written} | ${r.wall_s} | ${r.ram_bytes} | ${r.ram_unshared_bytes} |`);
console.log(`(warm-ram's disk bytes are counted with cold: one server)\nPREFIX_CACHE_BENCH ${JSON.stringify({ turns: TURNS, start: START, grow: GROW, runs: out })}`);
