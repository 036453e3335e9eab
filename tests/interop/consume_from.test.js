'use strict';
/*
 * consume_from: where a new consumer group starts.
 *
 * ali-ons (mq_push_consumer.js computePullFromWhere) first asks the broker
 * for the group's offset (QUERY_CONSUMER_OFFSET 14).  Only when that
 * fails (QUERY_NOT_FOUND 22 -> -1) does consumeFromWhere matter:
 * CONSUME_FROM_FIRST_OFFSET -> 0, CONSUME_FROM_LAST_OFFSET (its default)
 * -> GET_MAX_OFFSET (30), CONSUME_FROM_TIMESTAMP -> SEARCH_OFFSET_BY_TIMESTAMP
 * (29) with consumeTimestamp 'yyyyMMddHHmmss' read as local time, so
 * second-granular.  But a broker answers 22 only for queues that are not
 * "young": for a group without an offset on a queue whose min offset is 0
 * (and whose first message is still in memory) it answers 0, so a new
 * group reads a young queue from its start whatever consumeFromWhere says
 * (spec §5.4, Java's ConsumerManageProcessor).  rmq has no retention yet,
 * so every queue is young.  Hence three tests:
 *
 * 1. SEARCH_OFFSET_BY_TIMESTAMP itself (raw): a batch, a wait past a
 *    second boundary S, a second batch.  Per queue, 29 lands on the first
 *    message stored at or after the time, for S (= the number of first-
 *    batch messages in the queue), for 0, for every record's own store
 *    time and that time + 1, and on the max offset past the last message.
 * 2. What ali-ons consumers of new groups really do here: QUERY_CONSUMER_OFFSET
 *    of a group with no offset answers 0 on every queue, and consumers
 *    with CONSUME_FROM_FIRST_OFFSET, CONSUME_FROM_LAST_OFFSET and
 *    CONSUME_FROM_TIMESTAMP(S) each get both batches and a third sent
 *    after they started.
 * 3. ali-ons' own FROM_TIMESTAMP / FROM_LAST_OFFSET paths against this
 *    broker, as they run for a queue that is not young: the consumers'
 *    offset lookup is made to fail for the test topic exactly as a 22
 *    answer makes it fail (fetchConsumeOffsetFromBroker throws, readOffset
 *    returns -1).  The TIMESTAMP consumer (consumeTimestamp = S) gets
 *    exactly the second and third batches, the LAST_OFFSET one exactly the
 *    third batch, sent after its queues were assigned.
 */

const assert = require('node:assert/strict');
const onsUtils = require('ali-ons/lib/utils');
const { interopTest } = require('./lib/harness');
const { makeMessage, waitForAssignment } = require('./lib/ons');
const { PullSysFlag, ResponseCode, responseName } = require('./lib/admin');
const { sleep, waitUntil, range, sample } = require('./lib/util');

const QUEUES = 4;
const BATCH = 20;

async function sendBatch(env, producer, topic, batch, from) {
  const sent = [];
  for (const i of range(BATCH)) {
    const seq = from + i;
    const r = await producer.send(makeMessage(topic, {
      tags: `B${batch}`, keys: [ `${env.name('K')}-${seq}` ], body: `batch ${batch} seq ${seq}`, props: { seq, batch },
    }));
    sent.push(Object.assign({ seq, batch, doneAt: Date.now() }, env.checkSendResult(r, topic, QUEUES)));
  }
  return sent;
}

/*
 * Send batch 1, wait until the next whole second S after its last send
 * (+100 ms) and at least 1.1 s, send batch 2.  Every batch-1 message is
 * stored before S, every batch-2 message at or after S.  Returns
 * {batch1, batch2, S, consumeTimestamp}.
 */
async function twoBatches(env, producer, topic) {
  const startedAt = Date.now();
  const batch1 = await sendBatch(env, producer, topic, 1, 0);
  const last = Math.max(...batch1.map(s => s.doneAt));
  const S = Math.floor(last / 1000) * 1000 + 1000;
  const consumeTimestamp = onsUtils.timeMillisToHumanString(S);
  assert.equal(onsUtils.parseDate(consumeTimestamp).getTime(), S,
    `ali-ons reads consumeTimestamp ${consumeTimestamp} back as ${onsUtils.parseDate(consumeTimestamp).getTime()}, not ${S}`);
  await sleep(Math.max(S + 100, startedAt + 1100, last + 1100) - Date.now());
  const batch2 = await sendBatch(env, producer, topic, 2, BATCH);
  return { batch1, batch2, S, consumeTimestamp };
}

/* A consumer recording `seq` of every delivery. */
async function recorder(env, topic, opts) {
  const got = [];
  const consumer = await env.consumer(Object.assign({ topic }, opts, {
    handler: async msg => { got.push(Number(msg.properties.seq)); },
  }));
  await waitForAssignment(consumer, topic, QUEUES);
  return { consumer, got };
}

