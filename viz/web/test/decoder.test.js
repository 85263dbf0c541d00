// The JS decoder against files the Python encoder wrote (VIZ_FIXTURES: a directory of
// NAME.viz.bin and NAME.json, the Python decoder's view; written by
// `python -m tests.viz_fixtures DIR`), field by field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decodeFile, parseHeader, FormatError, roundSize, IDLE } from "../decoder.js";
import { Model } from "../model.js";
import { LruCache } from "../lru.js";

const dir = process.env.VIZ_FIXTURES;
if (!dir) throw new Error("set VIZ_FIXTURES to a directory written by python -m tests.viz_fixtures");
const names = readdirSync(dir).filter((f) => f.endsWith(".viz.bin")).map((f) => f.slice(0, -8));

test("fixtures exist", () => {
  assert.ok(names.length >= 3, `fixtures in ${dir}: ${names}`);
});

for (const name of names) {
  test(`${name}: every field matches the Python decoder`, () => {
    const bytes = new Uint8Array(readFileSync(join(dir, `${name}.viz.bin`)));
    const want = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"));
    const got = decodeFile(bytes);
    assert.deepEqual(got.meta, want.meta);
    assert.deepEqual(got.models, want.models);
    assert.equal(got.header.roundS, want.roundS);
    assert.deepEqual(got.types.map(({ name, count, gpusPerServer }) => ({ name, count, gpusPerServer })), want.types);
    assert.deepEqual(got.jobs, want.jobs);
    assert.equal(got.rounds.count, want.rounds.length);
    const m = got.types.length;
    const g = got.header.numGpus;
    assert.equal(got.header.roundSize, roundSize(m, g));
    want.rounds.forEach((r, k) => {
      assert.equal(got.rounds.time[k], r.time);
      assert.equal(got.rounds.round[k], r.round);
      assert.equal(got.rounds.active[k], r.active);
      assert.equal(got.rounds.running[k], r.running);
      assert.equal(got.rounds.completed[k], r.completed);
      assert.equal(got.rounds.phase[k], r.phase);
      assert.equal(got.rounds.flags[k], r.flags);
      assert.deepEqual(Array.from(got.rounds.busy.subarray(k * m, (k + 1) * m)), r.busy);
      assert.deepEqual(Array.from(got.rounds.gpus.subarray(k * g, (k + 1) * g)), r.gpus);
      assert.deepEqual(got.queues[k], r.queue);
    });
    assert.deepEqual(got.seriesNames, Object.keys(want.series));
    for (const [s, values] of Object.entries(want.series)) {
      assert.deepEqual(Array.from(got.series[s], (v) => (Number.isNaN(v) ? null : v)), values, s);
    }
  });

  test(`${name}: a truncated file names the header and offset 56`, () => {
    const bytes = new Uint8Array(readFileSync(join(dir, `${name}.viz.bin`)));
    assert.throws(() => decodeFile(bytes.subarray(0, bytes.length - 8)), (e) => e instanceof FormatError && e.section === "header" && e.offset === 56);
    assert.throws(() => decodeFile(bytes.subarray(0, 100)), (e) => e instanceof FormatError && e.section === "header");
  });
}

test("ids above 65,535 and idle GPUs decode", () => {
  const got = decodeFile(new Uint8Array(readFileSync(join(dir, "synthetic-raw.viz.bin"))));
  assert.ok(got.jobs.every((j) => j.id >= 4_000_000_000));
  assert.ok(Array.from(got.rounds.gpus).includes(IDLE));
  assert.equal(got.header.compactQueue, false);
});

test("a wrong magic is refused at offset 0", () => {
  const bytes = new Uint8Array(readFileSync(join(dir, "synthetic-compact.viz.bin")));
  bytes[0] = 0x58;
  assert.throws(() => parseHeader(bytes), (e) => e.section === "header" && e.offset === 0);
});

test("the model notifies observers of round and selection changes, clamped", () => {
  const model = new Model(10);
  const seen = [];
  model.subscribe((what, m) => seen.push([what, m.round]));
  model.seek(4);
  model.seek(40);
  model.step(-1);
  model.select({ gpu: 3 });
  assert.deepEqual(seen, [["round", 4], ["round", 9], ["round", 8], ["selection", 8]]);
  model.seek(8);
  assert.equal(seen.length, 4); // no change, no notification
});

test("the LRU cache evicts the least recently used entry", () => {
  const lru = new LruCache(2);
  lru.set("a", 1);
  lru.set("b", 2);
  lru.get("a");
  lru.set("c", 3);
  assert.equal(lru.has("b"), false);
  assert.equal(lru.get("a"), 1);
  assert.equal(lru.get("c"), 3);
});
