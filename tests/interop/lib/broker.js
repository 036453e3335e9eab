'use strict';
/*
 * broker.js - start a real rmq broker (rmq-supervisor with an embedded name
 * server) for one test, on free loopback ports, in a fresh temp directory.
 *
 *   const broker = await startBroker({ name: 'produce', broker: { flushDiskType: 'SYNC_FLUSH' } });
 *   broker.nameSrv      '127.0.0.1:N'
 *   broker.brokerAddr   '127.0.0.1:P'
 *   await broker.kill9Actor('acceptor')   // -> the killed pid
 *   await broker.stop({ keep })           // SIGTERM, wait, SIGKILL after a timeout
 *
 * Binaries come from RMQ_SUPERVISOR_BIN and RMQCTL_BIN (ctest sets both).
 * Readiness = `rmqctl --json status` says actors_ready == actors_total > 0,
 * the actor list has an acceptor (and a namesrv when it is enabled), and both
 * TCP ports accept connections.  Failures say what was seen and end with the
 * tail of the supervisor log.  Any supervisor still running when this Node
 * process exits is SIGKILLed (its actors die with it: PR_SET_PDEATHSIG).
 */

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const { sleep } = require('./util');

const live = new Set();
function killAll() {
  for (const b of live) {
    try {
      process.kill(b.child.pid, 'SIGKILL');
    } catch (_) { /* already gone */ }
  }
}
process.on('exit', killAll);
/* a test process told to stop (e.g. by the node:test runner) takes its brokers along */
for (const sig of [ 'SIGTERM', 'SIGHUP' ]) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (sig === 'SIGTERM' ? 15 : 1));
  });
}

function requireBin(envName, what) {
  const p = process.env[envName];
  if (!p) {
    throw new Error(`${envName} is not set: run the interop tests through ctest (make test), or set ` +
      `${envName} to the built ${what} (see tests/interop/README.md)`);
  }
  const abs = path.resolve(p);
  try {
    fs.accessSync(abs, fs.constants.X_OK);
  } catch (_) {
    throw new Error(`${envName}=${p}: no executable there (build the project first)`);
  }
  return abs;
}

/* Can we bind 127.0.0.1:port right now? */
function portFree(port) {
  return new Promise(resolve => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/*
 * A broker port P with P-2 (the "VIP" port) and P+1 (HA) free as well, and a
 * name server port N.  Picked at random below the Linux ephemeral range so
 * outgoing connections of other processes rarely collide with them.
 */
async function pickPorts() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    const n = 20000 + Math.floor(Math.random() * 12000);
    if (Math.abs(n - p) <= 3) {
      continue;
    }
    const ok = await portFree(p - 2) && await portFree(p) && await portFree(p + 1) && await portFree(n);
    if (ok) {
      return { brokerPort: p, namesrvPort: n };
    }
  }
  throw new Error('could not find free loopback ports for the broker');
}

/* libconfig literal for a JS value. */
function confValue(v) {
  if (typeof v === 'string') {
    return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  }
  if (typeof v === 'boolean') {
    return v ? 'true' : 'false';
  }
  if (typeof v === 'bigint') {
    return `${v}L`;
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      return Math.abs(v) > 0x7fffffff ? `${v}L` : String(v);
    }
    return String(v).includes('.') ? String(v) : v.toFixed(1);
  }
  throw new TypeError(`cannot write ${typeof v} to a libconfig file`);
}

function confGroup(name, kv) {
  const lines = Object.entries(kv).map(([ k, v ]) => `    ${k} = ${confValue(v)};`);
  return `${name} = {\n${lines.join('\n')}\n};\n`;
}

