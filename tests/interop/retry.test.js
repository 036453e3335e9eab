'use strict';
/*
 * retry: a message whose handler throws is sent back by ali-ons with
 * CONSUMER_SEND_MSG_BACK (36, version 121, delayLevel 0) and redelivered
 * through %RETRY%<group>; past the group's retryMaxTimes it goes to
 * %DLQ%<group> (spec remoting-protocol §5.5, §7).
 *
 * The broker runs with 18 delay levels of 1 s, so a retry (level 3 +
 * reconsumeTimes, through SCHEDULE_TOPIC_XXXX) comes after ~1 s instead
 * of 10 s, 30 s, ...
 *
 * 1. A handler that throws on the first two deliveries of a message gets
 *    it a third time, with reconsumeTimes 0, 1, 2; the redeliveries are
 *    presented under the original topic (ali-ons maps them back from
 *    %RETRY%<group> with RETRY_TOPIC), with ORIGIN_MESSAGE_ID = the msgId
 *    of the send, the same body, tags, keys and user properties, and not
 *    earlier than the retry delay after the failure.  The broker shows the
 *    path: %RETRY%<group> holds 2 records, SCHEDULE_TOPIC_XXXX queues 2 and
 *    3 (levels 3 and 4) one each, %DLQ%<group> nothing.  A message handled
 *    at once is delivered once; nothing is delivered again after success.
 * 2. With the group's retryMaxTimes set to 2 (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
 *    200 before the consumer starts), a message that always fails is
 *    delivered 3 times (reconsumeTimes 0, 1, 2), then lands in
 *    %DLQ%<group>: max offset 1 in queue 0, the topic not readable (write
 *    only, perm 2) so nobody consumes it by accident, and its record is
 *    the original body with RETRY_TOPIC = the original topic,
 *    ORIGIN_MESSAGE_ID = the send's msgId, reconsumeTimes 3.  Then, with
 *    rmqctl (skipped when this rmqctl has no `consume` command): `topic
 *    create -t %DLQ%<group> -p 6` makes it readable and `--json consume -t
 *    %DLQ%<group> --from-beginning -n 1` prints that record.
 */

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { interopTest } = require('./lib/harness');
const { makeMessage, waitForAssignment, assignedQueues } = require('./lib/ons');
const { PullSysFlag, ResponseCode, responseName } = require('./lib/admin');
const { sleep, waitUntil } = require('./lib/util');

const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';
const ONE_SECOND_LEVELS = Array(18).fill('1s').join(' ');
const RETRY_DELAY_MS = 1000;
const SLACK_MS = 4000;
const QUEUES = 2;

const brokerOptions = { broker: { messageDelayLevel: ONE_SECOND_LEVELS } };

/* GET_MAX_OFFSET, or null when the broker does not know the topic/queue. */
async function maxOffsetOrNull(env, topic, queueId) {
  try {
    return await env.admin.getMaxOffset(env.broker.brokerAddr, topic, queueId);
  } catch (err) {
    if (err.code !== undefined) {
      return null;
    }
    throw err;
  }
}

/*
 * A consumer whose handler records every delivery (by property `id`) and
 * throws while fail(id, n) says so for the n-th delivery (1-based).
 */
async function failingConsumer(env, { group, topic, fail }) {
  const got = new Map();
  const consumer = await env.consumer({
    group, topic,
    handler: async msg => {
      const id = msg.properties.id;
      if (!got.has(id)) {
        got.set(id, []);
      }
      const list = got.get(id);
      const failed = fail(id, list.length + 1);
      list.push({
        at: Date.now(), failed, topic: msg.topic, reconsumeTimes: msg.reconsumeTimes, msgId: msg.msgId,
        body: msg.body.toString(), tags: msg.tags, keys: msg.keys, props: Object.assign({}, msg.properties),
      });
      if (failed) {
        throw new Error(`intentional failure of delivery ${list.length} of message ${id}`);
      }
    },
  });
  await waitForAssignment(consumer, topic, QUEUES);
  /*
   * Redeliveries come through %RETRY%<group>, created by the consumer's
   * first HEART_BEAT.  ali-ons looks its route up right after that and,
   * if the name server does not know it yet, only again 30 s later.
   */
  const retryTopic = `%RETRY%${group}`;
  await waitUntil(() => assignedQueues(consumer, retryTopic).length === 1, {
    timeoutMs: 5000,
    describe: () => `consumer ${group} does not pull ${retryTopic}: its route lookup right after the first ` +
      'HEART_BEAT failed (see "RouteInfoFromNameServer is not exist" in ali-ons.log), i.e. the broker had not ' +
      'registered the retry topic with the name server when it answered the heartbeat (spec §5.3); ali-ons ' +
      'looks again only after 30 s',
  });
  return { consumer, got, count: id => (got.get(id) || []).length };
}

