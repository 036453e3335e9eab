'use strict';
/*
 * harness.js - the frame every interop test runs in.
 *
 *   const { interopTest } = require('./lib/harness');
 *   interopTest('what it checks', { timeoutMs: 60000, broker: { ... } }, async (t, env) => {
 *     const topic = env.name('T');
 *     await env.createTopic(topic, { queues: 4 });
 *     const producer = await env.producer();
 *     ...
 *   });
 *
 * Each test gets its own broker (lib/broker.js), an Admin remoting client
 * (lib/admin.js) and an ali-ons Session (lib/ons.js), all torn down when the
 * test ends, pass or fail: ali-ons clients first (while the broker still
 * answers), then the broker.  The test body runs under a deadline, so a
 * silent broker fails the test with a message instead of hanging.  When a
 * test fails its temp dir (rmq.conf, supervisor.log, ali-ons.log, store/) is
 * kept and its path printed; set RMQ_INTEROP_KEEP=1 to keep it always.
 *
 * After the last test of a file the process is ended, because ali-ons
 * leaves timers sleeping after close() (up to 30 s) that would keep Node
 * alive.
 */

const path = require('node:path');
const { test, after } = require('node:test');
const { startBroker } = require('./broker');
const { Admin, decodeOffsetMsgId } = require('./admin');
const { Session } = require('./ons');
const { withTimeout, waitUntil, sleep } = require('./util');

after(() => {
  setTimeout(() => process.exit(), 2000).unref();
});

const RUN_ID = `${Date.now().toString(36)}${process.pid.toString(36)}`.toUpperCase();

