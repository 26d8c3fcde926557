// ONNX Runtime (onnxruntime-node, CPU execution provider) side of make bench.
//   node bench/ort_bench.js MODEL.onnx INPUT.pb --threads 2 --warmup 2 --repeat 3
// Prints one JSON line: forward times (ms), session creation time, peak RSS.
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const opt = { threads: 2, warmup: 2, repeat: 3 };
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--')) opt[args[i].slice(2)] = Number(args[++i]);
  else pos.push(args[i]);
}
const [modelPath, inputPath] = pos;
const ortDir = process.env.CFP_ORT_DIR || path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node');
const ort = require(ortDir);

// A TensorProto (the ONNX test-data .pb) with float raw_data: dims = field 1,
// data_type = 2, name = 8, raw_data = 9, float_data = 4 (packed).
function readTensor(buf) {
  const dims = [];
  let data = null, name = '', pos = 0;
  const varint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      const b = buf[pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint()), field = key >> 3, wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) dims.push(Number(v));
      if (field === 2 && v !== 1n) throw new Error('only float tensors');
    } else if (wire === 2) {
      const len = Number(varint()), bytes = buf.subarray(pos, pos + len);
      pos += len;
      if (field === 1) { // packed dims
        const save = [buf, pos];
        buf = bytes; pos = 0;
        while (pos < buf.length) dims.push(Number(varint()));
        [buf, pos] = save;
      } else if (field === 8) name = bytes.toString();
      else if (field === 9 || field === 4) data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + len));
    } else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error('bad wire type ' + wire);
  }
  return { name, dims, data };
}

(async () => {
  const t = readTensor(fs.readFileSync(inputPath));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', t.data, t.dims) };
  const times = [];
  let out, firstMs = 0;
  for (let i = 0; i < opt.warmup + opt.repeat; i++) {
    const s = process.hrtime.bigint();
    out = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    if (i === 0) firstMs = ms;
    if (i >= opt.warmup) times.push(ms);
  }
  const o = out[session.outputNames[0]].data;
  let arg = 0;
  for (let i = 1; i < o.length; i++) if (o[i] > o[arg]) arg = i;
  console.log(JSON.stringify({
    program: 'ort', version: require(path.join(ortDir, 'package.json')).version,
    times_ms: times, first_ms: firstMs, load_ms: loadMs, peak_rss_mb: process.resourceUsage().maxRSS / 1024, argmax: arg,
  }));
})().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
