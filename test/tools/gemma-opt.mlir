// gemma-opt registers the gemma dialect and the project's passes.
// RUN: gemma-opt --show-dialects | FileCheck %s --check-prefix=DIALECTS
// RUN: gemma-opt --help | FileCheck %s --check-prefix=PASSES

// DIALECTS: Available Dialects:
// DIALECTS-SAME: gemma

// PASSES: --gemma-plan-kv-cache
