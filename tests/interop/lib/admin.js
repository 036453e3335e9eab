'use strict';
/*
 * admin.js - a minimal RocketMQ 4.x remoting client in plain Node (net +
 * Buffer), written from /work/shared/spec/remoting-protocol.md, for the
 * requests the interop tests need and ali-ons cannot send: create a topic,
 * read a route, read committed and max offsets, pull with long polling.
 *
 * Wire format (spec §1): every integer big-endian;
 *
 *   int32 frameLen = 4 + H + B      (does not count itself)
 *   int32 (serializeType << 24) | H (we send and accept only type 0 = JSON)
 *   H bytes of JSON header {code, language, version, opaque, flag, remark?, extFields?}
 *   B bytes of body
 *
 * Responses are matched to requests by opaque (flag bit 0 set = response).
 * Like the Java admin tools we send every extField value as a JSON string
 * (spec §1.3: brokers must accept strings and raw JSON scalars alike).
 *
 * Also here, because tests need them: a lenient parser for fastjson bodies
 * (bare numeric map keys, spec §1.4) and a decoder for the raw commit-log
 * records a PULL_MESSAGE answer carries (store-format.md §2.2).
 */

const net = require('node:net');

const SERIALIZE_JSON = 0;
const FLAG_RESPONSE = 0x1;
const FLAG_ONEWAY = 0x2;
const MAX_FRAME_LEN = 16 * 1024 * 1024; /* what Java accepts (spec §1) */

const RequestCode = {
  PULL_MESSAGE: 11,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  SEARCH_OFFSET_BY_TIMESTAMP: 29,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: 200,
  SEND_MESSAGE_V2: 310,
};

const ResponseCode = {
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  SERVICE_NOT_AVAILABLE: 14,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
  SUBSCRIPTION_PARSE_FAILED: 23,
  SUBSCRIPTION_NOT_EXIST: 24,
  SUBSCRIPTION_NOT_LATEST: 25,
  SUBSCRIPTION_GROUP_NOT_EXIST: 26,
};

/* PULL_MESSAGE sysFlag bits (spec §5.2) */
const PullSysFlag = { COMMIT_OFFSET: 0x1, SUSPEND: 0x2, SUBSCRIPTION: 0x4, CLASS_FILTER: 0x8 };

function nameOf(table, code) {
  for (const [ k, v ] of Object.entries(table)) {
    if (v === code) {
      return k;
    }
  }
  return String(code);
}
const requestName = code => nameOf(RequestCode, code);
const responseName = code => nameOf(ResponseCode, code);

/*
 * Convert an extFields object to the map String -> String Java uses:
 * null/undefined values are left out, numbers, bigints and booleans become
 * their text.
 */
function stringifyExtFields(ext) {
  const out = {};
  for (const [ k, v ] of Object.entries(ext)) {
    if (v === null || v === undefined) {
      continue;
    }
    switch (typeof v) {
      case 'string':
        out[k] = v;
        break;
      case 'number':
      case 'bigint':
      case 'boolean':
        out[k] = String(v);
        break;
      default:
        throw new TypeError(`extField ${k} has unsupported type ${typeof v}`);
    }
  }
  return out;
}

/*
 * Encode one remoting command as a complete frame (length prefix included).
 * cmd: {code, opaque, flag=0, language='JAVA', version=410, remark,
 *       extFields, body (Buffer|string)}.
 */
