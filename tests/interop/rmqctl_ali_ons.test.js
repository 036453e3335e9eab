'use strict';
/*
 * rmqctl_ali_ons: rmqctl's data commands (built on librmq) and the Node
 * RocketMQ client ali-ons 3.12.0 interoperate both ways through rmq:
 *
 *  - a message sent with `rmqctl send` (tag, keys, user properties, a
 *    non-ASCII body) reaches an ali-ons push consumer intact, with the
 *    msgId ali-ons derives (store host + commit-log offset) equal to the
 *    offsetMsgId rmqctl printed;
 *  - messages sent by an ali-ons producer (text and binary bodies) are
 *    printed by `rmqctl consume --json` (one JSON object per line) with
 *    body, tags, keys, property, queue and offset as the send results
 *    said, and `rmqctl msg get` of ali-ons' msgId finds the same message.
 *
 * The topic is created with `rmqctl topic create`, which returns only once
 * the name server routes it (ali-ons cannot send to an unrouted topic).
 * rmqctl is RMQCTL_BIN, run with -c <the test broker's rmq.conf>.
 */

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { interopTest } = require('./lib/harness');
const { makeMessage } = require('./lib/ons');
const { waitUntil } = require('./lib/util');

/* rmqctl -c <conf> -n <name server> ARGS; resolves {code, stdout, stderr}. */
function rmqctl(broker, args, { timeoutMs = 30000 } = {}) {
  return new Promise(resolve => {
    execFile(broker.rmqctlBin, [ '-c', broker.confFile, '-n', broker.nameSrv, ...args ],
      { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        resolve({ code: error ? (error.killed ? 'killed' : error.code) : 0, stdout, stderr });
      });
  });
}

