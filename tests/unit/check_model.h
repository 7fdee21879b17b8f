// check_model.h - a test model loaded for a test (check.h's model files, kite.h's loader).
#ifndef KITE_TEST_CHECK_MODEL_H
#define KITE_TEST_CHECK_MODEL_H

#include "check.h"
#include "kite.h"

// Reads test model `rel` (check_read_model: a missing file is skipped, a failure in CI) and loads
// it into *m with default parameters. Returns the file's bytes, which the model reads from (free
// them after kite_model_free), or NULL where the file is missing (*m stays NULL). A failed load
// is a check failure naming rel, with *m NULL and the bytes returned.
static inline unsigned char *check_load_model(const char *rel, kite_model **m) {
    size_t len;
    unsigned char *buf = check_read_model(rel, &len);
    *m = NULL;
    if (buf) CHECK(kite_model_load(buf, len, NULL, m) == KITE_OK, "%s: %s", rel, kite_last_error());
    return buf;
}

#endif
