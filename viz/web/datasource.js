// DataSource: the bytes of one run, fetched with HTTP Range requests (or sliced from a
// local file's ArrayBuffer), rounds decoded in a Web Worker in blocks and kept in an
// LRU cache; requests no longer wanted are aborted (fast seeking).
import { parseHeader, decodeFront, decodeBack, decodeQueue, FormatError, HEADER_SIZE } from "./decoder.js";
import { LruCache } from "./lru.js";

const BLOCK = 128; // rounds per request
let worker = null;
let nextId = 1;
const pending = new Map();

function decodeInWorker(header, buffer, count) {
  if (!worker) {
    worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (e) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      if (p) e.data.error ? p.reject(new Error(e.data.error)) : p.resolve(e.data.out);
    };
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, header, buffer, count }, [buffer]);
  });
}

export class DataSource {
  // source: a URL (string) or an ArrayBuffer (a local file).
  constructor(source, label) {
    this.source = source;
    this.label = label;
    this.cache = new LruCache(48);
    this.inflight = new Map(); // block -> { promise, controller }
    this.stats = { requests: 0, bytes: 0, aborted: 0 };
  }

  async bytes(start, end, signal) {
    if (this.source instanceof ArrayBuffer) return this.source.slice(start, end);
    this.stats.requests++;
    const res = await fetch(this.source, { headers: { Range: `bytes=${start}-${end - 1}` }, signal });
    if (res.status === 416) throw new RangeError(`bytes ${start}-${end - 1} are past the end of ${this.source}`);
    if (res.status !== 206 && res.status !== 200) throw new Error(`${this.source}: HTTP ${res.status}`);
    let buf = await res.arrayBuffer();
    if (res.status === 200) buf = buf.slice(start, end); // a server without Range support
    if (buf.byteLength !== end - start) throw new Error(`${this.source}: asked for ${end - start} bytes at ${start}, got ${buf.byteLength} (truncated file?)`);
    this.stats.bytes += buf.byteLength;
    return buf;
  }

  async open() {
    let size;
    if (this.source instanceof ArrayBuffer) size = this.source.byteLength;
    const head = await this.bytes(0, HEADER_SIZE);
    this.header = parseHeader(head, size);
    const h = this.header;
    if (size === undefined && h.fileSize > 0) {
      // the last 8 bytes must exist: a truncated file fails here, not at the end of play
      try {
        await this.bytes(h.fileSize - 8, h.fileSize);
      } catch (e) {
        throw new FormatError("header", 56, `the file is shorter than the ${h.fileSize} bytes the header says (truncated?): ${e.message}`);
      }
    }
    const front = await this.bytes(0, h.roundsOffset);
    Object.assign(this, decodeFront(h, front));
    const backStart = h.seriesNamesOffset;
    const back = await this.bytes(backStart, h.fileSize);
    const tail = decodeBack(h, back, backStart);
    this.seriesNames = tail.seriesNames;
    this.series = tail.series;
    this.queueIndex = tail.queueIndex;
    this.queueBytes = tail.queue;
    this.jobIndex = new Map(this.jobs.map((j, i) => [j.id, i]));
    this.times = this.series.time_s || null;
    return this;
  }

  get numRounds() {
    return this.header.numRounds;
  }

  // The decoded block holding round k, if cached (no request).
  cached(k) {
    const b = Math.floor(k / BLOCK);
    return this.cache.has(b) ? this.cache.get(b) : null;
  }

  // Round k as { block, i } once its block is decoded.
  async round(k) {
    const b = Math.floor(k / BLOCK);
    const block = await this.block(b);
    return { block, i: k - b * BLOCK };
  }

  block(b) {
    if (this.cache.has(b)) return Promise.resolve(this.cache.get(b));
    if (this.inflight.has(b)) return this.inflight.get(b).promise;
    const h = this.header;
    const first = b * BLOCK;
    const count = Math.min(BLOCK, h.numRounds - first);
    const controller = new AbortController();
    const promise = (async () => {
      const buf = await this.bytes(h.roundsOffset + first * h.roundSize, h.roundsOffset + (first + count) * h.roundSize, controller.signal);
      const plain = { numTypes: h.numTypes, numGpus: h.numGpus, roundSize: h.roundSize };
      const out = await decodeInWorker(plain, buf, count);
      this.cache.set(b, out);
      return out;
    })();
    this.inflight.set(b, { promise, controller });
    promise.finally(() => this.inflight.delete(b)).catch(() => {});
    return promise;
  }

  // Drops requests for blocks other than the ones wanted now (after a seek).
  keepOnly(blocks) {
    for (const [b, { controller }] of this.inflight) {
      if (!blocks.includes(b)) {
        controller.abort();
        this.stats.aborted++;
        this.inflight.delete(b);
      }
    }
  }

  blockOf(k) {
    return Math.floor(k / BLOCK);
  }

  queue(k) {
    const a = this.queueIndex[k];
    const b = this.queueIndex[k + 1];
    return decodeQueue(this.queueBytes.subarray(a, b), this.header.compactQueue);
  }

  job(id) {
    const i = this.jobIndex.get(id);
    return i === undefined ? null : this.jobs[i];
  }

  // The round index whose start is the last at or before `seconds`.
  roundAt(seconds) {
    const t = this.times;
    if (!t) return 0;
    let lo = 0;
    let hi = t.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (t[mid] <= seconds) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  timeOf(k) {
    return this.times ? this.times[k] : k * this.header.roundS;
  }
}
