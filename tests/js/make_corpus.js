// Builds the tokenizer parity corpus deterministically: text files found on this machine
// (/usr/share/doc, /usr/include, man pages in several languages) plus generated text that aims
// at the pre-tokenizer's corners (every code point of planes 0-3 and 14, emoji sequences,
// whitespace runs with CR/CRLF and rare Unicode spaces, digit runs, punctuation before newlines,
// control and format characters, special-token strings). Returns an array of documents.
//   node make_corpus.js OUT.jsonl   writes one JSON string per line
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

// Files under `root` (sorted, recursive), every `stride`-th one, until `budget` bytes are taken.
function fromFiles(root, filter, budget, stride, maxPerFile) {
  const files = [];
  const walk = (dir) => {
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && filter(p)) files.push(p);
    }
  };
  walk(root);
  const docs = [];
  let used = 0;
  for (let i = 0; i < files.length && used < budget; i += stride) {
    let buf;
    try {
      buf = fs.readFileSync(files[i]);
      if (files[i].endsWith('.gz')) buf = zlib.gunzipSync(buf);
    } catch { continue; }
    // Text only: skip files with NUL bytes; invalid UTF-8 becomes U+FFFD here (Buffer decoding).
    if (buf.includes(0)) continue;
    const text = buf.subarray(0, maxPerFile).toString('utf8');
    docs.push(text);
    used += Buffer.byteLength(text);
  }
  return docs;
}

