// library_kite_webgpu.js - the imports of src/model/backend_webgpu.c (linked with --js-library
// when KITE_WEBGPU is on): each forwards to a WebGpuBackend (web/webgpu/backend.js) that the
// worker's factory Module.kiteWebGpu(cfg, memory) made. Handles index Module.kiteWebGpuLive.
mergeInto(LibraryManager.library, {
  $kiteWgpu: function (h) {
    return Module['kiteWebGpuLive'][h];
  },
  kite_wgpu_create__deps: ['$kiteWgpu'],
  kite_wgpu_create: function (nCtx, nSeq, nBatch, widthsPtr, kvDim, layerFirst, layerLast, nRot) {
    if (!Module['kiteWebGpu']) return -1;
    var widths = Array.from(HEAP32.subarray(widthsPtr >> 2, (widthsPtr >> 2) + 10));
    var be = Module['kiteWebGpu']({ nCtx: nCtx, nSeq: nSeq, nBatch: nBatch, actWidths: widths, kvDim: kvDim, layerFirst: layerFirst, layerLast: layerLast, nRot: nRot },
      function () { return HEAPU8.buffer; });
    var live = (Module['kiteWebGpuLive'] = Module['kiteWebGpuLive'] || []);
    live.push(be);
    return live.length - 1;
  },
  kite_wgpu_weight__deps: ['$kiteWgpu'],
  kite_wgpu_weight: function (h, ptr, type, nIn, nOut) { return kiteWgpu(h).weight(ptr, type, nIn, nOut); },
  kite_wgpu_weight_cat__deps: ['$kiteWgpu'],
  kite_wgpu_weight_cat: function (h, type, nIn, w0, n0, w1, n1, w2, n2) { return kiteWgpu(h).weightCat(type, nIn, [w0, w1, w2], [n0, n1, n2]); },
  kite_wgpu_weight_glu__deps: ['$kiteWgpu'],
  kite_wgpu_weight_glu: function (h, gate, up, type, nIn, f) { return kiteWgpu(h).weightGlu(gate, up, type, nIn, f); },
  kite_wgpu_free: function (h) {
    var live = Module['kiteWebGpuLive'];
    if (live && live[h]) { live[h].destroy(); live[h] = null; }
  },
  kite_wgpu_begin__deps: ['$kiteWgpu'],
  kite_wgpu_begin: function (h, n, pos, seq) { kiteWgpu(h).begin(n, pos, seq); },
  kite_wgpu_end__deps: ['$kiteWgpu'],
  kite_wgpu_end: function (h) { return kiteWgpu(h).end(); },
  kite_wgpu_error__deps: ['$kiteWgpu'],
  kite_wgpu_error: function (h, buf, cap) { stringToUTF8(kiteWgpu(h).errorMessage() || 'webgpu: failed', buf, cap); },
  kite_wgpu_write__deps: ['$kiteWgpu'],
  kite_wgpu_write: function (h, act, off, stride, n, width, host) { kiteWgpu(h).write(act, off, stride, n, width, host); },
  kite_wgpu_read__deps: ['$kiteWgpu'],
  kite_wgpu_read: function (h) { kiteWgpu(h).read(); },
  kite_wgpu_bind_output__deps: ['$kiteWgpu'],
  kite_wgpu_bind_output: function (h, out, rows, width) { kiteWgpu(h).bindOutput(out, rows, width); },
  kite_wgpu_embed__deps: ['$kiteWgpu'],
  kite_wgpu_embed: function (h, w, tokens, n, act, off, stride) { kiteWgpu(h).embed(w, tokens, n, act, off, stride); },
  kite_wgpu_matmul__deps: ['$kiteWgpu'],
  kite_wgpu_matmul: function (h, w, xAct, xOff, n, yAct, yOff, yStride, epi, cat, bias) {
    kiteWgpu(h).matmul(w, xAct, xOff, n, yAct, yOff, yStride, epi, cat, bias);
  },
  kite_wgpu_rmsnorm__deps: ['$kiteWgpu'],
  kite_wgpu_rmsnorm: function (h, dAct, dOff, dStride, sAct, sOff, sStride, w, n, width, eps, add) {
    kiteWgpu(h).rmsnorm(dAct, dOff, dStride, sAct, sOff, sStride, w, n, width, eps, add);
  },
  kite_wgpu_add__deps: ['$kiteWgpu'],
  kite_wgpu_add: function (h, dAct, dOff, dStride, sAct, sOff, sStride, n, width) {
    kiteWgpu(h).add(dAct, dOff, dStride, sAct, sOff, sStride, n, width);
  },
  kite_wgpu_add_bias__deps: ['$kiteWgpu'],
  kite_wgpu_add_bias: function (h, act, off, stride, bias, n, width) { kiteWgpu(h).addBias(act, off, stride, bias, n, width); },
  kite_wgpu_scale__deps: ['$kiteWgpu'],
  kite_wgpu_scale: function (h, act, off, stride, n, width, s) { kiteWgpu(h).scale(act, off, stride, n, width, s); },
  kite_wgpu_swiglu__deps: ['$kiteWgpu'],
  kite_wgpu_swiglu: function (h, dAct, dOff, dStride, gAct, gOff, gStride, uAct, uOff, uStride, n, width) {
    kiteWgpu(h).swiglu(dAct, dOff, dStride, gAct, gOff, gStride, uAct, uOff, uStride, n, width);
  },
  kite_wgpu_gather__deps: ['$kiteWgpu'],
  kite_wgpu_gather: function (h, dAct, dOff, dStride, sAct, sOff, sStride, rows, n, width) {
    kiteWgpu(h).gather(dAct, dOff, dStride, sAct, sOff, sStride, rows, n, width);
  },
  kite_wgpu_rope_table__deps: ['$kiteWgpu'],
  kite_wgpu_rope_table: function (h, slot, cs, n, nRot) { kiteWgpu(h).ropeTable(slot, cs, n, nRot); },
  kite_wgpu_rope__deps: ['$kiteWgpu'],
  kite_wgpu_rope: function (h, act, off, stride, n, nHeads, headDim, nRot, neox, slot) {
    kiteWgpu(h).rope(act, off, stride, n, nHeads, headDim, nRot, neox, slot);
  },
  kite_wgpu_rope_qk__deps: ['$kiteWgpu'],
  kite_wgpu_rope_qk: function (h, qAct, qOff, qStride, kAct, kOff, kStride, n, nHead, nHeadKv, headDim, nRot, neox, slot, qNorm, kNorm, eps) {
    kiteWgpu(h).ropeQk(qAct, qOff, qStride, kAct, kOff, kStride, n, nHead, nHeadKv, headDim, nRot, neox, slot, qNorm, kNorm, eps);
  },
  kite_wgpu_kv_store__deps: ['$kiteWgpu'],
  kite_wgpu_kv_store: function (h, layer, kAct, kOff, kStride, vAct, vOff, vStride, n) {
    kiteWgpu(h).kvStore(layer, kAct, kOff, kStride, vAct, vOff, vStride, n);
  },
  kite_wgpu_attention__deps: ['$kiteWgpu'],
  kite_wgpu_attention: function (h, layer, qAct, qOff, qStride, oAct, oOff, oStride, n, rows, nHead, nHeadKv, headDim, scale, window, softcap) {
    kiteWgpu(h).attention(layer, qAct, qOff, qStride, oAct, oOff, oStride, n, rows, nHead, nHeadKv, headDim, scale, window, softcap);
  },
  kite_wgpu_geglu__deps: ['$kiteWgpu'],
  kite_wgpu_geglu: function (h, dAct, dOff, dStride, gAct, gOff, gStride, uAct, uOff, uStride, n, width) {
    kiteWgpu(h).geglu(dAct, dOff, dStride, gAct, gOff, gStride, uAct, uOff, uStride, n, width);
  },
  kite_wgpu_softcap__deps: ['$kiteWgpu'],
  kite_wgpu_softcap: function (h, act, off, stride, n, width, cap) { kiteWgpu(h).softcap(act, off, stride, n, width, cap); },
  kite_wgpu_rmsnorm_heads__deps: ['$kiteWgpu'],
  kite_wgpu_rmsnorm_heads: function (h, act, off, stride, n, nHeads, headDim, w, eps) {
    kiteWgpu(h).rmsnormHeads(act, off, stride, n, nHeads, headDim, w, eps);
  },
  kite_wgpu_moe__deps: ['$kiteWgpu'],
  kite_wgpu_moe: function (h, gateInp, gate, up, down, nExpert, nUsed, nFf, xAct, xOff, oAct, oOff, n) {
    kiteWgpu(h).moe(gateInp, gate, up, down, nExpert, nUsed, nFf, xAct, xOff, oAct, oOff, n);
  },
});
