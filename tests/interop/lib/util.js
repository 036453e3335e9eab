'use strict';
/*
 * util.js - small async helpers shared by the interop tests: bounded waits,
 * deadlines, a promise with external resolve, a concurrency pool.
 *
 * Every wait here has a deadline and fails with a message that says what was
 * being waited for, so a broker that does not answer makes a test fail in
 * seconds with a reason instead of hanging until the ctest timeout.
 */

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/* A promise plus its resolve/reject, and whether it has settled. */
function deferred() {
  const d = { settled: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = v => { d.settled = true; resolve(v); };
    d.reject = e => { d.settled = true; reject(e); };
  });
  return d;
}

/*
 * Resolve with promise's value, or reject with Error(message()) after ms.
 * The timer is cleared either way.  The original promise keeps running: a
 * late rejection of it is swallowed so it cannot become an unhandled one.
 */
function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const text = typeof message === 'function' ? message() : message;
      reject(new Error(text || `timed out after ${ms} ms`));
    }, ms);
  });
  Promise.resolve(promise).catch(() => {});
  return Promise.race([ promise, timeout ]).finally(() => clearTimeout(timer));
}

/*
 * Poll check() (sync or async) every intervalMs until it returns a truthy
 * value, which is returned.  After timeoutMs, throw Error(describe()):
 * describe says what was expected and what was seen last.  An exception from
 * check() ends the wait at once.
 */
async function waitUntil(check, { timeoutMs, intervalMs = 100, describe }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) {
      return v;
    }
    if (Date.now() >= deadline) {
      const text = typeof describe === 'function' ? describe() : describe;
      throw new Error(`${text || 'condition not met'} (waited ${(timeoutMs / 1000).toFixed(1)} s)`);
    }
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/*
 * Run worker(item, index) over items with at most `concurrency` calls in
 * flight.  Resolves (never rejects) with one {ok, value | error} per item,
 * in item order; worker errors are collected, not thrown.
 */
async function runPool(items, concurrency, worker) {
  const results = new Array(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await worker(items[i], i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  }
  const lanes = [];
  for (let k = 0; k < Math.min(concurrency, items.length); k++) {
    lanes.push(lane());
  }
  await Promise.all(lanes);
  return results;
}

/* [0, 1, ..., n-1] */
const range = n => Array.from({ length: n }, (_, i) => i);

/* The first `max` elements of a list, for error messages. */
function sample(list, max = 10) {
  const a = Array.from(list);
  return a.length <= max ? a.join(', ') : `${a.slice(0, max).join(', ')}, ... (${a.length} in all)`;
}

module.exports = { sleep, deferred, withTimeout, waitUntil, runPool, range, sample };