async function sendOne(env, producer, topic, id) {
  const r = await producer.send(makeMessage(topic, {
    tags: 'retry', keys: [ `${env.name('K')}-${id}` ], body: `body of ${id}`, props: { id, color: 'blue' },
  }));
  return Object.assign({ id }, env.checkSendResult(r, topic, QUEUES));
}

/* The k-th delivery (0-based) of a message sent as `s` to `topic`. */
function checkDelivery(d, k, s, topic, env) {
  const what = `delivery ${k + 1} of message ${s.id}`;
  assert.equal(d.reconsumeTimes, k, `${what} has reconsumeTimes ${d.reconsumeTimes}, expected ${k}`);
  assert.equal(d.topic, topic, `${what} is presented under topic ${d.topic}, expected ${topic} ` +
    '(ali-ons maps %RETRY% deliveries back through RETRY_TOPIC)');
  assert.equal(d.body, `body of ${s.id}`, `${what}: body changed`);
  assert.equal(d.tags, 'retry', `${what}: TAGS is ${d.tags}`);
  assert.equal(d.keys, `${env.name('K')}-${s.id}`, `${what}: KEYS is ${d.keys}`);
  assert.equal(d.props.color, 'blue', `${what}: user property lost (properties ${JSON.stringify(d.props)})`);
  if (k === 0) {
    assert.equal(d.msgId, s.msgId, `${what} has msgId ${d.msgId}, the send said ${s.msgId}`);
  } else {
    assert.equal(d.props.RETRY_TOPIC, topic, `${what}: RETRY_TOPIC is ${d.props.RETRY_TOPIC}`);
    assert.equal(d.props.ORIGIN_MESSAGE_ID, s.msgId, `${what}: ORIGIN_MESSAGE_ID is ${d.props.ORIGIN_MESSAGE_ID}, ` +
      `expected the msgId of the send ${s.msgId}`);
    assert.notEqual(d.msgId, s.msgId, `${what} has the msgId of the original record: not a retry copy`);
    assert.equal(d.props.DELAY, undefined, `${what} still carries DELAY=${d.props.DELAY}`);
  }
}

interopTest('a message failed twice is delivered a third time with reconsumeTimes 2',
  { timeoutMs: 60000, brokerOptions }, async (t, env) => {
    const topic = env.name('T');
    const group = env.name('G');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();
    const { got, count } = await failingConsumer(env, {
      group, topic, fail: (id, n) => id === 'flaky' && n <= 2,
    });

    const flaky = await sendOne(env, producer, topic, 'flaky');
    const steady = await sendOne(env, producer, topic, 'steady');
    await waitUntil(() => count('flaky') >= 3 && count('steady') >= 1, {
      timeoutMs: 2 * (RETRY_DELAY_MS + SLACK_MS) + 5000,
      intervalMs: 50,
      describe: () => `deliveries: flaky ${count('flaky')} (want 3: it fails twice), steady ${count('steady')} ` +
        `(want 1); flaky's: ${JSON.stringify((got.get('flaky') || []).map(d => ({ topic: d.topic,
          reconsumeTimes: d.reconsumeTimes, failed: d.failed })))}`,
    });
    await sleep(RETRY_DELAY_MS + 1500); /* a 4th delivery, or a 2nd of `steady`, would show here */
    assert.equal(count('flaky'), 3, `the message failed twice was delivered ${count('flaky')} times, expected 3`);
    assert.equal(count('steady'), 1, `the message handled at once was delivered ${count('steady')} times`);
    checkDelivery(got.get('steady')[0], 0, steady, topic, env);
    const ds = got.get('flaky');
    ds.forEach((d, k) => checkDelivery(d, k, flaky, topic, env));
    for (let k = 1; k < ds.length; k++) {
      const gap = ds[k].at - ds[k - 1].at;
      assert.ok(gap >= RETRY_DELAY_MS - 5, `delivery ${k + 1} came ${gap} ms after failure ${k}: not delayed ` +
        `(retries go through delay level 3 + reconsumeTimes, 1 s in this broker)`);
      assert.ok(gap <= RETRY_DELAY_MS + SLACK_MS, `delivery ${k + 1} came ${gap} ms after failure ${k}`);
    }

    /* the broker side of it */
    const retryTopic = `%RETRY%${group}`;
    assert.equal(await maxOffsetOrNull(env, retryTopic, 0), 2, `${retryTopic} does not hold the 2 retry copies`);
    const sched = [];
    for (let q = 0; q < 6; q++) {
      sched.push(await maxOffsetOrNull(env, SCHEDULE_TOPIC, q));
    }
    assert.deepEqual(sched, [ 0, 0, 1, 1, 0, 0 ], `${SCHEDULE_TOPIC} queues 0..5 hold [${sched}]: the two retries ` +
      'should use delay levels 3 and 4 (3 + reconsumeTimes), i.e. queues 2 and 3');
    const dlq = await maxOffsetOrNull(env, `%DLQ%${group}`, 0);
    assert.ok(dlq === null || dlq === 0, `%DLQ%${group} holds ${dlq} messages, expected none`);
    env.log(`flaky delivered at +${ds.map(d => d.at - ds[0].at).join(' ms, +')} ms`);
  });