class Env {
  constructor(t, title, options) {
    this.t = t;
    this.title = title;
    this.options = options;
    this.slug = title.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 24);
    this.broker = null;
    this.admin = new Admin();
    this.ons = null;
  }

  /* Unique name for a topic/group/key prefix: <kind>_<test>_<run>; [A-Za-z0-9_-] only. */
  name(kind) {
    return `${kind}_${this.slug}_${RUN_ID}`;
  }

  get runId() {
    return RUN_ID;
  }

  async start() {
    const start = startBroker;
    this.broker = await start(Object.assign({ name: this.slug }, this.options.brokerOptions));
    this.ons = new Session({
      nameSrv: this.broker.nameSrv,
      logFile: path.join(this.broker.dir, 'ali-ons.log'),
      label: this.slug.slice(0, 12),
    });
  }

  log(text) {
    this.t.diagnostic(text);
  }

  /*
   * Create `topic` on the broker (UPDATE_AND_CREATE_TOPIC) and wait until
   * the name server routes it with `queues` read and write queues to this
   * broker: ali-ons cannot create topics, and its send() fails on a topic
   * the name server does not know (spec §8.2).
   */
  async createTopic(topic, { queues = 4, timeoutMs = 20000 } = {}) {
    const { admin, broker } = this;
    try {
      await admin.createTopic(broker.brokerAddr, topic, { readQueueNums: queues, writeQueueNums: queues });
    } catch (err) {
      err.message = `could not create topic ${topic}: ${err.message}`;
      throw err;
    }
    let last = 'no answer yet';
    await waitUntil(async () => {
      broker.checkAlive(`waiting for the route of ${topic}`);
      let r;
      try {
        r = await admin.getRouteInfo(broker.nameSrv, topic);
      } catch (err) {
        last = err.message;
        return false;
      }
      if (r.code !== 0) {
        last = `code ${r.code} "${r.remark || ''}"`;
        return false;
      }
      last = JSON.stringify(r.route);
      const qd = (r.route.queueDatas || []).find(q => q.brokerName === 'broker-a');
      const bd = (r.route.brokerDatas || []).find(b => b.brokerName === 'broker-a');
      if (!qd || !bd || !bd.brokerAddrs) {
        return false;
      }
      if (Number(qd.readQueueNums) !== queues || Number(qd.writeQueueNums) !== queues || (qd.perm & 6) !== 6) {
        return false;
      }
      const master = bd.brokerAddrs['0'];
      if (master !== undefined && master !== broker.brokerAddr) {
        throw new Error(`the name server routes ${topic} to ${master}, but the broker listens on ` +
          `${broker.brokerAddr} (brokerIP1:listenPort); route ${last}`);
      }
      return master === broker.brokerAddr;
    }, {
      timeoutMs,
      intervalMs: 200,
      describe: () => `the name server ${broker.nameSrv} has no route for ${topic} with ${queues} ` +
        `read/write queues on ${broker.brokerAddr} after UPDATE_AND_CREATE_TOPIC; last answer: ${last}`,
    });
  }

  producer(opts = {}) {
    return this.ons.producer(Object.assign({ producerGroup: this.name('PG') }, opts));
  }

  consumer(opts) {
    return this.ons.consumer(opts);
  }

  closeClient(client, timeoutMs) {
    return this.ons.closeClient(client, timeoutMs);
  }

  /* Common checks of an ali-ons send result against this broker. */
  checkSendResult(r, topic, queues) {
    const where = `send result ${JSON.stringify(r)}`;
    if (r.sendStatus !== 'SEND_OK') {
      throw new Error(`${where}: sendStatus ${r.sendStatus}, expected SEND_OK`);
    }
    const id = decodeOffsetMsgId(r.msgId);
    if (id.address !== this.broker.brokerAddr) {
      throw new Error(`${where}: msgId encodes store host ${id.address}, expected ${this.broker.brokerAddr} ` +
        '(brokerIP1:listenPort, spec §6.4)');
    }
    const q = Number(r.messageQueue.queueId);
    if (!Number.isInteger(q) || q < 0 || q >= queues) {
      throw new Error(`${where}: queueId ${r.messageQueue.queueId} not in [0, ${queues})`);
    }
    if (!Number.isInteger(r.queueOffset) || r.queueOffset < 0) {
      throw new Error(`${where}: queueOffset ${r.queueOffset} is not an offset`);
    }
    if (r.messageQueue.topic !== topic || r.messageQueue.brokerName !== 'broker-a') {
      throw new Error(`${where}: message queue is not ${topic}@broker-a`);
    }
    return { queueId: q, queueOffset: r.queueOffset, msgId: r.msgId, physicalOffset: id.offset };
  }

  async close(failed) {
    const problems = [];
    if (this.ons) {
      problems.push(...await this.ons.close());
    }
    this.admin.close();
    if (this.broker) {
      const keep = failed || problems.length > 0;
      const r = await this.broker.stop({ keep });
      if (keep || process.env.RMQ_INTEROP_KEEP) {
        const text = `broker files kept in ${this.broker.dir} (rmq.conf, supervisor.log, ali-ons.log, store/)`;
        this.t.diagnostic(text);
        console.error(`[${this.title}] ${text}`);
      }
      if (r.alreadyExited) {
        problems.push(new Error(`rmq-supervisor had already exited (${r.signal || `code ${r.code}`}) ` +
          'before the test stopped it'));
      } else if (r.forced) {
        problems.push(new Error(`rmq-supervisor did not exit within 20 s of SIGTERM and was SIGKILLed`));
      } else if (r.code !== 0) {
        problems.push(new Error(`rmq-supervisor exited with ${r.signal ? r.signal : `code ${r.code}`} ` +
          'after SIGTERM, expected a clean exit 0'));
      }
    }
    return problems;
  }
}

/*
 * Register a node:test test that runs fn(t, env) with a fresh broker.
 * options: timeoutMs (deadline of the body, default 90 s), brokerOptions
 * (passed to startBroker: broker/namesrv/supervisor key overrides),
 * and node:test options (skip, only, ...).
 */
function interopTest(title, options, fn) {
  if (typeof options === 'function') {
    fn = options;
    options = {};
  }
  const timeoutMs = options.timeoutMs || 90000;
  const testOptions = Object.assign({}, options);
  delete testOptions.timeoutMs;
  delete testOptions.brokerOptions;
  /* node:test's own timeout is only a backstop: it cannot clean up. */
  testOptions.timeout = timeoutMs + 60000;
  test(title, testOptions, async t => {
    const env = new Env(t, title, options);
    let failed = true;
    let problems = [];
    const body = (async () => {
      await env.start();
      await fn(t, env);
    })();
    try {
      await withTimeout(body, timeoutMs, () => `test did not finish within ${timeoutMs / 1000} s ` +
        '(a broker that never answers?); see the kept ali-ons.log and supervisor.log');
      failed = false;
    } catch (err) {
      if (env.broker) {
        err.message += `\n--- supervisor log tail ---\n${env.broker.logTail(25)}`;
      }
      throw err;
    } finally {
      problems = await env.close(failed);
    }
    if (problems.length) {
      throw new Error(`the test passed but cleaning up failed:\n  ${problems.map(e => e.message).join('\n  ')}`);
    }
  });
}

module.exports = { interopTest, Env, RUN_ID, sleep };
