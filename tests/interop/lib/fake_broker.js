'use strict';
/*
 * fake_broker.js - a tiny in-process name server + broker, written from
 * the spec, used ONLY to check the interop tests themselves while the real
 * broker cannot serve clients yet (RMQ_INTEROP_FAKE_BROKER=1, see README).
 * It is not a reference implementation: one broker, memory only, the
 * requests ali-ons 3.12 and lib/admin.js send (spec §8.1) and nothing else.
 *
 * It offers the interface of lib/broker.js (nameSrv, brokerAddr, dir,
 * stop, actor(s), status, kill9Actor, waitActorReady, logTail, checkAlive);
 * "killing" the acceptor closes the broker port and every client connection
 * and reopens it 300 ms later under a new made-up pid.
 */

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const {
  RequestCode: RC, ResponseCode: RS, PullSysFlag, FLAG_RESPONSE, FLAG_ONEWAY,
  FrameSplitter, decodeFrame, encodeFrame, parseProperties, formatProperties, crc32, requestName,
} = require('./admin');
const { pickPorts } = require('./broker');
const { sleep } = require('./util');

const MAGIC_V1 = 0xdaa320a7 | 0;

/*
 * Encode one commit-log record, layout v1 with IPv4 hosts
 * (store-format.md §2.2).  m: {queueId, flag, queueOffset, physicalOffset,
 * sysFlag, bornTimestamp, bornHost: [ip, port], storeTimestamp,
 * storeHost: [ip, port], reconsumeTimes, preparedTransactionOffset, body,
 * topic, properties (string)}.
 */
function encodeRecord(m) {
  const body = Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body || '');
  const topic = Buffer.from(m.topic, 'utf8');
  const props = Buffer.from(m.properties || '', 'utf8');
  const total = 91 + body.length + topic.length + props.length;
  const b = Buffer.alloc(total);
  let p = 0;
  const i32 = v => { b.writeInt32BE(v | 0, p); p += 4; };
  const i64 = v => { b.writeBigInt64BE(BigInt(v), p); p += 8; };
  const host = ([ ip, port ]) => {
    for (const part of ip.split('.')) {
      b[p++] = Number(part);
    }
    i32(port);
  };
  i32(total);
  i32(MAGIC_V1);
  i32((crc32(body) & 0x7fffffff) >>> 0);
  i32(m.queueId);
  i32(m.flag || 0);
  i64(m.queueOffset);
  i64(m.physicalOffset);
  i32(m.sysFlag || 0);
  i64(m.bornTimestamp || 0);
  host(m.bornHost || [ '127.0.0.1', 0 ]);
  i64(m.storeTimestamp || 0);
  host(m.storeHost);
  i32(m.reconsumeTimes || 0);
  i64(m.preparedTransactionOffset || 0);
  i32(body.length);
  body.copy(b, p); p += body.length;
  b[p++] = topic.length;
  topic.copy(b, p); p += topic.length;
  b.writeInt16BE(props.length, p); p += 2;
  props.copy(b, p);
  return b;
}

let fakePid = 4000000; /* above pid_max: never a real process */

class FakeBroker {
  constructor(dir, brokerPort, namesrvPort) {
    this.dir = dir;
    this.brokerPort = brokerPort;
    this.namesrvPort = namesrvPort;
    this.logFile = path.join(dir, 'fake-broker.log');
    this.log = fs.createWriteStream(this.logFile, { flags: 'a' });
    this.topics = new Map(); /* topic -> {queues: [[record]], perm} */
    this.offsets = new Map(); /* group@topic -> Map(queueId -> offset) */
    this.groups = new Map(); /* group -> Map(clientId -> conn) */
    this.held = new Set();
    this.conns = new Set();
    this.physOffset = 0;
    this.acceptor = { name: 'acceptor', pid: ++fakePid, state: 'ready', restarts: 0 };
    this.namesrvActor = { name: 'namesrv', pid: ++fakePid, state: 'ready', restarts: 0 };
    this.exited = null;
    this.stopped = false;
  }

  get nameSrv() {
    return `127.0.0.1:${this.namesrvPort}`;
  }

  get brokerAddr() {
    return `127.0.0.1:${this.brokerPort}`;
  }

  note(text) {
    if (this.log.writable) {
      this.log.write(`${new Date().toISOString()} ${text}\n`);
    }
  }

  async listen() {
    this.nsServer = await this._serve(this.namesrvPort, (c, cmd) => this._namesrv(c, cmd));
    this.brServer = await this._serve(this.brokerPort, (c, cmd) => this._broker(c, cmd));
  }

