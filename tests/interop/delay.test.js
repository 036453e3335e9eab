'use strict';
/*
 * delay: messages sent with a delay level (property DELAY, ali-ons
 * Message#delayTimeLevel) are stored in SCHEDULE_TOPIC_XXXX queue level-1
 * and put back to their topic by the scheduler actor when due
 * (store-format.md §13; default levels "1s 5s 10s 30s 1m ...").
 *
 * 1. An ali-ons consumer is idle on the topic when three messages are sent:
 *    no delay, level 1 (1 s) and level 2 (5 s).  Checked:
 *    - right after the sends, SCHEDULE_TOPIC_XXXX queues 0 and 1 hold one
 *      entry each and the topic holds only the undelayed message;
 *    - the undelayed message arrives at once; the level-n message not
 *      before its send started + the level's delay, and within
 *      SLACK_MS after its send completed + the delay;
 *    - the delivered copy is in the topic and queue the send named, keeps
 *      body, tags, keys and user properties, has no DELAY property, and
 *      was stored at least the delay after it was born;
 *    - each message is delivered exactly once.
 * 2. kill -9 of the scheduler actor while delayed messages wait: three
 *    level-1 messages are delivered, then the scheduler is killed before
 *    three level-2 messages are due.  The supervisor restarts it; the
 *    level-2 messages come exactly once, not before they are due and
 *    within SLACK_MS of the later of (due, scheduler ready again); the
 *    level-1 messages are not delivered again (the scheduler resumes from
 *    the progress it kept in the control segment, not from the
 *    delayOffset.json it saves every 10 s); the topic holds exactly six
 *    records.
 */

const assert = require('node:assert/strict');
const { interopTest } = require('./lib/harness');
const { makeMessage, waitForAssignment } = require('./lib/ons');
const { sleep, waitUntil, range } = require('./lib/util');

const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';
const LEVEL_MS = { 1: 1000, 2: 5000 }; /* default messageDelayLevel */
const SLACK_MS = 3000; /* scheduler granularity (100 ms), dispatch, long-poll wake-up, a loaded machine */
const QUEUES = 2;

/* A consumer recording every delivery by the message's `id` property. */
async function recordingConsumer(env, topic) {
  const got = new Map(); /* id -> [ {at, msg} ] */
  const consumer = await env.consumer({
    group: env.name('G'), topic,
    handler: async msg => {
      const id = msg.properties.id;
      if (!got.has(id)) {
        got.set(id, []);
      }
      got.get(id).push({ at: Date.now(), msg });
    },
  });
  await waitForAssignment(consumer, topic, QUEUES);
  return { consumer, got, count: id => (got.get(id) || []).length };
}

async function timedSend(env, producer, topic, { id, delayLevel }) {
  const msg = makeMessage(topic, {
    tags: `L${delayLevel}`, keys: [ `${env.name('K')}-${id}` ], body: `delayed ${id} level ${delayLevel}`,
    props: { id, level: delayLevel }, delayLevel,
  });
  const startedAt = Date.now();
  const r = await producer.send(msg);
  const doneAt = Date.now();
  return Object.assign({ id, delayLevel, startedAt, doneAt }, env.checkSendResult(r, topic, QUEUES));
}

async function topicSize(env, topic) {
  const { admin, broker } = env;
  const max = await Promise.all(range(QUEUES).map(q => admin.getMaxOffset(broker.brokerAddr, topic, q)));
  return max.reduce((a, b) => a + b, 0);
}