function encodeFrame(cmd) {
  const header = {
    code: cmd.code,
    language: cmd.language || 'JAVA',
    version: cmd.version === undefined ? 410 : cmd.version,
    opaque: cmd.opaque,
    flag: cmd.flag || 0,
  };
  if (cmd.remark !== undefined && cmd.remark !== null) {
    header.remark = String(cmd.remark);
  }
  if (cmd.extFields) {
    header.extFields = stringifyExtFields(cmd.extFields);
  }
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  let body = cmd.body;
  if (body === undefined || body === null) {
    body = Buffer.alloc(0);
  } else if (!Buffer.isBuffer(body)) {
    body = Buffer.from(body);
  }
  if (h.length >= 1 << 24) {
    throw new RangeError(`header of ${h.length} bytes does not fit in 24 bits`);
  }
  const frameLen = 4 + h.length + body.length;
  if (frameLen > MAX_FRAME_LEN) {
    throw new RangeError(`frame of ${frameLen} bytes exceeds ${MAX_FRAME_LEN}`);
  }
  const frame = Buffer.allocUnsafe(4 + frameLen);
  frame.writeInt32BE(frameLen, 0);
  frame.writeUInt32BE(((SERIALIZE_JSON << 24) | h.length) >>> 0, 4);
  h.copy(frame, 8);
  body.copy(frame, 8 + h.length);
  return frame;
}

/*
 * Decode one complete frame (length prefix included) into
 * {code, language, version, opaque, flag, remark, extFields, body,
 *  serializeType}.  Throws on a malformed frame or a non-JSON header.
 */
function decodeFrame(frame) {
  if (frame.length < 8) {
    throw new Error(`frame of ${frame.length} bytes is shorter than its 8-byte prefix`);
  }
  const frameLen = frame.readInt32BE(0);
  if (frameLen !== frame.length - 4) {
    throw new Error(`frame length field says ${frameLen} but ${frame.length - 4} bytes follow it`);
  }
  const word = frame.readUInt32BE(4);
  const serializeType = word >>> 24;
  const headerLen = word & 0xffffff;
  if (headerLen > frameLen - 4) {
    throw new Error(`header length ${headerLen} exceeds frame length ${frameLen} - 4`);
  }
  if (serializeType !== SERIALIZE_JSON) {
    throw new Error(`header serialize type ${serializeType} (${serializeType === 1 ? 'ROCKETMQ binary' : 'unknown'}); ` +
      'a request sent as JSON must be answered as JSON (spec §1: reply in the serialize type of the request; ' +
      'ali-ons cannot read anything else)');
  }
  const text = frame.toString('utf8', 8, 8 + headerLen);
  let header;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new Error(`header is not valid JSON (${err.message}): ${text.slice(0, 200)}`);
  }
  if (header === null || typeof header !== 'object' || typeof header.code !== 'number') {
    throw new Error(`header has no numeric "code": ${text.slice(0, 200)}`);
  }
  const extFields = {};
  if (header.extFields) {
    for (const [ k, v ] of Object.entries(header.extFields)) {
      if (v !== null && v !== undefined) {
        extFields[k] = typeof v === 'string' ? v : String(v);
      }
    }
  }
  return {
    code: header.code,
    language: header.language,
    version: header.version,
    opaque: header.opaque,
    flag: header.flag || 0,
    remark: header.remark === undefined ? null : header.remark,
    extFields,
    rawExtFields: header.extFields || {},
    body: frame.subarray(8 + headerLen),
    serializeType,
  };
}

/*
 * Splits a byte stream into frames.  push(chunk) returns the complete frames
 * (each a Buffer including its length prefix) now available; throws on an
 * impossible frame length.
 */
class FrameSplitter {
  constructor() {
    this.buf = Buffer.alloc(0);
  }

  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([ this.buf, chunk ]) : chunk;
    const frames = [];
    while (this.buf.length >= 4) {
      const frameLen = this.buf.readInt32BE(0);
      if (frameLen < 4 || frameLen > MAX_FRAME_LEN) {
        throw new Error(`impossible frame length ${frameLen}`);
      }
      if (this.buf.length < 4 + frameLen) {
        break;
      }
      frames.push(Buffer.from(this.buf.subarray(0, 4 + frameLen)));
      this.buf = this.buf.subarray(4 + frameLen);
    }
    return frames;
  }
}

let nextOpaque = 1;

/*
 * One TCP connection to a name server or broker.  request() sends a command
 * and resolves with the decoded response of the same opaque, or rejects
 * after timeoutMs / when the connection closes.  Requests from the server
 * (flag bit 0 clear, e.g. NOTIFY_CONSUMER_IDS_CHANGED) are kept in
 * serverRequests and otherwise ignored.
 */
