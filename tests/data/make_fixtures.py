#!/usr/bin/env python3
"""Writes the fixture files in tests/data with the real tools users have: NumPy, pandas, PyTorch and
the `safetensors` package. The files are committed, so the tests and CI need none of these packages;
run this again only to add or change a fixture:

    python3 -m venv --system-site-packages /tmp/st && /tmp/st/bin/pip install safetensors
    /tmp/st/bin/python tests/data/make_fixtures.py        # numpy, torch, pandas from Debian

Values follow formulas that the C++ tests repeat (tests/unit/loader_files.h), so a test checks the
loader against the formula, not against our own reader:
    arrays:      element k in C order (row-major over the flattened features) = k * 0.25 - 3
    parameters:  element k of each tensor (row-major) = k * 0.125 - 1
Both are exact in float16 and bfloat16 for the sizes used here.
"""
import csv
import os
import shutil
import zipfile

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def out(*parts):
    path = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def arange_array(shape, dtype):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float64) * 0.25 - 3).reshape(shape).astype(dtype)


def npy_fixtures():
    np.save(out("npy", "mnist_u8_5x4x3.npy"), (np.arange(60) * 4 % 256).astype(np.uint8).reshape(5, 4, 3))
    np.save(out("npy", "keras_f4_4x3x2x1.npy"), arange_array((4, 3, 2, 1), np.float32))
    np.save(out("npy", "f2_3x5.npy"), arange_array((3, 5), np.float16))
    np.save(out("npy", "f8_big_endian_3x4.npy"), arange_array((3, 4), ">f8"))
    np.save(out("npy", "f4_big_endian_2x3.npy"), arange_array((2, 3), ">f4"))
    np.save(out("npy", "i2_big_endian_2x3.npy"), (np.arange(6) * 1000 - 2500).astype(">i2").reshape(2, 3))
    np.save(out("npy", "i8_3x2.npy"), (np.arange(6, dtype=np.int64) - 2).reshape(3, 2))
    np.save(out("npy", "bool_2x3.npy"), np.array([[True, False, True], [False, False, True]]))
    np.save(out("npy", "fortran_f4_5x3.npy"), np.asfortranarray(arange_array((5, 3), np.float32)))
    np.save(out("npy", "fortran_u1_4x3x2.npy"), np.asfortranarray(np.arange(24, dtype=np.uint8).reshape(4, 3, 2)))
    np.save(out("npy", "fortran_f2_big_endian_3x4.npy"), np.asfortranarray(arange_array((3, 4), ">f2")))
    np.save(out("npy", "object_2.npy"), np.array([np.zeros(2), np.zeros(3)], dtype=object), allow_pickle=True)
    np.save(out("npy", "strings_2x2.npy"), np.array([["a", "b"], ["c", "d"]]))
    np.save(out("npy", "complex_2x2.npy"), np.ones((2, 2), dtype=np.complex64))
    np.save(out("npy", "structured_3.npy"), np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8")]))
    np.save(out("npy", "one_dimensional_6.npy"), arange_array((6,), np.float32))
    np.save(out("npy", "scalar.npy"), np.float32(1.5))
    np.save(out("npy", "pixels_f4_0_255_4x3.npy"), (np.arange(12) * 23 % 256).astype(np.float32).reshape(4, 3))


def npz_fixtures():
    np.savez(out("npz", "single_f4_6x5.npz"), x=arange_array((6, 5), np.float32))
    np.savez(out("npz", "mnist_like.npz"), x_train=(np.arange(24) * 10 % 256).astype(np.uint8).reshape(4, 2, 3),
             x_test=arange_array((3, 6), np.float64))
    np.savez_compressed(out("npz", "compressed.npz"), x=arange_array((7, 3), np.float32),
                        y=np.arange(7, dtype=np.uint8).reshape(7, 1))
    np.savez(out("npz", "positional.npz"), arange_array((2, 4), np.float16))  # stored as arr_0
    # zip64 everywhere (central directory extra fields, zip64 end record), as numpy writes members
    # over 4 GiB: Python's own zipfile with its limits lowered, so the structures are the real ones.
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 16, 1
    try:
        np.savez_compressed(out("npz", "zip64.npz"), a=arange_array((5, 4), np.float32), b=np.zeros((2, 2), np.uint8))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    with zipfile.ZipFile(out("npz", "no_arrays.npz"), "w") as z:
        z.writestr("readme.txt", "nothing here")


def csv_fixtures():
    df = pd.DataFrame(arange_array((4, 3), np.float64), columns=["a", "b", "c"])
    df.to_csv(out("csv", "pandas_index.csv"))                                     # ",a,b,c" + index
    pd.DataFrame(arange_array((3, 4), np.float64)).to_csv(out("csv", "pandas_range_columns.csv"))  # ",0,1,2,3"
    pd.DataFrame(arange_array((3, 4), np.float64)).to_csv(out("csv", "pandas_range_columns_no_index.csv"), index=False)
    df.to_csv(out("csv", "pandas_quote_all.csv"), quoting=csv.QUOTE_ALL)
    df.to_csv(out("csv", "pandas_quote_nonnumeric.csv"), quoting=csv.QUOTE_NONNUMERIC, index=False)
    df.to_csv(out("csv", "pandas_semicolon.csv"), sep=";", index=False)
    df.to_csv(out("csv", "pandas_tab.csv"), sep="\t")
    labelled = df.copy()
    labelled.insert(0, "label", [7, 2, 1, 0])
    labelled.to_csv(out("csv", "pandas_label_column.csv"), index=False)
    with_nan = df.copy()
    with_nan.iloc[2, 1] = np.nan
    with_nan.to_csv(out("csv", "pandas_nan.csv"), index=False)                    # NaN is an empty cell
    df.to_csv(out("csv", "tmp_round_trip.csv"))
    pd.read_csv(out("csv", "tmp_round_trip.csv")).to_csv(out("csv", "pandas_reread.csv"))  # ",Unnamed: 0,a,b,c"
    os.remove(out("csv", "tmp_round_trip.csv"))
    pd.DataFrame((np.arange(12) * 23 % 256).reshape(4, 3)).to_csv(out("csv", "pixels_0_255.csv"), index=False)


class ModuleListAE(torch.nn.Module):
    """The layout cuae writes: encoder/decoder nn.ModuleLists of nn.Linear."""

    def __init__(self, widths):
        super().__init__()
        pairs = list(zip(widths[:-1], widths[1:]))
        self.encoder = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in pairs)
        self.decoder = torch.nn.ModuleList(torch.nn.Linear(b, a) for a, b in reversed(pairs))


