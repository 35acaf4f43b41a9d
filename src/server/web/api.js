// The server's own API, called with fetch: the model list and streamed chat completions (SSE).

export class ApiError extends Error {
  constructor(status, message, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
  // "HTTP 429 queue_full: the queue is full" (what the page shows).
  describe() {
    const head = this.status ? `HTTP ${this.status}` : 'Error';
    return `${head}${this.code ? ` ${this.code}` : ''}: ${this.message}`;
  }
}

function headers(apiKey) {
  const h = { 'Content-Type': 'application/json' };
  if (apiKey) h.Authorization = `Bearer ${apiKey}`;
  return h;
}

// An ApiError from a non-2xx reply: the OpenAI error object's message when there is one.
async function errorOf(res) {
  const text = await res.text().catch(() => '');
  try {
    const e = JSON.parse(text).error;
    if (e && e.message) return new ApiError(res.status, String(e.message), String(e.code || e.type || ''));
  } catch {}
  return new ApiError(res.status, text.trim().slice(0, 500) || res.statusText || 'request failed');
}

async function call(path, init) {
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `the server cannot be reached (${e.message})`);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function listModels(apiKey) {
  const res = await call('/v1/models', { headers: headers(apiKey) });
  return (await res.json()).data ?? [];
}

// POSTs `body` (stream: true) and calls onChunk(object) for each event until `data: [DONE]` or the
// end of the stream. Throws ApiError for an error reply or an error event; aborting `signal`
// closes the connection, which cancels the generation on the server.
export async function streamChat({ body, apiKey, signal, onChunk }) {
  const res = await call('/v1/chat/completions', { method: 'POST', headers: headers(apiKey), body: JSON.stringify(body), signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let data = [];
  const dispatch = () => {  // true at [DONE]
    if (!data.length) return false;
    const payload = data.join('\n');
    data = [];
    if (payload === '[DONE]') return true;
    let obj;
    try {
      obj = JSON.parse(payload);
    } catch {
      throw new ApiError(0, `unreadable event from the server: ${payload.slice(0, 200)}`);
    }
    if (obj.error) throw new ApiError(obj.error.status || 0, String(obj.error.message || 'error'), String(obj.error.code || obj.error.type || ''));
    onChunk(obj);
    return false;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (dispatch()) {
          reader.cancel().catch(() => {});
          return;
        }
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }  // comments (": keep-alive") and other fields are ignored
    }
  }
  if (buf.startsWith('data:')) data.push(buf.slice(buf.startsWith('data: ') ? 6 : 5));
  dispatch();
}