class RemotingConnection {
  constructor(addr, socket, options = {}) {
    this.addr = addr;
    this.socket = socket;
    this.options = options;
    this.pending = new Map();
    this.serverRequests = [];
    this.strayResponses = 0;
    this.closed = false;
    this.closeReason = null;
    const splitter = new FrameSplitter();
    socket.on('data', chunk => {
      let frames;
      try {
        frames = splitter.push(chunk);
      } catch (err) {
        this._fail(new Error(`bad frame from ${addr}: ${err.message}`));
        return;
      }
      for (const f of frames) {
        this._onFrame(f);
      }
    });
    socket.on('error', err => { this.closeReason = this.closeReason || err; });
    socket.on('close', () => this._fail(this.closeReason));
  }

  /* Connect to "host:port"; reject after connectTimeoutMs with a clear message. */
  static connect(addr, options = {}) {
    const connectTimeoutMs = options.connectTimeoutMs || 3000;
    const [ host, portText ] = splitAddr(addr);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port: Number(portText) });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${addr} within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.once('error', err => {
        clearTimeout(timer);
        reject(new Error(`could not connect to ${addr}: ${err.code || err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RemotingConnection(addr, socket, options));
      });
    });
  }

  _onFrame(frame) {
    let cmd;
    try {
      cmd = decodeFrame(frame);
    } catch (err) {
      this._fail(new Error(`undecodable frame from ${this.addr}: ${err.message}`));
      return;
    }
    if (!(cmd.flag & FLAG_RESPONSE)) {
      this.serverRequests.push(cmd);
      return;
    }
    const p = this.pending.get(cmd.opaque);
    if (!p) {
      this.strayResponses++;
      return;
    }
    this.pending.delete(cmd.opaque);
    clearTimeout(p.timer);
    p.resolve(cmd);
  }

  _fail(err) {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.socket.destroy();
    for (const [ opaque, p ] of this.pending) {
      clearTimeout(p.timer);
      const why = err ? `: ${err.message}` : '';
      p.reject(new Error(`connection to ${this.addr} closed before the answer to ` +
        `${requestName(p.code)} (${p.code}, opaque ${opaque}) arrived${why}`));
    }
    this.pending.clear();
  }

  /*
   * Send a request; resolve with the response command (any code: callers
   * decide what a code means).  Rejects on timeout or connection loss.
   */
  request(code, extFields = {}, body = null, { timeoutMs = 5000 } = {}) {
    if (this.closed) {
      return Promise.reject(new Error(`connection to ${this.addr} is closed` +
        (this.closeReason ? ` (${this.closeReason.message})` : '')));
    }
    const opaque = nextOpaque++;
    const frame = encodeFrame({
      code, opaque, flag: 0, extFields, body,
      language: this.options.language, version: this.options.version,
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(opaque);
        reject(new Error(`no answer from ${this.addr} to ${requestName(code)} (${code}) ` +
          `within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(opaque, { code, resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  /* Send a oneway request (flag bit 1): no answer is expected. */
  oneway(code, extFields = {}, body = null) {
    if (this.closed) {
      throw new Error(`connection to ${this.addr} is closed`);
    }
    const opaque = nextOpaque++;
    this.socket.write(encodeFrame({
      code, opaque, flag: FLAG_ONEWAY, extFields, body,
      language: this.options.language, version: this.options.version,
    }));
  }

  close() {
    this._fail(null);
  }
}

function splitAddr(addr) {
  const i = addr.lastIndexOf(':');
  if (i <= 0) {
    throw new Error(`bad address "${addr}" (want host:port)`);
  }
  return [ addr.slice(0, i), addr.slice(i + 1) ];
}

/* Error for an unexpected response code, naming what was asked of whom. */
function codeError(what, addr, resp) {
  const err = new Error(`${what}: ${addr} answered ${responseName(resp.code)} (${resp.code})` +
    (resp.remark ? ` "${resp.remark}"` : ''));
  err.code = resp.code;
  err.remark = resp.remark;
  return err;
}

/*
 * Parse a JSON body as fastjson writes it: standard JSON, or JSON with bare
 * integer map keys ({0:"127.0.0.1:10911"}, spec §1.4).  Bare keys are quoted
 * outside string literals only.
 */
function parseJsonLenient(text) {
  try {
    return JSON.parse(text);
  } catch (first) {
    let out = '';
    let inString = false;
    let expectKey = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        out += c;
        if (c === '\\') {
          out += text[++i];
        } else if (c === '"') {
          inString = false;
        }
        continue;
      }
      if (c === '"') {
        inString = true;
        expectKey = false;
        out += c;
        continue;
      }
      if (c === '{' || c === ',') {
        expectKey = true;
        out += c;
        continue;
      }
      if (expectKey && /[-0-9]/.test(c)) {
        let j = i;
        while (j < text.length && /[-0-9]/.test(text[j])) {
          j++;
        }
        let k = j;
        while (k < text.length && /\s/.test(text[k])) {
          k++;
        }
        if (text[k] === ':') {
          out += `"${text.slice(i, j)}"`;
          i = j - 1;
          expectKey = false;
          continue;
        }
      }
      if (!/\s/.test(c)) {
        expectKey = false;
      }
      out += c;
    }
    try {
      return JSON.parse(out);
    } catch (second) {
      throw new Error(`body is not JSON (${first.message}): ${text.slice(0, 300)}`);
    }
  }
}

/* CRC-32 (IEEE, as java.util.zip.CRC32 and zlib compute it). */
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    t[n] = c;
  }
  return t;
})();

