#!/usr/bin/env python3
# pad_vocab.py - benchmark helper, not a test: writes a vocab-only GGUF that is IN's vocabulary
# padded with unused tokens ("<unused_K>", type UNUSED, score -1000) up to N entries, so a
# random-weight model can have a real model's vocabulary size (Gemma 3's 262144) with a
# tokenizer both Kite and llama.cpp load (llama SPM). Only the embedding and output shapes
# matter for speed. Needs numpy and gguf-py (PYTHONPATH=/tmp/llama.cpp/gguf-py).
#   pad_vocab.py IN.gguf OUT.gguf N
import sys, gguf

src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = gguf.GGUFReader(src)
f = r.fields
tokens = [bytes(f['tokenizer.ggml.tokens'].parts[i]).decode('utf-8', errors='surrogateescape') for i in f['tokenizer.ggml.tokens'].data]
scores = [f['tokenizer.ggml.scores'].parts[i].tolist()[0] for i in f['tokenizer.ggml.scores'].data]
types = [f['tokenizer.ggml.token_type'].parts[i].tolist()[0] for i in f['tokenizer.ggml.token_type'].data]
if n < len(tokens): sys.exit(f'{src} already has {len(tokens)} tokens (> {n})')
for k in range(len(tokens), n):
    tokens.append(f'<unused_{k}>'); scores.append(-1000.0); types.append(gguf.TokenType.UNUSED)
w = gguf.GGUFWriter(out + '.tmp', 'llama')
for k, fl in f.items():
    if not k.startswith('tokenizer.') or k in ('tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'):
        continue
    t = fl.types[0]
    v = fl.parts[fl.data[0]]
    if t == gguf.GGUFValueType.STRING: w.add_string(k, bytes(v).decode('utf-8'))
    elif t == gguf.GGUFValueType.BOOL: w.add_bool(k, bool(v[0]))
    elif t == gguf.GGUFValueType.UINT32: w.add_uint32(k, int(v[0]))
    elif t == gguf.GGUFValueType.INT32: w.add_int32(k, int(v[0]))
    elif t == gguf.GGUFValueType.FLOAT32: w.add_float32(k, float(v[0]))
w.add_array('tokenizer.ggml.tokens', tokens)
w.add_array('tokenizer.ggml.scores', scores)
w.add_array('tokenizer.ggml.token_type', [int(t) for t in types])
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
import os
os.replace(out + '.tmp', out)
