// backend.c - the backends built into this binary, by name.
#include "model/backend.h"

kite_status kite__backend_new(const char *name, const kite_backend_config *cfg, kite_backend **out) {
    *out = NULL;
    if (!strcmp(name, "cpu")) return kite__backend_cpu_new(cfg, out);
#if defined(__EMSCRIPTEN__) && defined(KITE_WEBGPU)
    if (!strcmp(name, "webgpu")) return kite__backend_webgpu_new(cfg, out);
#endif
    return kite__fail(KITE_ERR_UNSUPPORTED, "backend '%s' is not built into this binary", name);
}

bool kite__backend_reads_mid_step(const char *name) {
    // A WebGPU step is one command stream whose results arrive asynchronously: nothing can be
    // read back before its end, so the residual cannot come back for a CPU output head.
    return strcmp(name, "webgpu") != 0;
}
