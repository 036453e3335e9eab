'use strict';
/*
 * rebalance: ali-ons consumers of one group share a topic's queues.
 *
 * ali-ons 3.12 ignores NOTIFY_CONSUMER_IDS_CHANGED; each client rebalances
 * when it starts and then every 10 s (rebalanceInterval): it asks the
 * broker for the group's clientIDs (GET_CONSUMER_LIST_BY_GROUP 38), sorts
 * them with the queues and takes its average share.  A closing consumer
 * commits its offsets and sends UNREGISTER_CLIENT; a queue a consumer
 * drops has its offset committed first (removeUnnecessaryMessageQueue).
 *
 * One test, an 8-queue topic, consumers A, B, C of one group:
 *  1. A and B: within one rebalance period they split the queues 4 + 4
 *     (disjoint, all covered); the broker lists both; 200 messages sent
 *     then are each consumed exactly once, by the consumer owning the
 *     queue.
 *  2. A producer keeps sending (one message per ~25 ms).  C joins: within
 *     10 s + SLACK_MS the three split the queues 3 + 3 + 2.
 *  3. A is closed: within 10 s + SLACK_MS after its close B and C split all
 *     8 queues 4 + 4 and the broker lists only them.
 *  4. The producer stops; every message sent is consumed at least once
 *     (duplicates are allowed while queues move, and are counted), and
 *     the messages sent after B and C's split was seen are consumed
 *     exactly once.
 */

const assert = require('node:assert/strict');
const { interopTest } = require('./lib/harness');
const { makeMessage, assignedQueues } = require('./lib/ons');
const { sleep, waitUntil, range, sample } = require('./lib/util');

const QUEUES = 8;
const PERIOD_MS = 10000; /* ali-ons rebalanceInterval */
const SLACK_MS = 4000; /* GET_CONSUMER_LIST_BY_GROUP, QUERY_CONSUMER_OFFSET, a loaded machine */

