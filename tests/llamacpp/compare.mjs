// dsv4 vs llama.cpp on the same deepseek4 GGUF file, teacher-forced on exact token ids.
// llama.cpp runs as node-llama-cpp's prebuilt CPU library (no build, nothing downloaded): every
// position is evaluated with "generate next: probabilities" at temperature 0 with no repeat
// penalty, which returns the softmax of its raw logits over the whole vocabulary. dsv4's logits
// come from `dsv4 score --logits-out` (raw f32 [n, V]); their softmax is taken here in float64.
//
// Reports, over all positions: top-1 agreement, the relative RMS of the probabilities
// (||p_llama - p_dsv4|| / ||p_dsv4||, pooled and per position), and the mean |KL|. Exits 1 when
// agreement is below --min-top1 or the pooled relative RMS is above --max-rel-rms.
//
//   node compare.mjs --gguf F.gguf --tokens ids.txt --dsv4-logits F.f32 [--min-top1 0.9] [--max-rel-rms 0.1]
import fs from "node:fs";
import os from "node:os";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function args() {
  const a = {minTop1: 0, minTop1Clear: 0, maxRelRms: Infinity, threads: Math.min(2, os.cpus().length), json: ""};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i], x = v[i + 1];
    if (k === "--gguf") a.gguf = x;
    else if (k === "--tokens") a.tokens = x;
    else if (k === "--dsv4-logits") a.logits = x;
    else if (k === "--min-top1") a.minTop1 = Number(x);
    else if (k === "--min-top1-clear") a.minTop1Clear = Number(x);
    else if (k === "--max-rel-rms") a.maxRelRms = Number(x);
    else if (k === "--threads") a.threads = Number(x);
    else if (k === "--json") a.json = x;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.gguf || !a.tokens || !a.logits) throw new Error("--gguf, --tokens and --dsv4-logits are required");
  return a;
}

function softmax64(row) {
  let mx = -Infinity;
  for (const v of row) mx = Math.max(mx, v);
  const p = new Float64Array(row.length);
  let s = 0;
  for (let i = 0; i < row.length; ++i) s += (p[i] = Math.exp(row[i] - mx));
  for (let i = 0; i < row.length; ++i) p[i] /= s;
  return p;
}

const a = args();
const tokens = fs.readFileSync(a.tokens, "utf8").split(/[\s,]+/).filter(Boolean).map(Number);
const raw = fs.readFileSync(a.logits);
const dl = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
if (dl.length % tokens.length) throw new Error(`${a.logits}: ${dl.length} floats is not ${tokens.length} rows`);
const V = dl.length / tokens.length;

const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                              logLevel: LlamaLogLevel.error, progressLogs: false});
const model = await llama.loadModel({modelPath: a.gguf, gpuLayers: 0});
const context = await model.createContext({contextSize: tokens.length + 64, batchSize: tokens.length,
                                           threads: a.threads, sequences: 1});
const seq = context.getSequence();
const opts = {generateNext: {probabilities: true, options: {temperature: 0, repeatPenalty: false}}};
const out = await seq.controlledEvaluate(tokens.map((t) => [t, opts]));

// Rows where dsv4's top-1 logit leads the second by more than 1.0: the decision is clear there, so
// the engines should agree on it (the golden data's criterion for legitimate variants: >= 95 %).
let agree = 0, num = 0, den = 0, klSum = 0, worst = 0, clear = 0, clearAgree = 0;
const perPos = [];
for (let i = 0; i < tokens.length; ++i) {
  const probs = out[i]?.next?.probabilities;
  if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
  const pd = softmax64(dl.subarray(i * V, (i + 1) * V));
  const pl = new Float64Array(V);
  for (const [tok, p] of probs) if (tok < V) pl[tok] = p;
  let ad = 0, al = 0, n = 0, d = 0, kl = 0;
  for (let v = 0; v < V; ++v) {
    if (pd[v] > pd[ad]) ad = v;
    if (pl[v] > pl[al]) al = v;
    n += (pl[v] - pd[v]) ** 2;
    d += pd[v] ** 2;
    if (pd[v] > 0) kl += pd[v] * Math.log(pd[v] / Math.max(pl[v], 1e-300));
  }
  if (ad === al) ++agree;
  let second = -Infinity;
  const row = dl.subarray(i * V, (i + 1) * V);
  for (let v = 0; v < V; ++v) if (v !== ad && row[v] > second) second = row[v];
  if (row[ad] - second > 1.0) {
    ++clear;
    if (ad === al) ++clearAgree;
  }
  num += n;
  den += d;
  klSum += kl;
  const r = Math.sqrt(n / d);
  worst = Math.max(worst, r);
  perPos.push(r);
}
perPos.sort((x, y) => x - y);
const s = {
  gguf: a.gguf, positions: tokens.length, vocab: V,
  top1_agreement: agree / tokens.length,
  clear_rows: clear,
  top1_agreement_clear: clear ? clearAgree / clear : 1,
  rel_rms_pooled: Math.sqrt(num / den),
  rel_rms_median: perPos[Math.floor(perPos.length / 2)],
  rel_rms_max: worst,
  kl_mean: klSum / tokens.length,
};
console.log(`LLAMACPP_COMPARE ${JSON.stringify(s)}`);
if (a.json) fs.writeFileSync(a.json, JSON.stringify(s, null, 2));
await context.dispose();
await model.dispose();
let bad = false;
if (s.top1_agreement < a.minTop1) { console.log(`FAIL top-1 agreement ${s.top1_agreement} < ${a.minTop1}`); bad = true; }
if (s.top1_agreement_clear < a.minTop1Clear) {
  console.log(`FAIL top-1 agreement on clear rows ${s.top1_agreement_clear} < ${a.minTop1Clear}`);
  bad = true;
}
if (!(s.rel_rms_pooled <= a.maxRelRms)) { console.log(`FAIL relative RMS ${s.rel_rms_pooled} > ${a.maxRelRms}`); bad = true; }
process.exit(bad ? 1 : 0);
