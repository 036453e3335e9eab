'use strict';
/*
 * ons.js - ali-ons 3.12.0 producers and push consumers wired for tests:
 * loopback only, logs in a file, every start and close bounded in time.
 *
 * What ali-ons needs to stay off the internet and how it is configured
 * (read from node_modules/ali-ons/lib):
 *  - RemotingClient asserts that `httpclient` is given and, unless `nameSrv`
 *    is set, fetches the name server list over HTTP from `onsAddr` (an
 *    aliyun.com URL by default).  We always set nameSrv and pass an
 *    httpclient whose request() throws, so an HTTP lookup would fail loudly.
 *  - Without accessKeyId/accessKeySecret no Signature/AccessKey extFields
 *    are added.
 *  - clientIP (defaults to the first non-internal interface address, used
 *    only in the clientId of heartbeats) is set to 127.0.0.1.
 *
 * ali-ons shares state per process, which matters when one file starts
 * several brokers:
 *  - MQClient instances are cached by clientId = clientIP@instanceName and
 *    keep the options (nameSrv!) of the first client that created them.
 *    Every producer and consumer made here gets its own instanceName, so
 *    its own MQClient talking to its own broker.
 *  - Producer.defaultProducer is a process-wide "CLIENT_INNER_PRODUCER"
 *    created by the first producer/consumer init with that client's options;
 *    it is never closed by ali-ons, so its MQClient (and timers) would live
 *    forever.  A Session creates it itself with its own instanceName and, on
 *    close, closes it and clears the static so the next test gets a fresh one.
 *  - After close(), ali-ons' scheduled tasks still sleep out their current
 *    interval (up to 30 s); harness.js ends the process after the last test.
 */

const fs = require('node:fs');
const util = require('node:util');
const { Producer, Consumer, Message } = require('ali-ons');
const { withTimeout, waitUntil } = require('./util');

const NO_HTTP = {
  async request(url) {
    throw new Error(`ali-ons tried to fetch ${url} over HTTP; the interop tests only use the local ` +
      'name server (is the nameSrv option missing?)');
  },
  async curl(url) {
    return NO_HTTP.request(url);
  },
};

/* An ali-ons logger ({debug, info, warn, error}) writing to a stream. */
function fileLogger(stream, prefix) {
  const write = level => (...args) => {
    if (!stream.writable) {
      return;
    }
    const text = args.map(a => (a instanceof Error ? `${a.name}: ${a.message}` : a));
    stream.write(`${new Date().toISOString()} ${level} ${prefix} ${util.format(...text)}\n`);
  };
  return { debug: () => {}, info: write('INFO '), warn: write('WARN '), error: write('ERROR') };
}

let sessionSeq = 0;

/*
 * One test's ali-ons clients.  new Session({nameSrv, logFile, label}); then
 * producer() / consumer(); close() closes every client made here.
 */
class Session {
  constructor({ nameSrv, logFile, label = 'itest' }) {
    this.nameSrv = nameSrv;
    this.stream = fs.createWriteStream(logFile, { flags: 'a' });
    this.logger = fileLogger(this.stream, label);
    this.prefix = `${label}-${process.pid}-${++sessionSeq}`;
    this.seq = 0;
    this.clients = [];
    this.inner = null;
    this.errors = [];
  }

  /* Options every ali-ons client gets; `extra` wins. */
  options(extra = {}) {
    return Object.assign({
      nameSrv: this.nameSrv,
      httpclient: NO_HTTP,
      onsAddr: 'http://127.0.0.1:9/ali-ons-must-not-fetch-this',
      logger: this.logger,
      clientIP: '127.0.0.1',
      instanceName: `${this.prefix}-${++this.seq}`,
    }, extra);
  }

  _watch(client, what) {
    client.on('error', err => {
      this.errors.push({ what, err });
      this.logger.error(`[${what}]`, err && err.stack ? err.stack : err);
    });
  }

  /* Create the process-wide inner producer for this session (see top). */
  async _ensureInner() {
    if (this.inner) {
      return;
    }
    if (Producer.defaultProducer) {
      throw new Error('an ali-ons inner producer from an earlier test is still open ' +
        '(a previous Session was not closed)');
    }
    this.inner = await withTimeout(Producer.getDefaultProducer(this.options({ instanceName: `${this.prefix}-inner` })),
      10000, 'the ali-ons inner producer did not start within 10 s');
    this._watch(this.inner, 'inner producer');
  }

  /* A started Producer.  opts: ali-ons producer options (producerGroup...). */
  async producer(opts = {}) {
    await this._ensureInner();
    const p = new Producer(this.options(opts));
    this._watch(p, `producer ${opts.producerGroup}`);
    this.clients.push(p);
    await withTimeout(p.ready(), 10000, `producer ${opts.producerGroup} did not start within 10 s`);
    /* same send(), but its errors say what failed ("Send [4] times, still failed" alone does not) */
    const send = p.send.bind(p);
    p.send = async msg => {
      try {
        return await send(msg);
      } catch (err) {
        err.message = `ali-ons send() to ${msg.topic} failed (route lookup at the name server or ` +
          `SEND_MESSAGE_V2 at the broker): ${err.message}`;
        throw err;
      }
    };
    return p;
  }

