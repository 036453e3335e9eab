'use strict';
/*
 * tags_broadcast: tag filtering on pull, and BROADCASTING consumption.
 *
 * 1. A topic carries TagA, TagB and untagged messages (no TAGS property).
 *    Three new groups read it from the start: `TagA`, `TagA || TagB` and
 *    `*`.  Each sees exactly the messages its expression selects, each
 *    once.  ali-ons re-checks tags on the client but lets untagged messages
 *    through (`!msg.tags || ...` in mq_push_consumer.js), so the `TagA`
 *    group not seeing them shows the broker's filter (tagsCode of an
 *    untagged message is 0, not a hash in the subscription's codeSet).
 *    The broker side is also checked without a client filter: raw
 *    PULL_MESSAGE with subscription `TagA` returns only TagA records, and
 *    a nextBeginOffset past the whole queue (spec §5.2).
 * 2. Two ali-ons consumers of one group with isBroadcast: true each pull
 *    every queue and each see every message exactly once.
 */

const assert = require('node:assert/strict');
const { interopTest } = require('./lib/harness');
const { makeMessage, waitForAssignment, assignedQueues } = require('./lib/ons');
const { PullSysFlag, ResponseCode, responseName } = require('./lib/admin');
const { sleep, waitUntil, range, sample } = require('./lib/util');

const QUEUES = 4;

/* Send n messages with tags kindOf(i) ('TagA', 'TagB' or null). */
async function sendTagged(env, producer, topic, n, kindOf) {
  const sent = [];
  for (const i of range(n)) {
    const tags = kindOf(i);
    const r = await producer.send(makeMessage(topic, {
      tags, keys: [ `${env.name('K')}-${i}` ], body: `tagged ${i}`, props: { i },
    }));
    sent.push(Object.assign({ i, tags }, env.checkSendResult(r, topic, QUEUES)));
  }
  return sent;
}

/* Start a consumer recording property `i` of every delivery. */
async function recorder(env, opts) {
  const got = [];
  const consumer = await env.consumer(Object.assign({}, opts, {
    handler: async msg => {
      got.push({ i: Number(msg.properties.i), tags: msg.tags, queueId: Number(msg.queueId) });
    },
  }));
  return { consumer, got };
}

function counts(got) {
  const m = new Map();
  for (const d of got) {
    m.set(d.i, (m.get(d.i) || 0) + 1);
  }
  return m;
}

function checkExactly(name, got, expected) {
  const c = counts(got);
  const missing = expected.filter(i => !c.has(i));
  const extra = [ ...c.keys() ].filter(i => !expected.includes(i)).sort((a, b) => a - b);
  const twice = [ ...c.entries() ].filter(([ , n ]) => n > 1).map(([ i ]) => i);
  assert.deepEqual({ missing, extra, twice }, { missing: [], extra: [], twice: [] },
    `${name}: got ${got.length} deliveries; missing [${sample(missing)}], not selected but delivered ` +
    `[${sample(extra)}], delivered more than once [${sample(twice)}]`);
}

interopTest('a TagA subscriber sees only TagA messages, a "TagA || TagB" subscriber both',
  { timeoutMs: 60000 }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const kinds = [ 'TagA', 'TagB', null ];
    const sent = await sendTagged(env, producer, topic, 60, i => kinds[i % 3]);
    const ofKind = (...k) => sent.filter(s => k.includes(s.tags)).map(s => s.i);

    const subs = [
      { name: 'TagA', expr: 'TagA', expect: ofKind('TagA') },
      { name: 'TagA || TagB', expr: 'TagA || TagB', expect: ofKind('TagA', 'TagB') },
      { name: '*', expr: '*', expect: ofKind('TagA', 'TagB', null) },
    ];
    for (const [ k, s ] of subs.entries()) {
      Object.assign(s, await recorder(env, { group: env.name(`G${k}`), topic, expr: s.expr }));
    }
    await waitUntil(() => subs.every(s => s.got.length >= s.expect.length), {
      timeoutMs: 30000,
      describe: () => subs.map(s => `"${s.name}" got ${s.got.length} of ${s.expect.length}`).join(', '),
    });
    await sleep(2000); /* anything not selected, or a repeat, would show here */
    for (const s of subs) {
      checkExactly(`subscription "${s.name}"`, s.got, s.expect);
    }

    /* the broker's own filter, without ali-ons' client-side re-check */
    for (const q of range(QUEUES)) {
      const inQueue = sent.filter(s => s.queueId === q);
      const r = await admin.pullMessage(broker.brokerAddr, {
        consumerGroup: env.name('RAW'), topic, queueId: q, queueOffset: 0,
        sysFlag: PullSysFlag.SUBSCRIPTION, subscription: 'TagA',
      }, { timeoutMs: 10000 });
      const tagA = inQueue.filter(s => s.tags === 'TagA');
      if (tagA.length === 0) {
        assert.ok(r.code === ResponseCode.PULL_RETRY_IMMEDIATELY || r.code === ResponseCode.PULL_NOT_FOUND,
          `raw pull of queue ${q} (no TagA messages) with subscription TagA answered ${responseName(r.code)}`);
        continue;
      }
      assert.equal(r.code, ResponseCode.SUCCESS, `raw pull of queue ${q} with subscription TagA answered ` +
        `${responseName(r.code)} (${r.code}) "${r.remark || ''}"`);
      const tags = r.messages.map(m => m.properties.TAGS);
      assert.ok(tags.every(x => x === 'TagA'), `raw pull of queue ${q} with subscription TagA returned records ` +
        `tagged [${tags}]: the broker did not filter`);
      assert.deepEqual(r.messages.map(m => m.queueOffset), tagA.map(s => s.queueOffset),
        `raw pull of queue ${q}: not every TagA record of the queue was returned`);
      assert.equal(r.nextBeginOffset, inQueue.length, `raw pull of queue ${q}: nextBeginOffset ` +
        `${r.nextBeginOffset}, expected ${inQueue.length} (every entry scanned)`);
    }
    env.log(subs.map(s => `"${s.name}": ${s.got.length}`).join(', '));
  });

interopTest('two BROADCASTING consumers of one group each see every message',
  { timeoutMs: 60000 }, async (t, env) => {
    const topic = env.name('T');
    const group = env.name('G');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const a = await recorder(env, { group, topic, isBroadcast: true });
    const b = await recorder(env, { group, topic, isBroadcast: true });
    await waitForAssignment(a.consumer, topic, QUEUES);
    await waitForAssignment(b.consumer, topic, QUEUES);

    const N = 80;
    const sent = await sendTagged(env, producer, topic, N, i => (i % 2 ? 'TagA' : 'TagB'));
    const all = sent.map(s => s.i);
    await waitUntil(() => a.got.length >= N && b.got.length >= N, {
      timeoutMs: 30000,
      describe: () => `consumer A got ${a.got.length}, B ${b.got.length} of ${N} messages (queues A ` +
        `[${assignedQueues(a.consumer, topic)}], B [${assignedQueues(b.consumer, topic)}])`,
    });
    await sleep(2000);
    checkExactly('broadcast consumer A', a.got, all);
    checkExactly('broadcast consumer B', b.got, all);
    for (const [ name, c ] of [ [ 'A', a ], [ 'B', b ] ]) {
      assert.deepEqual(assignedQueues(c.consumer, topic), range(QUEUES),
        `broadcast consumer ${name} pulls queues [${assignedQueues(c.consumer, topic)}], expected all`);
    }
  });
