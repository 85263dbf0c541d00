// GPUVIZ01 decoder: bytes to records, nothing else (docs/gpuviz01.md). No DOM, so
// node's test runner and the Web Worker both use it. Little-endian DataView reads.

export const MAGIC = "GPUVIZ01";
export const HEADER_SIZE = 256;
export const IDLE = 0xffffffff;
export const PHASES = ["warmup", "measurement", "drain", "saturated"];
export const JOB_FINISHED = 1;
export const JOB_UNRUNNABLE = 2;
export const JOB_IN_WINDOW = 4;
const NAME_SIZE = 32;

export class FormatError extends Error {
  constructor(section, offset, message) {
    super(`section '${section}' at offset ${offset}: ${message}`);
    this.section = section;
    this.offset = offset;
  }
}

const align8 = (x) => (x + 7) & ~7;
export const roundSize = (types, gpus) => align8(28 + 2 * types + 4 * gpus);
export const jobStatsSize = (types) => align8(16 + 4 * types);

function u64(view, off) {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  return hi * 2 ** 32 + lo;
}

function asView(buf, offset = 0, length) {
  if (buf instanceof DataView) return buf;
  if (ArrayBuffer.isView(buf)) return new DataView(buf.buffer, buf.byteOffset + offset, length ?? buf.byteLength - offset);
  return new DataView(buf, offset, length ?? buf.byteLength - offset);
}

function readName(view, off, size) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + off, size);
  let end = bytes.indexOf(0);
  if (end < 0) end = size;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

// The header from the first 256 bytes; fileSize (when known) is checked against it.
export function parseHeader(buf, fileSize) {
  const view = asView(buf);
  if (view.byteLength < HEADER_SIZE) {
    throw new FormatError("header", view.byteLength, `file is ${view.byteLength} bytes, shorter than the header`);
  }
  const magic = readName(view, 0, 8);
  if (magic !== MAGIC) throw new FormatError("header", 0, `magic is '${magic}', not '${MAGIC}'`);
  const h = {
    headerSize: view.getUint32(8, true),
    flags: view.getUint32(12, true),
    numRounds: view.getUint32(16, true),
    numJobs: view.getUint32(20, true),
    numTypes: view.getUint32(24, true),
    numGpus: view.getUint32(28, true),
    roundSize: view.getUint32(32, true),
    jobSize: view.getUint32(36, true),
    numModels: view.getUint32(40, true),
    numSeries: view.getUint32(44, true),
    roundS: view.getFloat64(48, true),
    fileSize: u64(view, 56),
    metaOffset: u64(view, 64),
    metaSize: u64(view, 72),
    typesOffset: u64(view, 80),
    modelsOffset: u64(view, 88),
    jobsOffset: u64(view, 96),
    jobStatsOffset: u64(view, 104),
    roundsOffset: u64(view, 112),
    seriesOffset: u64(view, 120),
    seriesNamesOffset: u64(view, 128),
    queueIndexOffset: u64(view, 136),
    queueOffset: u64(view, 144),
    queueSize: u64(view, 152),
  };
  h.compactQueue = (h.flags & 1) === 1;
  if (h.headerSize !== HEADER_SIZE || h.jobSize !== 16) throw new FormatError("header", 8, "unsupported header or job record size");
  if (h.roundSize !== roundSize(h.numTypes, h.numGpus)) throw new FormatError("header", 32, `round_size ${h.roundSize} does not match the counts`);
  if (fileSize !== undefined && fileSize !== h.fileSize) {
    throw new FormatError("header", 56, `file is ${fileSize} bytes, the header says ${h.fileSize} (truncated?)`);
  }
  let end = HEADER_SIZE;
  for (const [name, off, size] of sections(h)) {
    if (off % 8) throw new FormatError(name, off, "section is not aligned to 8 bytes");
    if (off < end) throw new FormatError(name, off, "section overlaps the one before it");
    if (off + size > h.fileSize) throw new FormatError(name, off, `section of ${size} bytes runs past the end`);
    end = off + size;
  }
  return h;
}

export function sections(h) {
  const r = h.numRounds;
  return [
    ["meta", h.metaOffset, h.metaSize],
    ["types", h.typesOffset, 32 * h.numTypes],
    ["models", h.modelsOffset, NAME_SIZE * h.numModels],
    ["jobs", h.jobsOffset, 16 * h.numJobs],
    ["job_stats", h.jobStatsOffset, jobStatsSize(h.numTypes) * h.numJobs],
    ["rounds", h.roundsOffset, h.roundSize * r],
    ["series_names", h.seriesNamesOffset, NAME_SIZE * h.numSeries],
    ["series", h.seriesOffset, 4 * h.numSeries * r],
    ["queue_index", h.queueIndexOffset, 8 * (r + 1)],
    ["queue", h.queueOffset, h.queueSize],
  ];
}