/* Run rmqctl with args; resolves {code, stdout, stderr} (never rejects). */
function rmqctl(env, args, timeoutMs = 15000) {
  return new Promise(resolve => {
    execFile(env.broker.rmqctlBin, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.killed ? 'timeout' : error.code) : 0, stdout, stderr });
    });
  });
}

/* Wait until the name server routes `topic` readable (perm & 4). */
async function waitReadableRoute(env, topic) {
  let last = '';
  await waitUntil(async () => {
    const r = await env.admin.getRouteInfo(env.broker.nameSrv, topic);
    last = r.code === 0 ? JSON.stringify(r.route.queueDatas) : `code ${r.code}`;
    return r.code === 0 && (r.route.queueDatas || []).some(q => (q.perm & 4) !== 0);
  }, { timeoutMs: 10000, intervalMs: 200, describe: () => `no readable route for ${topic}; last: ${last}` });
}

interopTest('a message failed more often than retryMaxTimes lands in %DLQ%<group>',
  { timeoutMs: 80000, brokerOptions }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    const group = env.name('G');
    const dlqTopic = `%DLQ%${group}`;
    await env.createTopic(topic, { queues: QUEUES });
    await admin.updateSubscriptionGroup(broker.brokerAddr, group, { retryMaxTimes: 2 });
    const producer = await env.producer();
    const { got, count } = await failingConsumer(env, { group, topic, fail: () => true });

    const doomed = await sendOne(env, producer, topic, 'doomed');
    let dlqMax = null;
    await waitUntil(async () => {
      dlqMax = await maxOffsetOrNull(env, dlqTopic, 0);
      return dlqMax === 1;
    }, {
      timeoutMs: 3 * (RETRY_DELAY_MS + SLACK_MS) + 5000,
      intervalMs: 200,
      describe: () => `${dlqTopic} queue 0 max offset is ${dlqMax} (null: no such topic), expected 1 after ` +
        `${count('doomed')} failed deliveries (reconsumeTimes ` +
        `[${(got.get('doomed') || []).map(d => d.reconsumeTimes)}]) with retryMaxTimes 2`,
    });
    await sleep(RETRY_DELAY_MS + 1500); /* a 4th delivery or a second DLQ record would show here */
    assert.equal(count('doomed'), 3, `with retryMaxTimes 2 the always-failing message was delivered ` +
      `${count('doomed')} times (reconsumeTimes [${got.get('doomed').map(d => d.reconsumeTimes)}]), expected 3`);
    got.get('doomed').forEach((d, k) => checkDelivery(d, k, doomed, topic, env));
    assert.equal(await maxOffsetOrNull(env, dlqTopic, 0), 1, `${dlqTopic} does not hold exactly one record`);
    assert.equal(await maxOffsetOrNull(env, `%RETRY%${group}`, 0), 2, `%RETRY%${group} does not hold 2 records`);

    /* write-only: not readable by consumers until an operator says so */
    const pull = offset => admin.pullMessage(broker.brokerAddr, {
      consumerGroup: env.name('DLQREADER'), topic: dlqTopic, queueId: 0, queueOffset: offset,
      sysFlag: PullSysFlag.SUBSCRIPTION, subscription: '*',
    }, { timeoutMs: 10000 });
    const closed = await pull(0);
    assert.equal(closed.code, ResponseCode.NO_PERMISSION, `PULL_MESSAGE on ${dlqTopic} answered ` +
      `${responseName(closed.code)} (${closed.code}) "${closed.remark || ''}", expected NO_PERMISSION (16): ` +
      'the DLQ is created write-only (perm 2)');

    /* rmqctl: make it readable, read the record */
    await t.test('rmqctl topic create -p 6 and consume --from-beginning read the DLQ record', async () => {
      const create = await rmqctl(env, [ '-n', broker.nameSrv, 'topic', 'create', '-t', dlqTopic, '-p', '6' ]);
      assert.equal(create.code, 0, `rmqctl -n ${broker.nameSrv} topic create -t ${dlqTopic} -p 6 failed ` +
        `(${create.code}): ${create.stderr.trim()}`);
      await waitReadableRoute(env, dlqTopic);
      const args = [ '-n', broker.nameSrv, '--json', 'consume', '-t', dlqTopic, '--from-beginning', '-n', '1' ];
      const read = await rmqctl(env, args, 30000);
      assert.equal(read.code, 0, `rmqctl ${args.join(' ')} failed (${read.code}): ${read.stderr.trim()}`);
      const lines = read.stdout.split('\n').filter(l => l.trim());
      assert.equal(lines.length, 1, `rmqctl ${args.join(' ')} printed ${lines.length} lines, expected one JSON ` +
        `object: ${read.stdout.slice(0, 500)}`);
      let rec;
      try {
        rec = JSON.parse(lines[0]);
      } catch (err) {
        assert.fail(`rmqctl consume --json printed no JSON: ${lines[0].slice(0, 300)}`);
      }
      const props = rec.properties || {};
      assert.equal(rec.topic, dlqTopic, `rmqctl consume printed topic ${rec.topic}: ${lines[0]}`);
      assert.equal(rec.body, `body of ${doomed.id}`, `rmqctl consume printed body ${JSON.stringify(rec.body)}`);
      assert.equal(props.RETRY_TOPIC, topic, `rmqctl consume: RETRY_TOPIC ${props.RETRY_TOPIC}: ${lines[0]}`);
      assert.equal(props.ORIGIN_MESSAGE_ID, doomed.msgId, `rmqctl consume: ORIGIN_MESSAGE_ID ` +
        `${props.ORIGIN_MESSAGE_ID}, expected ${doomed.msgId}`);
      assert.equal(rec.reconsumeTimes, 3, `rmqctl consume: reconsumeTimes ${rec.reconsumeTimes}: ${lines[0]}`);
    });
    const r = await pull(0);
    assert.equal(r.code, ResponseCode.SUCCESS, `PULL_MESSAGE ${dlqTopic}:0 at 0 after making it readable answered ` +
      `${responseName(r.code)} (${r.code}) "${r.remark || ''}"`);
    assert.equal(r.messages.length, 1, `${dlqTopic} returned ${r.messages.length} records, expected 1`);
    const m = r.messages[0];
    assert.equal(m.topic, dlqTopic);
    assert.equal(m.queueId, 0);
    assert.equal(m.queueOffset, 0);
    assert.equal(m.body.toString(), `body of ${doomed.id}`, 'the DLQ record does not carry the original body');
    assert.ok(m.bodyCRCValid, 'the DLQ record has a wrong bodyCRC');
    assert.equal(m.properties.RETRY_TOPIC, topic, `DLQ record RETRY_TOPIC is ${m.properties.RETRY_TOPIC}`);
    assert.equal(m.properties.ORIGIN_MESSAGE_ID, doomed.msgId, `DLQ record ORIGIN_MESSAGE_ID is ` +
      `${m.properties.ORIGIN_MESSAGE_ID}, expected the send's msgId ${doomed.msgId}`);
    assert.equal(m.properties.TAGS, 'retry', 'the DLQ record lost TAGS');
    assert.equal(m.properties.color, 'blue', 'the DLQ record lost a user property');
    assert.equal(m.properties.DELAY, undefined, `the DLQ record carries DELAY=${m.properties.DELAY}`);
    assert.equal(m.reconsumeTimes, 3, `the DLQ record has reconsumeTimes ${m.reconsumeTimes}, expected 3 ` +
      '(the third failed delivery had 2; the copy counts one more, spec §5.5)');
    env.log(`DLQ record: ${JSON.stringify(Object.assign({}, m, { body: m.body.toString() }))}`);
  });
