'use strict';
/*
 * offsets_restart: committed consumer offsets survive a consumer restart.
 *
 * How ali-ons 3.12 commits (lib/consumer/mq_push_consumer.js,
 * lib/store/remote_broker.js): after each consumed message the in-memory
 * offset of its queue becomes the offset of the first message not yet
 * consumed; that table is sent with UPDATE_CONSUMER_OFFSET (15, oneway)
 * every 5 s and by close(), and rides along on every PULL_MESSAGE
 * (commitOffset + sysFlag 0x1).  close() sends the 15s first, then
 * UNREGISTER_CLIENT (35), then closes its connections.  A message whose
 * handler is still running when close() is called is not committed, so it
 * comes again: at-least-once.
 *
 * The test makes the split exact: consumer A consumes phase 1 (every queue
 * gets consumed offsets), then phase 2 up to a fixed count, and its handler
 * blocks on the next message.  While it is blocked, A is closed; the offsets
 * it commits are then exactly the consumed prefix of each queue.  Checked:
 *  - QUERY_CONSUMER_OFFSET (14) returns those offsets; GET_MAX_OFFSET (30)
 *    the number of messages per queue;
 *  - consumer B (new client, same group) starts at the committed offsets,
 *    never below, and together A and B consume every message (no loss);
 *  - duplicates stay within the uncommitted batch (bound: 32 x queues);
 *  - after B has consumed everything and closed, the committed offsets equal
 *    the max offsets.
 */

const assert = require('node:assert/strict');
const { interopTest } = require('./lib/harness');
const { makeMessage, waitForAssignment, assignedQueues } = require('./lib/ons');
const { runPool, waitUntil, deferred, range, sample, withTimeout } = require('./lib/util');

const QUEUES = 4;
const PHASE1 = 200;
const PHASE2 = 600;
const N = PHASE1 + PHASE2;
const GATE_AT = PHASE1 + 250; /* A blocks in its (GATE_AT + 1)th handler call */

