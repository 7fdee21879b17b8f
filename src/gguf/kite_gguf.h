// kite_gguf.h - GGUF v2/v3 reader (bounds-checked, zero-copy over a (ptr, len) buffer)
// and a streaming GGUF writer.
#ifndef KITE_GGUF_H
#define KITE_GGUF_H

#include "base/kite_base.h"
#include "base/kite_types.h"

#ifdef __cplusplus
extern "C" {
#endif

// Value types, numbered as in the GGUF spec.
typedef enum kite_gguf_type {
    KITE_GGUF_UINT8 = 0,
    KITE_GGUF_INT8 = 1,
    KITE_GGUF_UINT16 = 2,
    KITE_GGUF_INT16 = 3,
    KITE_GGUF_UINT32 = 4,
    KITE_GGUF_INT32 = 5,
    KITE_GGUF_FLOAT32 = 6,
    KITE_GGUF_BOOL = 7,
    KITE_GGUF_STRING = 8,
    KITE_GGUF_ARRAY = 9,
    KITE_GGUF_UINT64 = 10,
    KITE_GGUF_INT64 = 11,
    KITE_GGUF_FLOAT64 = 12,
    KITE_GGUF_TYPE_COUNT = 13,
} kite_gguf_type;

#define KITE_GGUF_DEFAULT_ALIGNMENT 32
#define KITE_GGUF_MAX_DIMS 4

typedef struct kite_gguf_value kite_gguf_value;

// One metadata value. Scalars are widened into u/i/f; strings and arrays point into the
// buffer the file was parsed from (they live as long as it does).
struct kite_gguf_value {
    kite_gguf_type type;
    union {
        uint64_t u; // UINT8/16/32/64, BOOL
        int64_t i;  // INT8/16/32/64
        double f;   // FLOAT32/64
        kite_str s; // STRING
        struct {
            kite_gguf_type elem; // element type
            uint64_t n;          // element count
            const uint8_t *raw;  // scalar elements: packed little-endian in the file
            kite_str *strs;      // STRING elements: n views (owned by the kite_gguf)
            kite_gguf_value *items; // ARRAY elements: n nested arrays (owned by the kite_gguf)
        } arr;
    };
};

typedef struct kite_gguf_kv {
    kite_str key;
    kite_gguf_value val;
} kite_gguf_kv;

typedef struct kite_gguf_tensor {
    kite_str name;
    uint32_t n_dims;
    uint64_t ne[KITE_GGUF_MAX_DIMS]; // elements per dimension, ne[0] innermost; unused dims are 1
    kite_type type;
    uint64_t offset; // from the start of the data section
    uint64_t nbytes;
    const uint8_t *data; // base + data_offset + offset
} kite_gguf_tensor;

typedef struct kite_gguf {
    uint32_t version; // 2 or 3
    uint64_t n_kv;
    kite_gguf_kv *kv;
    uint64_t n_tensors;
    kite_gguf_tensor *tensors;
    uint32_t alignment;   // general.alignment or 32
    uint64_t data_offset; // start of the tensor data section in the buffer
    const uint8_t *base;  // the parsed buffer (not owned)
    uint64_t size;        // its length
} kite_gguf;

// Parses a GGUF file held in buf[0..len). Every count, length, type, offset and size is
// checked against len; on failure returns an error status with a message naming the key or
// tensor and the offset. On success *out owns its tables (free with kite_gguf_free) and
// points into buf, which must outlive it. Tensor data is not read, only bounds-checked.
kite_status kite_gguf_parse(const uint8_t *buf, uint64_t len, kite_gguf **out);

// Frees what kite_gguf_parse allocated (not the buffer). NULL is allowed.
void kite_gguf_free(kite_gguf *g);

// The key/value with this key, or NULL.
const kite_gguf_kv *kite_gguf_find(const kite_gguf *g, const char *key);

// Index of the tensor with this name, or -1.
int64_t kite_gguf_find_tensor(const kite_gguf *g, const char *name);

// Typed getters: return false (leaving *out alone) if the key is missing or its type does
// not fit. Integer getters accept any integer type whose value fits the result.
bool kite_gguf_get_u64(const kite_gguf *g, const char *key, uint64_t *out);
bool kite_gguf_get_u32(const kite_gguf *g, const char *key, uint32_t *out);
bool kite_gguf_get_i64(const kite_gguf *g, const char *key, int64_t *out);
bool kite_gguf_get_f32(const kite_gguf *g, const char *key, float *out);
bool kite_gguf_get_bool(const kite_gguf *g, const char *key, bool *out);
bool kite_gguf_get_str(const kite_gguf *g, const char *key, kite_str *out);
// An array value with the given element type (any element type if elem < 0), or NULL.
const kite_gguf_value *kite_gguf_get_arr(const kite_gguf *g, const char *key, int elem);

// Element i of a scalar array, converted. The caller checks i < v->arr.n and the elem type.
float kite_gguf_arr_f32(const kite_gguf_value *v, uint64_t i);
int64_t kite_gguf_arr_i64(const kite_gguf_value *v, uint64_t i);

// Size in bytes of one element of a scalar value type (0 for STRING/ARRAY/unknown).
uint32_t kite_gguf_type_size(kite_gguf_type t);
// The spec's name of a value type ("u32", "str", "arr"...).
const char *kite_gguf_type_name(kite_gguf_type t);

// Sums over all tensors: element count and data bytes.
void kite_gguf_totals(const kite_gguf *g, uint64_t *n_elements, uint64_t *n_bytes);

// Writes a complete JSON description of g to sink: version, alignment, sizes, totals and
// bits per weight; "metadata": every key with its type and value (arrays of up to 16 items
// in full, longer ones as element type and count); "tensors": name, type, shape, file offset,
// bytes. Strings are escaped so the output is always valid JSON. Returns the sink's error.
kite_status kite_gguf_info_json(const kite_gguf *g, const kite_sink *sink);

// ---- writer -------------------------------------------------------------------------
//
// Usage: w = kite_gguf_writer_new(); add kvs (copied from a parsed file or set anew) and
// tensor infos in order; kite_gguf_writer_write_header(w, sink) writes the header, the
// tensor table and the padding up to the data section; then kite_gguf_writer_write_data for
// each tensor in the order added. Offsets and padding follow general.alignment.

typedef struct kite_gguf_writer kite_gguf_writer;

// A new, empty writer (GGUF v3). NULL on out-of-memory.
kite_gguf_writer *kite_gguf_writer_new(void);
void kite_gguf_writer_free(kite_gguf_writer *w);

// Adds (or replaces in place, keeping its position) a key with a value. Strings and arrays
// are deep-copied, so v may point into a buffer that is freed later.
kite_status kite_gguf_writer_set(kite_gguf_writer *w, const char *key, const kite_gguf_value *v);
kite_status kite_gguf_writer_set_u32(kite_gguf_writer *w, const char *key, uint32_t x);
kite_status kite_gguf_writer_set_f32(kite_gguf_writer *w, const char *key, float x);
kite_status kite_gguf_writer_set_str(kite_gguf_writer *w, const char *key, const char *s);
// Removes a key if present.
void kite_gguf_writer_remove(kite_gguf_writer *w, const char *key);
// Copies every key of g in order (general.alignment included).
kite_status kite_gguf_writer_copy_kvs(kite_gguf_writer *w, const kite_gguf *g);

// Appends a tensor info; nbytes is computed from type and shape. Returns an error if the
// row length is not a multiple of the type's block size.
kite_status kite_gguf_writer_add_tensor(kite_gguf_writer *w, const char *name, kite_type type,
                                        uint32_t n_dims, const uint64_t *ne);

// Total bytes the finished file will have (valid after all tensors are added).
uint64_t kite_gguf_writer_total_size(const kite_gguf_writer *w);

// Writes header + kvs + tensor infos + padding to the data section.
kite_status kite_gguf_writer_write_header(kite_gguf_writer *w, const kite_sink *sink);

// Writes tensor i's data (exactly its nbytes) plus the padding after it.
kite_status kite_gguf_writer_write_data(kite_gguf_writer *w, const kite_sink *sink, uint64_t i,
                                        const void *data);

// For a tensor written in pieces: the caller writes exactly tensor i's nbytes to the sink
// itself, then this writes the padding after it (what kite_gguf_writer_write_data adds).
kite_status kite_gguf_writer_write_padding(kite_gguf_writer *w, const kite_sink *sink, uint64_t i);

#ifdef __cplusplus
}
#endif
#endif
