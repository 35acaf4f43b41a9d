// Tokenization throughput: dsv4 vs the Hugging Face tokenizers engine, same text, same run.
//   node bench/tokenizer_bench.js --dsv4 build/tools/dsv4 [--reps 3]
// Needs tests/js/node_modules (npm ci in tests/js). Text: the parity corpus (make_corpus.js) and
// its natural-text part (files from this machine). Both sides encode single-threaded from a freshly
// loaded tokenizer (cold word caches), load time not counted, best of --reps:
//   per document: each document encoded separately (dsv4 tokenize --jsonl; HF encode() in a loop);
//   one string: all documents joined into one text.
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawnSync } = require('child_process');
const js = path.join(__dirname, '../tests/js');
const hf = require(path.join(js, 'node_modules/@anush008/tokenizers'));
const { buildCorpus } = require(path.join(js, 'make_corpus'));
const v4 = require(path.join(js, 'v4_tokenizer'));

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const DSV4 = args.dsv4 || 'build/tools/dsv4', REPS = Number(args.reps || 3);

function dsv4Seconds(file, input, jsonl) {
  const out = spawnSync(DSV4, ['tokenize', '--tokenizer', file, '--stats', ...(jsonl ? ['--jsonl'] : [])], { input, maxBuffer: 1 << 30 });
  const m = /(\d+) tokens, encode ([0-9.]+) s/.exec(out.stderr.toString());
  if (!m) throw new Error('no --stats output: ' + out.stderr);
  return { seconds: Number(m[2]), tokens: Number(m[1]) };
}

async function hfSeconds(file, docs) {
  const tok = hf.Tokenizer.fromFile(file);
  let tokens = 0;
  const t0 = process.hrtime.bigint();
  for (const d of docs) tokens += (await tok.encode(d, null, { addSpecialTokens: false })).getLength();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, tokens };
}

(async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dsv4-tokbench-'));
  const file = v4.write(work).v3;
  const docs = buildCorpus();
  const natural = docs.filter((d) => !/[\u{30000}-\u{3ffff}\u{e0000}-\u{effff}]/u.test(d)).slice(0, 400);
  for (const [name, set] of [['full corpus', docs], ['natural text', natural]]) {
    for (const mode of ['per document', 'one string']) {
      const input = mode === 'one string' ? [set.join('\n')] : set;
      const bytes = input.reduce((n, d) => n + Buffer.byteLength(d), 0);
      let hfBest = { seconds: Infinity }, dsBest = { seconds: Infinity };
      for (let r = 0; r < REPS; r++) {
        const h = await hfSeconds(file, input);
        if (h.seconds < hfBest.seconds) hfBest = h;
        const d = mode === 'one string' ? dsv4Seconds(file, input[0], false)
          : dsv4Seconds(file, input.map((x) => JSON.stringify(x)).join('\n') + '\n', true);
        if (d.seconds < dsBest.seconds) dsBest = d;
      }
      const hfRate = bytes / 1e6 / hfBest.seconds, dsRate = bytes / 1e6 / dsBest.seconds;
      console.log(`${name}, ${mode}: ${(bytes / 1e6).toFixed(2)} MB, ${hfBest.tokens} tokens (dsv4 ${dsBest.tokens}): ` +
        `HF ${hfRate.toFixed(2)} MB/s, dsv4 ${dsRate.toFixed(2)} MB/s, dsv4/HF ${(dsRate / hfRate).toFixed(2)}x`);
    }
  }
  fs.rmSync(work, { recursive: true });
})();