  _serve(port, handle) {
    return new Promise((resolve, reject) => {
      const srv = net.createServer(sock => {
        const c = { sock, clientIds: new Set(), server: srv };
        this.conns.add(c);
        const splitter = new FrameSplitter();
        sock.on('data', chunk => {
          let frames;
          try {
            frames = splitter.push(chunk);
          } catch (err) {
            this.note(`bad stream: ${err.message}`);
            sock.destroy();
            return;
          }
          for (const f of frames) {
            let cmd;
            try {
              cmd = decodeFrame(f);
            } catch (err) {
              this.note(`bad frame: ${err.message}`);
              sock.destroy();
              return;
            }
            if (!(cmd.flag & FLAG_RESPONSE)) {
              handle(c, cmd);
            }
          }
        });
        sock.on('error', () => {});
        sock.on('close', () => this._gone(c));
      });
      srv.once('error', reject);
      srv.listen({ host: '127.0.0.1', port }, () => resolve(srv));
    });
  }

  _gone(c) {
    this.conns.delete(c);
    for (const h of this.held) {
      if (h.c === c) {
        clearTimeout(h.timer);
        this.held.delete(h);
      }
    }
    for (const members of this.groups.values()) {
      for (const [ id, conn ] of members) {
        if (conn === c) {
          members.delete(id);
        }
      }
    }
  }

  reply(c, req, code, extFields = {}, body = null, remark = null) {
    if (req.flag & FLAG_ONEWAY) {
      return;
    }
    if (!c.sock.destroyed) {
      c.sock.write(encodeFrame({ code, opaque: req.opaque, flag: FLAG_RESPONSE, extFields, body, remark }));
    }
  }

  _namesrv(c, req) {
    this.note(`namesrv <- ${requestName(req.code)} ${JSON.stringify(req.extFields)}`);
    if (req.code !== RC.GET_ROUTEINFO_BY_TOPIC) {
      this.reply(c, req, RS.REQUEST_CODE_NOT_SUPPORTED, {}, null, ` request type ${req.code} not supported`);
      return;
    }
    const t = this.topics.get(req.extFields.topic);
    if (!t) {
      this.reply(c, req, RS.TOPIC_NOT_EXIST, {}, null,
        `No topic route info in name server for the topic: ${req.extFields.topic}`);
      return;
    }
    const route = {
      brokerDatas: [ { brokerAddrs: { 0: this.brokerAddr }, brokerName: 'broker-a', cluster: 'DefaultCluster' } ],
      filterServerTable: {},
      queueDatas: [ {
        brokerName: 'broker-a', perm: t.perm, readQueueNums: t.queues.length,
        topicSysFlag: 0, writeQueueNums: t.queues.length,
      } ],
    };
    this.reply(c, req, RS.SUCCESS, {}, JSON.stringify(route));
  }

  _topic(name, queues) {
    let t = this.topics.get(name);
    if (!t) {
      t = { queues: Array.from({ length: queues }, () => []), perm: 6 };
      this.topics.set(name, t);
    }
    return t;
  }

  _offsetTable(group, topic) {
    const k = `${group}@${topic}`;
    if (!this.offsets.has(k)) {
      this.offsets.set(k, new Map());
    }
    return this.offsets.get(k);
  }

