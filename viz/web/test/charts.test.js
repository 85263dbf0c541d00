// The page's drawing decisions that need no DOM: the charts' downsampling (one mean per
// pixel column, so a series that flips every round draws as its level) and the grid's cell size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { columnMeans } from "../charts.js";
import { cellSize } from "../renderer.js";

test("a series that alternates every round draws as its mean per column", () => {
  const n = 600;
  const x = Array.from({ length: n }, (_, k) => k);
  const values = x.map((k) => (k % 2 ? 1 : 0));
  const points = columnMeans(values, x, (h) => h / 6); // 6 rounds a pixel column
  assert.equal(points.length, 100);
  for (const [px, v] of points) {
    assert.equal(v, 0.5);
    assert.ok(Number.isInteger(px - 0.5));
  }
});

test("columns whose rounds are all NaN break the line; partly NaN ones average the rest", () => {
  const x = [0, 1, 2, 3, 4, 5];
  const values = [NaN, NaN, 2, NaN, 4, 6];
  const points = columnMeans(values, x, (h) => Math.floor(h / 2));
  assert.deepEqual(points.map(([, v]) => v), [NaN, 2, 5]);
  assert.deepEqual(columnMeans([], [], (h) => h), []);
});

test("the grid's cells shrink so that each type's servers fit one line, down to 8 px", () => {
  const types = (count, gpusPerServer) => [{ name: "v100", count, gpusPerServer }];
  assert.equal(cellSize(types(12, 1)), 12);
  assert.equal(cellSize(types(36, 4)), 11); // 9 servers of 4 with their gaps: 560 px
  assert.equal(cellSize(types(36, 1)), 12);
  assert.equal(cellSize(types(1000, 8)), 12); // cannot fit: full size, wrapped by server
});
