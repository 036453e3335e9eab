'use strict';
/*
 * admin.selftest: checks of the test helpers themselves, no broker needed.
 *  - lib/admin.js encodes and decodes frames exactly as the spec says, and
 *    agrees with ali-ons' own codec in both directions;
 *  - its connection matches responses by opaque, and fails fast and clearly
 *    on timeouts, closed connections and refused connects;
 *  - its fastjson-tolerant JSON parser and commit-log record decoder work
 *    (records cross-checked with ali-ons' MessageDecoder);
 *  - lib/broker.js writes valid libconfig literals and explains a missing
 *    binary;
 *  - lib/ons.js drives real ali-ons clients through a Session against the
 *    in-process fake broker (lib/fake_broker.js), loopback only.
 */

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { test, after } = require('node:test');
/* ali-ons' own byte buffer module, resolved from where ali-ons is installed */
const ByteBuffer = require(require.resolve('byte', { paths: [ path.dirname(require.resolve('ali-ons')) ] }));
const RemotingCommand = require('ali-ons/lib/protocol/command/remoting_command');
const MessageDecoder = require('ali-ons/lib/message/message_decoder');
const { Producer } = require('ali-ons');
const admin = require('./lib/admin');
const { confValue, confGroup, startBroker } = require('./lib/broker');
const { encodeRecord, startFakeBroker } = require('./lib/fake_broker');
const { Session, makeMessage, waitForAssignment } = require('./lib/ons');
const { waitUntil, range } = require('./lib/util');

/* ali-ons leaves timers behind after close(); see lib/harness.js */
after(() => {
  setTimeout(() => process.exit(), 2000).unref();
});

test('encodeFrame writes length, JSON header word and body as the spec says', () => {
  const frame = admin.encodeFrame({
    code: 17, opaque: 7, extFields: { topic: 'T', readQueueNums: 4, order: false, absent: undefined },
    body: Buffer.from('xyz'),
  });
  const header = '{"code":17,"language":"JAVA","version":410,"opaque":7,"flag":0,' +
    '"extFields":{"topic":"T","readQueueNums":"4","order":"false"}}';
  const h = Buffer.from(header);
  const want = Buffer.alloc(8 + h.length + 3);
  want.writeInt32BE(4 + h.length + 3, 0);
  want.writeInt32BE(h.length, 4); /* serialize type 0 in the top byte */
  h.copy(want, 8);
  want.write('xyz', 8 + h.length);
  assert.deepEqual(frame, want);
  assert.equal(frame[4], 0, 'serialize type byte must be 0 (JSON)');
});

test('extFields values are sent as strings; unsupported types are refused', () => {
  assert.deepEqual(admin.stringifyExtFields({ a: 1, b: true, c: 'x', d: null, e: undefined, f: 2n ** 40n, g: -1 }),
    { a: '1', b: 'true', c: 'x', f: '1099511627776', g: '-1' });
  assert.throws(() => admin.stringifyExtFields({ o: {} }), /unsupported type/);
});

test('decodeFrame inverts encodeFrame and rejects what it cannot read', () => {
  const cmd = {
    code: 0, opaque: 42, flag: admin.FLAG_RESPONSE, remark: 'ok ✓',
    extFields: { msgId: 'AB', queueId: 3 }, body: Buffer.from([ 0, 1, 2, 255 ]),
  };
  const d = admin.decodeFrame(admin.encodeFrame(cmd));
  assert.equal(d.code, 0);
  assert.equal(d.opaque, 42);
  assert.equal(d.flag, 1);
  assert.equal(d.remark, 'ok ✓');
  assert.deepEqual(d.extFields, { msgId: 'AB', queueId: '3' });
  assert.deepEqual(d.body, cmd.body);

  const binary = admin.encodeFrame({ code: 0, opaque: 1 });
  binary[4] = 1; /* ROCKETMQ binary header */
  assert.throws(() => admin.decodeFrame(binary), /serialize type 1 \(ROCKETMQ binary\)/);
  const short = admin.encodeFrame({ code: 0, opaque: 1 }).subarray(0, 20);
  assert.throws(() => admin.decodeFrame(short), /frame length field/);
  const notJson = Buffer.concat([ Buffer.from([ 0, 0, 0, 7, 0, 0, 0, 3 ]), Buffer.from('{x}') ]);
  assert.throws(() => admin.decodeFrame(notJson), /not valid JSON/);
});