function crc32(buf) {
  let c = -1;
  for (let i = 0; i < buf.length; i++) {
    c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ -1) >>> 0;
}

/* Properties string: key U+0001 value U+0002 ...; empty items skipped (spec §6.1). */
function parseProperties(text) {
  const props = {};
  for (const item of text.split('\u0002')) {
    const i = item.indexOf('\u0001');
    if (i > 0) {
      props[item.slice(0, i)] = item.slice(i + 1);
    }
  }
  return props;
}

function formatProperties(props) {
  let s = '';
  for (const [ k, v ] of Object.entries(props)) {
    s += `${k}\u0001${v}\u0002`;
  }
  return s;
}

const MAGIC_V1 = 0xdaa320a7 | 0;
const MAGIC_V2 = 0xdaa320ab | 0;
const SYSFLAG_BORNHOST_V6 = 0x10;
const SYSFLAG_STOREHOST_V6 = 0x20;

function readHost(buf, pos, v6) {
  const n = v6 ? 16 : 4;
  let ip;
  if (v6) {
    const parts = [];
    for (let i = 0; i < 16; i += 2) {
      parts.push(buf.readUInt16BE(pos + i).toString(16));
    }
    ip = parts.join(':');
  } else {
    ip = Array.from(buf.subarray(pos, pos + 4)).join('.');
  }
  return { ip, port: buf.readInt32BE(pos + n), raw: buf.subarray(pos, pos + n + 4), next: pos + n + 4 };
}

/*
 * Decode the concatenated commit-log records of a PULL_MESSAGE body
 * (store-format.md §2.2, magic v1 or v2).  Throws on a malformed record.
 * Each message: {totalSize, magic, bodyCRC, bodyCRCValid, queueId, flag,
 * queueOffset, physicalOffset, sysFlag, bornTimestamp, bornHost,
 * storeTimestamp, storeHost, reconsumeTimes, preparedTransactionOffset, body,
 * topic, properties, msgId}.  Offsets are Numbers (exact below 2^53).
 */