function tailOf(file, lines = 40) {
  try {
    const st = fs.statSync(file);
    const len = Math.min(st.size, 64 * 1024);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, st.size - len);
    fs.closeSync(fd);
    const all = buf.toString('utf8').split('\n');
    if (all.length && all[all.length - 1] === '') {
      all.pop();
    }
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(no log: ${err.message})`;
  }
}

function run(bin, args, timeoutMs) {
  return new Promise(resolve => {
    execFile(bin, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ error, code: error ? error.code : 0, stdout, stderr });
    });
  });
}

class Broker {
  constructor(opts) {
    Object.assign(this, opts);
    this.exited = null; /* {code, signal} once the supervisor is gone */
    this.stopped = false;
  }

  get nameSrv() {
    return `127.0.0.1:${this.namesrvPort}`;
  }

  get brokerAddr() {
    return `127.0.0.1:${this.brokerPort}`;
  }

  logTail(lines = 40) {
    return tailOf(this.logFile, lines);
  }

  /* `rmqctl -c <conf> --json <args>` parsed, or throw with rmqctl's stderr. */
  async ctl(...args) {
    const r = await run(this.rmqctlBin, [ '-c', this.confFile, '--json', ...args ], 5000);
    if (r.error) {
      throw new Error(`rmqctl ${args.join(' ')} failed (${r.error.killed ? 'timed out' : `exit ${r.code}`}): ` +
        `${(r.stderr || r.error.message).trim()}`);
    }
    try {
      return JSON.parse(r.stdout);
    } catch (err) {
      throw new Error(`rmqctl ${args.join(' ')} printed no JSON: ${r.stdout.slice(0, 300)}`);
    }
  }

  status() {
    return this.ctl('status');
  }

  async actors() {
    return (await this.ctl('actors')).actors;
  }

  async actor(name) {
    const a = (await this.actors()).find(x => x.name === name);
    if (!a) {
      throw new Error(`no actor named "${name}" in rmqctl actors`);
    }
    return a;
  }

  /*
   * SIGKILL one actor process; resolves with its pid.  With knownPid (from
   * an earlier actor() call) the kill happens synchronously, before this
   * returns its promise: for killing at a precise moment.
   */
  async kill9Actor(name, knownPid) {
    if (knownPid) {
      process.kill(knownPid, 'SIGKILL');
      return knownPid;
    }
    const a = await this.actor(name);
    if (!(a.pid > 0)) {
      throw new Error(`actor ${name} has no pid (state ${a.state})`);
    }
    process.kill(a.pid, 'SIGKILL');
    return a.pid;
  }

  /*
   * Wait until actor `name` runs as a process other than notPid and is
   * ready, and the supervisor reports every actor ready.  Resolves with the
   * actor's rmqctl entry.
   */
  async waitActorReady(name, { notPid = 0, timeoutMs = 15000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last = '(no answer)';
    while (Date.now() < deadline) {
      this.checkAlive(`waiting for actor ${name} to be ready`);
      try {
        const a = await this.actor(name);
        last = JSON.stringify(a);
        if (a.pid > 0 && a.pid !== notPid && a.state === 'ready') {
          const s = await this.status();
          last = `${last}; status ${JSON.stringify(s)}`;
          if (s.actors_total > 0 && s.actors_ready === s.actors_total) {
            return a;
          }
        }
      } catch (err) {
        last = err.message;
      }
      await sleep(100);
    }
    throw new Error(`actor ${name} was not ready again (pid other than ${notPid}) within ` +
      `${timeoutMs / 1000} s; last seen: ${last}\n--- supervisor log tail ---\n${this.logTail()}`);
  }

  checkAlive(doing) {
    if (this.exited) {
      throw new Error(`rmq-supervisor exited (${describeExit(this.exited)}) while ${doing}\n` +
        `--- supervisor log tail ---\n${this.logTail()}`);
    }
  }

  /*
   * SIGTERM the supervisor and wait for it (SIGKILL after timeoutMs), then
   * delete the temp dir unless keep.  Resolves {code, signal, forced,
   * alreadyExited}.
   */
  async stop({ keep = false, timeoutMs = 20000 } = {}) {
    if (this.stopped) {
      return this.stopResult;
    }
    this.stopped = true;
    let forced = false;
    const alreadyExited = !!this.exited;
    if (!this.exited) {
      this.child.kill('SIGTERM');
      if (!await this.waitExit(timeoutMs)) {
        forced = true;
        this.child.kill('SIGKILL');
        await this.waitExit(5000);
      }
    }
    live.delete(this);
    try {
      fs.closeSync(this.logFd);
    } catch (_) { /* closed */ }
    const result = Object.assign({ forced, alreadyExited }, this.exited || { code: null, signal: null });
    this.stopResult = result;
    if (!keep && !process.env.RMQ_INTEROP_KEEP) {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    return result;
  }

  waitExit(ms) {
    if (this.exited) {
      return Promise.resolve(true);
    }
    return new Promise(resolve => {
      const timer = setTimeout(() => resolve(false), ms);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

function describeExit(e) {
  if (e.error) {
    return `could not be run: ${e.error.message}`;
  }
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

function waitPort(port, deadline) {
  return (async () => {
    let lastErr = '';
    while (Date.now() < deadline) {
      const ok = await new Promise(resolve => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', err => { lastErr = err.code || err.message; resolve(false); });
      });
      if (ok) {
        return true;
      }
      await sleep(100);
    }
    throw new Error(`nothing accepts connections on 127.0.0.1:${port} (${lastErr})`);
  })();
}

/*
 * Start a broker.  options:
 *   name            label for the temp dir (rmq-interop-<name>-XXXXXX)
 *   broker          extra/overriding keys of the broker group
 *   namesrv         extra/overriding keys of the namesrv group
 *   supervisor      extra/overriding keys of the supervisor group
 *   readyTimeoutMs  how long the supervisor may take to be ready (20 s)
 *   requireActors   actor names that must be running (default: acceptor,
 *                   and namesrv when enabled)
 *   supervisorBin   binary to run instead of $RMQ_SUPERVISOR_BIN
 *   env             extra environment for the supervisor
 */
async function startBroker(options = {}) {
  const supervisorBin = options.supervisorBin ? path.resolve(options.supervisorBin)
    : requireBin('RMQ_SUPERVISOR_BIN', 'rmq-supervisor');
  const rmqctlBin = requireBin('RMQCTL_BIN', 'rmqctl');
  const readyTimeoutMs = options.readyTimeoutMs || 20000;
  const label = (options.name || 'test').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rmq-interop-${label}-`));
  const { brokerPort, namesrvPort } = await pickPorts();

  const brokerKeys = Object.assign({
    brokerClusterName: 'DefaultCluster',
    brokerName: 'broker-a',
    brokerId: 0,
    brokerIP1: '127.0.0.1',
    listenPort: brokerPort,
    namesrvAddr: `127.0.0.1:${namesrvPort}`,
    storePathRootDir: path.join(dir, 'store'),
    flushDiskType: 'ASYNC_FLUSH',
    autoCreateTopicEnable: true,
    /* small store files: many brokers run at once and each preallocates */
    mappedFileSizeCommitLog: 16777216,
    mappedFileSizeConsumeQueue: 600000,
  }, options.broker);
  const namesrvKeys = Object.assign({ enabled: true, listenPort: namesrvPort }, options.namesrv);
  const supervisorKeys = Object.assign({ runDir: path.join(dir, 'run') }, options.supervisor);
  const confFile = path.join(dir, 'rmq.conf');
  fs.writeFileSync(confFile, '# written by tests/interop/lib/broker.js\n' +
    confGroup('broker', brokerKeys) + confGroup('namesrv', namesrvKeys) +
    confGroup('supervisor', supervisorKeys));

  const logFile = path.join(dir, 'supervisor.log');
  const logFd = fs.openSync(logFile, 'a');
  const env = Object.assign({}, process.env);
  delete env.RMQ_TESTACTOR; /* no crash-test actor unless asked for */
  Object.assign(env, options.env);
  const child = spawn(supervisorBin, [ '-c', confFile ], {
    cwd: dir, env, stdio: [ 'ignore', logFd, logFd ],
  });
  const broker = new Broker({
    dir, confFile, logFile, logFd, child, supervisorBin, rmqctlBin,
    brokerPort: brokerKeys.listenPort, namesrvPort: namesrvKeys.listenPort,
    namesrvEnabled: namesrvKeys.enabled !== false,
    requireActors: options.requireActors ||
      [ 'acceptor' ].concat(namesrvKeys.enabled !== false ? [ 'namesrv' ] : []),
  });
  live.add(broker);
  child.on('exit', (code, signal) => { broker.exited = { code, signal }; });
  child.on('error', err => { broker.exited = { code: null, signal: null, error: err }; });

  try {
    await waitReady(broker, readyTimeoutMs);
  } catch (err) {
    await broker.stop({ keep: true, timeoutMs: 5000 });
    err.message += `\n(broker files kept in ${dir})`;
    throw err;
  }
  return broker;
}

