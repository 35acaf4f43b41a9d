// The chat page of `dsv4 serve`: conversations, a streamed reply with its reasoning, settings.
// Model text only ever reaches the page through textContent (markdown.js builds nodes).
import { ApiError, listModels, streamChat } from './api.js';
import { renderMarkdown } from './markdown.js';
import * as store from './store.js';

const $ = (id) => document.getElementById(id);
const ui = {
  app: $('app'), sidebar: $('sidebar'), scrim: $('scrim'), list: $('conv-list'), storageNote: $('storage-note'),
  title: $('conv-title'), model: $('model-name'), messages: $('messages'), empty: $('empty'), jump: $('jump'),
  composer: $('composer'), input: $('input'), send: $('send'), stop: $('stop'), thinking: $('thinking'),
  effort: $('effort'), status: $('status'), settings: $('settings'), keyDialog: $('key-dialog'),
};

const state = {
  settings: store.loadSettings(),
  apiKey: store.loadApiKey(),
  conversations: store.loadConversations(),
  current: null,   // the open conversation; null = a new chat not saved yet
  model: '',       // the served model id (from /v1/models)
  busy: null,      // {controller, conv, msg} while a reply streams
  stick: true,     // keep the view at the bottom while a reply streams
};
const views = new WeakMap();  // assistant message -> its DOM parts

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- persistence -------------------------------------------------------------------------------

function persist() {
  const why = store.saveConversations(state.conversations);
  store.saveCurrentId(state.current?.id ?? null);
  ui.storageNote.textContent = why;
}

function touch(conv) {
  conv.updated = Date.now();
  state.conversations.sort((a, b) => b.updated - a.updated);
}

// ---- the conversation list ---------------------------------------------------------------------

function renderList() {
  ui.list.replaceChildren();
  for (const conv of state.conversations) {
    const li = el('li', conv === state.current ? 'conv active' : 'conv');
    const open = el('button', 'conv-open');
    open.type = 'button';
    open.append(el('span', 'conv-title', conv.title || 'Untitled'), el('span', 'conv-date muted small', new Date(conv.updated).toLocaleString()));
    open.addEventListener('click', () => openConversation(conv));
    const del = el('button', 'conv-delete icon-btn', '\u2715');
    del.type = 'button';
    del.setAttribute('aria-label', `Delete "${conv.title || 'Untitled'}"`);
    del.title = 'Delete';
    del.addEventListener('click', () => {
      if (!del.classList.contains('confirm')) {  // the second click deletes
        del.classList.add('confirm');
        del.textContent = 'Delete?';
        setTimeout(() => { del.classList.remove('confirm'); del.textContent = '\u2715'; }, 3000);
        return;
      }
      deleteConversation(conv);
    });
    li.append(open, del);
    ui.list.append(li);
  }
}

function openConversation(conv) {
  state.current = conv;
  state.stick = true;
  persist();
  renderAll();
  closeSidebar();
  scrollToBottom();
}

function newChat() {
  state.current = null;
  persist();
  renderAll();
  closeSidebar();
  ui.input.focus();
}

function deleteConversation(conv) {
  if (state.busy?.conv === conv) state.busy.controller.abort();
  state.conversations = state.conversations.filter((c) => c !== conv);
  if (state.current === conv) state.current = null;
  persist();
  renderAll();
}

// ---- messages ----------------------------------------------------------------------------------

function userView(msg) {
  const art = el('article', 'msg user');
  art.append(el('div', 'bubble', msg.content));
  return art;
}

function assistantView(msg) {
  const art = el('article', 'msg assistant');
  const reasoning = el('details', 'reasoning');
  const summary = el('summary');
  const rTitle = el('span', 'reasoning-title');
  summary.append(rTitle);
  const rText = el('div', 'reasoning-text');
  reasoning.append(summary, rText);
  const v = { art, reasoning, rTitle, rText, content: el('div', 'content md'), tools: el('div', 'tool-calls'),
    error: el('div', 'error-box'), meta: el('div', 'meta'), userToggled: false, shownContent: null, shownReasoning: null };
  summary.addEventListener('click', () => { v.userToggled = true; });
  v.error.setAttribute('role', 'alert');
  art.append(reasoning, v.content, v.tools, v.error, v.meta);
  views.set(msg, v);
  updateAssistant(msg);
  return art;
}

const fmt = (n) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '?');