function decodeMessages(buf) {
  const msgs = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 8) {
      throw new Error(`${buf.length - pos} trailing bytes at ${pos} are not a record`);
    }
    const totalSize = buf.readInt32BE(pos);
    const magic = buf.readInt32BE(pos + 4);
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) {
      throw new Error(`record at ${pos}: bad magic 0x${(magic >>> 0).toString(16)}`);
    }
    if (totalSize < 91 || pos + totalSize > buf.length) {
      throw new Error(`record at ${pos}: totalSize ${totalSize} does not fit the ${buf.length}-byte body`);
    }
    const r = buf.subarray(pos, pos + totalSize);
    const m = { totalSize, magic };
    let p = 8;
    m.bodyCRC = r.readInt32BE(p); p += 4;
    m.queueId = r.readInt32BE(p); p += 4;
    m.flag = r.readInt32BE(p); p += 4;
    m.queueOffset = Number(r.readBigInt64BE(p)); p += 8;
    m.physicalOffset = Number(r.readBigInt64BE(p)); p += 8;
    m.sysFlag = r.readInt32BE(p); p += 4;
    m.bornTimestamp = Number(r.readBigInt64BE(p)); p += 8;
    const born = readHost(r, p, m.sysFlag & SYSFLAG_BORNHOST_V6);
    m.bornHost = `${born.ip}:${born.port}`; p = born.next;
    m.storeTimestamp = Number(r.readBigInt64BE(p)); p += 8;
    const store = readHost(r, p, m.sysFlag & SYSFLAG_STOREHOST_V6);
    m.storeHost = `${store.ip}:${store.port}`; p = store.next;
    m.reconsumeTimes = r.readInt32BE(p); p += 4;
    m.preparedTransactionOffset = Number(r.readBigInt64BE(p)); p += 8;
    const bodyLen = r.readInt32BE(p); p += 4;
    if (bodyLen < 0 || p + bodyLen > totalSize) {
      throw new Error(`record at ${pos}: body length ${bodyLen} overruns the record`);
    }
    m.body = Buffer.from(r.subarray(p, p + bodyLen)); p += bodyLen;
    const topicLen = magic === MAGIC_V2 ? r.readInt16BE(p) : r.readUInt8(p);
    p += magic === MAGIC_V2 ? 2 : 1;
    m.topic = r.toString('utf8', p, p + topicLen); p += topicLen;
    const propsLen = r.readInt16BE(p); p += 2;
    if (propsLen < 0 || p + propsLen !== totalSize) {
      throw new Error(`record at ${pos}: properties length ${propsLen} does not end the record ` +
        `(${totalSize - p} bytes left)`);
    }
    m.properties = parseProperties(r.toString('utf8', p, p + propsLen));
    m.bodyCRCValid = ((crc32(m.body) & 0x7fffffff) >>> 0) === (m.bodyCRC >>> 0);
    const id = Buffer.alloc(store.raw.length + 8);
    store.raw.copy(id, 0);
    id.writeBigInt64BE(BigInt(m.physicalOffset), store.raw.length);
    m.msgId = id.toString('hex').toUpperCase();
    msgs.push(m);
    pos += totalSize;
  }
  return msgs;
}

/*
 * Offset msgId (spec §6.4) -> {address: "ip:port", offset}: 32 hex chars
 * for IPv4 (ip 4 bytes, port int32, offset int64).
 */
function decodeOffsetMsgId(msgId) {
  if (!/^[0-9A-F]{32}$/.test(msgId)) {
    throw new Error(`"${msgId}" is not a 32-character upper-case hex offset msgId`);
  }
  const b = Buffer.from(msgId, 'hex');
  return {
    address: `${Array.from(b.subarray(0, 4)).join('.')}:${b.readInt32BE(4)}`,
    offset: Number(b.readBigInt64BE(8)),
  };
}

/*
 * Admin: the requests the tests send, over one cached connection per
 * address.  Every method throws an Error naming the request, the address
 * and the answer when the answer is not the expected one.
 */
class Admin {
  constructor(options = {}) {
    this.options = options;
    this.conns = new Map();
  }

  async conn(addr) {
    const c = this.conns.get(addr);
    if (c && !c.closed) {
      return c;
    }
    const fresh = await RemotingConnection.connect(addr, this.options);
    this.conns.set(addr, fresh);
    return fresh;
  }