test('ali-ons frames decode with admin.js and admin.js frames decode with ali-ons', () => {
  /* the SEND_MESSAGE_V2 header of spec §8: numbers and booleans unquoted */
  const req = RemotingCommand.createRequestCommand(310, {
    a: 'PG', b: 'T', c: 'TBW102', d: 4, e: 1, f: 0, g: 1795241136427, h: 0,
    i: 'TAGS\u0001tagA\u0002KEYS\u0001k1\u0002', j: 0, k: false,
  });
  req.opaque = 1;
  req.body = Buffer.from('hello');
  const bytes = req.encode();
  assert.equal(bytes.readInt32BE(0), 220, 'frameLen of the spec §8 example');
  const d = admin.decodeFrame(bytes);
  assert.equal(d.code, 310);
  assert.equal(d.language, 'JAVA');
  assert.equal(d.version, 121);
  assert.equal(d.extFields.d, '4');
  assert.equal(d.extFields.k, 'false');
  assert.equal(d.extFields.g, '1795241136427');
  assert.deepEqual(admin.parseProperties(d.extFields.i), { TAGS: 'tagA', KEYS: 'k1' });
  assert.equal(d.body.toString(), 'hello');

  const resp = admin.encodeFrame({
    code: 0, opaque: 99, flag: admin.FLAG_RESPONSE,
    extFields: { msgId: '7F00000100002A9F0000000000000000', queueId: 2, queueOffset: 10 }, body: Buffer.from('b'),
  });
  const c = RemotingCommand.decode(resp);
  assert.equal(c.code, 0);
  assert.equal(c.opaque, 99);
  assert.ok(c.isResponseType);
  assert.equal(c.extFields.queueOffset, '10');
  assert.equal(c.body.toString(), 'b');
});

test('FrameSplitter reassembles frames split at any byte', () => {
  const frames = [
    admin.encodeFrame({ code: 1, opaque: 1 }),
    admin.encodeFrame({ code: 2, opaque: 2, body: Buffer.alloc(300, 7) }),
    admin.encodeFrame({ code: 3, opaque: 3, extFields: { k: 'v' } }),
  ];
  const stream = Buffer.concat(frames);
  for (let cut = 0; cut <= stream.length; cut++) {
    const s = new admin.FrameSplitter();
    const got = s.push(stream.subarray(0, cut)).concat(s.push(stream.subarray(cut)));
    assert.deepEqual(got, frames, `split at ${cut}`);
  }
  const bytewise = new admin.FrameSplitter();
  const got = [];
  for (const b of stream) {
    got.push(...bytewise.push(Buffer.from([ b ])));
  }
  assert.deepEqual(got, frames);
  assert.throws(() => new admin.FrameSplitter().push(Buffer.from([ 0x7f, 0, 0, 0 ])), /impossible frame length/);
});

/* A scripted server: onRequest(cmd, socket) decides what to write back. */
function fakeServer(onRequest) {
  return new Promise(resolve => {
    const srv = net.createServer(sock => {
      const s = new admin.FrameSplitter();
      sock.on('data', chunk => {
        for (const f of s.push(chunk)) {
          onRequest(admin.decodeFrame(f), sock);
        }
      });
      sock.on('error', () => {});
    });
    srv.listen({ host: '127.0.0.1', port: 0 }, () => resolve({ srv, addr: `127.0.0.1:${srv.address().port}` }));
  });
}

const answer = (sock, req, code, extFields = {}, body = null) =>
  sock.write(admin.encodeFrame({ code, opaque: req.opaque, flag: admin.FLAG_RESPONSE, extFields, body }));

test('RemotingConnection matches responses by opaque and handles oneway, server requests and strays', async () => {
  const seen = [];
  let held = [];
  const { srv, addr } = await fakeServer((req, sock) => {
    seen.push(req);
    if (req.flag & admin.FLAG_ONEWAY) {
      return;
    }
    held.push(req);
    if (held.length === 3) {
      /* answer in reverse order, with a server request and a stray response in between */
      sock.write(admin.encodeFrame({ code: 40, opaque: 5000, flag: admin.FLAG_ONEWAY, extFields: { consumerGroup: 'g' } }));
      sock.write(admin.encodeFrame({ code: 0, opaque: 999999, flag: admin.FLAG_RESPONSE }));
      for (const r of held.reverse()) {
        answer(sock, r, 0, { echo: r.extFields.n });
      }
      held = [];
    }
  });
  const c = await admin.RemotingConnection.connect(addr);
  c.oneway(15, { commitOffset: 5 });
  const rs = await Promise.all([ 1, 2, 3 ].map(n => c.request(14, { n })));
  assert.deepEqual(rs.map(r => r.extFields.echo), [ '1', '2', '3' ]);
  assert.equal(seen[0].flag, admin.FLAG_ONEWAY);
  assert.equal(seen[0].code, 15);
  assert.equal(c.serverRequests.length, 1);
  assert.equal(c.serverRequests[0].code, 40);
  assert.equal(c.strayResponses, 1);
  const opaques = seen.map(s => s.opaque);
  assert.equal(new Set(opaques).size, opaques.length, 'opaques must be unique');
  c.close();
  srv.close();
});

