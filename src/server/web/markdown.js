// A small Markdown renderer for model output that builds DOM nodes with textContent only: no
// string of the model's text is ever parsed as HTML, so a reply cannot inject markup or script.
// Constructs: fenced code blocks, headings, paragraphs, bullet / numbered lists (nested),
// blockquotes, tables, rules; inline code, bold, italic, strikethrough, links and bare URLs
// (http and https only; anything else stays text).
//
//   renderMarkdown(text) -> DocumentFragment

const MAX_DEPTH = 12;  // nesting of lists / quotes; deeper input renders as text

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$/;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const blank = (line) => /^\s*$/.test(line);
const indentOf = (line) => /^ */.exec(line)[0].length;

function startsBlock(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line) ||
    (line.includes('|') && next !== undefined && TABLE_SEP.test(next));
}

// A link target is kept only when it is an absolute http(s) URL.
export function safeUrl(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function link(href, parent) {
  const a = el('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  parent.append(a);
  return a;
}

// code | **bold** | __bold__ | *em* | _em_ | ~~del~~ | [label](url) | bare or <url>
const INLINE = new RegExp([
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source,
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source,
  /(?<![\w_])__(?=\S)([\s\S]*?\S)__(?![\w_])/.source,
  /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source,
  /(?<![\w_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\w_])/.source,
  /~~(?=\S)([\s\S]*?\S)~~/.source,
  /\[([^\]\n]+)\]\(\s*<?([^\s)<>]+)>?(?:\s+"[^"\n]*")?\s*\)/.source,
  /<?\b(https?:\/\/[^\s<>]*[^\s<>.,;:!?'")\]])>?/.source,
].join('|'), 'g');

export function renderInline(text, parent, depth = 0) {
  if (depth > MAX_DEPTH) {
    parent.append(text);
    return;
  }
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      const code = m[2];
      parent.append(el('code', null, /^ .* $/.test(code) ? code.slice(1, -1) : code));
    } else if (m[3] !== undefined || m[4] !== undefined) {
      renderInline(m[3] ?? m[4], parent.appendChild(el('strong')), depth + 1);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      renderInline(m[5] ?? m[6], parent.appendChild(el('em')), depth + 1);
    } else if (m[7] !== undefined) {
      renderInline(m[7], parent.appendChild(el('del')), depth + 1);
    } else if (m[8] !== undefined) {
      const href = safeUrl(m[9]);
      if (href) renderInline(m[8], link(href, parent), depth + 1);
      else parent.append(m[0]);  // javascript:, data:, relative: shown as the text it is
    } else {
      const href = safeUrl(m[10]);
      if (href) link(href, parent).textContent = m[10];
      else parent.append(m[0]);
    }
  }
  if (last < text.length) parent.append(text.slice(last));
}

function codeBlock(lang, code) {
  const box = el('div', 'code-block');
  const head = el('div', 'code-head');
  head.append(el('span', 'code-lang', lang || 'text'));
  const copy = el('button', 'copy-code', 'Copy');
  copy.type = 'button';
  head.append(copy);
  const pre = el('pre');
  pre.append(el('code', null, code));
  box.append(head, pre);
  return box;
}

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function table(lines, depth) {
  const align = splitRow(lines[1]).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : ''));
  const wrap = el('div', 'table-wrap');
  const t = wrap.appendChild(el('table'));
  const row = (line, tag, parent) => {
    const tr = parent.appendChild(el('tr'));
    splitRow(line).forEach((cell, i) => {
      const c = tr.appendChild(el(tag, align[i] ? `align-${align[i]}` : null));
      renderInline(cell, c, depth + 1);
    });
  };
  row(lines[0], 'th', t.appendChild(el('thead')));
  const body = t.appendChild(el('tbody'));
  for (const line of lines.slice(2)) row(line, 'td', body);
  return wrap;
}

// Consumes a list starting at lines[i]; returns [element, next index].
function list(lines, i, depth) {
  const first = ITEM.exec(lines[i]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const root = el(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) root.start = parseInt(first[2], 10);
  const items = [];
  let strip = 0;
  while (i < lines.length) {
    const line = lines[i];
    const m = ITEM.exec(line);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      items.push([m[3]]);
      strip = indent + m[2].length + 1;
      i++;
    } else if (blank(line)) {
      const next = lines[i + 1];
      if (next === undefined || blank(next) || indentOf(next) < strip && !(ITEM.exec(next)?.[1].length === indent)) break;
      items[items.length - 1].push('');
      i++;
    } else if (indentOf(line) > indent) {
      items[items.length - 1].push(line.slice(Math.min(indentOf(line), strip)));
      i++;
    } else if (!startsBlock(line, lines[i + 1]) && !blank(lines[i - 1])) {
      items[items.length - 1].push(line);  // a lazy continuation of the item's paragraph
      i++;
    } else {
      break;
    }
  }
  for (const body of items) {
    const li = root.appendChild(el('li'));
    li.append(renderBlocks(body, depth + 1));
  }
  return [root, i];
}

function renderBlocks(lines, depth) {
  const out = document.createDocumentFragment();
  if (depth > MAX_DEPTH) {
    out.append(el('p', null, lines.join('\n')));
    return out;
  }
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (blank(line)) {
      i++;
    } else if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
      const body = [];
      for (i++; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i]);
      i++;  // the closing fence (absent while a reply is still streaming)
      out.append(codeBlock(m[2], body.join('\n')));
    } else if ((m = HEADING.exec(line))) {
      renderInline(m[2], out.appendChild(el(`h${m[1].length}`)), depth);
      i++;
    } else if (RULE.test(line)) {
      out.append(el('hr'));
      i++;
    } else if (QUOTE.test(line)) {
      const body = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) body.push(lines[i].replace(QUOTE, ''));
      out.appendChild(el('blockquote')).append(renderBlocks(body, depth + 1));
    } else if (ITEM.test(line)) {
      const [node, next] = list(lines, i, depth);
      out.append(node);
      i = next;
    } else if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      const rows = [line, lines[i + 1]];
      for (i += 2; i < lines.length && lines[i].includes('|') && !blank(lines[i]); i++) rows.push(lines[i]);
      out.append(table(rows, depth));
    } else {
      const para = [line];
      for (i++; i < lines.length && !blank(lines[i]) && !startsBlock(lines[i], lines[i + 1]); i++) para.push(lines[i]);
      renderInline(para.join('\n'), out.appendChild(el('p')), depth);
    }
  }
  return out;
}

export function renderMarkdown(text) {
  return renderBlocks(String(text).replace(/\r\n?/g, '\n').split('\n'), 0);
}