async function waitReady(broker, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const tail = () => `\n--- supervisor log tail (${broker.logFile}) ---\n${broker.logTail()}`;
  let last = 'rmqctl never answered';
  for (;;) {
    if (broker.exited) {
      throw new Error(`rmq-supervisor exited (${describeExit(broker.exited)}) before it was ready${tail()}`);
    }
    let status = null;
    try {
      status = await broker.status();
      last = `status ${JSON.stringify(status)}`;
    } catch (err) {
      last = err.message;
    }
    if (status) {
      if (status.actors_total === 0) {
        throw new Error('rmq-supervisor is running but starts no actors (actors_total = 0): this build ' +
          'has no name server or broker actors yet, so there is nothing to test against. ' +
          `${last}${tail()}`);
      }
      if (status.actors_ready === status.actors_total) {
        const actors = await broker.actors();
        const names = actors.map(a => a.name);
        const missing = broker.requireActors.filter(n => !names.includes(n));
        if (missing.length) {
          throw new Error(`rmq-supervisor is ready but has no ${missing.join(' and ')} actor ` +
            `(actors: ${names.join(', ') || 'none'}): this build does not serve RocketMQ clients yet${tail()}`);
        }
        break;
      }
    }
    if (Date.now() >= deadline) {
      throw new Error(`rmq-supervisor not ready within ${timeoutMs / 1000} s; last seen: ${last}${tail()}`);
    }
    await sleep(200);
  }
  const portDeadline = Math.max(deadline, Date.now() + 5000);
  try {
    if (broker.requireActors.includes('acceptor')) {
      await waitPort(broker.brokerPort, portDeadline);
    }
    if (broker.requireActors.includes('namesrv')) {
      await waitPort(broker.namesrvPort, portDeadline);
    }
  } catch (err) {
    throw new Error(`every actor is ready but ${err.message}${tail()}`);
  }
}

module.exports = { startBroker, Broker, pickPorts, confValue, confGroup };