class SequentialAE(torch.nn.Module):
    """The usual tutorial autoencoder: nn.Sequential with activations between the Linears."""

    def __init__(self, batch_norm=False):
        super().__init__()
        middle = [torch.nn.BatchNorm1d(5)] if batch_norm else [torch.nn.ReLU()]
        self.encoder = torch.nn.Sequential(torch.nn.Linear(11, 5), *middle, torch.nn.Linear(5, 3), torch.nn.ReLU())
        self.decoder = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 11),
                                           torch.nn.Sigmoid())


class WithExtras(ModuleListAE):
    """Another module (a BatchNorm on the input, with its int64 num_batches_tracked) next to ours."""

    def __init__(self, widths):
        super().__init__(widths)
        self.input_norm = torch.nn.BatchNorm1d(widths[0])


def fill(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.arange(p.numel(), dtype=torch.float64).reshape(p.shape) * 0.125 - 1)
    return module


def state(module, dtype=torch.float32):
    return {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in module.state_dict().items()}


def safetensors_fixtures():
    ae = fill(ModuleListAE([11, 5, 3]))
    for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16), ("f64", torch.float64)]:
        save_file(state(ae, dtype), out("safetensors", f"torch_{name}_11_5_3.safetensors"))
    save_file(state(fill(SequentialAE())), out("safetensors", "torch_sequential_11_5_3.safetensors"))
    plain = fill(torch.nn.Sequential(torch.nn.Linear(11, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3), torch.nn.ReLU(),
                                     torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 11)))
    save_file(state(plain), out("safetensors", "torch_plain_sequential_11_5_3.safetensors"))
    lopsided = fill(torch.nn.Sequential(torch.nn.Linear(11, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)))
    save_file(state(lopsided), out("safetensors", "torch_plain_sequential_not_mirrored.safetensors"))
    save_file(state(fill(SequentialAE(batch_norm=True))), out("safetensors", "torch_sequential_batchnorm.safetensors"))
    save_file(state(fill(WithExtras([11, 5, 3]))), out("safetensors", "torch_with_extras_11_5_3.safetensors"))
    save_file(state(torch.nn.DataParallel(fill(ModuleListAE([11, 5, 3])))),
              out("safetensors", "torch_dataparallel_11_5_3.safetensors"))
    transposed = state(ae)
    transposed["encoder.0.weight"] = transposed["encoder.0.weight"].t().contiguous()
    save_file(transposed, out("safetensors", "torch_transposed_encoder0_11_5_3.safetensors"))
    torch.save(ae.state_dict(), out("safetensors", "torch_save_zip.pt"))
    torch.save(ae.state_dict(), out("safetensors", "torch_save_legacy.pt"), _use_new_zipfile_serialization=False)
    shutil.copy(out("safetensors", "torch_save_zip.pt"), out("safetensors", "renamed_torch_save.safetensors"))


if __name__ == "__main__":
    npy_fixtures()
    npz_fixtures()
    csv_fixtures()
    safetensors_fixtures()
