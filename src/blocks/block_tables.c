// block_tables.c - constant tables of the block formats (declared in block_util.h).
#include "blocks/block_util.h"

// ggml's kvalues_iq4nl.
const int8_t kite__kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
