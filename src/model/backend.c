// backend.c - the backends built into this binary, by name.
#include "model/backend.h"

kite_status kite__backend_new(const char *name, const kite_backend_config *cfg, kite_backend **out) {
    *out = NULL;
    if (!strcmp(name, "cpu")) return kite__backend_cpu_new(cfg, out);
    return kite__fail(KITE_ERR_UNSUPPORTED, "backend '%s' is not built into this binary", name);
}