// The fixed facts before the rounds: `buf` holds bytes [0, roundsOffset).
export function decodeFront(h, buf) {
  const view = asView(buf);
  let meta;
  try {
    meta = JSON.parse(new TextDecoder().decode(new Uint8Array(view.buffer, view.byteOffset + h.metaOffset, h.metaSize)));
  } catch (e) {
    throw new FormatError("meta", h.metaOffset, `not JSON (${e.message})`);
  }
  const types = [];
  let first = 0;
  for (let i = 0; i < h.numTypes; i++) {
    const o = h.typesOffset + 32 * i;
    types.push({
      name: readName(view, o, 16),
      count: view.getUint32(o + 16, true),
      gpusPerServer: view.getUint32(o + 20, true),
      firstGpu: view.getUint32(o + 24, true),
    });
    first += types[i].count;
  }
  if (first !== h.numGpus) throw new FormatError("types", h.typesOffset, `type counts sum to ${first}, not ${h.numGpus}`);
  const models = [];
  for (let i = 0; i < h.numModels; i++) models.push(readName(view, h.modelsOffset + NAME_SIZE * i, NAME_SIZE));
  const jobs = [];
  const statSize = jobStatsSize(h.numTypes);
  for (let i = 0; i < h.numJobs; i++) {
    const o = h.jobsOffset + 16 * i;
    const s = h.jobStatsOffset + statSize * i;
    const roundsRun = [];
    for (let k = 0; k < h.numTypes; k++) roundsRun.push(view.getUint32(s + 16 + 4 * k, true));
    const finish = view.getFloat64(s + 8, true);
    jobs.push({
      id: view.getUint32(o, true),
      arrivalRound: view.getUint32(o + 4, true),
      finishRound: view.getUint32(o + 8, true),
      gpus: view.getUint8(o + 12),
      model: view.getUint8(o + 13),
      flags: view.getUint16(o + 14, true),
      arrivalS: view.getFloat64(s, true),
      finishS: Number.isNaN(finish) ? null : finish,
      roundsRun,
    });
    if (i > 0 && jobs[i].id <= jobs[i - 1].id) throw new FormatError("jobs", o, "job ids are not ascending");
  }
  return { meta, types, models, jobs };
}

// The sections after the rounds: `buf` holds bytes [base, fileSize).
export function decodeBack(h, buf, base) {
  const view = asView(buf);
  const names = [];
  for (let i = 0; i < h.numSeries; i++) names.push(readName(view, h.seriesNamesOffset - base + NAME_SIZE * i, NAME_SIZE));
  const series = {};
  const r = h.numRounds;
  for (let i = 0; i < h.numSeries; i++) {
    const arr = new Float32Array(r);
    const o = h.seriesOffset - base + 4 * i * r;
    for (let k = 0; k < r; k++) arr[k] = view.getFloat32(o + 4 * k, true);
    series[names[i]] = arr;
  }
  const index = new Float64Array(r + 1);
  for (let k = 0; k <= r; k++) index[k] = u64(view, h.queueIndexOffset - base + 8 * k);
  if (index[0] !== 0) throw new FormatError("queue_index", h.queueIndexOffset, "the first offset is not 0");
  for (let k = 1; k <= r; k++) {
    if (index[k] < index[k - 1]) throw new FormatError("queue_index", h.queueIndexOffset + 8 * k, `offsets decrease at round index ${k}`);
  }
  if (index[r] !== h.queueSize) throw new FormatError("queue_index", h.queueIndexOffset + 8 * r, "the last offset is not the queue's size");
  const queue = new Uint8Array(view.buffer, view.byteOffset + h.queueOffset - base, h.queueSize);
  return { seriesNames: names, series, queueIndex: index, queue };
}

// `count` round records from `buf` (starting at its byte `offset`), as typed arrays.
export function decodeRounds(h, buf, count, offset = 0) {
  const view = asView(buf);
  const m = h.numTypes;
  const g = h.numGpus;
  const out = {
    count,
    time: new Float64Array(count),
    round: new Uint32Array(count),
    active: new Uint32Array(count),
    running: new Uint32Array(count),
    completed: new Uint32Array(count),
    phase: new Uint8Array(count),
    flags: new Uint8Array(count),
    busy: new Uint16Array(count * m),
    gpus: new Uint32Array(count * g),
  };
  for (let i = 0; i < count; i++) {
    const o = offset + i * h.roundSize;
    out.time[i] = view.getFloat64(o, true);
    out.round[i] = view.getUint32(o + 8, true);
    out.active[i] = view.getUint32(o + 12, true);
    out.running[i] = view.getUint32(o + 16, true);
    out.completed[i] = view.getUint32(o + 20, true);
    out.phase[i] = view.getUint8(o + 24);
    out.flags[i] = view.getUint8(o + 25);
    for (let k = 0; k < m; k++) out.busy[i * m + k] = view.getUint16(o + 28 + 2 * k, true);
    const cells = o + 28 + 2 * m;
    for (let k = 0; k < g; k++) out.gpus[i * g + k] = view.getUint32(cells + 4 * k, true);
  }
  return out;
}

// One round's waiting ids from its bytes of the queue section.
export function decodeQueue(bytes, compact) {
  if (!compact) {
    if (bytes.length % 4) throw new Error(`a raw queue list of ${bytes.length} bytes is not whole uint32s`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const out = new Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = v.getUint32(4 * i, true);
    return out;
  }
  const out = [];
  let value = 0;
  let shift = 0;
  let prev = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    value += (b & 0x7f) * 2 ** shift;
    if (b & 0x80) {
      shift += 7;
      if (shift > 28) throw new Error("a varint is longer than 5 bytes");
    } else {
      prev += value;
      out.push(prev);
      value = 0;
      shift = 0;
    }
  }
  if (shift !== 0) throw new Error("a varint runs past the end of its list");
  return out;
}

// The whole file at once (a local file, or the tests): everything decoded.
export function decodeFile(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const h = parseHeader(bytes, bytes.byteLength);
  const front = decodeFront(h, bytes);
  const back = decodeBack(h, bytes, 0);
  const rounds = decodeRounds(h, bytes, h.numRounds, h.roundsOffset);
  const queues = [];
  for (let k = 0; k < h.numRounds; k++) {
    const a = back.queueIndex[k];
    const b = back.queueIndex[k + 1];
    try {
      queues.push(decodeQueue(back.queue.subarray(a, b), h.compactQueue));
    } catch (e) {
      throw new FormatError("queue", h.queueOffset + a, `round index ${k}: ${e.message}`);
    }
  }
  return { header: h, ...front, ...back, rounds, queues };
}