/* rmqctl --json ARGS, which must exit 0: its stdout parsed (one document). */
async function rmqctlJson(broker, args, options) {
  const r = await rmqctl(broker, [ '--json', ...args ], options);
  assert.equal(r.code, 0, `rmqctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`rmqctl ${args.join(' ')} printed no JSON document (${err.message}): ${r.stdout.slice(0, 300)}`);
  }
}

/* rmqctl --json consume ARGS: the JSON lines, one message each. */
async function rmqctlConsume(broker, args) {
  const r = await rmqctl(broker, [ '--json', 'consume', ...args ]);
  assert.equal(r.code, 0, `rmqctl consume ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter(line => line.length > 0).map(line => {
    try {
      return JSON.parse(line);
    } catch (err) {
      throw new Error(`rmqctl consume printed a line that is not JSON (${err.message}): ${line.slice(0, 300)}`);
    }
  });
}

async function createTopic(env, topic, queues) {
  const r = await rmqctlJson(env.broker, [ 'topic', 'create', '-t', topic, '-r', String(queues), '-w', String(queues) ]);
  assert.equal(r.topic, topic);
  assert.equal(r.readQueueNums, queues);
  assert.equal(r.writeQueueNums, queues);
  assert.deepEqual(r.brokers.map(b => b.addr), [ env.broker.brokerAddr ]);
}

interopTest('a message sent with rmqctl send reaches an ali-ons push consumer intact', { timeoutMs: 60000 },
  async (t, env) => {
    const topic = env.name('T');
    const group = env.name('G');
    await createTopic(env, topic, 2);

    const received = [];
    await env.consumer({
      group, topic,
      handler: async msg => {
        received.push({
          topic: msg.topic, tags: msg.tags, keys: msg.keys, body: Buffer.from(msg.body || []),
          properties: Object.assign({}, msg.properties), msgId: msg.msgId,
          queueId: Number(msg.queueId), queueOffset: Number(msg.queueOffset),
        });
      },
    });

    const body = 'hello from rmqctl: héllo wörld ✓';
    const sent = await rmqctlJson(env.broker, [ 'send', '-t', topic, '--tag', 'TagR', '-k', 'rk1 rk2',
      '-p', 'color=blue', '-p', 'note=grüße', body ]);
    assert.equal(sent.status, 'SEND_OK');
    assert.equal(sent.topic, topic);
    assert.equal(sent.brokerName, 'broker-a');
    assert.match(sent.offsetMsgId, /^[0-9A-F]{32}$/);
    assert.match(sent.msgId, /^[0-9A-F]{32}$/);

    const m = await waitUntil(() => received.find(r => r.msgId === sent.offsetMsgId), {
      timeoutMs: 30000,
      describe: () => `ali-ons consumer ${group} did not receive the message rmqctl sent ` +
        `(offsetMsgId ${sent.offsetMsgId}); received ${JSON.stringify(received.map(r => r.msgId))}`,
    });
    assert.equal(m.topic, topic);
    assert.equal(m.body.toString('utf8'), body);
    assert.equal(m.tags, 'TagR');
    assert.equal(m.keys, 'rk1 rk2');
    assert.equal(m.properties.color, 'blue');
    assert.equal(m.properties.note, 'grüße');
    assert.equal(m.properties.UNIQ_KEY, sent.msgId, 'UNIQ_KEY set by librmq');
    assert.equal(m.queueId, sent.queueId);
    assert.equal(m.queueOffset, sent.queueOffset);
  });

interopTest('messages sent by an ali-ons producer are printed intact by rmqctl consume --json',
  { timeoutMs: 60000 }, async (t, env) => {
    const topic = env.name('T');
    await createTopic(env, topic, 2);
    const producer = await env.producer();

    const text = makeMessage(topic, { tags: 'TagA', keys: [ 'ka', 'kb' ], body: 'from ali-ons: ünïcødé',
      props: { color: 'red' } });
    const binary = Buffer.from([ 0, 1, 2, 0xfe, 0xff, 0x0a ]);
    const bin = makeMessage(topic, { tags: 'TagB', keys: [ 'kc' ], body: binary, props: { color: 'green' } });
    const r1 = env.checkSendResult(await producer.send(text), topic, 2);
    const r2 = env.checkSendResult(await producer.send(bin), topic, 2);

    const lines = await rmqctlConsume(env.broker, [ '-t', topic, '--from-beginning', '-n', '2' ]);
    assert.equal(lines.length, 2, `rmqctl consume printed ${lines.length} messages, expected 2`);
    const byId = new Map(lines.map(m => [ m.offsetMsgId, m ]));
    const a = byId.get(r1.msgId);
    const b = byId.get(r2.msgId);
    assert.ok(a && b, `consumed ${JSON.stringify([ ...byId.keys() ])}, sent ${r1.msgId} and ${r2.msgId}`);

    assert.equal(a.topic, topic);
    assert.equal(a.brokerName, 'broker-a');
    assert.equal(a.queueId, r1.queueId);
    assert.equal(a.queueOffset, r1.queueOffset);
    assert.equal(a.commitLogOffset, r1.physicalOffset);
    assert.equal(a.tags, 'TagA');
    assert.equal(a.keys, 'ka kb');
    assert.equal(a.properties.color, 'red');
    assert.equal(a.bodyEncoding, 'text');
    assert.equal(a.body, 'from ali-ons: ünïcødé');
    assert.equal(a.bodyLength, Buffer.byteLength('from ali-ons: ünïcødé'));
    assert.equal(a.msgId, r1.msgId, 'ali-ons sets no UNIQ_KEY: msgId is the offset id');
    assert.equal(a.storeHost, env.broker.brokerAddr);

    assert.equal(b.tags, 'TagB');
    assert.equal(b.keys, 'kc');
    assert.equal(b.properties.color, 'green');
    assert.equal(b.bodyEncoding, 'hex');
    assert.equal(b.body, binary.toString('hex').toUpperCase());
    assert.equal(b.bodyLength, binary.length);

    /* the same message by id, straight from the broker named in the id */
    const got = await rmqctlJson(env.broker, [ 'msg', 'get', r1.msgId ]);
    for (const k of [ 'topic', 'queueId', 'queueOffset', 'commitLogOffset', 'tags', 'keys', 'body', 'offsetMsgId' ]) {
      assert.deepEqual(got[k], a[k], `msg get ${r1.msgId}: ${k}`);
    }
    assert.equal(got.properties.color, 'red');
  });
