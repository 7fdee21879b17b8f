# llama_metadata.py - the identity keys llama.cpp's converter writes for a checkpoint folder, by
# llama.cpp's own code: gguf-py's Metadata.load (model card, config.json, folder-name heuristics)
# and convert_hf_to_gguf.py's prepare_metadata steps (folder-name fallback, size label from
# GGUFWriter.get_total_parameter_count), then Metadata.set_gguf_meta_model into a GGUFWriter.
# The tensors counted are those of the llama.cpp-made GGUF the folder was written from (the tensors
# the converter writes), given as names and GGUF dimensions (ne, innermost first). No torch needed.
#
# usage: PYTHONPATH=<llama.cpp>/gguf-py python3 llama_metadata.py JOBS.json
# JOBS.json: [[FOLDER, [[TENSOR_NAME, [ne0, ne1, ...]], ...], MODEL_NAME or null], ...]; prints a JSON list with, for each
# job, {key: value} of the general.* keys it writes (sampling keys excluded).
import json
import sys
from pathlib import Path

import numpy as np
import gguf


def param_counts(tensors):
    writer = gguf.GGUFWriter(None, "llama")
    for name, ne in tensors:
        shape = list(reversed(ne))  # numpy order, as the converter's tensors have it
        writer.add_tensor_info(name, shape, np.dtype(np.float32), 4 * int(np.prod(shape)))
    return writer.get_total_parameter_count()


def identity(folder, tensors, model_name):
    total, shared, expert, expert_count = param_counts(tensors)
    # convert_hf_to_gguf.py's prepare_metadata (conversion/base.py)
    metadata = gguf.Metadata.load(None, folder, model_name, total)
    if metadata.name is None:
        metadata.name = folder.name
    if metadata.size_label is None and total > 0:
        metadata.size_label = gguf.size_label(total, shared, expert, expert_count)
    out = gguf.GGUFWriter(None, "llama")
    metadata.set_gguf_meta_model(out)
    skip = ("general.architecture", "general.sampling.")
    return {k: v.value for k, v in out.kv_data[0].items() if k.startswith("general.") and not k.startswith(skip)}


with open(sys.argv[1], encoding="utf-8") as f:
    jobs = json.load(f)
print(json.dumps([identity(Path(d), t, n) for d, t, n in jobs]))