interopTest('consumers of one group split a topic and take over the queues of one that leaves',
  { timeoutMs: 110000 }, async (t, env) => {
    const { admin, broker } = env;
    const topic = env.name('T');
    const group = env.name('G');
    await env.createTopic(topic, { queues: QUEUES });
    const producer = await env.producer();

    const deliveries = []; /* {seq, queueId, who, at} */
    const members = {};
    const start = async who => {
      const c = await env.consumer({
        group, topic,
        handler: async msg => {
          deliveries.push({ seq: Number(msg.properties.seq), queueId: Number(msg.queueId), who, at: Date.now() });
        },
      });
      members[who] = c;
      return c;
    };
    const view = names => names.map(n => `${n}: [${assignedQueues(members[n], topic)}]`).join(', ');
    /* the named consumers pull disjoint sets of queues covering all, with these sizes */
    const splitAs = (names, sizes) => {
      const lists = names.map(n => assignedQueues(members[n], topic));
      const all = lists.flat().sort((a, b) => a - b);
      return JSON.stringify(all) === JSON.stringify(range(QUEUES)) &&
        JSON.stringify(lists.map(l => l.length).sort()) === JSON.stringify(sizes.slice().sort());
    };
    const waitSplit = async (names, sizes, sinceMs, what) => {
      await waitUntil(() => splitAs(names, sizes), {
        timeoutMs: PERIOD_MS + SLACK_MS - (Date.now() - sinceMs),
        intervalMs: 50,
        describe: () => `${what}: the queues of ${topic} are not split ${sizes.join(' + ')} among ` +
          `${names.join(', ')} within ${(PERIOD_MS + SLACK_MS) / 1000} s (one ali-ons rebalance period + ` +
          `${SLACK_MS / 1000} s); assigned now: ${view(Object.keys(members))}`,
      });
      return Date.now() - sinceMs;
    };
    const owners = async () => (await admin.getConsumerList(broker.brokerAddr, group)).length;

    const sent = new Map(); /* seq -> {queueId, doneAt} */
    let nextSeq = 0;
    const sendOne = async () => {
      const seq = nextSeq++;
      const r = await producer.send(makeMessage(topic, {
        tags: 'rb', keys: [ `${env.name('K')}-${seq}` ], body: `rebalance ${seq}`, props: { seq },
      }));
      sent.set(seq, Object.assign({ doneAt: Date.now() }, env.checkSendResult(r, topic, QUEUES)));
    };

    /* 1. A and B */
    await start('A');
    const bStarted = Date.now();
    await start('B');
    const tAB = await waitSplit([ 'A', 'B' ], [ 4, 4 ], bStarted, 'after B joined A');
    assert.equal(await owners(), 2, 'the broker does not list 2 consumers for the group');
    const ownerOf = new Map();
    for (const who of [ 'A', 'B' ]) {
      for (const q of assignedQueues(members[who], topic)) {
        ownerOf.set(q, who);
      }
    }
    const mark = deliveries.length;
    for (let i = 0; i < 200; i++) {
      await sendOne();
    }
    const phase1 = [ ...sent.keys() ];
    await waitUntil(() => new Set(deliveries.slice(mark).map(d => d.seq)).size >= phase1.length, {
      timeoutMs: 20000,
      describe: () => `A and B consumed ${new Set(deliveries.slice(mark).map(d => d.seq)).size} of the ` +
        `${phase1.length} messages sent while they split the topic (${view([ 'A', 'B' ])})`,
    });
    await sleep(1000);
    const p1 = deliveries.filter(d => d.seq < phase1.length);
    assert.equal(p1.length, phase1.length, `the ${phase1.length} messages sent while A and B split the queues ` +
      `were consumed ${p1.length} times in all, expected exactly once each (seqs consumed twice: ` +
      `${sample(p1.map(d => d.seq).filter((s, i, a) => a.indexOf(s) !== i))})`);
    const wrong = p1.filter(d => ownerOf.get(d.queueId) !== d.who);
    assert.equal(wrong.length, 0, `${wrong.length} messages consumed by a consumer not owning their queue, e.g. ` +
      `${JSON.stringify(wrong[0])} (${view([ 'A', 'B' ])})`);

    /* 2. a steady stream; C joins */
    let stop = false;
    const sendErrors = [];
    const stream = (async () => {
      while (!stop) {
        try {
          await sendOne();
        } catch (err) {
          sendErrors.push(err.message);
        }
        await sleep(25);
      }
    })();
    await sleep(1000);
    const cStarted = Date.now();
    await start('C');
    const tABC = await waitSplit([ 'A', 'B', 'C' ], [ 3, 3, 2 ], cStarted, 'after C joined A and B');
    assert.equal(await owners(), 3, 'the broker does not list 3 consumers for the group');

    /* 3. A leaves */
    await sleep(1000);
    await env.closeClient(members.A);
    const aClosed = Date.now();
    const gone = members.A;
    delete members.A;
    const tBC = await waitSplit([ 'B', 'C' ], [ 4, 4 ], aClosed, 'after A was closed');
    const splitSeen = Date.now();
    assert.equal(await owners(), 2, 'the broker still lists the closed consumer A');
    assert.equal(assignedQueues(gone, topic).length, 0, 'the closed consumer A still pulls queues');

    /* 4. stop and drain */
    await sleep(3000);
    stop = true;
    await stream;
    assert.equal(sendErrors.length, 0, `${sendErrors.length} sends failed, first: ${sendErrors[0]}`);
    const all = [ ...sent.keys() ];
    const consumed = () => new Set(deliveries.map(d => d.seq));
    await waitUntil(() => consumed().size >= all.length, {
      timeoutMs: 20000,
      describe: () => {
        const c = consumed();
        return `${c.size} of ${all.length} sent messages consumed; missing seqs ` +
          `${sample(all.filter(s => !c.has(s)), 20)} (queues ${view([ 'B', 'C' ])})`;
      },
    });
    await sleep(1000);
    const late = all.filter(s => sent.get(s).doneAt > splitSeen);
    const lateDeliveries = deliveries.filter(d => sent.has(d.seq) && sent.get(d.seq).doneAt > splitSeen);
    assert.ok(late.length > 0, 'no message was sent after B and C split the queues');
    assert.equal(lateDeliveries.length, late.length, `the ${late.length} messages sent after B and C split ` +
      `the queues were consumed ${lateDeliveries.length} times, expected once each`);
    const dups = deliveries.length - consumed().size;
    env.log(`split times: A+B ${tAB} ms, A+B+C ${tABC} ms, B+C after A closed ${tBC} ms; ${all.length} sent, ` +
      `${deliveries.length} consumed (${dups} duplicates while queues moved); by consumer: ` +
      [ 'A', 'B', 'C' ].map(w => `${w} ${deliveries.filter(d => d.who === w).length}`).join(', '));
  });