  _broker(c, req) {
    const e = req.extFields;
    if (req.code !== RC.PULL_MESSAGE && req.code !== RC.SEND_MESSAGE_V2) {
      this.note(`broker <- ${requestName(req.code)} ${JSON.stringify(e)}`);
    }
    switch (req.code) {
      case RC.UPDATE_AND_CREATE_TOPIC:
        this._topic(e.topic, Number(e.writeQueueNums));
        return this.reply(c, req, RS.SUCCESS);
      case RC.SEND_MESSAGE_V2:
      case 10:
        return this._send(c, req);
      case RC.HEART_BEAT: {
        const hb = JSON.parse(req.body.toString('utf8'));
        for (const cd of hb.consumerDataSet || []) {
          if (!this.groups.has(cd.groupName)) {
            this.groups.set(cd.groupName, new Map());
          }
          this.groups.get(cd.groupName).set(hb.clientID, c);
          this._topic(`%RETRY%${cd.groupName}`, 1);
        }
        return this.reply(c, req, RS.SUCCESS);
      }
      case 35: /* UNREGISTER_CLIENT */
        if (e.consumerGroup && this.groups.has(e.consumerGroup)) {
          this.groups.get(e.consumerGroup).delete(e.clientID);
        }
        return this.reply(c, req, RS.SUCCESS);
      case RC.GET_CONSUMER_LIST_BY_GROUP: {
        const members = this.groups.get(e.consumerGroup);
        if (!members || !members.size) {
          return this.reply(c, req, RS.SYSTEM_ERROR, {}, null, `no consumer for this group, ${e.consumerGroup}`);
        }
        return this.reply(c, req, RS.SUCCESS, {}, JSON.stringify({ consumerIdList: [ ...members.keys() ] }));
      }
      case RC.QUERY_CONSUMER_OFFSET: {
        const v = this._offsetTable(e.consumerGroup, e.topic).get(Number(e.queueId));
        if (v !== undefined && v >= 0) {
          return this.reply(c, req, RS.SUCCESS, { offset: v });
        }
        if (this.topics.has(e.topic)) {
          return this.reply(c, req, RS.SUCCESS, { offset: 0 });
        }
        return this.reply(c, req, RS.QUERY_NOT_FOUND, {}, null, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first');
      }
      case RC.UPDATE_CONSUMER_OFFSET:
        this._offsetTable(e.consumerGroup, e.topic).set(Number(e.queueId), Number(e.commitOffset));
        return this.reply(c, req, RS.SUCCESS);
      case RC.GET_MAX_OFFSET: {
        const t = this.topics.get(e.topic);
        const q = t && t.queues[Number(e.queueId)];
        return this.reply(c, req, RS.SUCCESS, { offset: q ? q.length : 0 });
      }
      case RC.PULL_MESSAGE:
        return this._pull(c, req, true);
      default:
        return this.reply(c, req, RS.REQUEST_CODE_NOT_SUPPORTED, {}, null, ` request type ${req.code} not supported`);
    }
  }

  _send(c, req) {
    const e = req.extFields;
    const v2 = req.code === RC.SEND_MESSAGE_V2;
    const topic = v2 ? e.b : e.topic;
    const t = this.topics.get(topic);
    if (!t) {
      return this.reply(c, req, RS.TOPIC_NOT_EXIST, {}, null, `topic[${topic}] not exist, apply first please!`);
    }
    let queueId = Number(v2 ? e.e : e.queueId);
    if (queueId < 0) {
      queueId = Math.floor(Math.random() * t.queues.length);
    }
    if (!(queueId < t.queues.length)) {
      return this.reply(c, req, RS.SYSTEM_ERROR, {}, null, `queueId ${queueId} out of range`);
    }
    const props = parseProperties((v2 ? e.i : e.properties) || '');
    delete props.WAIT;
    props.CLUSTER = 'DefaultCluster';
    const q = t.queues[queueId];
    const ra = (c.sock.remoteAddress || '127.0.0.1').replace(/^::ffff:/, '');
    const rec = encodeRecord({
      queueId, flag: Number(v2 ? e.h : e.flag) || 0, queueOffset: q.length, physicalOffset: this.physOffset,
      sysFlag: Number(v2 ? e.f : e.sysFlag) || 0, bornTimestamp: Number(v2 ? e.g : e.bornTimestamp) || 0,
      bornHost: [ /^\d+\.\d+\.\d+\.\d+$/.test(ra) ? ra : '127.0.0.1', c.sock.remotePort || 0 ],
      storeTimestamp: Date.now(), storeHost: [ '127.0.0.1', this.brokerPort ],
      reconsumeTimes: Number(v2 ? e.j : e.reconsumeTimes) || 0,
      body: req.body, topic, properties: formatProperties(props),
    });
    const id = Buffer.alloc(16);
    Buffer.from([ 127, 0, 0, 1 ]).copy(id, 0);
    id.writeInt32BE(this.brokerPort, 4);
    id.writeBigInt64BE(BigInt(this.physOffset), 8);
    this.physOffset += rec.length;
    q.push({ rec, tags: props.TAGS });
    this.reply(c, req, RS.SUCCESS, {
      msgId: id.toString('hex').toUpperCase(), queueId, queueOffset: q.length - 1,
      MSG_REGION: 'DefaultRegion', TRACE_ON: 'true',
    });
    for (const h of this.held) {
      if (h.topic === topic && h.queueId === queueId) {
        clearTimeout(h.timer);
        this.held.delete(h);
        this._pull(h.c, h.req, false);
      }
    }
  }

  _pull(c, req, first) {
    const e = req.extFields;
    const t = this.topics.get(e.topic);
    const queueId = Number(e.queueId);
    if (!t) {
      return this.reply(c, req, RS.TOPIC_NOT_EXIST, {}, null, `topic[${e.topic}] not exist`);
    }
    if (!(queueId >= 0 && queueId < t.queues.length)) {
      return this.reply(c, req, RS.SYSTEM_ERROR, {}, null, `queueId[${queueId}] is illegal`);
    }
    const sysFlag = Number(e.sysFlag);
    if (first && (sysFlag & PullSysFlag.COMMIT_OFFSET)) {
      this._offsetTable(e.consumerGroup, e.topic).set(queueId, Number(e.commitOffset));
    }
    const q = t.queues[queueId];
    const offset = Number(e.queueOffset);
    const ext = next => ({ nextBeginOffset: next, minOffset: 0, maxOffset: q.length, suggestWhichBrokerId: 0 });
    if (q.length === 0 && offset !== 0) {
      return this.reply(c, req, RS.PULL_OFFSET_MOVED, ext(0), null, 'NO_MESSAGE_IN_QUEUE');
    }
    if (offset > q.length || offset < 0) {
      return this.reply(c, req, RS.PULL_OFFSET_MOVED, ext(offset < 0 ? 0 : q.length), null, 'OFFSET_OVERFLOW_BADLY');
    }
    if (offset === q.length) {
      if (first && (sysFlag & PullSysFlag.SUSPEND)) {
        const h = { c, req, topic: e.topic, queueId };
        h.timer = setTimeout(() => {
          this.held.delete(h);
          this._pull(c, req, false);
        }, Math.min(Number(e.suspendTimeoutMillis) || 15000, 25000));
        this.held.add(h);
        return undefined;
      }
      return this.reply(c, req, RS.PULL_NOT_FOUND, ext(offset), null, 'OFFSET_OVERFLOW_ONE');
    }
    const sub = (e.subscription || '*').trim();
    const tags = sub === '*' || sub === '' ? null : sub.split('||').map(s => s.trim());
    const max = Math.min(Number(e.maxMsgNums) || 32, 32);
    const out = [];
    let i = offset;
    for (; i < q.length && out.length < max; i++) {
      if (!tags || tags.includes(q[i].tags)) {
        out.push(q[i].rec);
      }
    }
    if (!out.length) {
      return this.reply(c, req, RS.PULL_RETRY_IMMEDIATELY, ext(i), null, 'NO_MATCHED_MESSAGE');
    }
    return this.reply(c, req, RS.SUCCESS, ext(i), Buffer.concat(out), 'FOUND');
  }

  /* lib/broker.js interface */

  logTail(lines = 40) {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch (err) {
      return `(no log: ${err.message})`;
    }
  }

  checkAlive() {}

  async status() {
    const ready = [ this.acceptor, this.namesrvActor ].filter(a => a.state === 'ready').length;
    return { state: 'running', actors_total: 2, actors_ready: ready, fake: true };
  }

  async actors() {
    return [ Object.assign({}, this.namesrvActor), Object.assign({}, this.acceptor) ];
  }

  async actor(name) {
    const a = (await this.actors()).find(x => x.name === name);
    if (!a) {
      throw new Error(`no actor named "${name}" in the fake broker`);
    }
    return a;
  }

  /* Only the acceptor can be "killed": the broker port goes away for 300 ms. */
  async kill9Actor(name, knownPid) {
    if (name !== 'acceptor') {
      throw new Error(`the fake broker cannot kill ${name}`);
    }
    const pid = knownPid || this.acceptor.pid;
    this.note(`acceptor ${pid} killed`);
    this.acceptor.state = 'restarting';
    this.brServer.close();
    for (const c of this.conns) {
      if (c.server === this.brServer) {
        c.sock.destroy();
      }
    }
    setTimeout(async () => {
      if (this.stopped) {
        return;
      }
      this.brServer = await this._serve(this.brokerPort, (c, cmd) => this._broker(c, cmd));
      this.acceptor = { name: 'acceptor', pid: ++fakePid, state: 'ready', restarts: this.acceptor.restarts + 1 };
      this.note(`acceptor restarted as ${this.acceptor.pid}`);
    }, 300);
    return pid;
  }

  async waitActorReady(name, { notPid = 0, timeoutMs = 15000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const a = await this.actor(name);
      if (a.pid !== notPid && a.state === 'ready') {
        return a;
      }
      await sleep(50);
    }
    throw new Error(`fake actor ${name} not ready again within ${timeoutMs} ms`);
  }

  async stop({ keep = false } = {}) {
    if (!this.stopped) {
      this.stopped = true;
      for (const h of this.held) {
        clearTimeout(h.timer);
      }
      this.held.clear();
      for (const c of this.conns) {
        c.sock.destroy();
      }
      this.nsServer.close();
      this.brServer.close();
      await new Promise(resolve => this.log.end(resolve));
      if (!keep && !process.env.RMQ_INTEROP_KEEP) {
        fs.rmSync(this.dir, { recursive: true, force: true });
      }
    }
    return { code: 0, signal: null, forced: false };
  }
}

/* Same options as lib/broker.js startBroker; key overrides are ignored. */
async function startFakeBroker(options = {}) {
  const label = (options.name || 'test').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rmq-interop-fake-${label}-`));
  const { brokerPort, namesrvPort } = await pickPorts();
  const b = new FakeBroker(dir, brokerPort, namesrvPort);
  await b.listen();
  b.note(`fake broker on ${b.brokerAddr}, name server on ${b.nameSrv}`);
  return b;
}

module.exports = { startFakeBroker, FakeBroker, encodeRecord };
