// What the page keeps in the browser's local storage: settings, the API key (when the user asks
// to remember it) and the conversations.

const KEYS = {
  settings: 'dsv4.settings.v1',
  apiKey: 'dsv4.apiKey',
  conversations: 'dsv4.conversations.v1',
  current: 'dsv4.current',
};

export const DEFAULT_SETTINGS = Object.freeze({
  system: '',
  temperature: '',  // '' = the server's default
  top_p: '',
  max_tokens: '',
  custom: '',       // extra request fields, a JSON object
  thinking: true,
  effort: 'high',
});

function read(key, fallback) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : JSON.parse(v);
  } catch {
    return fallback;
  }
}

// '' when saved, else why not (storage full or disabled).
function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return '';
  } catch (e) {
    return e && e.name === 'QuotaExceededError' ? 'Local storage is full: delete some conversations.' : `Cannot save: ${e.message}`;
  }
}

export const loadSettings = () => ({ ...DEFAULT_SETTINGS, ...read(KEYS.settings, {}) });
export const saveSettings = (s) => write(KEYS.settings, s);

export const loadApiKey = () => read(KEYS.apiKey, '');
export function saveApiKey(key) {
  if (key) return write(KEYS.apiKey, key);
  localStorage.removeItem(KEYS.apiKey);
  return '';
}

// Newest first.
export function loadConversations() {
  const list = read(KEYS.conversations, []);
  return (Array.isArray(list) ? list : []).filter((c) => c && c.id && Array.isArray(c.messages)).sort((a, b) => b.updated - a.updated);
}
export const saveConversations = (list) => write(KEYS.conversations, list);

export const loadCurrentId = () => read(KEYS.current, null);
export const saveCurrentId = (id) => write(KEYS.current, id);

export const isConversationsKey = (key) => key === KEYS.conversations;

export function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
