#!/usr/bin/env python3
"""Checks that a cuae checkpoint loads into a PyTorch module and reconstructs what cuae does.

    /usr/bin/python3 bench/torch_interop.py MODEL.safetensors DATA.npy CUAE_RECON.npy

MODEL comes from `cuae train`, CUAE_RECON from `cuae reconstruct --model MODEL --data DATA --out
CUAE_RECON`. The safetensors file is read with json + numpy (Debian 12 has no python3-safetensors),
loaded into an nn.Module of nn.ModuleLists of nn.Linear with load_state_dict(strict=True), and its
reconstruction is compared with cuae's. It then writes the module's state dict back in the same
format (MODEL with suffix .torch.safetensors), which `cuae eval --model` must accept.
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    data = blob[8 + header_len :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"]).copy())
    return tensors, metadata


def write_safetensors(path, tensors):
    header, offset, chunks = {}, 0, []
    for name, t in tensors.items():
        raw = t.detach().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        chunks.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class AutoEncoder(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        rev = dims[::-1]
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(rev, rev[1:]))

    def forward(self, x):  # cuae's defaults: relu everywhere but the sigmoid output
        layers = list(self.encoder) + list(self.decoder)
        for i, layer in enumerate(layers):
            x = layer(x)
            x = torch.sigmoid(x) if i == len(layers) - 1 else torch.relu(x)
        return x


def main():
    model_path, data_path, recon_path = sys.argv[1:4]
    tensors, metadata = read_safetensors(model_path)
    config = json.loads(metadata["cuae.config"])
    assert config["hidden_activation"] == "relu" and config["output_activation"] == "sigmoid", config
    weights = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    ae = AutoEncoder(list(config["layers"]))
    ae.load_state_dict(weights, strict=True)

    x = torch.from_numpy(np.load(data_path).astype(np.float32))
    if x.max() > 1.5:  # uint8 pixels: cuae scales them by 1/255
        x = x / 255.0
    with torch.no_grad():
        ours = ae(x).numpy()
    theirs = np.load(recon_path)
    rel = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    print(f"torch_interop: {len(weights)} tensors loaded strictly, reconstruction rel. error {rel:.2e}")
    out = model_path.replace(".safetensors", ".torch.safetensors")
    write_safetensors(out, ae.state_dict())
    print(f"torch_interop: wrote {out}")
    sys.exit(0 if rel < 1e-5 else 1)


if __name__ == "__main__":
    main()
