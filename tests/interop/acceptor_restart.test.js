'use strict';
/*
 * acceptor_restart: kill -9 of the acceptor (the client-facing actor)
 * during a send storm loses no acknowledged message.
 *
 * A pool keeps ~200 ali-ons sends in flight.  When 300 have been
 * acknowledged the acceptor is SIGKILLed (pid from `rmqctl --json actors`,
 * looked up before the storm so the kill lands mid-storm).  Sends in
 * flight then fail, and new ones fail fast while nothing listens (ali-ons
 * does not retry on the same broker; failed workers pause 50 ms).  The
 * supervisor restarts the acceptor; ali-ons opens a new connection on its
 * next request.  The storm goes on until 300 more sends succeeded after the
 * acceptor is ready again.  Then a consumer reads the topic from the start:
 *  - every message whose send resolved SEND_OK is consumed, at the queue
 *    and offset its send result named;
 *  - no two acknowledged sends share a queue offset;
 *  - nothing is consumed that was not sent (failed sends may or may not
 *    have been stored: both are fine).
 */

const assert = require('node:assert/strict');
const { interopTest } = require('./lib/harness');
const { makeMessage } = require('./lib/ons');
const { sleep, waitUntil, sample } = require('./lib/util');

const QUEUES = 4;
const IN_FLIGHT = 200;
const KILL_AFTER_OK = 300;
const OK_AFTER_RESTART = 300;

interopTest('kill -9 of the acceptor during a send storm loses no acknowledged message',
  { timeoutMs: 100000 }, async (t, env) => {
    const { broker } = env;
    const topic = env.name('T');
    const group = env.name('G');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer({ sendMsgTimeout: 3000 });
    const keyPrefix = env.name('K');
    const keyOf = i => (i < 0 ? `${keyPrefix}-warm` : `${keyPrefix}-${i}`);

    /* warm up: route known, connection open */
    env.checkSendResult(await producer.send(makeMessage(topic, {
      tags: 'warm', keys: [ keyOf(-1) ], body: 'warm-up', props: { i: -1 },
    })), topic, QUEUES);

    const oldAcceptor = await broker.actor('acceptor');
    assert.ok(oldAcceptor.pid > 0 && oldAcceptor.state === 'ready',
      `acceptor not running before the storm: ${JSON.stringify(oldAcceptor)}`);

    const acked = new Map(); /* i -> {queueId, queueOffset, msgId} */
    const failures = [];
    let attempted = 0;
    let stop = false;
    let killedAt = 0;
    let readyAgainAt = 0;
    let okAfterRestart = 0;
    let lastError = '';

    async function worker() {
      while (!stop) {
        const i = attempted++;
        const msg = makeMessage(topic, { tags: 'storm', keys: [ keyOf(i) ], body: `storm ${i}`, props: { i } });
        try {
          const r = await producer.send(msg);
          acked.set(i, env.checkSendResult(r, topic, QUEUES));
          if (readyAgainAt) {
            okAfterRestart++;
          }
          if (!killedAt && acked.size >= KILL_AFTER_OK) {
            killedAt = Date.now();
            broker.kill9Actor('acceptor', oldAcceptor.pid).catch(err => { lastError = `kill: ${err.message}`; });
          }
        } catch (err) {
          failures.push({ i, at: Date.now(), message: err.message });
          lastError = err.message;
          await sleep(50);
        }
      }
    }
    const workers = Array.from({ length: IN_FLIGHT }, worker);

    try {
      await waitUntil(() => killedAt, {
        timeoutMs: 30000,
        describe: () => `only ${acked.size} of ${attempted} storm sends were acknowledged before the kill ` +
          `(wanted ${KILL_AFTER_OK}); last error: ${lastError}`,
      });
      const fresh = await broker.waitActorReady('acceptor', { notPid: oldAcceptor.pid, timeoutMs: 15000 });
      readyAgainAt = Date.now();
      env.log(`acceptor pid ${oldAcceptor.pid} killed; pid ${fresh.pid} ready ${readyAgainAt - killedAt} ms later ` +
        `(restarts ${fresh.restarts})`);
      await waitUntil(() => okAfterRestart >= OK_AFTER_RESTART, {
        timeoutMs: 20000,
        describe: () => `after the acceptor restart only ${okAfterRestart} sends succeeded ` +
          `(wanted ${OK_AFTER_RESTART}): ali-ons did not get through again; last error: ${lastError}`,
      });
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    /* no two acknowledged messages at the same queue offset */
    const byPos = new Map();
    for (const [ i, r ] of acked) {
      const pos = `${r.queueId}:${r.queueOffset}`;
      assert.ok(!byPos.has(pos), `sends ${byPos.get(pos)} and ${i} were both acknowledged at queue ${r.queueId} ` +
        `offset ${r.queueOffset}`);
      byPos.set(pos, i);
    }
    env.log(`${attempted} sends: ${acked.size} acknowledged, ${failures.length} failed ` +
      `(first failure: ${failures.length ? failures[0].message : 'none'})`);

    /* read everything back */
    const got = new Map(); /* i -> [{queueId, queueOffset}] */
    const strays = [];
    const consumer = await env.consumer({
      group, topic,
      handler: async msg => {
        const i = Number(msg.properties.i);
        if (!Number.isInteger(i) || i < -1 || i >= attempted || msg.keys !== keyOf(i)) {
          strays.push({ keys: msg.keys, properties: msg.properties });
          return;
        }
        const l = got.get(i) || [];
        l.push({ queueId: Number(msg.queueId), queueOffset: msg.queueOffset });
        got.set(i, l);
      },
    });
    const missing = () => [ ...acked.keys() ].filter(i => !got.has(i));
    await waitUntil(() => missing().length === 0, {
      timeoutMs: 40000,
      describe: () => `${missing().length} of ${acked.size} acknowledged messages were not consumed, e.g. ` +
        sample(missing().map(i => `#${i} at ${acked.get(i).queueId}:${acked.get(i).queueOffset}`)),
    });
    await env.closeClient(consumer);

    for (const [ i, r ] of acked) {
      for (const d of got.get(i)) {
        assert.ok(d.queueId === r.queueId && d.queueOffset === r.queueOffset,
          `message #${i} was acknowledged at ${r.queueId}:${r.queueOffset} but consumed at ` +
          `${d.queueId}:${d.queueOffset}`);
      }
    }
    assert.equal(strays.length, 0, `consumed ${strays.length} messages that were never sent, e.g. ` +
      JSON.stringify(strays[0]));
    const unacked = [ ...got.keys() ].filter(i => i >= 0 && !acked.has(i)).length;
    env.log(`consumed all ${acked.size} acknowledged messages; ${unacked} failed sends were stored anyway`);
  });
