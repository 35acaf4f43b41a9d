// Starts `dsv4 serve --port 0` for a test and always stops it again.
//
//   const srv = await startServer({ args: ['--parallel', '1'] });
//   srv.baseURL   // http://127.0.0.1:PORT/v1 (for the SDKs)
//   await srv.stop();
//
// The port is parsed from the server's "listening on http://HOST:PORT" line and the server is
// ready once it prints "dsv4 serve: ready". Every server started here is killed when the test
// process exits (normally, on an uncaught error, or on SIGINT / SIGTERM), and a detached watcher
// kills it within a second should the test process itself be SIGKILLed (e.g. by ctest's timeout).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(process.env.DSV4_SOURCE_DIR || join(here, '..', '..', '..'));
export const EXE = process.env.DSV4_EXE || join(REPO, 'build', 'tools', 'dsv4');
export const DEFAULT_MODEL = process.env.DSV4_DEFAULT_MODEL || join(REPO, 'models', 'default');
export const MODEL_ID = 'dsv4-default';

const live = new Set();

function killAll() {
  for (const s of live) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {}
  }
  live.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[sig]);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects after `ms` with `what` in the message; clears its timer either way.
export async function withTimeout(promise, ms, what) {
  let t;
  const timeout = new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(t);
  }
}

export function checkPrerequisites() {
  const problems = [];
  if (!existsSync(EXE)) problems.push(`the dsv4 binary is missing: ${EXE} (build it: cmake --build build --target dsv4; or set DSV4_EXE)`);
  if (!existsSync(join(DEFAULT_MODEL, 'config.json')))
    problems.push(`the default model is missing: ${DEFAULT_MODEL} (run: bash scripts/make_default_model.sh)`);
  if (problems.length) throw new Error(problems.join('\n'));
}

export class Server {
  constructor(proc, opts) {
    this.proc = proc;
    this.pid = proc.pid;
    this.opts = opts;
    this.port = 0;
    this.log = '';
    this.exitInfo = null;
    this.exited = new Promise((res) => {
      proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        res(this.exitInfo);
      });
    });
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  get baseURL() {
    return `${this.url}/v1`;
  }
  get running() {
    return this.exitInfo === null;
  }
  // Resident set size in bytes (/proc/PID/status VmRSS).
  rssBytes() {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  }
  // Sends `signal` and waits for the exit (SIGKILL after `ms`). Resolves to { code, signal }.
  async stop({ signal = 'SIGKILL', ms = 15000 } = {}) {
    if (!this.running) return this.exitInfo;
    try {
      this.proc.kill(signal);
    } catch {}
    let t;
    const forced = new Promise((res) => {
      t = setTimeout(() => {
        try {
          this.proc.kill('SIGKILL');
        } catch {}
        res();
      }, ms);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(t);
    return this.exited;
  }
  // Waits until the server's stderr matches `re` (a RegExp); resolves to the match.
  waitForLog(re, ms = 10000) {
    return withTimeout(
      new Promise((res, rej) => {
        const check = () => {
          const m = re.exec(this.log);
          if (m) {
            this.proc.stderr.off('data', check);
            res(m);
          } else if (!this.running) rej(new Error(`server exited (${JSON.stringify(this.exitInfo)}) before logging ${re}:\n${this.log}`));
        };
        this.proc.stderr.on('data', check);
        this.exited.then(check);
        check();
      }),
      ms,
      `server log ${re}`,
    );
  }
  async metricsText() {
    const r = await fetch(`${this.url}/metrics`, { headers: this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {} });
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
    return r.text();
  }
  async metrics() {
    return parseMetrics(await this.metricsText());
  }
}

// Starts a server; `args` are extra `dsv4 serve` options. Resolves once it is ready.
export async function startServer({ args = [], env = {}, apiKey = '', readyTimeoutMs = 60000, model } = {}) {
  checkPrerequisites();
  const argv = ['serve', '--port', '0', ...(model ? ['-m', model] : []), ...(apiKey ? ['--api-key', apiKey] : []), ...args];
  const proc = spawn(EXE, argv, {
    cwd: REPO,
    env: { ...process.env, DSV4_DEFAULT_MODEL: DEFAULT_MODEL, DSV4_API_KEY: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const srv = new Server(proc, { args: argv, apiKey });
  live.add(srv);
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    srv.log += d;
    if (process.env.DSV4_SERVER_LOG === '1') process.stderr.write(`[dsv4 ${srv.pid}] ${d}`);
  });
  await new Promise((res, rej) => {
    proc.once('spawn', res);
    proc.once('error', rej);
  });
  // A watcher outside this process: should it be killed without running its exit handlers, the
  // server goes down with it.
  const watcher = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${proc.pid} 2>/dev/null; do sleep 1; done; kill -9 ${proc.pid} 2>/dev/null`],
    { detached: true, stdio: 'ignore' },
  );
  watcher.unref();
  try {
    const m = await srv.waitForLog(/listening on http:\/\/[^\s:]+:(\d+)/, readyTimeoutMs);
    srv.port = Number(m[1]);
    await srv.waitForLog(/dsv4 serve: ready/, readyTimeoutMs);
  } catch (e) {
    await srv.stop();
    throw new Error(`dsv4 serve ${argv.slice(1).join(' ')} did not become ready: ${e.message}\n--- server log ---\n${srv.log}`);
  }
  return srv;
}

// Prometheus text -> Map of 'name{labels}' -> number, plus helpers.
export function parseMetrics(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) samples.set(m[1], Number(m[2]));
  }
  return {
    samples,
    // The value of a sample; labels is an object ({endpoint: '/v1/chat/completions', status: '200'}).
    get(name, labels) {
      if (!labels) return samples.get(name) ?? 0;
      for (const [k, v] of samples) {
        const m = /^([^{]+)\{(.*)\}$/.exec(k);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries([...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([lk, lv]) => have[lk] === String(lv))) return v;
      }
      return 0;
    },
  };
}

// Polls `fn` until it returns a truthy value (resolves to it) or `ms` passes (rejects with the
// last value described by `what`).
export async function eventually(fn, { ms = 10000, every = 100, what = 'condition' } = {}) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`${what} did not hold within ${ms} ms (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}