function usageLine(msg) {
  const parts = [];
  const u = msg.usage;
  if (u) {
    parts.push(`prompt ${fmt(u.prompt_tokens)}`, `cached ${fmt(u.prompt_tokens_details?.cached_tokens ?? u.prompt_cache_hit_tokens ?? 0)}`);
    const r = u.completion_tokens_details?.reasoning_tokens;
    parts.push(`completion ${fmt(u.completion_tokens)}${r ? ` (reasoning ${fmt(r)})` : ''}`);
  }
  const s = msg.stats;
  if (s?.tps) parts.push(`${s.tps.toFixed(1)} tok/s`);
  if (s?.ttft_ms != null) parts.push(`first token ${(s.ttft_ms / 1000).toFixed(2)} s`);
  if (msg.stopped) parts.push('stopped');
  else if (msg.finish) parts.push(`finish: ${msg.finish}`);
  return parts.join(' \u00b7 ');
}

function updateAssistant(msg) {
  const v = views.get(msg);
  if (!v) return;
  const streaming = state.busy?.msg === msg;
  v.art.classList.toggle('streaming', streaming);

  v.reasoning.hidden = !msg.reasoning;
  if (msg.reasoning !== v.shownReasoning) {
    // The block scrolls on its own: it follows the text unless the reader scrolled it up.
    const follow = v.rText.scrollHeight - v.rText.scrollTop - v.rText.clientHeight < 24;
    if (v.shownReasoning && msg.reasoning.startsWith(v.shownReasoning)) v.rText.append(msg.reasoning.slice(v.shownReasoning.length));
    else v.rText.textContent = msg.reasoning;
    v.shownReasoning = msg.reasoning;
    if (follow) v.rText.scrollTop = v.rText.scrollHeight;
  }
  const thinkingNow = streaming && !msg.content && !msg.tool_calls?.length;
  const ms = msg.stats?.reasoning_ms;
  const secs = ms >= 100 ? ` for ${(ms / 1000).toFixed(1)} s` : '';
  v.rTitle.textContent = thinkingNow ? 'Thinking\u2026' : `Reasoning${secs}`;
  if (!v.userToggled) v.reasoning.open = thinkingNow;  // live while it thinks, folded once it answers

  if (msg.content !== v.shownContent) {
    v.content.replaceChildren(renderMarkdown(msg.content));
    v.shownContent = msg.content;
  }
  v.content.hidden = !msg.content && !(streaming && !msg.reasoning);
  if (streaming && !msg.content && !msg.reasoning) v.content.replaceChildren(el('span', 'typing muted', 'waiting for the first token\u2026'));

  v.tools.replaceChildren();
  for (const tc of msg.tool_calls ?? []) {
    const box = el('div', 'tool-call');
    box.append(el('div', 'tool-name', `Tool call: ${tc.name || '(unnamed)'}${tc.id ? `  [${tc.id}]` : ''}`));
    let args = tc.arguments || '';
    try { args = JSON.stringify(JSON.parse(args), null, 2); } catch {}  // partial JSON while it streams
    box.append(el('pre', 'tool-args', args));
    v.tools.append(box);
  }

  v.error.hidden = !msg.error;
  v.error.textContent = msg.error || '';

  v.meta.replaceChildren(el('span', 'usage muted small', usageLine(msg)));
  if (!streaming) {
    if (msg.content) {
      const copy = el('button', 'btn small copy-msg', 'Copy');
      copy.type = 'button';
      copy.addEventListener('click', () => copyText(msg.content, copy));
      v.meta.append(copy);
    }
    const conv = state.current;
    if (conv && conv.messages[conv.messages.length - 1] === msg && !state.busy) {
      const again = el('button', 'btn small regenerate', 'Regenerate');
      again.type = 'button';
      again.addEventListener('click', () => { conv.messages.pop(); generate(conv); });
      v.meta.append(again);
    }
  }
}

function renderMessages() {
  const conv = state.current;
  ui.messages.replaceChildren(ui.empty);
  ui.empty.hidden = !!conv?.messages.length;
  for (const msg of conv?.messages ?? []) ui.messages.append(msg.role === 'user' ? userView(msg) : assistantView(msg));
}

function renderAll() {
  ui.title.textContent = state.current?.title || 'New chat';
  document.title = state.current ? `${state.current.title} - dsv4` : 'dsv4 chat';
  renderList();
  renderMessages();
  syncComposer();
}

// ---- scrolling ---------------------------------------------------------------------------------

const atBottom = () => ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  state.stick = true;
  ui.jump.hidden = true;
}

ui.messages.addEventListener('scroll', () => {
  state.stick = atBottom();
  ui.jump.hidden = state.stick;
});
ui.jump.addEventListener('click', scrollToBottom);

let frame = 0;
function scheduleUpdate(msg) {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    updateAssistant(msg);
    if (state.stick) ui.messages.scrollTop = ui.messages.scrollHeight;
    else ui.jump.hidden = false;
  });
}

// ---- generation --------------------------------------------------------------------------------

function number(v) {
  return v === '' || v === null || v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v);
}