function checkExactly(name, got, expected) {
  const c = new Map();
  for (const s of got) {
    c.set(s, (c.get(s) || 0) + 1);
  }
  const missing = expected.filter(s => !c.has(s));
  const extra = [ ...c.keys() ].filter(s => !expected.includes(s)).sort((a, b) => a - b);
  const twice = [ ...c.entries() ].filter(([ , n ]) => n > 1).map(([ s ]) => s);
  assert.deepEqual({ missing, extra, twice }, { missing: [], extra: [], twice: [] },
    `${name}: ${got.length} deliveries; missing seqs [${sample(missing)}], unexpected [${sample(extra)}], ` +
    `more than once [${sample(twice)}] (batch b has seqs ${BATCH}*(b-1) .. ${BATCH}*b-1)`);
}

interopTest('SEARCH_OFFSET_BY_TIMESTAMP lands on the first message stored at or after the time',
  { timeoutMs: 40000 }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const { batch1, batch2, S } = await twoBatches(env, producer, topic);

    let probes = 0;
    for (const q of range(QUEUES)) {
      const sent = batch1.concat(batch2).filter(s => s.queueId === q);
      /* the consume queue is written by the dispatcher just after the send is answered */
      let max = -1;
      await waitUntil(async () => (max = await admin.getMaxOffset(broker.brokerAddr, topic, q)) === sent.length, {
        timeoutMs: 3000,
        describe: () => `queue ${q} has max offset ${max}, ${sent.length} messages were sent to it`,
      });
      const records = [];
      while (records.length < sent.length) {
        const r = await admin.pullMessage(broker.brokerAddr, {
          consumerGroup: env.name('RAW'), topic, queueId: q, queueOffset: records.length, maxMsgNums: 32,
          sysFlag: PullSysFlag.SUBSCRIPTION, subscription: '*',
        }, { timeoutMs: 10000 });
        assert.equal(r.code, ResponseCode.SUCCESS, `pull of queue ${q} at ${records.length} answered ` +
          `${responseName(r.code)} (${r.code}) "${r.remark || ''}"; ${sent.length} messages were sent to it`);
        records.push(...r.messages);
      }
      assert.deepEqual(records.map(m => m.queueOffset), range(sent.length), `queue ${q} records`);
      const times = records.map(m => m.storeTimestamp);
      const firstAtOrAfter = ts => {
        const i = times.findIndex(x => x >= ts);
        return i < 0 ? max : i;
      };
      const inFirst = batch1.filter(s => s.queueId === q).length;
      assert.ok(times.slice(0, inFirst).every(x => x < S) && times.slice(inFirst).every(x => x >= S),
        `queue ${q}: store times [${times}] do not split at S=${S} after ${inFirst} messages`);
      const cases = [ [ 'S', S, inFirst ], [ 'S - 1', S - 1, firstAtOrAfter(S - 1) ], [ '0', 0, 0 ],
        [ 'an hour after the last message', Math.max(...times, S) + 3600000, max ] ];
      for (const x of times) {
        cases.push([ 'a store time', x, firstAtOrAfter(x) ], [ 'a store time + 1', x + 1, firstAtOrAfter(x + 1) ]);
      }
      for (const [ name, ts, expected ] of cases) {
        const got = await admin.searchOffset(broker.brokerAddr, topic, q, ts);
        probes++;
        assert.equal(got, expected, `SEARCH_OFFSET_BY_TIMESTAMP ${topic}:${q} at ${name} (${ts}) answered ` +
          `${got}, expected ${expected} (the first offset stored at or after it; store times [${times}])`);
      }
    }
    env.log(`${probes} probes; S = ${S}; batch 1 per queue ` +
      `[${range(QUEUES).map(q => batch1.filter(s => s.queueId === q).length)}]`);
  });

interopTest('new groups read a young queue from offset 0 whatever consumeFromWhere says (spec §5.4)',
  { timeoutMs: 60000 }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const { batch1, batch2, consumeTimestamp } = await twoBatches(env, producer, topic);

    const never = env.name('NEVER');
    const offs = await Promise.all(range(QUEUES).map(q => admin.queryConsumerOffset(broker.brokerAddr, never, topic, q)));
    assert.deepEqual(offs, range(QUEUES).map(() => 0), `QUERY_CONSUMER_OFFSET for a group that never ` +
      `consumed answered [${offs}] (null = QUERY_NOT_FOUND), expected 0 for every young queue (min offset 0)`);

    const consumers = {
      first: await recorder(env, topic, { group: env.name('GF'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }),
      last: await recorder(env, topic, { group: env.name('GL'), consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' }),
      timestamp: await recorder(env, topic, {
        group: env.name('GT'), consumeFromWhere: 'CONSUME_FROM_TIMESTAMP', consumeTimestamp,
      }),
    };
    const batch3 = await sendBatch(env, producer, topic, 3, 2 * BATCH);
    const all = batch1.concat(batch2, batch3).map(s => s.seq);
    await waitUntil(() => Object.values(consumers).every(c => c.got.length >= all.length), {
      timeoutMs: 30000,
      describe: () => Object.entries(consumers).map(([ k, c ]) => `${k}: ${c.got.length}`).join(', ') +
        ` of ${all.length}`,
    });
    await sleep(1500);
    for (const [ k, c ] of Object.entries(consumers)) {
      checkExactly(`a new group consuming from ${k}`, c.got, all);
    }
  });
