// kite.h - the one public header of the Kite core (libkite). Each module keeps its part
// in its own header; this one includes them all.
#ifndef KITE_H
#define KITE_H

#include "base/kite_base.h"
#include "base/kite_buf.h"
#include "base/kite_f16.h"
#include "base/kite_pool.h"
#include "base/kite_types.h"
#include "base/kite_utf8.h"
#include "blocks/kite_blocks.h"
#include "gguf/kite_gguf.h"
#include "kernels/kite_kernels.h"
#include "model/kite_model.h"
#include "quant/kite_quant.h"
#include "quant/kite_quantize.h"
#include "sampler/kite_sampler.h"
#include "grammar/kite_grammar.h"
#include "chat/kite_chat.h"
#include "convert/kite_convert.h"
#include "tokenizer/kite_tokenizer.h"

#endif