function requestBody(history) {
  const s = state.settings;
  const messages = [];
  if (s.system.trim()) messages.push({ role: 'system', content: s.system });
  for (const m of history) {
    if (m.role === 'user') messages.push({ role: 'user', content: m.content });
    else if (m.content || m.reasoning) {
      const a = { role: 'assistant', content: m.content || '' };
      if (m.reasoning) a.reasoning_content = m.reasoning;
      messages.push(a);
    }
  }
  const body = {
    messages,
    stream: true,
    stream_options: { include_usage: true },
    thinking: { type: s.thinking ? 'enabled' : 'disabled' },
  };
  if (state.model) body.model = state.model;
  if (s.thinking) body.reasoning_effort = s.effort;
  for (const [k, v] of [['temperature', s.temperature], ['top_p', s.top_p], ['max_tokens', s.max_tokens]])
    if (number(v) !== undefined) body[k] = number(v);
  if (s.custom.trim()) Object.assign(body, JSON.parse(s.custom));
  return body;
}

function applyChunk(msg, chunk, clock) {
  for (const c of chunk.choices ?? []) {
    const d = c.delta ?? {};
    if (d.reasoning_content) {
      clock.first ??= performance.now();
      clock.reasoningStart ??= performance.now();
      msg.reasoning += d.reasoning_content;
    }
    if (d.content) {
      clock.first ??= performance.now();
      clock.contentStart ??= performance.now();
      msg.content += d.content;
    }
    for (const tc of d.tool_calls ?? []) {
      clock.first ??= performance.now();
      clock.contentStart ??= performance.now();
      const i = tc.index ?? 0;
      msg.tool_calls[i] ??= { id: '', name: '', arguments: '' };
      const t = msg.tool_calls[i];
      if (tc.id) t.id = tc.id;
      if (tc.function?.name && !t.name) t.name = tc.function.name;
      if (tc.function?.arguments) t.arguments += tc.function.arguments;
    }
    if (c.finish_reason) msg.finish = c.finish_reason;
  }
  if (chunk.usage) msg.usage = chunk.usage;
}

async function generate(conv) {
  if (state.busy) return;
  let body;
  try {
    body = requestBody(conv.messages);
  } catch (e) {
    setStatus(`The extra request fields are not valid JSON: ${e.message}`);
    return;
  }
  const msg = { role: 'assistant', content: '', reasoning: '', tool_calls: [], created: Date.now() };
  conv.messages.push(msg);
  const controller = new AbortController();
  state.busy = { controller, conv, msg };
  state.stick = true;
  touch(conv);
  persist();
  if (state.current === conv) renderAll();
  scrollToBottom();
  setStatus('');

  const clock = { start: performance.now() };
  let retry = false;
  try {
    await streamChat({ body, apiKey: state.apiKey, signal: controller.signal, onChunk: (ch) => { applyChunk(msg, ch, clock); scheduleUpdate(msg); } });
  } catch (e) {
    if (controller.signal.aborted) msg.stopped = true;
    else if (e instanceof ApiError && e.status === 401 && !msg.content && !msg.reasoning) retry = true;
    else msg.error = e instanceof ApiError ? e.describe() : `Error: ${e.message}`;
  }
  const end = performance.now();
  msg.stats = {
    ttft_ms: clock.first != null ? clock.first - clock.start : null,
    reasoning_ms: clock.reasoningStart != null ? (clock.contentStart ?? end) - clock.reasoningStart : null,
  };
  const n = msg.usage?.completion_tokens;
  if (n > 1 && clock.first != null && end > clock.first) msg.stats.tps = (n - 1) / ((end - clock.first) / 1000);
  state.busy = null;
  if (retry) conv.messages.pop();  // asked again once a key is given
  touch(conv);
  persist();
  if (state.current === conv) renderAll();
  else renderList();
  if (state.stick) scrollToBottom();
  if (retry) askForKey('The server requires an API key.', () => generate(conv));
}

function sendMessage() {
  const text = ui.input.value;
  if (!text.trim() || state.busy) return;
  if (!state.current) {
    const title = text.trim().replace(/\s+/g, ' ').slice(0, 60);
    state.current = { id: store.newId(), title, created: Date.now(), updated: Date.now(), messages: [] };
    state.conversations.unshift(state.current);
  }
  state.current.messages.push({ role: 'user', content: text });
  ui.input.value = '';
  autoGrow();
  generate(state.current);
}

function syncComposer() {
  const busy = !!state.busy;
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.thinking.checked = state.settings.thinking;
  ui.effort.value = state.settings.effort;
  ui.effort.disabled = !state.settings.thinking;
}

function setStatus(text) {
  ui.status.textContent = text;
}