  async request(addr, code, extFields, body, opts) {
    return (await this.conn(addr)).request(code, extFields, body, opts);
  }

  close() {
    for (const c of this.conns.values()) {
      c.close();
    }
    this.conns.clear();
  }

  /* UPDATE_AND_CREATE_TOPIC (17) to a broker. */
  async createTopic(brokerAddr, topic, { readQueueNums = 4, writeQueueNums = 4, perm = 6,
    topicFilterType = 'SINGLE_TAG', topicSysFlag = 0, order = false } = {}) {
    const resp = await this.request(brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic, defaultTopic: 'TBW102', readQueueNums, writeQueueNums, perm,
      topicFilterType, topicSysFlag, order,
    });
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`UPDATE_AND_CREATE_TOPIC ${topic}`, brokerAddr, resp);
    }
  }

  /*
   * GET_ROUTEINFO_BY_TOPIC (105) to a name server: {code, remark, route}
   * with route = parsed TopicRouteData when code is 0.
   */
  async getRouteInfo(nameSrv, topic) {
    const resp = await this.request(nameSrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic });
    let route = null;
    if (resp.code === ResponseCode.SUCCESS) {
      if (!resp.body.length) {
        throw new Error(`GET_ROUTEINFO_BY_TOPIC ${topic}: ${nameSrv} answered SUCCESS with an empty body`);
      }
      route = parseJsonLenient(resp.body.toString('utf8'));
    }
    return { code: resp.code, remark: resp.remark, route };
  }

  /*
   * QUERY_CONSUMER_OFFSET (14): the committed offset, or null when the
   * broker answers QUERY_NOT_FOUND (22).
   */
  async queryConsumerOffset(brokerAddr, consumerGroup, topic, queueId) {
    const resp = await this.request(brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET,
      { consumerGroup, topic, queueId });
    if (resp.code === ResponseCode.QUERY_NOT_FOUND) {
      return null;
    }
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`QUERY_CONSUMER_OFFSET ${consumerGroup} ${topic}:${queueId}`, brokerAddr, resp);
    }
    return numberField(resp, 'offset', `QUERY_CONSUMER_OFFSET ${topic}:${queueId}`, brokerAddr);
  }

  /* GET_MAX_OFFSET (30): the next queue offset to be written. */
  async getMaxOffset(brokerAddr, topic, queueId) {
    const resp = await this.request(brokerAddr, RequestCode.GET_MAX_OFFSET, { topic, queueId });
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`GET_MAX_OFFSET ${topic}:${queueId}`, brokerAddr, resp);
    }
    return numberField(resp, 'offset', `GET_MAX_OFFSET ${topic}:${queueId}`, brokerAddr);
  }

  /* GET_MIN_OFFSET (31): the first queue offset still stored. */
  async getMinOffset(brokerAddr, topic, queueId) {
    const resp = await this.request(brokerAddr, RequestCode.GET_MIN_OFFSET, { topic, queueId });
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`GET_MIN_OFFSET ${topic}:${queueId}`, brokerAddr, resp);
    }
    return numberField(resp, 'offset', `GET_MIN_OFFSET ${topic}:${queueId}`, brokerAddr);
  }

  /*
   * SEARCH_OFFSET_BY_TIMESTAMP (29): the queue offset of the first message
   * stored at or after `timestamp` (ms), the max offset when there is none.
   */
  async searchOffset(brokerAddr, topic, queueId, timestamp) {
    const resp = await this.request(brokerAddr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
      { topic, queueId, timestamp });
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`SEARCH_OFFSET_BY_TIMESTAMP ${topic}:${queueId} @${timestamp}`, brokerAddr, resp);
    }
    return numberField(resp, 'offset', `SEARCH_OFFSET_BY_TIMESTAMP ${topic}:${queueId}`, brokerAddr);
  }

  /* VIEW_MESSAGE_BY_ID (33): the decoded record at a commit-log offset. */
  async viewMessage(brokerAddr, physicalOffset) {
    const resp = await this.request(brokerAddr, RequestCode.VIEW_MESSAGE_BY_ID, { offset: physicalOffset });
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`VIEW_MESSAGE_BY_ID ${physicalOffset}`, brokerAddr, resp);
    }
    const msgs = decodeMessages(resp.body);
    if (msgs.length !== 1) {
      throw new Error(`VIEW_MESSAGE_BY_ID ${physicalOffset}: ${brokerAddr} answered ${msgs.length} records, expected 1`);
    }
    return msgs[0];
  }

  /*
   * UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) with a SubscriptionGroupConfig
   * JSON body; `config` overrides Java's defaults (retryMaxTimes 16 ...).
   */
  async updateSubscriptionGroup(brokerAddr, groupName, config = {}) {
    const body = Object.assign({
      groupName,
      consumeEnable: true,
      consumeFromMinEnable: true,
      consumeBroadcastEnable: true,
      retryQueueNums: 1,
      retryMaxTimes: 16,
      brokerId: 0,
      whichBrokerWhenConsumeSlowly: 1,
      notifyConsumerIdsChangedEnable: true,
    }, config);
    const resp = await this.request(brokerAddr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {},
      JSON.stringify(body));
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`UPDATE_AND_CREATE_SUBSCRIPTIONGROUP ${groupName}`, brokerAddr, resp);
    }
  }

  /* GET_CONSUMER_LIST_BY_GROUP (38): the clientIDs the broker has for a group. */
  async getConsumerList(brokerAddr, consumerGroup) {
    const resp = await this.request(brokerAddr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup });
    if (resp.code !== ResponseCode.SUCCESS) {
      throw codeError(`GET_CONSUMER_LIST_BY_GROUP ${consumerGroup}`, brokerAddr, resp);
    }
    const body = parseJsonLenient(resp.body.toString('utf8'));
    return (body && body.consumerIdList) || [];
  }

  /*
   * PULL_MESSAGE (11).  header: consumerGroup, topic, queueId, queueOffset,
   * and optionally maxMsgNums (32), sysFlag (SUSPEND|SUBSCRIPTION),
   * commitOffset (0), suspendTimeoutMillis (15000), subscription ('*'),
   * subVersion (now).  Resolves {code, remark, nextBeginOffset, minOffset,
   * maxOffset, suggestWhichBrokerId, messages} for any code.
   */
  async pullMessage(brokerAddr, header, { timeoutMs = 30000 } = {}) {
    const ext = Object.assign({
      maxMsgNums: 32,
      sysFlag: PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION,
      commitOffset: 0,
      suspendTimeoutMillis: 15000,
      subscription: '*',
      subVersion: Date.now(),
    }, header);
    const resp = await this.request(brokerAddr, RequestCode.PULL_MESSAGE, ext, null, { timeoutMs });
    const e = resp.extFields;
    const num = k => (e[k] === undefined ? undefined : Number(e[k]));
    return {
      code: resp.code,
      remark: resp.remark,
      extFields: e,
      nextBeginOffset: num('nextBeginOffset'),
      minOffset: num('minOffset'),
      maxOffset: num('maxOffset'),
      suggestWhichBrokerId: num('suggestWhichBrokerId'),
      messages: resp.code === ResponseCode.SUCCESS ? decodeMessages(resp.body) : [],
    };
  }
}

function numberField(resp, key, what, addr) {
  const v = resp.extFields[key];
  if (v === undefined || !/^-?\d+$/.test(v)) {
    throw new Error(`${what}: ${addr} answered SUCCESS without a numeric "${key}" extField ` +
      `(extFields ${JSON.stringify(resp.rawExtFields)})`);
  }
  return Number(v);
}

module.exports = {
  RequestCode, ResponseCode, PullSysFlag, FLAG_RESPONSE, FLAG_ONEWAY, MAX_FRAME_LEN,
  requestName, responseName, stringifyExtFields, encodeFrame, decodeFrame, FrameSplitter,
  RemotingConnection, Admin, parseJsonLenient, parseProperties, formatProperties,
  decodeMessages, decodeOffsetMsgId, crc32, codeError,
};