interopTest('a restarted consumer resumes from the offsets committed by close()',
  { timeoutMs: 100000 }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    const group = env.name('G');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();

    const sent = new Map(); /* seq -> {queueId, queueOffset, ...} */
    async function sendRange(from, to) {
      const seqs = range(to - from).map(i => i + from);
      const one = async seq => {
        const r = await producer.send(makeMessage(topic, {
          tags: 'T', keys: [ `${env.name('K')}-${seq}` ], body: `offsets ${seq}`, props: { seq },
        }));
        sent.set(seq, env.checkSendResult(r, topic, QUEUES));
      };
      await one(seqs[0]);
      const results = await runPool(seqs.slice(1), 16, one);
      const failed = results.filter(r => !r.ok);
      assert.equal(failed.length, 0, `${failed.length} sends failed, first: ${failed.length && failed[0].error.message}`);
    }
    const keyOf = m => `${m.queueId}:${m.queueOffset}`;
    const record = m => ({ seq: Number(m.properties.seq), queueId: Number(m.queueId), queueOffset: m.queueOffset });

    /* consumer A */
    const aDone = []; /* handled before the gate */
    let aCalls = 0;
    let aBlocked = null;
    const aLate = [];
    const gate = deferred();
    const blocked = deferred();
    const handlerA = async msg => {
      aCalls++;
      if (aCalls <= GATE_AT) {
        aDone.push(record(msg));
      } else if (aCalls === GATE_AT + 1) {
        aBlocked = record(msg);
        blocked.resolve();
        await gate.promise;
      } else {
        aLate.push(record(msg)); /* ali-ons should not call handlers after close() */
      }
    };

    await sendRange(0, PHASE1);
    const consumerA = await env.consumer({ group, topic, handler: handlerA });
    await waitForAssignment(consumerA, topic, QUEUES);
    await waitUntil(() => aDone.length >= PHASE1, {
      timeoutMs: 30000,
      describe: () => `consumer A received ${aDone.length} of the ${PHASE1} phase-1 messages`,
    });
    await sendRange(PHASE1, N);
    await withTimeout(blocked.promise, 30000, () => `consumer A handled only ${aCalls} messages, ` +
      `expected to reach ${GATE_AT + 1} of ${N}`);

    /* what A has consumed, per queue: must be a prefix 0..k-1 of each queue */
    const consumed = range(QUEUES).map(() => []);
    for (const m of aDone) {
      consumed[m.queueId].push(m.queueOffset);
    }
    const expectCommitted = consumed.map((all, q) => {
      const offs = [ ...new Set(all) ].sort((a, b) => a - b);
      assert.deepEqual(offs, range(offs.length),
        `queue ${q}: consumer A got queue offsets ${sample(offs)}, expected a gap-free run from 0`);
      return offs.length;
    });

    await env.closeClient(consumerA);
    gate.resolve();

    /* the broker must report what A committed on close (oneway 15: poll a little) */
    const maxOffsets = range(QUEUES).map(q => [ ...sent.values() ].filter(r => r.queueId === q).length);
    let committed = [];
    await waitUntil(async () => {
      committed = await Promise.all(range(QUEUES).map(q => admin.queryConsumerOffset(broker.brokerAddr, group, topic, q)));
      return committed.every((c, q) => c === expectCommitted[q]);
    }, {
      timeoutMs: 5000,
      intervalMs: 200,
      describe: () => `QUERY_CONSUMER_OFFSET after consumer A closed: broker reports [${committed}], ` +
        `expected [${expectCommitted}] (the offsets A had consumed; null = QUERY_NOT_FOUND)`,
    });
    const maxReported = await Promise.all(range(QUEUES).map(q => admin.getMaxOffset(broker.brokerAddr, topic, q)));
    assert.deepEqual(maxReported, maxOffsets, `GET_MAX_OFFSET per queue is [${maxReported}], ` +
      `expected [${maxOffsets}] (messages sent to each queue)`);

    /* consumer B: a new client in the same group */
    const bGot = [];
    const consumerB = await env.consumer({ group, topic, handler: async msg => { bGot.push(record(msg)); } });
    const seen = () => new Set(aDone.concat(aBlocked ? [ aBlocked ] : [], aLate, bGot).map(m => m.seq));
    await waitUntil(() => seen().size === N, {
      timeoutMs: 40000,
      describe: () => {
        const s = seen();
        return `A and B together consumed ${s.size} of ${N} messages (B: ${bGot.length}, assigned queues ` +
          `[${assignedQueues(consumerB, topic)}]); missing seqs: ${sample(range(N).filter(x => !s.has(x)), 20)}`;
      },
    });

    /* B reads each queue in order: wait until it has reached the end of every queue it had to read */
    await waitUntil(() => range(QUEUES).every(q => expectCommitted[q] === maxOffsets[q] ||
      bGot.some(m => m.queueId === q && m.queueOffset === maxOffsets[q] - 1)), {
      timeoutMs: 10000,
      describe: () => `consumer B did not reach the last message of every queue (max offsets [${maxOffsets}], ` +
        `B's highest [${range(QUEUES).map(q => Math.max(-1, ...bGot.filter(m => m.queueId === q).map(m => m.queueOffset)))}])`,
    });

    const below = bGot.filter(m => m.queueOffset < expectCommitted[m.queueId]);
    assert.equal(below.length, 0, `consumer B got ${below.length} messages below the committed offsets ` +
      `[${expectCommitted}], e.g. ${sample(below.map(keyOf))}: it did not start from the committed offsets`);
    for (let q = 0; q < QUEUES; q++) {
      const first = Math.min(...bGot.filter(m => m.queueId === q).map(m => m.queueOffset));
      if (expectCommitted[q] < maxOffsets[q]) {
        assert.equal(first, expectCommitted[q], `queue ${q}: consumer B started at offset ${first}, ` +
          `expected the committed offset ${expectCommitted[q]}`);
      }
    }
    const aKeys = new Set(aDone.concat(aBlocked ? [ aBlocked ] : [], aLate).map(keyOf));
    const dups = bGot.filter(m => aKeys.has(keyOf(m))).length;
    assert.ok(dups <= 32 * QUEUES, `${dups} messages consumed by both A and B, more than the ` +
      `${32 * QUEUES} that can be in flight uncommitted`);
    env.log(`committed by A: [${expectCommitted}] of [${maxOffsets}]; B consumed ${bGot.length}; ` +
      `${dups} consumed twice; ${aLate.length} handler calls after A's close`);

    /* B consumed everything: after a clean close the committed offsets are the max offsets */
    await env.closeClient(consumerB);
    await waitUntil(async () => {
      committed = await Promise.all(range(QUEUES).map(q => admin.queryConsumerOffset(broker.brokerAddr, group, topic, q)));
      return committed.every((c, q) => c === maxOffsets[q]);
    }, {
      timeoutMs: 5000,
      intervalMs: 200,
      describe: () => `QUERY_CONSUMER_OFFSET after consumer B consumed all and closed: broker reports ` +
        `[${committed}], expected the max offsets [${maxOffsets}]`,
    });
  });