test('RemotingConnection fails fast: timeout, closed connection, refused connect, binary answer', async () => {
  const { srv, addr } = await fakeServer((req, sock) => {
    if (req.code === 1) {
      return; /* never answer */
    }
    if (req.code === 2) {
      sock.destroy();
    }
    if (req.code === 3) {
      const f = admin.encodeFrame({ code: 0, opaque: req.opaque, flag: admin.FLAG_RESPONSE });
      f[4] = 1;
      sock.write(f);
    }
  });
  const c = await admin.RemotingConnection.connect(addr);
  const t0 = Date.now();
  await assert.rejects(c.request(1, {}, null, { timeoutMs: 300 }), /no answer from 127\.0\.0\.1:\d+ to 1 \(1\) within 300 ms/);
  assert.ok(Date.now() - t0 < 2000);
  await assert.rejects(c.request(2), /closed before the answer to 2 \(2, opaque \d+\) arrived/);
  await assert.rejects(c.request(17), /is closed/);
  const c3 = await admin.RemotingConnection.connect(addr);
  await assert.rejects(c3.request(3), /serialize type 1/);
  const port = srv.address().port;
  c3.close();
  await new Promise(resolve => srv.close(resolve));
  await assert.rejects(admin.RemotingConnection.connect(`127.0.0.1:${port}`), /could not connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
});

test('Admin requests carry the fields of the spec and read the answers', async () => {
  const got = [];
  const { srv, addr } = await fakeServer((req, sock) => {
    got.push(req);
    switch (req.code) {
      case admin.RequestCode.UPDATE_AND_CREATE_TOPIC:
        return answer(sock, req, 0);
      case admin.RequestCode.GET_ROUTEINFO_BY_TOPIC:
        if (req.extFields.topic === 'nope') {
          return answer(sock, req, 17);
        }
        return answer(sock, req, 0, {}, '{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:1"},"brokerName":"b",' +
          '"cluster":"c"}],"filterServerTable":{},"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,' +
          '"topicSysFlag":0,"writeQueueNums":4}]}');
      case admin.RequestCode.QUERY_CONSUMER_OFFSET:
        return req.extFields.queueId === '0' ? answer(sock, req, 0, { offset: '12' }) : answer(sock, req, 22);
      case admin.RequestCode.GET_MAX_OFFSET:
        return req.extFields.queueId === '0' ? answer(sock, req, 0, { offset: 30 }) : answer(sock, req, 0, {});
      case admin.RequestCode.PULL_MESSAGE: {
        const rec = encodeRecord({
          queueId: 0, queueOffset: 5, physicalOffset: 1000, storeHost: [ '127.0.0.1', 10911 ],
          topic: 'T', body: 'hi', properties: 'TAGS\u0001a\u0002',
        });
        return answer(sock, req, 0, { nextBeginOffset: 6, minOffset: 0, maxOffset: 6, suggestWhichBrokerId: 0 }, rec);
      }
      default:
        return answer(sock, req, 3);
    }
  });
  const a = new admin.Admin();
  await a.createTopic(addr, 'T', { readQueueNums: 8, writeQueueNums: 8 });
  assert.deepEqual(got[0].extFields, {
    topic: 'T', defaultTopic: 'TBW102', readQueueNums: '8', writeQueueNums: '8', perm: '6',
    topicFilterType: 'SINGLE_TAG', topicSysFlag: '0', order: 'false',
  });
  const r = await a.getRouteInfo(addr, 'T');
  assert.equal(r.code, 0);
  assert.equal(r.route.brokerDatas[0].brokerAddrs['0'], '127.0.0.1:1');
  assert.equal((await a.getRouteInfo(addr, 'nope')).code, 17);
  assert.equal(await a.queryConsumerOffset(addr, 'g', 'T', 0), 12);
  assert.equal(await a.queryConsumerOffset(addr, 'g', 'T', 1), null);
  assert.equal(await a.getMaxOffset(addr, 'T', 0), 30);
  await assert.rejects(a.getMaxOffset(addr, 'T', 1), /without a numeric "offset" extField/);
  const p = await a.pullMessage(addr, { consumerGroup: 'g', topic: 'T', queueId: 0, queueOffset: 5 });
  const pullReq = got.find(g => g.code === admin.RequestCode.PULL_MESSAGE);
  assert.equal(pullReq.extFields.sysFlag, String(admin.PullSysFlag.SUSPEND | admin.PullSysFlag.SUBSCRIPTION));
  assert.equal(pullReq.extFields.subscription, '*');
  assert.equal(pullReq.extFields.suspendTimeoutMillis, '15000');
  assert.equal(p.nextBeginOffset, 6);
  assert.equal(p.messages.length, 1);
  assert.equal(p.messages[0].body.toString(), 'hi');
  assert.equal((await a.request(addr, 9999)).code, 3);
  a.close();
  srv.close();
});

test('parseJsonLenient reads fastjson bare numeric keys without touching strings', () => {
  assert.deepEqual(admin.parseJsonLenient('{"a":1}'), { a: 1 });
  assert.deepEqual(admin.parseJsonLenient('{0:"x:1",1:"y"}'), { 0: 'x:1', 1: 'y' });
  assert.deepEqual(admin.parseJsonLenient('{"s":"{0:\\"q\\",1:2}", 7 : [1,2,{3:4}]}'),
    { s: '{0:"q",1:2}', 7: [ 1, 2, { 3: 4 } ] });
  assert.throws(() => admin.parseJsonLenient('{nope}'), /body is not JSON/);
});

test('crc32 and offset msgIds follow the spec examples', () => {
  assert.equal(admin.crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.deepEqual(admin.decodeOffsetMsgId('0A00000100002A9F0000000000000F2C'), { address: '10.0.0.1:10911', offset: 3884 });
  assert.throws(() => admin.decodeOffsetMsgId('0a00000100002a9f0000000000000f2c'), /upper-case hex/);
});

test('commit-log records decode the same with admin.js and ali-ons', () => {
  const props = admin.formatProperties({ TAGS: 'TagA', KEYS: 'k1 k2', seq: '7', note: 'héllo ✓' });
  const recs = [
    encodeRecord({
      queueId: 3, flag: 5, queueOffset: 41, physicalOffset: 123456789012, sysFlag: 0, bornTimestamp: 1700000000000,
      bornHost: [ '127.0.0.1', 50000 ], storeTimestamp: 1700000000123, storeHost: [ '127.0.0.1', 10911 ],
      reconsumeTimes: 2, body: Buffer.from([ 0, 1, 2, 250, 255 ]), topic: 'TopicA', properties: props,
    }),
    encodeRecord({
      queueId: 0, queueOffset: 0, physicalOffset: 0, storeHost: [ '10.0.0.1', 10911 ], topic: 'B', body: '', properties: '',
    }),
  ];
  const mine = admin.decodeMessages(Buffer.concat(recs));
  assert.equal(mine.length, 2);
  const m = mine[0];
  assert.equal(m.queueId, 3);
  assert.equal(m.flag, 5);
  assert.equal(m.queueOffset, 41);
  assert.equal(m.physicalOffset, 123456789012);
  assert.equal(m.bornHost, '127.0.0.1:50000');
  assert.equal(m.storeHost, '127.0.0.1:10911');
  assert.equal(m.reconsumeTimes, 2);
  assert.equal(m.topic, 'TopicA');
  assert.ok(m.bodyCRCValid);
  assert.deepEqual(m.properties, { TAGS: 'TagA', KEYS: 'k1 k2', seq: '7', note: 'héllo ✓' });
  assert.equal(mine[1].msgId, '0A00000100002A9F0000000000000000');

  const bb = ByteBuffer.allocate(4096);
  bb.put(Buffer.concat(recs)).flip();
  const theirs = MessageDecoder.decodes(bb);
  assert.equal(theirs.length, 2);
  assert.equal(theirs[0].msgId, m.msgId);
  assert.equal(theirs[0].queueOffset, 41);
  assert.equal(theirs[0].commitLogOffset, 123456789012);
  assert.equal(theirs[0].topic, 'TopicA');
  assert.equal(theirs[0].tags, 'TagA');
  assert.equal(theirs[0].keys, 'k1 k2');
  assert.equal(theirs[0].properties.note, 'héllo ✓');
  assert.deepEqual(theirs[0].body, m.body);

  const bad = Buffer.from(recs[0]);
  bad.writeInt32BE(0x12345678, 4);
  assert.throws(() => admin.decodeMessages(bad), /bad magic/);
  assert.throws(() => admin.decodeMessages(recs[0].subarray(0, 50)), /does not fit/);
});

test('broker.js writes libconfig literals and explains a missing binary', async () => {
  assert.equal(confValue('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(confValue(true), 'true');
  assert.equal(confValue(10911), '10911');
  assert.equal(confValue(1073741824), '1073741824');
  assert.equal(confValue(4294967296), '4294967296L');
  assert.equal(confValue(0.5), '0.5');
  assert.equal(confGroup('g', { a: 1, b: 'x' }), 'g = {\n    a = 1;\n    b = "x";\n};\n');
  const saved = process.env.RMQ_SUPERVISOR_BIN;
  delete process.env.RMQ_SUPERVISOR_BIN;
  try {
    await assert.rejects(startBroker(), /RMQ_SUPERVISOR_BIN is not set/);
    process.env.RMQ_SUPERVISOR_BIN = '/nonexistent/rmq-supervisor';
    await assert.rejects(startBroker(), /no executable there/);
  } finally {
    if (saved === undefined) {
      delete process.env.RMQ_SUPERVISOR_BIN;
    } else {
      process.env.RMQ_SUPERVISOR_BIN = saved;
    }
  }
});

const haveTestBin = process.env.RMQ_SUPERVISOR_TEST_BIN && process.env.RMQCTL_BIN;

test('broker.js starts, inspects, kill -9s an actor of and stops a real supervisor', {
  skip: !haveTestBin && 'needs RMQ_SUPERVISOR_TEST_BIN and RMQCTL_BIN (set by ctest)',
}, async () => {
  /* rmq-supervisor-test runs its crash-test actor when RMQ_TESTACTOR is set */
  const b = await startBroker({
    name: 'selftest', supervisorBin: process.env.RMQ_SUPERVISOR_TEST_BIN,
    env: { RMQ_TESTACTOR: '1' }, requireActors: [ 'testactor' ],
  });
  let r;
  try {
    assert.match(fs.readFileSync(b.confFile, 'utf8'), new RegExp(`listenPort = ${b.brokerPort};`));
    const st = await b.status();
    assert.ok(st.actors_total > 0 && st.actors_ready === st.actors_total, JSON.stringify(st));
    const before = await b.actor('testactor');
    assert.equal(before.state, 'ready');
    const pid = await b.kill9Actor('testactor');
    assert.equal(pid, before.pid);
    const after = await b.waitActorReady('testactor', { notPid: pid, timeoutMs: 10000 });
    assert.notEqual(after.pid, pid);
    assert.ok(after.restarts >= 1, JSON.stringify(after));
    assert.match(b.logTail(), /testactor/);
  } finally {
    r = await b.stop();
  }
  assert.deepEqual([ r.code, r.signal, r.forced, r.alreadyExited ], [ 0, null, false, false ],
    `supervisor stop: ${JSON.stringify(r)}`);
  assert.ok(!fs.existsSync(b.dir), 'the temp dir of a passing test is removed');
});

test('an ali-ons Session produces and consumes through the fake broker, loopback only', async () => {
  const broker = await startFakeBroker({ name: 'selftest' });
  const session = new Session({ nameSrv: broker.nameSrv, logFile: `${broker.dir}/ali-ons.log`, label: 'selftest' });
  let closed = false;
  try {
    const a = new admin.Admin();
    await a.createTopic(broker.brokerAddr, 'SelfTest', { readQueueNums: 2, writeQueueNums: 2 });
    a.close();
    const producer = await session.producer({ producerGroup: 'PG_self' });
    const got = new Map();
    const consumer = await session.consumer({
      group: 'G_self', topic: 'SelfTest',
      handler: async msg => { got.set(msg.properties.seq, msg); },
    });
    await waitForAssignment(consumer, 'SelfTest', 2, 10000);
    for (const i of range(10)) {
      const r = await producer.send(makeMessage('SelfTest', { tags: 'A', keys: [ `k${i}`, 'x' ], body: `b${i}`, props: { seq: i } }));
      assert.equal(r.sendStatus, 'SEND_OK');
    }
    await waitUntil(() => got.size === 10, { timeoutMs: 10000, describe: () => `got ${got.size} of 10` });
    assert.equal(got.get('3').keys, 'k3 x');
    assert.equal(got.get('3').tags, 'A');
    assert.equal(got.get('3').body.toString(), 'b3');
    assert.ok(Producer.defaultProducer, 'the session created the inner producer');
    const errors = await session.close();
    closed = true;
    assert.deepEqual(errors.map(e => e.message), []);
    assert.equal(Producer.defaultProducer, null, 'Session.close() resets the inner producer');
    assert.deepEqual(session.errors.filter(e => /HTTP/.test(String(e.err))), []);
  } finally {
    if (!closed) {
      await session.close();
    }
    await broker.stop();
  }
});