  /*
   * A started push consumer subscribed to one topic.
   *   group, topic, expr ('*'), handler (async msg => ...),
   *   consumeFromWhere ('CONSUME_FROM_FIRST_OFFSET'), other ali-ons options.
   * ali-ons runs its first route lookup, heartbeat and rebalance while
   * starting; a broker that fails them makes this throw.
   */
  async consumer({ group, topic, expr = '*', handler, ...opts }) {
    await this._ensureInner();
    const c = new Consumer(this.options(Object.assign({
      consumerGroup: group,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    }, opts)));
    this._watch(c, `consumer ${group}`);
    this.clients.push(c);
    c.subscribe(topic, expr, handler);
    try {
      await withTimeout(c.ready(), 15000, 'no result within 15 s');
    } catch (err) {
      err.message = `consumer ${group} could not start (its first route lookup, HEART_BEAT, ` +
        `GET_CONSUMER_LIST_BY_GROUP or QUERY_CONSUMER_OFFSET failed): ${err.message}`;
      throw err;
    }
    return c;
  }

  /* Close one client (bounded); rejects with a message naming the client. */
  async closeClient(client, timeoutMs = 10000) {
    const i = this.clients.indexOf(client);
    if (i >= 0) {
      this.clients.splice(i, 1);
    }
    const what = client.consumerGroup ? `consumer ${client.consumerGroup}` : `producer ${client.producerGroup}`;
    try {
      await withTimeout(client.close(), timeoutMs, `${what}: close() did not finish within ${timeoutMs / 1000} s`);
    } catch (err) {
      err.message = `${what}: close() failed: ${err.message}`;
      throw err;
    }
  }

  /*
   * Close every client, the inner producer last; never throws, returns the
   * errors.  Call while the broker still runs, so unregistering succeeds.
   */
  async close() {
    const errors = [];
    for (const c of this.clients.slice().reverse()) {
      try {
        await this.closeClient(c, 8000);
      } catch (err) {
        errors.push(err);
      }
    }
    if (this.inner) {
      try {
        await withTimeout(this.inner.close(), 8000, 'the ali-ons inner producer did not close within 8 s');
      } catch (err) {
        errors.push(err);
      }
      if (Producer.defaultProducer === this.inner) {
        Producer.defaultProducer = null;
      }
      this.inner = null;
    }
    await new Promise(resolve => this.stream.end(resolve));
    return errors;
  }
}

/*
 * The queues ali-ons currently pulls for `topic` (its rebalance result),
 * from Consumer#processQueueTable.
 */
function assignedQueues(consumer, topic) {
  const ids = [];
  for (const item of consumer.processQueueTable.values()) {
    if (item && item.messageQueue.topic === topic) {
      ids.push(Number(item.messageQueue.queueId));
    }
  }
  return ids.sort((a, b) => a - b);
}

/* Wait until the consumer pulls all `queues` queues of `topic`. */
function waitForAssignment(consumer, topic, queues, timeoutMs = 20000) {
  return waitUntil(() => assignedQueues(consumer, topic).length === queues, {
    timeoutMs,
    describe: () => `consumer ${consumer.consumerGroup} was assigned queues ` +
      `[${assignedQueues(consumer, topic)}] of ${topic}, expected all ${queues} ` +
      '(ali-ons assigns queues after HEART_BEAT, GET_CONSUMER_LIST_BY_GROUP and QUERY_CONSUMER_OFFSET succeed)',
  });
}

/*
 * Build an ali-ons Message.  keys: array of strings; props: user
 * properties (string values), stored in msg.properties and sent in the
 * properties string of SEND_MESSAGE_V2 (field "i") as key\u0001value\u0002.
 * tags null/undefined: no TAGS property at all (ali-ons itself would send
 * the text "null"/"undefined" as the tag).  delayLevel n > 0: property
 * DELAY=n (Message#delayTimeLevel).
 */
function makeMessage(topic, { tags, keys, body, props = {}, delayLevel = 0 }) {
  const msg = new Message(topic, tags, body);
  if (tags === null || tags === undefined) {
    delete msg.properties.TAGS;
  }
  if (delayLevel > 0) {
    msg.delayTimeLevel = delayLevel;
  }
  if (keys && keys.length) {
    msg.keys = keys;
  }
  for (const [ k, v ] of Object.entries(props)) {
    msg.properties[k] = String(v);
  }
  return msg;
}

module.exports = { Session, Message, makeMessage, assignedQueues, waitForAssignment, NO_HTTP };
