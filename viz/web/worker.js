// Worker: decodes blocks of round records off the main thread.
import { decodeRounds } from "./decoder.js";

self.onmessage = (event) => {
  const { id, header, buffer, count } = event.data;
  try {
    const out = decodeRounds(header, buffer, count, 0);
    const transfer = [out.time, out.round, out.active, out.running, out.completed, out.phase, out.flags, out.busy, out.gpus].map((a) => a.buffer);
    self.postMessage({ id, out }, transfer);
  } catch (e) {
    self.postMessage({ id, error: e.message });
  }
};