/* Checks of one delivery of a delayed message against its send. */
function checkDelayed(s, d, topic) {
  const delay = LEVEL_MS[s.delayLevel] || 0;
  const { at, msg } = d;
  const what = `message ${s.id} (delay level ${s.delayLevel}, ${delay} ms; send took ${s.doneAt - s.startedAt} ms)`;
  assert.ok(at >= s.startedAt + delay, `${what} was delivered ${at - s.startedAt} ms after its send started: ` +
    `before it was due`);
  assert.ok(at <= s.doneAt + delay + SLACK_MS, `${what} was delivered ${at - s.doneAt} ms after its send ` +
    `completed, more than ${delay} + ${SLACK_MS} ms`);
  assert.equal(msg.topic, topic, `${what} was delivered from topic ${msg.topic}`);
  assert.equal(Number(msg.queueId), s.queueId, `${what} was delivered from queue ${msg.queueId}, but its send ` +
    `result named queue ${s.queueId} (the scheduler must put it back to REAL_QID)`);
  assert.equal(msg.body.toString(), `delayed ${s.id} level ${s.delayLevel}`, `${what}: body changed`);
  assert.equal(msg.tags, `L${s.delayLevel}`, `${what}: TAGS changed`);
  assert.equal(msg.properties.level, String(s.delayLevel), `${what}: user property lost`);
  assert.ok(msg.keys && msg.keys.endsWith(`-${s.id}`), `${what}: KEYS is ${msg.keys}`);
  if (s.delayLevel > 0) {
    assert.equal(msg.properties.DELAY, undefined, `${what}: the delivered copy still has DELAY=` +
      `${msg.properties.DELAY} (the scheduler must drop it, or it would be delayed again)`);
    assert.ok(msg.storeTimestamp - msg.bornTimestamp >= delay, `${what}: the delivered copy was stored ` +
      `${msg.storeTimestamp - msg.bornTimestamp} ms after it was born, less than the delay`);
  }
}

interopTest('a message with delay level 2 (5 s) is delivered 5 s after its send, not before',
  { timeoutMs: 40000 }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const { got, count } = await recordingConsumer(env, topic);
    await sleep(500); /* the consumer's pulls are held: deliveries below are wake-ups */

    const sent = [];
    for (const [ id, delayLevel ] of [ [ 'now', 0 ], [ 'one', 1 ], [ 'two', 2 ] ]) {
      sent.push(await timedSend(env, producer, topic, { id, delayLevel }));
    }
    /* consume queues are written by the dispatcher, just after the send is answered */
    let sched = [];
    await waitUntil(async () => {
      sched = await Promise.all([ 0, 1, 2 ].map(q => admin.getMaxOffset(broker.brokerAddr, SCHEDULE_TOPIC, q)));
      return sched[1] === 1;
    }, {
      timeoutMs: 1000,
      intervalMs: 20,
      describe: () => `${SCHEDULE_TOPIC} queues 0..2 hold [${sched}] entries after the sends, expected [1,1,0] ` +
        '(level n goes to queue n-1)',
    });
    assert.deepEqual(sched, [ 1, 1, 0 ], `${SCHEDULE_TOPIC} queues 0..2 hold [${sched}] entries after the ` +
      'sends, expected [1,1,0] (level n goes to queue n-1)');
    const inTopic = await topicSize(env, topic);
    assert.ok(inTopic <= 2, `the topic already holds ${inTopic} messages right after the sends ` +
      '(only the undelayed one, and the 1 s one if that is due already, may be there)');

    await waitUntil(() => count('two') > 0, {
      timeoutMs: LEVEL_MS[2] + SLACK_MS + 5000,
      intervalMs: 20,
      describe: () => `the level-2 message was not delivered (deliveries so far: ` +
        `${[ ...got.keys() ].join(', ') || 'none'}; ${SCHEDULE_TOPIC} and topic offsets in the kept log)`,
    });
    await sleep(1500); /* a second delivery would show here */
    for (const s of sent) {
      assert.equal(count(s.id), 1, `message ${s.id} (level ${s.delayLevel}) was delivered ${count(s.id)} times`);
      checkDelayed(s, got.get(s.id)[0], topic);
    }
    assert.equal(await topicSize(env, topic), 3, 'the topic does not hold exactly the three messages');
    env.log(sent.map(s => `level ${s.delayLevel}: delivered ${got.get(s.id)[0].at - s.doneAt} ms after the send`)
      .join('; '));
  });

