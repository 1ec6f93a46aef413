// LinkedEntryPoints.cpp - binds the Model to the generated object's symbols.
//
// Kept out of the gemma_runtime library (it lives in gemma_main): only a
// binary that also links the compiler's model object can resolve these
// references.

#include "runtime/EntryPoints.h"

namespace gemma {

EntryPoints linkedEntryPoints() {
  EntryPoints entry;
  entry.prefill = &_mlir_ciface_gemma_prefill;
  entry.prefillLast = &_mlir_ciface_gemma_prefill_last;
  entry.decode = &_mlir_ciface_gemma_decode;
  return entry;
}

} // namespace gemma