// xorshift32: a fixed generator so the random part is identical everywhere.
function rng(seed) {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

function codePointDocs() {
  const seps = ['', ' ', 'a', '\n', '1', '.', '  ', '\u4e00', '\r\n', ' x'];
  const docs = [];
  const planes = [[0x0001, 0x3ffff], [0xe0000, 0xeffff]];
  let k = 0;
  for (const [lo, hi] of planes) {
    for (let c = lo; c <= hi; c += 512) {
      const sep = seps[k++ % seps.length];
      const parts = [];
      for (let d = c; d < c + 512 && d <= hi; d++) if (d < 0xd800 || d > 0xdfff) parts.push(String.fromCodePoint(d));
      docs.push(parts.join(sep));
    }
  }
  return docs;
}

const WORDS = ['hello', 'World', 'naïve', 'café', 'Straße', 'über', 'ÆSIR', 'привет', 'Мир', 'γειά', 'σου',
  'שלום', 'مرحبا', 'नमस्ते', 'สวัสดี', '안녕하세요', '你好', '世界', '毕老师', 'こんにちは', 'カタカナ', 'ｶﾀｶﾅ',
  '한국어', 'Ελληνικά', 'z̷̢a̴l̶g̸o', 'e\u0301', 'n\u0303o', 'don\'t', 'it\'s', 'I\'ll', 'ĠÑĤÐ²ÑĬÑĢ', 'x86_64',
  'foo_bar', 'camelCase', 'HTTP2', 'v4.1', 'ℝ', 'ℵ0', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𝟘𝟙𝟚', 'Ⅻ', '½', '²³', '٣٤٥', '१२३', '〇'];
const PUNCT = ['.', ',', '!', '?', ';', ':', '>;', '">;', '...', '—', '–', '-', '~', ' ~', '~~', '`', '```', '**',
  '#', '##', '@', '$', '%', '^', '&&', '||', '=>', '->', '::', '()', '[]', '{}', '<', '>', '</', '/>', '«»',
  '“”', '„', '。', '、', '！', '？', '（', '）', '【', '】', '·', '•', '§', '¶', '©', '®', '™', '€', '£', '¥',
  '+', '=', '×', '÷', '±', '≠', '≤', '∑', '∫', '√', '∞', '°', '\\', '|', '"', '\'', '_', '__init__'];
const SPACES = [' ', '  ', '   ', '    ', '\t', '\t\t', '\n', '\n\n', '\r', '\r\n', '\r\n\r\n', ' \n', '\n ',
  '  \n  ', '\u00a0', '\u3000', '\u2028', '\u2029', '\u0085', '\u180e', '\u200b', '\u2009', '\u202f',
  '\u205f', '\u1680', '\u000b', '\u000c', ' \u00a0 ', '\t \r\n'];
const ODD = ['\u0000', '\u0001', '\u001b[31m', '\u007f', '\u00ad', '\u200d', '\u200c', '\u2060', '\ufeff',
  '\ufffd', '\ufffe', '\uffff', '\ue000', '\u{10ffff}', '\u{e0041}', '\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}'];
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇯🇵', '🇺🇸🇫🇷', '1️⃣', '#️⃣', '❤️', '🧑🏿‍🚀', '🫠', '🪿', '☕', '✅'];
const SPECIAL = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>', '<think>',
  '</think>', '｜DSML｜', '</｜DSML｜invoke>', '<｜User', 'User｜>', '<｜<｜User｜>', '<|EOT|>', '<｜▁pad▁｜>',
  '<｜tool▁calls▁begin｜>', '<｜fim▁hole｜>', '<｜place▁holder▁no▁5｜>', '<｜latest_reminder｜>', '<｜image｜>'];

function digits(r) {
  const n = 1 + Math.floor(r() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += String(Math.floor(r() * 10));
  return s;
}

function randomDocs(count, seed) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const docs = [];
  for (let d = 0; d < count; d++) {
    const n = 5 + Math.floor(r() * 120);
    let s = '';
    for (let i = 0; i < n; i++) {
      const x = r();
      if (x < 0.30) s += pick(WORDS);
      else if (x < 0.45) s += pick(PUNCT);
      else if (x < 0.65) s += pick(SPACES);
      else if (x < 0.73) s += digits(r);
      else if (x < 0.79) s += pick(EMOJI);
      else if (x < 0.84) s += pick(SPECIAL);
      else if (x < 0.88) s += pick(ODD);
      else if (x < 0.94) s += String.fromCodePoint(Math.floor(r() * 0x3000));
      else { let cp = Math.floor(r() * 0x10ffff); if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20; s += String.fromCodePoint(cp); }
    }
    docs.push(s);
  }
  // Long runs: whitespace of every kind before words and at the end, digits, punctuation.
  for (const sp of SPACES) {
    docs.push(sp.repeat(37) + 'word' + sp.repeat(5) + '123' + sp.repeat(300));
    docs.push('a' + sp + sp + sp + 'b' + sp + '>;\n' + sp + '~x');
  }
  docs.push('9'.repeat(1001) + ' ' + '٣'.repeat(500) + '\n'.repeat(1000) + ' '.repeat(5000) + '!'.repeat(700));
  docs.push('a'.repeat(3000) + ' ' + '你'.repeat(2000) + 'x' + 'é'.repeat(1000));
  return docs;
}

function buildCorpus() {
  const docs = [];
  const isText = (p) => !/\.(png|jpg|gif|pdf|svgz|woff2?|ttf|bin|o|so|a)$/i.test(p);
  docs.push(...fromFiles('/usr/share/doc', isText, 300000, 7, 6000));
  docs.push(...fromFiles('/usr/include', (p) => /\.(h|hpp|hh|inc|def)$/.test(p), 300000, 37, 8000));
  for (const lang of ['man1', 'ja', 'ko', 'ru', 'zh_CN', 'zh_TW', 'uk', 'de', 'fr', 'pl'])
    docs.push(...fromFiles(path.join('/usr/share/man', lang), (p) => p.endsWith('.gz'), 40000, 13, 5000));
  docs.push(...codePointDocs());
  docs.push(...randomDocs(3000, 20240607));
  return docs;
}

module.exports = { buildCorpus };

if (require.main === module) {
  const docs = buildCorpus();
  fs.writeFileSync(process.argv[2] || 'corpus.jsonl', docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  console.error(`${docs.length} documents, ${bytes} bytes`);
}