function autoGrow() {
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, Math.round(window.innerHeight * 0.4))}px`;
}

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  sendMessage();
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendMessage();
  }
});
ui.input.addEventListener('input', autoGrow);
ui.stop.addEventListener('click', () => state.busy?.controller.abort());
ui.thinking.addEventListener('change', () => {
  state.settings.thinking = ui.thinking.checked;
  store.saveSettings(state.settings);
  syncComposer();
});
ui.effort.addEventListener('change', () => {
  state.settings.effort = ui.effort.value;
  store.saveSettings(state.settings);
});

// ---- copy --------------------------------------------------------------------------------------

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = el('textarea');  // clipboard API unavailable (plain http on another host)
    t.value = text;
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  const was = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = was; }, 1200);
}

ui.messages.addEventListener('click', (e) => {
  const b = e.target.closest('button.copy-code');
  if (b) copyText(b.closest('.code-block').querySelector('pre').textContent, b);
});

// ---- sidebar (a drawer on narrow screens) ------------------------------------------------------

function openSidebar() {
  ui.app.classList.add('sidebar-open');
  ui.scrim.hidden = false;
}
function closeSidebar() {
  ui.app.classList.remove('sidebar-open');
  ui.scrim.hidden = true;
}
$('open-sidebar').addEventListener('click', openSidebar);
$('close-sidebar').addEventListener('click', closeSidebar);
ui.scrim.addEventListener('click', closeSidebar);
$('new-chat').addEventListener('click', newChat);

// ---- settings ----------------------------------------------------------------------------------

const fields = { system: 'set-system', temperature: 'set-temperature', top_p: 'set-top-p', max_tokens: 'set-max-tokens', custom: 'set-custom' };

function fillSettings(s, key) {
  for (const [k, id] of Object.entries(fields)) $(id).value = s[k] ?? '';
  $('set-api-key').value = key;
  $('settings-error').textContent = '';
}

$('open-settings').addEventListener('click', () => {
  fillSettings(state.settings, state.apiKey);
  ui.settings.showModal();
});
$('settings-cancel').addEventListener('click', () => ui.settings.close());
$('settings-reset').addEventListener('click', () => fillSettings({ ...store.DEFAULT_SETTINGS }, $('set-api-key').value));
$('settings-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const next = { ...state.settings };
  for (const [k, id] of Object.entries(fields)) next[k] = $(id).value;
  if (next.custom.trim()) {
    let parsed;
    try { parsed = JSON.parse(next.custom); } catch (err) { parsed = err; }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof Error) {
      $('settings-error').textContent = `Extra request fields: not a JSON object${parsed instanceof Error ? ` (${parsed.message})` : ''}`;
      return;
    }
  }
  state.settings = next;
  const why = store.saveSettings(next);
  const key = $('set-api-key').value.trim();
  if (key !== state.apiKey) {
    state.apiKey = key;
    store.saveApiKey(key);
    loadModel();
  }
  ui.storageNote.textContent = why;
  ui.settings.close();
});

// ---- API key -----------------------------------------------------------------------------------

let onKey = null;
function askForKey(reason, then) {
  onKey = then;
  $('key-reason').textContent = reason;
  $('key-input').value = '';
  if (!ui.keyDialog.open) ui.keyDialog.showModal();
  $('key-input').focus();
}
$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) return;
  state.apiKey = key;
  if ($('key-remember').checked) store.saveApiKey(key);
  ui.keyDialog.close();
  const then = onKey;
  onKey = null;
  then?.();
});
$('key-cancel').addEventListener('click', () => {
  onKey = null;
  ui.keyDialog.close();
  setStatus('No API key: requests will be refused (set one in Settings).');
});

async function loadModel() {
  try {
    const models = await listModels(state.apiKey);
    state.model = models[0]?.id ?? '';
    ui.model.textContent = state.model;
    setStatus('');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      askForKey(state.apiKey ? 'The server refused this API key: enter the right one.' : 'This server requires an API key.', loadModel);
    } else {
      setStatus(e instanceof ApiError ? e.describe() : String(e));
    }
  }
}

// ---- start -------------------------------------------------------------------------------------

window.addEventListener('storage', (e) => {  // another tab changed the conversations
  if (!store.isConversationsKey(e.key) || state.busy) return;
  const id = state.current?.id;
  state.conversations = store.loadConversations();
  state.current = state.conversations.find((c) => c.id === id) ?? null;
  renderAll();
});

// A reply that was streaming when the page closed ends there.
for (const c of state.conversations)
  for (const m of c.messages) if (m.role === 'assistant' && !m.stats && !m.error) m.stopped = true;
const saved = store.loadCurrentId();
state.current = state.conversations.find((c) => c.id === saved) ?? null;
renderAll();
scrollToBottom();
loadModel();
ui.input.focus();