interopTest('kill -9 of the scheduler before a delayed message is due: delivered once, on time',
  { timeoutMs: 50000 }, async (t, env) => {
    const { broker } = env;
    const topic = env.name('T');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const { got, count } = await recordingConsumer(env, topic);
    const before = await broker.waitActorReady('scheduler');

    const sent = [];
    for (const i of range(3)) {
      sent.push(await timedSend(env, producer, topic, { id: `a${i}`, delayLevel: 1 }));
    }
    for (const i of range(3)) {
      sent.push(await timedSend(env, producer, topic, { id: `b${i}`, delayLevel: 2 }));
    }
    const ones = sent.filter(s => s.delayLevel === 1);
    const twos = sent.filter(s => s.delayLevel === 2);
    await waitUntil(() => ones.every(s => count(s.id) > 0), {
      timeoutMs: LEVEL_MS[1] + SLACK_MS + 3000,
      intervalMs: 20,
      describe: () => `level-1 messages delivered: ${ones.filter(s => count(s.id) > 0).map(s => s.id)} of ` +
        `${ones.map(s => s.id)}`,
    });
    await sleep(300); /* the scheduler records its progress after clwriter's answer */
    const firstDue = Math.min(...twos.map(s => s.startedAt + LEVEL_MS[2]));
    assert.ok(Date.now() < firstDue - 1500, `too late to kill the scheduler before the level-2 messages are due ` +
      `(${firstDue - Date.now()} ms left): the level-1 deliveries took too long`);
    assert.equal(twos.filter(s => count(s.id) > 0).length, 0, 'a level-2 message was delivered early');

    const killedAt = Date.now();
    await broker.kill9Actor('scheduler', before.pid);
    const after = await broker.waitActorReady('scheduler', { notPid: before.pid, timeoutMs: 15000 });
    const readyAt = Date.now();
    env.log(`scheduler pid ${before.pid} killed ${firstDue - killedAt} ms before the first level-2 message ` +
      `was due; pid ${after.pid} ready ${readyAt - killedAt} ms later`);

    const lastDue = Math.max(...twos.map(s => s.doneAt + LEVEL_MS[2]));
    await waitUntil(() => twos.every(s => count(s.id) > 0), {
      timeoutMs: Math.max(lastDue, readyAt) - Date.now() + SLACK_MS + 5000,
      intervalMs: 20,
      describe: () => `after the scheduler restart, level-2 messages delivered: ` +
        `[${twos.filter(s => count(s.id) > 0).map(s => s.id)}] of [${twos.map(s => s.id)}]`,
    });
    await sleep(2000); /* repeats would show here */
    for (const s of twos) {
      const d = got.get(s.id)[0];
      const due = s.startedAt + LEVEL_MS[2];
      assert.ok(d.at >= due, `message ${s.id} delivered ${due - d.at} ms before it was due`);
      const bound = Math.max(s.doneAt + LEVEL_MS[2], readyAt) + SLACK_MS;
      assert.ok(d.at <= bound, `message ${s.id} delivered ${d.at - Math.max(s.doneAt + LEVEL_MS[2], readyAt)} ms ` +
        `after the later of its due time and the scheduler being ready again (bound ${SLACK_MS} ms)`);
      /* the same checks as test 1, with the upper bound counted from max(due, ready again) */
      checkDelayed(Object.assign({}, s, { doneAt: Math.max(s.doneAt, readyAt - LEVEL_MS[2]) }), d, topic);
    }
    const counts = sent.map(s => `${s.id}:${count(s.id)}`);
    assert.ok(sent.every(s => count(s.id) === 1), `deliveries per message [${counts}], expected each exactly once ` +
      '(a level-1 message seen twice was delivered again by the restarted scheduler)');
    const size = await topicSize(env, topic);
    assert.equal(size, sent.length, `the topic holds ${size} records for ${sent.length} delayed messages: ` +
      'the restarted scheduler put some again');
  });
