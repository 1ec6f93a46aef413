# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "GEMMA"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gemma_obj_root, "test")
config.excludes = [
    "CMakeLists.txt",
    "lit.cfg.py",
    "lit.site.cfg.py",
    "unit",
    "argmax-agreement.py",
    "npyio.py",
    "progress-bar.py",
]

config.substitutions.append(("%gemma_src", config.gemma_src_root))
config.substitutions.append(("%shared", config.shared_dir))
# A libcuda.so.1 that runs nothing (fake-cuda/FakeCudaDriver.cpp).
config.substitutions.append(
    ("%fake_cuda", config.gemma_obj_root + "/lib/libgemma_fake_cuda.so")
)
# MLIR's runner utilities (vector.print) for tests that execute IR.
config.substitutions.append(
    ("%mlir_c_runner_utils", config.llvm_lib_dir + "/libmlir_c_runner_utils.so")
)

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["gemma-opt", "gemmac", "npy-compare"],
    [config.gemma_tools_dir, config.llvm_tools_dir],
)
# Scripts run by tests call the project's tools by name.
llvm_config.with_environment("PATH", config.gemma_tools_dir, append_path=True)
# Test scripts import helpers from the source tree; keep it free of .pyc files.
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"
