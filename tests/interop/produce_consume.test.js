'use strict';
/*
 * produce_consume: 1,000 messages from an ali-ons producer reach an ali-ons
 * push consumer (CLUSTERING, subscribe '*') with body, tags, keys and user
 * properties intact, and what the consumer sees agrees with what the send
 * results said (queue, queue offset, msgId).
 *
 * Half of the messages are sent before the consumer starts (a backlog), half
 * while it runs (live delivery).  Bodies vary: text, binary with every byte
 * value, and every 100th one 6 KB, which ali-ons zlib-compresses (sysFlag
 * 0x1; the broker stores it as is).  Properties include a non-ASCII value.
 * Delivery is at least once: duplicates are allowed (and reported), missing
 * or altered messages are not.
 */

const assert = require('node:assert/strict');
const { interopTest } = require('./lib/harness');
const { makeMessage, waitForAssignment } = require('./lib/ons');
const { runPool, waitUntil, range, sample } = require('./lib/util');

const N = 1000;
const QUEUES = 4;

function bodyOf(seq) {
  if (seq % 100 === 50) {
    /* > 4 KiB: compressed by ali-ons */
    const b = Buffer.alloc(6000);
    for (let i = 0; i < b.length; i++) {
      b[i] = (i * 31 + seq) & 0xff;
    }
    return b;
  }
  if (seq % 7 === 3) {
    /* binary, every byte value */
    return Buffer.from(range(256).map(i => (i + seq) & 0xff));
  }
  return Buffer.from(`message ${seq} ${'x'.repeat(seq % 200)}`);
}

function spec(env, seq) {
  const keys = [ `${env.name('K')}-${seq}` ];
  if (seq % 5 === 0) {
    keys.push(`alt-${seq}`);
  }
  return {
    tags: seq % 2 ? 'TagB' : 'TagA',
    keys,
    body: bodyOf(seq),
    props: { seq: String(seq), note: `héllo wörld ✓ ${seq}` },
  };
}

interopTest('1000 messages keep body, tags, keys and properties from producer to push consumer',
  { timeoutMs: 100000 }, async (t, env) => {
    const topic = env.name('T');
    const group = env.name('G');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();

    const sent = new Map(); /* seq -> checked send result */
    async function send(seq) {
      const r = await producer.send(makeMessage(topic, spec(env, seq)));
      sent.set(seq, env.checkSendResult(r, topic, QUEUES));
    }
    async function sendAll(seqs) {
      await send(seqs[0]); /* first send alone: ali-ons looks up the route once */
      const results = await runPool(seqs.slice(1), 16, send);
      const failed = results.filter(r => !r.ok);
      assert.equal(failed.length, 0,
        `${failed.length} sends failed, first: ${failed.length && failed[0].error.message}`);
    }

    const received = new Map(); /* seq -> [deliveries] */
    const strays = [];
    const handler = async msg => {
      const seq = msg.properties && msg.properties.seq;
      const copy = {
        topic: msg.topic, tags: msg.tags, keys: msg.keys, body: Buffer.from(msg.body || []),
        properties: Object.assign({}, msg.properties), msgId: msg.msgId,
        queueId: Number(msg.queueId), queueOffset: msg.queueOffset, reconsumeTimes: msg.reconsumeTimes,
      };
      if (seq === undefined || !/^\d+$/.test(seq) || Number(seq) >= N) {
        strays.push(copy);
        return;
      }
      const list = received.get(Number(seq)) || [];
      list.push(copy);
      received.set(Number(seq), list);
    };

    await sendAll(range(N / 2));
    const consumer = await env.consumer({ group, topic, handler });
    await waitForAssignment(consumer, topic, QUEUES);
    await sendAll(range(N / 2).map(i => i + N / 2));

    /* send results: every queue used, offsets 0..n-1 in each, msgIds unique */
    const perQueue = new Map();
    for (const r of sent.values()) {
      perQueue.set(r.queueId, (perQueue.get(r.queueId) || []).concat(r.queueOffset));
    }
    assert.equal(perQueue.size, QUEUES, `sends used queues [${[ ...perQueue.keys() ]}], expected all ${QUEUES}`);
    for (const [ q, offsets ] of perQueue) {
      offsets.sort((a, b) => a - b);
      assert.deepEqual(offsets, range(offsets.length),
        `queue ${q}: send results report queue offsets ${sample(offsets)}, expected 0..${offsets.length - 1}`);
    }
    assert.equal(new Set([ ...sent.values() ].map(r => r.msgId)).size, N, 'send results repeat a msgId');

    await waitUntil(() => received.size === N, {
      timeoutMs: 40000,
      describe: () => `the consumer received ${received.size} of ${N} messages; missing seqs: ` +
        sample(range(N).filter(s => !received.has(s)), 20),
    });

    for (const seq of range(N)) {
      const want = spec(env, seq);
      const s = sent.get(seq);
      for (const m of received.get(seq)) {
        const at = `seq ${seq} (queue ${m.queueId} offset ${m.queueOffset})`;
        assert.equal(m.topic, topic, `${at}: topic`);
        assert.ok(m.body.equals(want.body), `${at}: body differs (${m.body.length} bytes received, ` +
          `${want.body.length} sent)`);
        assert.equal(m.tags, want.tags, `${at}: tags`);
        assert.equal(m.keys, want.keys.join(' '), `${at}: keys`);
        assert.equal(m.properties.note, want.props.note, `${at}: property "note"`);
        assert.equal(m.queueId, s.queueId, `${at}: queueId differs from the send result`);
        assert.equal(m.queueOffset, s.queueOffset, `${at}: queueOffset differs from the send result`);
        assert.equal(m.msgId, s.msgId, `${at}: msgId (store host + commit-log offset) differs from the send result`);
      }
    }
    assert.equal(strays.length, 0, `received ${strays.length} messages that were not sent, first: ` +
      JSON.stringify(strays[0]));
    const dups = [ ...received.values() ].reduce((n, l) => n + l.length - 1, 0);
    env.log(`${N} messages sent and received, ${dups} duplicate deliveries`);
  });
