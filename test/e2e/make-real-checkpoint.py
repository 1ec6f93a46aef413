"""Rewrites a fixture checkpoint the way published tools and users' exports
store the same model, for the end-to-end tests of those variants. Every
variant holds exactly the fixture's values, so transformers gives it the
fixture's logits.

    make-real-checkpoint.py FIXTURE_DIR OUT_DIR VARIANT

VARIANT:
  tied-lm-head   also stores lm_head.weight, an exact copy of the embedding,
                 and the rotary inv_freq buffers old exporters saved
  f32-norms      norms in F32 beside the BF16 matrices, in one file
  mixed-shards   two shards: BF16 matrices in one, F32 norms in the other
  one-f32-layer  layer 0's norms in F32, every other tensor BF16 (a role
                 stored in two dtypes, packed widened to F32)
  null-metadata  a header with "__metadata__": null
  attn-softcap   config.json sets attn_logit_softcapping (a Gemma 2 field)
  t5-names       a multimodal checkpoint as transformers 5 saves it:
                 model.language_model., model.vision_tower.vision_model. and
                 model.multi_modal_projector. prefixes
  hub-names      the same with the hub's language_model.model. and
                 vision_tower.vision_model. prefixes
"""
import json
import os
import shutil
import struct
import sys

src, out, variant = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
config = json.load(open(os.path.join(src, "config.json")))
data = open(os.path.join(src, "model.safetensors"), "rb").read()
length = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8 : 8 + length])
body = data[8 + length :]
tensors = {}  # name -> (dtype, shape, bytes)
for name, entry in header.items():
    if name != "__metadata__":
        begin, end = entry["data_offsets"]
        tensors[name] = (entry["dtype"], entry["shape"], body[begin:end])


def bf16_to_f32(raw):
    """Exact: a bf16 value is the top half of the f32 with the same value."""
    out = bytearray()
    for i in range(0, len(raw), 2):
        out += b"\0\0" + raw[i : i + 2]
    return bytes(out)


def write(path, named, metadata={"format": "pt"}):
    head = {} if metadata == "omit" else {"__metadata__": metadata}
    blob = b""
    for name, (dtype, shape, raw) in named.items():
        head[name] = {"dtype": dtype, "shape": shape,
                      "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    encoded = json.dumps(head).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + blob)


def widen_norms(named):
    for name, (dtype, shape, raw) in list(named.items()):
        if len(shape) == 1 and dtype == "BF16":
            named[name] = ("F32", shape, bf16_to_f32(raw))


single = os.path.join(out, "model.safetensors")
if variant == "tied-lm-head":
    tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    half = config["head_dim"] // 2
    inv_freq = struct.pack("<%df" % half, *[1.0 / 10000 ** (2 * i / config["head_dim"]) for i in range(half)])
    for layer in range(config["num_hidden_layers"]):
        tensors["model.layers.%d.self_attn.rotary_emb.inv_freq" % layer] = ("F32", [half], inv_freq)
    write(single, tensors)
elif variant == "f32-norms":
    widen_norms(tensors)
    write(single, tensors)
elif variant == "one-f32-layer":
    first = {n: t for n, t in tensors.items() if ".layers.0." in n}
    widen_norms(first)
    tensors.update(first)
    write(single, tensors)
elif variant == "mixed-shards":
    matrices = {n: t for n, t in tensors.items() if len(t[1]) > 1}
    norms = {n: t for n, t in tensors.items() if len(t[1]) == 1}
    widen_norms(norms)
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    write(os.path.join(out, names[0]), matrices)
    write(os.path.join(out, names[1]), norms)
    weight_map = {n: names[0] for n in matrices}
    weight_map.update({n: names[1] for n in norms})
    json.dump({"metadata": {}, "weight_map": weight_map},
              open(os.path.join(out, "model.safetensors.index.json"), "w"))
elif variant == "null-metadata":
    write(single, tensors, metadata=None)
elif variant == "attn-softcap":
    config["attn_logit_softcapping"] = 50.0
    write(single, tensors)
elif variant in ("t5-names", "hub-names"):
    t5 = variant == "t5-names"
    prefixes = [  # the fixture's names, as saved, to the variant's
        ("language_model.model.", "model.language_model." if t5 else None),
        ("vision_tower.vision_model.", "model.vision_tower.vision_model." if t5 else None),
        ("vision_tower.", "model.vision_tower.vision_model." if t5 else "vision_tower.vision_model."),
        ("multi_modal_projector.", "model.multi_modal_projector." if t5 else None),
    ]
    renamed = {}
    for name, tensor in tensors.items():
        for old, new in prefixes:
            if name.startswith(old):
                name = (new or old) + name[len(old):]
                break
        renamed[name] = tensor
    write(single, renamed)
else:
    sys.exit("unknown variant " + variant)
json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)
